"""The Faust application factory: settings in, an app with its topics and agents out.

The live agents are registered here; agents of other features (the overflow policy) are handed in
by the command that composes the worker (streams.cli.worker), so `live` never imports them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import faust
from prometheus_client import CollectorRegistry

from streams.contract import kafka_security
from streams.contract.catalogue import Catalogue, load_catalogue
from streams.contract.settings import Settings
from streams.live import answer_rates, dispatches, rota, staffing
from streams.live.faust_topics import faust_topics
from streams.live.metrics import Metrics

# Registers another feature's agent on the app, with its metrics on the registry.
Register = Callable[[faust.App, CollectorRegistry, Catalogue, Settings], object]


def create_app(
    settings: Settings,
    registry: CollectorRegistry,
    catalogue: Catalogue | None = None,
    extra: Sequence[Register] = (),
) -> faust.App:
    catalogue = catalogue or load_catalogue(
        Path(settings.catalogue) if settings.catalogue else None
    )
    app = faust.App(
        settings.app_id,
        broker=settings.kafka_broker,
        broker_credentials=kafka_security.faust_credentials(settings),
        store="memory://",
        # The worker's only HTTP endpoint is /metrics (prometheus-client); Faust's web stays off.
        web_enabled=False,
        topic_replication_factor=1,
        topic_partitions=8,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_seconds / 10),
    )
    topics = faust_topics(app, settings)
    inputs = (settings.topic_calls, settings.topic_dispatches, settings.topic_agent_states)
    metrics = Metrics(
        registry,
        inputs,
        target_seconds=settings.answer_target_seconds,
        patience_seconds=settings.caller_patience_seconds or None,
        providers={r.code: tuple(p.id for p in r.providers) for r in catalogue.regions},
    )
    # The agent states are co-partitioned with the calls, so this worker holds the staffing of
    # the regions whose calls it holds: the breach forecast reads them from the staffing engine.
    staff = staffing.register(app, topics, metrics, catalogue, settings)
    answer_rates.register(
        app, topics, metrics, catalogue, settings, staffing=staffing.lookup(staff, settings)
    )
    dispatches.register(app, topics, metrics, catalogue, settings)
    rota.register(app, metrics, catalogue, settings)
    for register in extra:
        register(app, registry, catalogue, settings)
    return app
