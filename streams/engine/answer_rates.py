"""A region's answer-rate state and its steps: call events in, event-time windows, KPIs, referral
spikes and in-stream alerts out (DESIGN.md, KPIs). The live agent (streams.live.answer_rates) and
the replay (streams.offline.replay) run this same object, so a replay equals the live day.

The windows and KPIs are detectors.windows and detectors.answer_rates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import structlog

from detectors import baseline, hysteresis, referrals, region_alerts, windows
from detectors.answer_rates import RegionView, region_status, region_view
from detectors.hysteresis import AlertState
from detectors.referrals import ReferralState
from detectors.region_alerts import AlertEvent, AlertSpec
from detectors.staffing import StaffedAt
from detectors.windows import CallObs, RegionState, WindowConfig, closed_minute, oldest_minute
from streams.contract.errors import ConfigError
from streams.contract.records import CallEvent
from streams.contract.settings import Settings
from streams.engine.alerting import encode_alert

log = structlog.get_logger(__name__)

ALERTS = "alerts"  # output: Alert records (DESIGN.md) on the alerts topic
STATUS = "status"  # output: each region's latest figures, for overflow routing


@dataclass(slots=True)
class AnswerState:
    """A region's windows and its in-stream alert machines, checkpointed together."""

    windows: RegionState = field(default_factory=windows.initial)
    alerts: dict[str, AlertState] = field(default_factory=dict)  # AlertSpec.key -> state
    referrals: ReferralState = field(default_factory=ReferralState)
    evaluated_minute: int | None = None  # the last closed minute the detectors have stepped on
    # Alert transitions not yet published (settle drains them); not checkpointed: a restart
    # re-applies the events after the checkpoint and so makes them again.
    pending: list[AlertEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AnswerRateOps:
    config: WindowConfig
    specs: tuple[AlertSpec, ...]
    baselines: dict[str, dict[str, Any]]  # region -> kind -> baseline JSON (warm start)
    # Called with each closed minute's region-wide view as the detectors step on it (replay).
    observe: Callable[[str, RegionView], None] | None = None
    # A region's call handlers at an event time, for the breach forecast (StaffingOps.at of the
    # region's agent-state state): None where agent states are not streamed.
    staffing: Callable[[str, float], tuple[StaffedAt, ...] | None] | None = None

    def staffed(self, region: str, state: AnswerState) -> tuple[StaffedAt, ...] | None:
        """The handlers as of the region's newest call event (what the forecast runs from)."""
        now = state.windows.max_ts_s
        return None if self.staffing is None or now is None else self.staffing(region, now)

    def initial(self, region: str) -> AnswerState:
        warm = {k: baseline.from_json(b) for k, b in self.baselines.get(region, {}).items()}
        return AnswerState(referrals=ReferralState(baselines=warm))

    def apply(self, state: AnswerState, event: CallEvent) -> str:
        """Count the event; when it moves the watermark past a minute, step the detectors on
        every newly closed minute at once, before the next event. The alerts are thus a function
        of the region's event sequence alone, not of how it was batched: live at any speed and a
        replay of the same events raise the same episodes at the same event times."""
        obs = CallObs(
            event.call_id,
            event.event,
            event.ts_s,
            event.provider,
            event.wait_seconds,
            event.disposition,
        )
        result = windows.apply(state.windows, obs, self.config)
        closed = closed_minute(state.windows, self.config)
        if closed is not None and (
            state.evaluated_minute is None or closed > state.evaluated_minute
        ):
            self.advance(event.region, state, closed)
        return result

    def advance(self, region: str, state: AnswerState, closed: int) -> None:
        """Step referrals and alert machines on each minute after the last evaluated one up to
        `closed` (at most the retained ones: after a long silence the older are gone)."""
        oldest = oldest_minute(state.windows)  # a region's first minute: nothing before it
        first = max(
            closed - (self.config.retention_minutes - 1) * 60,
            closed if oldest is None else oldest,
        )
        if state.evaluated_minute is not None:
            first = max(first, state.evaluated_minute + 60)
        staffed = self.staffed(region, state)
        for minute in range(first, closed + 60, 60):
            referrals.step(state.referrals, state.windows, minute)
            view = region_view(
                state.windows,
                self.config,
                minute,
                per_provider=False,
                referral_spikes=referrals.spikes(state.referrals),
                staffed=staffed,
            )
            state.pending.extend(region_alerts.evaluate(state.alerts, self.specs, view, region))
            if self.observe is not None:
                self.observe(region, view)
        state.evaluated_minute = closed

    def to_json(self, state: AnswerState) -> dict[str, Any]:
        alerts = {k: hysteresis.to_json(v) for k, v in sorted(state.alerts.items())}
        return {
            "windows": windows.to_json(state.windows),
            "alerts": alerts,
            "referrals": referrals.to_json(state.referrals),
            "evaluated_minute": state.evaluated_minute,
        }

    def from_json(self, doc: dict[str, Any]) -> AnswerState:
        alerts = {k: hysteresis.from_json(v) for k, v in doc["alerts"].items()}
        spikes = referrals.from_json(doc["referrals"])
        evaluated = doc.get("evaluated_minute")
        return AnswerState(windows.from_json(doc["windows"]), alerts, spikes, evaluated)

    def view(self, region: str, state: AnswerState) -> RegionView:
        view = region_view(state.windows, self.config, staffed=self.staffed(region, state))
        active = region_alerts.active(state.alerts, self.specs)
        return replace(
            view, alerts_active=active, referral_spikes=referrals.spikes(state.referrals)
        )

    def drain(self, state: AnswerState) -> list[AlertEvent]:
        """The alert transitions made since the last drain, oldest first."""
        events, state.pending = state.pending, []
        return events

    def settle(self, region: str, state: AnswerState) -> list[tuple[str, bytes]]:
        events = self.drain(state)
        for e in events:
            log.info("stream_alert", alert_id=e.alert_id, state=e.state, value=e.value)
        view = region_view(
            state.windows, self.config, per_provider=False, staffed=self.staffed(region, state)
        )
        status = orjson.dumps({"region": region, **region_status(view)})
        return [*((ALERTS, encode_alert(e)) for e in events), (STATUS, status)]

    def event_time(self, event: CallEvent) -> float:
        return event.ts_s

    def region(self, event: CallEvent) -> str:
        return event.region


def load_baselines(settings: Settings) -> dict[str, dict[str, Any]]:
    """The referral baselines to warm-start regions with (SURGE_REFERRAL_BASELINE), if any."""
    if not settings.referral_baseline:
        return {}
    try:
        doc: dict[str, dict[str, Any]] = orjson.loads(Path(settings.referral_baseline).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(
            f"SURGE_REFERRAL_BASELINE={settings.referral_baseline!r} is unreadable ({exc}); "
            "make one with `surge-monitor baseline --out FILE`"
        ) from exc
    return doc
