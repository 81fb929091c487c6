"""The answer-rate agent: call events in, event-time windows and KPIs out (DESIGN.md, KPIs).

State, checkpoints and ownership are the region engine's (streams.region_engine); the windows and
KPIs are detectors.windows and detectors.answer_rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from detectors import windows
from detectors.answer_rates import RegionView, region_view
from detectors.windows import CallObs, RegionState, WindowConfig
from streams.catalogue import Catalogue
from streams.config import Settings, window_config
from streams.metrics import Metrics
from streams.records import CallEvent, parse_call_event
from streams.region_engine import RegionEngine, prepare_checkpoints, register_region_agent
from streams.topics import Topics

CHECKPOINT_NAME = "answer-rates"


@dataclass(frozen=True, slots=True)
class AnswerRateOps:
    config: WindowConfig

    def initial(self) -> RegionState:
        return windows.initial()

    def apply(self, state: RegionState, event: CallEvent) -> str:
        obs = CallObs(
            event.call_id,
            event.event,
            event.ts_s,
            event.provider,
            event.wait_seconds,
            event.disposition,
        )
        return windows.apply(state, obs, self.config)

    def to_json(self, state: RegionState) -> dict[str, Any]:
        return windows.to_json(state)

    def from_json(self, doc: dict[str, Any]) -> RegionState:
        return windows.from_json(doc)

    def view(self, state: RegionState) -> RegionView:
        return region_view(state, self.config)

    def event_time(self, event: CallEvent) -> float:
        return event.ts_s

    def region(self, event: CallEvent) -> str:
        return event.region


def prepare(settings: Settings) -> None:
    prepare_checkpoints(settings, CHECKPOINT_NAME, settings.topic_calls)


def register(
    app: faust.App, topics: Topics, metrics: Metrics, catalogue: Catalogue, settings: Settings
) -> RegionEngine[RegionState, CallEvent, RegionView]:
    return register_region_agent(
        app,
        name=CHECKPOINT_NAME,
        source=topics.calls,
        settings=settings,
        ops=AnswerRateOps(window_config(settings)),
        publisher=metrics.regions,
        parse=lambda raw: parse_call_event(raw, catalogue),
        topics=topics,
        metrics=metrics,
        regions=catalogue.codes(),
    )
