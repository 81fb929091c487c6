"""`surge-monitor stack up | down | status` and `alert-sink`: the local stack (`demo`: demo.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import structlog

from streams.contract.settings import Settings
from streams.stack import launcher, processes

log = structlog.get_logger(__name__)


def add_commands(sub: Any) -> None:
    """Add `stack | alert-sink` to the `surge-monitor` parser."""
    s = sub.add_parser("stack", help="the local stack on loopback: up | down | status")
    s.add_argument("action", choices=["up", "down", "status"])
    s.add_argument(
        "--workers", type=int, default=None, help="Faust workers (default SURGE_WORKERS)"
    )
    s.set_defaults(func=cmd_stack)

    a = sub.add_parser("alert-sink", help="Alertmanager webhook receiver (the stack starts one)")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--out", type=Path, required=True)
    a.set_defaults(func=cmd_alert_sink)


def cmd_stack(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "up":
        launcher.up(settings)
        print_where_to_look(settings)
    elif args.action == "down":
        stopped = launcher.down(settings)
        log.info("stack_down", stopped=stopped)
    else:
        rows = launcher.status(settings)
        for row in rows:
            log.info(
                "service_status",
                service=row.name,
                pid=row.pid,
                running=row.running,
                healthy=row.healthy,
                url=row.url,
            )
        return 0 if rows and all(r.healthy for r in rows) else 1
    return 0


def print_where_to_look(settings: Settings) -> None:
    prom = f"http://127.0.0.1:{settings.prometheus_port}"
    log.info(
        "stack_up",
        prometheus=prom,
        try_query=f"{prom}/graph?g0.expr=sum+by+(region,outcome)+(surge_calls_total)",
        alertmanager=f"http://127.0.0.1:{settings.alertmanager_port}/api/v2/alerts",
        alerts_received=f"http://127.0.0.1:{settings.alert_sink_port}/alerts",
        metrics=[f"http://127.0.0.1:{p}/metrics" for p in settings.worker_metrics_ports()],
        dead_letter_topic=settings.topic_dead_letter,
        logs=str(processes.stack_paths(settings).logs),
    )


def cmd_alert_sink(args: argparse.Namespace, settings: Settings) -> int:
    from streams.stack.alert_sink import make_server

    server = make_server(args.host, args.port, args.out)
    log.info("alert_sink_listening", url=f"http://{args.host}:{args.port}/alerts")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
