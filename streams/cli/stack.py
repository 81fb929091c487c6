"""`surge-monitor stack up | down | status`, `demo` and `alert-sink`: the local stack."""

from __future__ import annotations

import argparse
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from streams.cli.simulate import default_scenario_args, scenario
from streams.contract.catalogue import load_catalogue
from streams.contract.config import load_settings
from streams.contract.settings import Settings
from streams.stack import launcher, processes

log = structlog.get_logger(__name__)


def add_commands(sub: Any) -> None:
    """Add `stack | demo | alert-sink` to the `surge-monitor` parser."""
    s = sub.add_parser("stack", help="the local stack on loopback: up | down | status")
    s.add_argument("action", choices=["up", "down", "status"])
    s.add_argument(
        "--workers", type=int, default=None, help="Faust workers (default SURGE_WORKERS)"
    )
    s.set_defaults(func=cmd_stack)

    d = sub.add_parser("demo", help="stack up, play the launch-day scenario, wait for Ctrl-C")
    d.add_argument("--workers", type=int, default=2)
    d.add_argument("--speed", type=float, default=120.0, help="event time per wall time")
    d.add_argument("--seed", type=int, default=2013)
    d.set_defaults(func=cmd_demo)

    a = sub.add_parser("alert-sink", help="Alertmanager webhook receiver (the stack starts one)")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--out", type=Path, required=True)
    a.set_defaults(func=cmd_alert_sink)


def cmd_stack(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "up":
        launcher.up(settings)
        _print_where_to_look(settings)
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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from streams.contract.kafka_io import publish_rota
    from streams.contract.rota import validate_rota
    from streams.simulate import generator, play

    settings = load_settings(workers=args.workers)
    launcher.up(settings)
    _print_where_to_look(settings)
    catalogue = load_catalogue(None)
    # The handlers' agent states and the rota they were drawn from, so the staffing panels and
    # alerts see the launch day's loss as it happens, as the service-level ones see its effect.
    day = replace(scenario(default_scenario_args(args.seed)), agent_states=True)
    rota = [validate_rota(row, catalogue) for row in generator.rota(day, catalogue)]
    sent = publish_rota(settings, rota)
    log.info("demo_rota_published", topic=settings.topic_rota, intervals=sent)
    events = generator.generate(day, catalogue, args.seed)
    log.info("demo_playing", scenario="launch-day", events=len(events), speed=args.speed)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops the stack like Ctrl-C
    # And Ctrl-C itself, even when started with SIGINT ignored (a background job of a shell without
    # job control, as `nohup ... &` or a CI runner makes one), where Python leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        play.produce(events, settings, speed=args.speed)
        log.info("demo_played", hint="stack stays up; Ctrl-C or `make down` stops everything")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        launcher.down(settings)
    return 0


def _print_where_to_look(settings: Settings) -> None:
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
