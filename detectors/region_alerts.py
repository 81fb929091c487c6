"""In-stream alerts of one region: its view's signals through one hysteresis machine per alert.

The specs (thresholds, timers) come from the stream layer, built from the same numbers as the
Prometheus rules (streams.contract.thresholds.THRESHOLDS), so an event on `surge.alerts` and a page
from Alertmanager mean the same thing. Event time drives the machines: the region's watermark.
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors import hysteresis
from detectors.answer_rates import ALL_PROVIDERS, RegionView
from detectors.hysteresis import AlertState, HysteresisParams

# Signals a spec can watch, read from a RegionView. As in the Prometheus rules, a KPI alert needs
# both windows past the threshold (the 60m one and the 15m one), so the signal is the better of
# the two: for service level the higher (an absent 15m figure, nothing answered lately, leaves the
# 60m one), for abandonment the lower (an absent 15m figure, nothing offered, is no data).
SERVICE_LEVEL = "service_level"
ABANDON_RATE = "abandon_rate"
LONGEST_WAIT = "longest_wait_seconds"
# The referral spike score of a kind (the last hour against the hour-of-week baseline), no data
# while the baseline warms up: "referral_spike_score:ambulance", "referral_spike_score:ed".
REFERRAL_SPIKE = "referral_spike_score:"
# Seconds until the service level is forecast to breach (detectors.forecast; low is bad, +inf
# none coming); no data while the region warms up, as for the KPI alerts.
BREACH_FORECAST = "breach_forecast_seconds"


@dataclass(frozen=True, slots=True)
class AlertSpec:
    alert: str  # a name from DESIGN.md's Alerts
    severity: str  # warning | critical
    signal: str  # one of the signal names above
    params: HysteresisParams
    min_offered: int = 0  # ratios over fewer offered calls than this are no data
    min_waiting: int = 0  # longest wait with fewer calls waiting than this counts as 0

    @property
    def key(self) -> str:
        return f"{self.alert}:{self.severity}"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One FIRING or RESOLVED: the Alert record of DESIGN.md, minus its encoding."""

    alert_id: str
    alert: str
    region: str
    severity: str
    state: str  # firing | resolved
    value: float
    threshold: float
    started_at_s: float
    ts_s: float
    summary: str


def signal(view: RegionView, spec: AlertSpec) -> float | None:
    if spec.signal.startswith(REFERRAL_SPIKE):
        kind = spec.signal.removeprefix(REFERRAL_SPIKE)
        for name, expected, score, _ in view.referral_spikes:
            if name == kind:
                return None if expected is None else score
        return None
    if spec.signal == BREACH_FORECAST:
        return view.breach_forecast_seconds if view.history_minutes >= 60 else None
    if spec.signal == LONGEST_WAIT:
        waiting = dict(view.calls_waiting).get(ALL_PROVIDERS, 0)
        if waiting < spec.min_waiting or view.longest_wait_seconds is None:
            return 0.0
        return view.longest_wait_seconds
    return _kpi_signal(view, spec)


def _kpi_signal(view: RegionView, spec: AlertSpec) -> float | None:
    region = {w.window: w for w in view.windows if w.provider == ALL_PROVIDERS}
    hour, quarter = region.get("60m"), region.get("15m")
    # Warm-up: a 60-minute figure over less than 60 minutes of history is no data yet.
    if hour is None or hour.offered < spec.min_offered or view.history_minutes < 60:
        return None
    if spec.signal == SERVICE_LEVEL:
        level, recent = hour.kpis.service_level, quarter.kpis.service_level if quarter else None
        if level is None or recent is None:
            return level
        return max(level, recent)
    if spec.signal == ABANDON_RATE:
        rate, recent = hour.kpis.abandon_rate, quarter.kpis.abandon_rate if quarter else None
        if rate is None or recent is None:
            return None
        return min(rate, recent)
    raise ValueError(f"unknown alert signal {spec.signal!r}")


def evaluate(
    states: dict[str, AlertState], specs: tuple[AlertSpec, ...], view: RegionView, region: str
) -> list[AlertEvent]:
    """Step each spec's machine IN PLACE in `states` at the view's watermark; return transitions."""
    ts = view.watermark_s
    if ts is None:
        return []
    events = []
    for spec in specs:
        key = spec.key
        state = states.get(key)
        if state is None:
            state = hysteresis.initial()
        state, transition = hysteresis.step(state, signal(view, spec), ts, spec.params)
        states[key] = state
        if transition is not None:
            events.append(_event(spec, region, transition))
    return events


def _event(spec: AlertSpec, region: str, t: hysteresis.Transition) -> AlertEvent:
    verb = "above" if spec.params.direction == hysteresis.HIGH_IS_BAD else "below"
    summary = (
        f"{spec.alert} ({spec.severity}) in {region}: {spec.signal} {t.value:.4g} "
        f"{verb} {spec.params.raise_at:g}"
        if t.kind == hysteresis.FIRING
        else f"{spec.alert} ({spec.severity}) in {region} resolved: {spec.signal} {t.value:.4g}"
    )
    return AlertEvent(
        alert_id=hysteresis.alert_id(region, spec.alert, t.episode, spec.severity),
        alert=spec.alert,
        region=region,
        severity=spec.severity,
        state=t.kind,
        value=t.value,
        threshold=spec.params.raise_at,
        started_at_s=t.started_at_s,
        ts_s=t.ts_s,
        summary=summary,
    )


def active(
    states: dict[str, AlertState], specs: tuple[AlertSpec, ...]
) -> tuple[tuple[str, str, int], ...]:
    """(alert, severity, 1 if firing else 0) for every spec: the surge_alert_active samples."""
    out = []
    for spec in specs:
        state = states.get(spec.key)
        firing = state is not None and state.status in ("firing", "clearing")
        out.append((spec.alert, spec.severity, int(firing)))
    return tuple(out)
