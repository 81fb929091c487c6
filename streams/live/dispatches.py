"""The dispatch agent: ambulance dispatches in, exact counts by source and category out (the
per-region state is streams.engine.dispatches)."""

from __future__ import annotations

import faust

from detectors.dispatches import DispatchState, DispatchView
from streams.contract.catalogue import Catalogue
from streams.contract.records import DispatchEvent, parse_dispatch_event
from streams.contract.settings import Settings
from streams.engine.dispatches import DispatchOps
from streams.live.faust_topics import Topics
from streams.live.metrics import Metrics
from streams.live.region_engine import RegionEngine, prepare_checkpoints, register_region_agent

CHECKPOINT_NAME = "dispatches"


def prepare(settings: Settings) -> None:
    prepare_checkpoints(settings, CHECKPOINT_NAME, settings.topic_dispatches)


def register(
    app: faust.App, topics: Topics, metrics: Metrics, catalogue: Catalogue, settings: Settings
) -> RegionEngine[DispatchState, DispatchEvent, DispatchView]:
    return register_region_agent(
        app,
        name=CHECKPOINT_NAME,
        source=topics.dispatches,
        settings=settings,
        ops=DispatchOps(settings.grace_seconds, settings.dedup_minutes * 60.0),
        publisher=metrics.dispatches,
        parse=lambda raw: parse_dispatch_event(raw, catalogue),
        topics=topics,
        metrics=metrics,
        regions=catalogue.codes(),
    )
