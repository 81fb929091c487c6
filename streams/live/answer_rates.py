"""The answer-rate agent: call events in, event-time windows, KPIs, Alert records and region
status out (the per-region state is streams.engine.answer_rates; batching, checkpoints and
ownership are streams.live.region_engine's)."""

from __future__ import annotations

from collections.abc import Callable

import faust
import structlog

from detectors.answer_rates import RegionView
from detectors.staffing import StaffedAt
from streams.contract.catalogue import Catalogue
from streams.contract.kafka_io import ensure_topic
from streams.contract.records import CallEvent, parse_call_event
from streams.contract.settings import Settings, window_config
from streams.contract.topics import status_topic
from streams.engine.alerting import alert_specs
from streams.engine.answer_rates import (
    ALERTS,
    STATUS,
    AnswerRateOps,
    AnswerState,
    load_baselines,
)
from streams.live.faust_topics import Topics
from streams.live.metrics import Metrics
from streams.live.region_engine import RegionEngine, prepare_checkpoints, register_region_agent

log = structlog.get_logger(__name__)


def prepare(settings: Settings) -> None:
    prepare_checkpoints(settings, CHECKPOINT_NAME, settings.topic_calls)
    ensure_topic(settings, status_topic(settings), 1)


def register(
    app: faust.App,
    topics: Topics,
    metrics: Metrics,
    catalogue: Catalogue,
    settings: Settings,
    *,
    staffing: Callable[[str, float], tuple[StaffedAt, ...] | None] | None = None,
) -> RegionEngine[AnswerState, CallEvent, RegionView]:
    status = app.topic(
        status_topic(settings),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=1,
    )
    return register_region_agent(
        app,
        name=CHECKPOINT_NAME,
        source=topics.calls,
        settings=settings,
        ops=AnswerRateOps(
            window_config(settings), alert_specs(), load_baselines(settings), staffing=staffing
        ),
        publisher=metrics.regions,
        parse=lambda raw: parse_call_event(raw, catalogue),
        topics=topics,
        metrics=metrics,
        regions=catalogue.codes(),
        outputs={ALERTS: topics.alerts, STATUS: status},
    )


CHECKPOINT_NAME = "answer-rates"
