"""The in-stream alert specs, built from the thresholds the Prometheus rules use (one source)."""

from __future__ import annotations

import orjson

from detectors.hysteresis import HysteresisParams
from detectors.region_alerts import (
    ABANDON_RATE,
    BREACH_FORECAST,
    LONGEST_WAIT,
    REFERRAL_SPIKE,
    SERVICE_LEVEL,
    AlertEvent,
    AlertSpec,
)
from streams.contract.records import format_ts
from streams.contract.thresholds import THRESHOLDS, Thresholds

# A margin past the raise threshold before an alert clears: a value hovering at the threshold
# must not fire and resolve every few minutes (the Prometheus rules get this from `for:` alone).
CLEAR_MARGIN_RATIO = 0.02
CLEAR_MARGIN_SECONDS = 60.0
CLEAR_MARGIN_SCORE = 0.5  # standard deviations, for the referral spike score


def alert_specs(t: Thresholds = THRESHOLDS) -> tuple[AlertSpec, ...]:
    kpi = {
        "raise_after_seconds": float(t.kpi_for_seconds),
        "clear_after_seconds": float(t.kpi_for_seconds),
        "min_dwell_seconds": float(t.kpi_for_seconds),
    }
    wait = {
        "raise_after_seconds": float(t.longest_wait_for_seconds),
        "clear_after_seconds": float(t.longest_wait_for_seconds),
        "min_dwell_seconds": float(t.kpi_for_seconds),
    }
    specs = []
    for severity, level in (
        ("warning", t.service_level_warning),
        ("critical", t.service_level_critical),
    ):
        params = HysteresisParams.low_is_bad(
            raise_below=level, clear_above=level + CLEAR_MARGIN_RATIO, **kpi
        )
        specs.append(
            AlertSpec(
                "ServiceLevelBelowStandard",
                severity,
                SERVICE_LEVEL,
                params,
                min_offered=t.kpi_min_offered_per_hour,
            )
        )
    for severity, level in (("warning", t.abandon_warning), ("critical", t.abandon_critical)):
        params = HysteresisParams.high_is_bad(
            raise_above=level, clear_below=max(0.0, level - CLEAR_MARGIN_RATIO), **kpi
        )
        specs.append(
            AlertSpec(
                "AbandonmentAboveStandard",
                severity,
                ABANDON_RATE,
                params,
                min_offered=t.kpi_min_offered_per_hour,
            )
        )
    for severity, seconds in (
        ("warning", t.longest_wait_warning_seconds),
        ("critical", t.longest_wait_critical_seconds),
    ):
        params = HysteresisParams.high_is_bad(
            raise_above=seconds, clear_below=seconds - CLEAR_MARGIN_SECONDS, **wait
        )
        specs.append(
            AlertSpec(
                "CallsWaitingHigh",
                severity,
                LONGEST_WAIT,
                params,
                min_waiting=t.longest_wait_min_calls_waiting,
            )
        )
    spike = {
        "raise_after_seconds": float(t.referral_spike_for_seconds),
        "clear_after_seconds": float(t.referral_spike_for_seconds),
        "min_dwell_seconds": float(t.referral_spike_for_seconds),
    }
    for alert, kind in (("AmbulanceReferralSpike", "ambulance"), ("EDReferralSpike", "ed")):
        for severity, score in (
            ("warning", t.referral_spike_warning),
            ("critical", t.referral_spike_critical),
        ):
            params = HysteresisParams.high_is_bad(
                raise_above=score, clear_below=score - CLEAR_MARGIN_SCORE, **spike
            )
            specs.append(AlertSpec(alert, severity, REFERRAL_SPIKE + kind, params))
    forecast = float(t.breach_forecast_for_seconds)
    params = HysteresisParams.low_is_bad(
        raise_below=t.breach_forecast_seconds,
        clear_above=t.breach_forecast_seconds + CLEAR_MARGIN_SECONDS,
        raise_after_seconds=forecast,
        clear_after_seconds=forecast,
        min_dwell_seconds=forecast,
    )
    specs.append(AlertSpec("ServiceLevelBreachForecast", "warning", BREACH_FORECAST, params))
    return tuple(specs)


def encode_alert(e: AlertEvent) -> bytes:
    """The Alert record of DESIGN.md (surge.alerts), as JSON."""
    return orjson.dumps(
        {
            "alert_id": e.alert_id,
            "alert": e.alert,
            "region": e.region,
            "severity": e.severity,
            "state": e.state,
            "value": e.value,
            "threshold": e.threshold,
            "started_at": format_ts(e.started_at_s),
            "ts": format_ts(e.ts_s),
            "summary": e.summary,
        }
    )
