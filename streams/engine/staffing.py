"""A region's agent-state state and its steps, for the live agent and a replay alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors import staffing
from detectors.staffing import AgentObs, StaffingState, StaffingView
from streams.contract.records import AgentStateEvent


@dataclass(frozen=True, slots=True)
class StaffingOps:
    stale_seconds: float
    retention_minutes: int
    dedup_seconds: float

    def initial(self, region: str) -> StaffingState:
        return staffing.initial()

    def apply(self, state: StaffingState, event: AgentStateEvent) -> str:
        obs = AgentObs(event.agent_id, event.ts_s, event.provider, event.role, event.state)
        return staffing.apply(
            state, obs, self.stale_seconds, self.retention_minutes, self.dedup_seconds
        )

    def to_json(self, state: StaffingState) -> dict[str, Any]:
        return staffing.to_json(state)

    def from_json(self, doc: dict[str, Any]) -> StaffingState:
        return staffing.from_json(doc)

    def view(self, state: StaffingState) -> StaffingView:
        return staffing.view(state, self.stale_seconds)

    def settle(self, region: str, state: StaffingState) -> list[tuple[str, bytes]]:
        return []  # the staffing alerts are Prometheus rules over the exported gauges

    def event_time(self, event: AgentStateEvent) -> float:
        return event.ts_s

    def region(self, event: AgentStateEvent) -> str:
        return event.region
