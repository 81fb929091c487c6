"""A region's agent-state state and its steps, for the live agent and a replay alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors import staffing
from detectors.answer_rates import FORECAST_PARAMS
from detectors.staffing import AgentObs, StaffedAt, StaffingState, StaffingView
from streams.contract.records import AgentStateEvent


@dataclass(frozen=True, slots=True)
class StaffingOps:
    stale_seconds: float
    retention_minutes: int
    dedup_seconds: float

    def initial(self, region: str) -> StaffingState:
        return staffing.initial()

    def apply(self, state: StaffingState, event: AgentStateEvent) -> str:
        obs = AgentObs(
            event.agent_id, event.ts_s, event.provider, event.role, event.state, event.reason
        )
        return staffing.apply(
            state, obs, self.stale_seconds, self.retention_minutes, self.dedup_seconds
        )

    def to_json(self, state: StaffingState) -> dict[str, Any]:
        return staffing.to_json(state)

    def from_json(self, doc: dict[str, Any]) -> StaffingState:
        return staffing.from_json(doc)

    def view(self, region: str, state: StaffingState) -> StaffingView:
        return staffing.view(state, self.stale_seconds)

    def at(self, state: StaffingState, t_s: float) -> tuple[StaffedAt, ...] | None:
        """The handlers the breach forecast reads at the calls' event time `t_s` (the live
        answer-rate agent and the replay both ask this)."""
        return staffing.at(
            state,
            t_s,
            stale_seconds=self.stale_seconds,
            handle_minutes=FORECAST_PARAMS.handle_minutes,
            max_lag_seconds=FORECAST_PARAMS.staffing_lag_seconds,
        )

    def settle(self, region: str, state: StaffingState) -> list[tuple[str, bytes]]:
        return []  # the staffing alerts are Prometheus rules over the exported gauges

    def event_time(self, event: AgentStateEvent) -> float:
        return event.ts_s

    def region(self, event: AgentStateEvent) -> str:
        return event.region
