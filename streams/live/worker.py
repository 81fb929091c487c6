"""Run one Faust worker with its /metrics endpoint, on loopback unless configured otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog
from faust.worker import Worker
from prometheus_client import REGISTRY, start_http_server

from streams.contract import kafka_security
from streams.contract.errors import ConfigError
from streams.contract.settings import Settings
from streams.live import answer_rates, dispatches, staffing
from streams.live.app import Register, create_app

log = structlog.get_logger(__name__)


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    """The worker's loop (SURGE_EVENT_LOOP). Faust's cost is per-event asyncio scheduling, which
    uvloop makes cheaper; asyncio's own loop stays available (benchmarks/throughput.py measures
    both)."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_worker(
    settings: Settings,
    prepare: Sequence[Callable[[Settings], None]] = (),
    extra: Sequence[Register] = (),
) -> None:
    """Serve /metrics, make the topics the agents need, and run the app with the live agents and
    those of `extra` (each feature's topics made by its `prepare` first)."""
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
        staffing.prepare(settings)
        for step in prepare:
            step(settings)
    # Set before the app exists, so Faust, mode and aiokafka all find this loop.
    loop = new_event_loop(settings.event_loop)
    asyncio.set_event_loop(loop)
    app = create_app(settings, REGISTRY, extra=extra)
    log.info(
        "worker_starting",
        app_id=settings.app_id,
        broker=settings.kafka_broker,
        **kafka_security.describe(settings),
        metrics=f"http://{settings.metrics_host}:{settings.metrics_port}/metrics",
        event_loop=f"{type(loop).__module__}.{type(loop).__name__}",
    )
    Worker(app, loglevel=settings.log_level, loop=loop).execute_from_commandline()
