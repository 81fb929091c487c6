"""The dispatch agent: ambulance dispatches in, exact counts by source and category out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from detectors import dispatches
from detectors.dispatches import DispatchObs, DispatchState, DispatchView
from streams.catalogue import Catalogue
from streams.config import Settings
from streams.metrics import Metrics
from streams.records import DispatchEvent, parse_dispatch_event
from streams.region_engine import RegionEngine, prepare_checkpoints, register_region_agent
from streams.topics import Topics

CHECKPOINT_NAME = "dispatches"


@dataclass(frozen=True, slots=True)
class DispatchOps:
    grace_seconds: float
    dedup_seconds: float

    def initial(self, region: str) -> DispatchState:
        return dispatches.initial()

    def apply(self, state: DispatchState, event: DispatchEvent) -> str:
        obs = DispatchObs(event.incident_id, event.ts_s, event.source, event.category)
        return dispatches.apply(state, obs, self.grace_seconds, self.dedup_seconds)

    def to_json(self, state: DispatchState) -> dict[str, Any]:
        return dispatches.to_json(state)

    def from_json(self, doc: dict[str, Any]) -> DispatchState:
        return dispatches.from_json(doc)

    def view(self, state: DispatchState) -> DispatchView:
        return dispatches.view(state, self.grace_seconds)

    def settle(self, region: str, state: DispatchState) -> list[tuple[str, bytes]]:
        return []  # dispatches raise no alert of their own: referral spikes are 111-side

    def event_time(self, event: DispatchEvent) -> float:
        return event.ts_s

    def region(self, event: DispatchEvent) -> str:
        return event.region


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
