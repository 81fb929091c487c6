"""Run one Faust worker with its /metrics endpoint, on loopback unless configured otherwise."""

from __future__ import annotations

import asyncio

import structlog
from faust.worker import Worker
from prometheus_client import REGISTRY, start_http_server

from streams import answer_rates, dispatches, kafka_security, overflow
from streams.app import create_app
from streams.config import Settings
from streams.errors import ConfigError

log = structlog.get_logger(__name__)


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    """The worker's loop (SURGE_EVENT_LOOP). Faust's cost is per-event asyncio scheduling, which
    uvloop makes cheaper; asyncio's own loop stays available (benchmarks/throughput.py measures
    both)."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_worker(settings: Settings) -> None:
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=REGISTRY)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve /metrics on {settings.metrics_host}:{settings.metrics_port} "
            f"({exc.strerror}); stop what uses the port or set SURGE_METRICS_PORT"
        ) from exc
    with kafka_security.explained(settings):  # the first Kafka clients: say why they fail
        answer_rates.prepare(settings)
        dispatches.prepare(settings)
        overflow.prepare(settings)
    # Set before the app exists, so Faust, mode and aiokafka all find this loop.
    loop = new_event_loop(settings.event_loop)
    asyncio.set_event_loop(loop)
    app = create_app(settings, REGISTRY)
    log.info(
        "worker_starting",
        app_id=settings.app_id,
        broker=settings.kafka_broker,
        **kafka_security.describe(settings),
        metrics=f"http://{settings.metrics_host}:{settings.metrics_port}/metrics",
        event_loop=f"{type(loop).__module__}.{type(loop).__name__}",
    )
    Worker(app, loglevel=settings.log_level, loop=loop).execute_from_commandline()
