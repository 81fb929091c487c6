"""A region's dispatch state and its steps, for the live agent and the replay alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors import dispatches
from detectors.dispatches import DispatchObs, DispatchState, DispatchView
from streams.contract.records import DispatchEvent


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

    def view(self, region: str, state: DispatchState) -> DispatchView:
        return dispatches.view(state, self.grace_seconds)

    def settle(self, region: str, state: DispatchState) -> list[tuple[str, bytes]]:
        return []  # dispatches raise no alert of their own: referral spikes are 111-side

    def event_time(self, event: DispatchEvent) -> float:
        return event.ts_s

    def region(self, event: DispatchEvent) -> str:
        return event.region
