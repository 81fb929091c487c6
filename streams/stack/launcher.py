"""The local stack: Kafka (KRaft), Prometheus, Alertmanager, an alert sink, N workers on loopback.

Every service is started detached (its own session) with its output in `<state_dir>/logs/<name>.log`
and its pid in `<state_dir>/pids/<name>.pid`, and is waited on through a real health check (Kafka's
metadata, Prometheus' and Alertmanager's `/-/ready`, a worker's `/metrics`), never a sleep. What
fails says what to do: a port already taken, Java or Prometheus missing, a health check that timed
out (with the last lines of that service's log).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from streams.contract.settings import Settings
from streams.stack.processes import (
    ServiceStatus,
    StackPaths,
    _alive,
    http_ok,
    read_pid,
    stack_paths,
    stop_service,
)
from streams.stack.services import (
    create_topics,
    kafka_ready,
    require_tools,
    start_alert_sink,
    start_alertmanager,
    start_kafka,
    start_prometheus,
    start_worker,
    worker_name,
)

log = structlog.get_logger(__name__)

SERVICE_ORDER = ("kafka", "alertmanager", "alert-sink", "prometheus")


def up(settings: Settings, with_workers: bool = True) -> StackPaths:
    """Start every service that is not already running, in dependency order."""
    require_tools()
    paths = stack_paths(settings)
    paths.make()
    starters: dict[str, Callable[[Settings, StackPaths], None]] = {
        "kafka": start_kafka,
        "alertmanager": start_alertmanager,
        "alert-sink": start_alert_sink,
        "prometheus": start_prometheus,
    }
    try:
        for name in SERVICE_ORDER:
            pid = read_pid(paths, name)
            if pid is not None and _alive(pid):
                log.info("service_already_running", service=name, pid=pid)
                continue
            starters[name](settings, paths)
            if name == "kafka":
                create_topics(settings)
        if with_workers:
            for i in range(settings.workers):
                pid = read_pid(paths, worker_name(i))
                if pid is None or not _alive(pid):
                    start_worker(settings, paths, i)
    except BaseException:
        log.error("stack_up_failed", hint="stopping what was started; logs in " + str(paths.logs))
        down(settings)
        raise
    return paths


def down(settings: Settings) -> list[str]:
    """Stop workers first (they commit offsets on a clean stop), then the services."""
    paths = stack_paths(settings)
    if not paths.pids.exists():
        return []
    stopped = []
    workers = sorted(p.stem for p in paths.pids.glob("worker-*.pid"))
    for name in [*workers, *reversed(SERVICE_ORDER)]:
        if stop_service(paths, name):
            stopped.append(name)
    return stopped


def status(settings: Settings) -> list[ServiceStatus]:
    paths = stack_paths(settings)
    checks: dict[str, tuple[str, Callable[[], bool]]] = {
        "kafka": (settings.kafka_broker, lambda: kafka_ready(settings)),
        "alertmanager": (
            f"http://127.0.0.1:{settings.alertmanager_port}",
            lambda: http_ok(f"http://127.0.0.1:{settings.alertmanager_port}/-/ready"),
        ),
        "alert-sink": (
            f"http://127.0.0.1:{settings.alert_sink_port}/alerts",
            lambda: http_ok(f"http://127.0.0.1:{settings.alert_sink_port}/-/ready"),
        ),
        "prometheus": (
            f"http://127.0.0.1:{settings.prometheus_port}",
            lambda: http_ok(f"http://127.0.0.1:{settings.prometheus_port}/-/ready"),
        ),
    }
    names = list(SERVICE_ORDER)
    if paths.pids.exists():
        names += sorted(p.stem for p in paths.pids.glob("worker-*.pid"))
    out = []
    for name in names:
        if name in checks:
            url, check = checks[name]
        else:
            port = settings.metrics_port + int(name.split("-")[1])
            url = f"http://127.0.0.1:{port}/metrics"
            check = _metrics_check(url)
        pid = read_pid(paths, name)
        running = pid is not None and _alive(pid)
        out.append(ServiceStatus(name, pid, running, running and check(), url))
    return out


def _metrics_check(url: str) -> Callable[[], bool]:
    return lambda: http_ok(url)
