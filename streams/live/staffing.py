"""The agent-state agent: the ACD's agent states in, handlers by state, staff time and handle time
out (the per-region state is streams.engine.staffing; batching, checkpoints and ownership are
streams.live.region_engine's, as for the call events it is co-partitioned with)."""

from __future__ import annotations

from collections.abc import Callable

import faust

from detectors.staffing import StaffedAt, StaffingState, StaffingView
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


def staffing_ops(settings: Settings) -> StaffingOps:
    return StaffingOps(
        settings.agent_stale_seconds, settings.retention_minutes, settings.dedup_minutes * 60.0
    )


def lookup(
    engine: RegionEngine[StaffingState, AgentStateEvent, StaffingView], settings: Settings
) -> Callable[[str, float], tuple[StaffedAt, ...] | None]:
    """The answer-rate agent's view of this worker's staffing (AnswerRateOps.staffing): a
    region's handlers at an event time, None for a region this worker holds no agent states of."""
    ops = staffing_ops(settings)

    def staffed_at(region: str, t_s: float) -> tuple[StaffedAt, ...] | None:
        slot = engine.slots.get(region)
        return None if slot is None else ops.at(slot.state, t_s)

    return staffed_at


def register(
    app: faust.App, topics: Topics, metrics: Metrics, catalogue: Catalogue, settings: Settings
) -> RegionEngine[StaffingState, AgentStateEvent, StaffingView]:
    return register_region_agent(
        app,
        name=CHECKPOINT_NAME,
        source=topics.agent_states,
        settings=settings,
        ops=staffing_ops(settings),
        publisher=metrics.staffing,
        parse=lambda raw: parse_agent_event(raw, catalogue),
        topics=topics,
        metrics=metrics,
        regions=catalogue.codes(),
    )
