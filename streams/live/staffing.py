"""The agent-state agent: the ACD's agent states in, handlers by state, staff time and handle time
out (the per-region state is streams.engine.staffing; batching, checkpoints and ownership are
streams.live.region_engine's, as for the call events it is co-partitioned with)."""

from __future__ import annotations

import faust

from detectors.staffing import StaffingState, StaffingView
from streams.contract.catalogue import Catalogue
from streams.contract.records import AgentStateEvent, parse_agent_event
from streams.contract.settings import Settings
from streams.engine.staffing import StaffingOps
from streams.live.faust_topics import Topics
from streams.live.metrics import Metrics
from streams.live.region_engine import RegionEngine, prepare_checkpoints, register_region_agent

CHECKPOINT_NAME = "staffing"


def prepare(settings: Settings) -> None:
    prepare_checkpoints(settings, CHECKPOINT_NAME, settings.topic_agent_states)


def register(
    app: faust.App, topics: Topics, metrics: Metrics, catalogue: Catalogue, settings: Settings
) -> RegionEngine[StaffingState, AgentStateEvent, StaffingView]:
    return register_region_agent(
        app,
        name=CHECKPOINT_NAME,
        source=topics.agent_states,
        settings=settings,
        ops=StaffingOps(
            settings.agent_stale_seconds, settings.retention_minutes, settings.dedup_minutes * 60.0
        ),
        publisher=metrics.staffing,
        parse=lambda raw: parse_agent_event(raw, catalogue),
        topics=topics,
        metrics=metrics,
        regions=catalogue.codes(),
    )
