"""The answer-rate agent: call events in, event-time windows and KPIs out (DESIGN.md, KPIs).

State, checkpoints and ownership are the region engine's (streams.region_engine); the windows and
KPIs are detectors.windows and detectors.answer_rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import faust
import orjson
import structlog

from detectors import baseline, hysteresis, referrals, region_alerts, windows
from detectors.answer_rates import RegionView, region_status, region_view
from detectors.hysteresis import AlertState
from detectors.referrals import ReferralState
from detectors.region_alerts import AlertSpec
from detectors.windows import CallObs, RegionState, WindowConfig, closed_minute
from streams.alerting import alert_specs, encode_alert
from streams.catalogue import Catalogue
from streams.checkpoints import ensure_topic
from streams.config import Settings, window_config
from streams.errors import ConfigError
from streams.metrics import Metrics
from streams.records import CallEvent, parse_call_event
from streams.region_engine import RegionEngine, prepare_checkpoints, register_region_agent
from streams.topics import Topics

log = structlog.get_logger(__name__)

CHECKPOINT_NAME = "answer-rates"
ALERTS = "alerts"  # output: Alert records (DESIGN.md) on the alerts topic
STATUS = "status"  # output: each region's latest figures, for overflow routing
REFERRAL_ALERTS = {"ambulance": "AmbulanceReferralSpike", "ed": "EDReferralSpike"}


@dataclass(slots=True)
class AnswerState:
    """A region's windows and its in-stream alert machines, checkpointed together."""

    windows: RegionState = field(default_factory=windows.initial)
    alerts: dict[str, AlertState] = field(default_factory=dict)  # AlertSpec.key -> state
    referrals: ReferralState = field(default_factory=ReferralState)


@dataclass(frozen=True, slots=True)
class AnswerRateOps:
    config: WindowConfig
    specs: tuple[AlertSpec, ...]
    baselines: dict[str, dict[str, Any]]  # region -> kind -> baseline JSON (warm start)

    def initial(self, region: str) -> AnswerState:
        warm = {k: baseline.from_json(b) for k, b in self.baselines.get(region, {}).items()}
        return AnswerState(referrals=ReferralState(baselines=warm))

    def apply(self, state: AnswerState, event: CallEvent) -> str:
        obs = CallObs(
            event.call_id,
            event.event,
            event.ts_s,
            event.provider,
            event.wait_seconds,
            event.disposition,
        )
        return windows.apply(state.windows, obs, self.config)

    def to_json(self, state: AnswerState) -> dict[str, Any]:
        alerts = {k: hysteresis.to_json(v) for k, v in sorted(state.alerts.items())}
        return {
            "windows": windows.to_json(state.windows),
            "alerts": alerts,
            "referrals": referrals.to_json(state.referrals),
        }

    def from_json(self, doc: dict[str, Any]) -> AnswerState:
        alerts = {k: hysteresis.from_json(v) for k, v in doc["alerts"].items()}
        spikes = referrals.from_json(doc["referrals"])
        return AnswerState(windows.from_json(doc["windows"]), alerts, spikes)

    def view(self, state: AnswerState) -> RegionView:
        view = region_view(state.windows, self.config)
        spikes = referrals.spikes(state.referrals)
        active = region_alerts.active(state.alerts, self.specs) + tuple(
            (REFERRAL_ALERTS[kind], "warning", int(alarmed)) for kind, _, _, alarmed in spikes
        )
        return replace(view, alerts_active=active, referral_spikes=spikes)

    def settle(self, region: str, state: AnswerState) -> list[tuple[str, bytes]]:
        closed = closed_minute(state.windows, self.config)
        referrals.step(state.referrals, state.windows, closed)
        view = region_view(state.windows, self.config)
        events = region_alerts.evaluate(state.alerts, self.specs, view, region)
        for e in events:
            log.info("stream_alert", alert_id=e.alert_id, state=e.state, value=e.value)
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


def status_topic(settings: Settings) -> str:
    """Compacted, one partition: the latest figures of every region in one place, whichever
    worker owns the region, for the overflow policy that decides across regions."""
    return f"{settings.app_id}-region-status"


def prepare(settings: Settings) -> None:
    prepare_checkpoints(settings, CHECKPOINT_NAME, settings.topic_calls)
    ensure_topic(settings, status_topic(settings), 1)


def register(
    app: faust.App, topics: Topics, metrics: Metrics, catalogue: Catalogue, settings: Settings
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
        ops=AnswerRateOps(window_config(settings), alert_specs(), load_baselines(settings)),
        publisher=metrics.regions,
        parse=lambda raw: parse_call_event(raw, catalogue),
        topics=topics,
        metrics=metrics,
        regions=catalogue.codes(),
        outputs={ALERTS: topics.alerts, STATUS: status},
    )
