"""In-stream alerts from region views: one firing and one resolved per episode, rule thresholds."""

from __future__ import annotations

from dataclasses import replace

import orjson

from detectors import region_alerts
from detectors.answer_rates import ALL_PROVIDERS, RegionView, WindowKpis
from detectors.hysteresis import AlertState
from detectors.windows import Kpis
from streams.contract.thresholds import THRESHOLDS
from streams.engine.alerting import alert_specs, encode_alert

T0 = 1364544000.0
SPECS = alert_specs()
FOR = THRESHOLDS.kpi_for_seconds // 60  # minutes
# Below the warning, above the critical.
WARNING_ONLY = (THRESHOLDS.service_level_warning + THRESHOLDS.service_level_critical) / 2


def view(ts: float, service_level: float, offered: int = 100) -> RegionView:
    kpis = Kpis(
        answer_rate=0.9,
        service_level=service_level,
        abandon_rate=0.01,
        average_speed_of_answer_seconds=20.0,
    )
    window = WindowKpis(ALL_PROVIDERS, "60m", int(ts // 60) * 60, offered, offered, kpis)
    return RegionView(
        watermark_s=ts,
        windows=(window,),
        referral_rates=(),
        calls_waiting=((ALL_PROVIDERS, 0),),
        longest_wait_seconds=None,
        cumulative=(),
        wait_buckets=(),
        wait_sum_seconds=0.0,
        late=0,
        duplicates=0,
        too_late=0,
        expired_calls=0,
        history_minutes=120,
    )


def run(levels: list[float], offered: int = 100) -> list[region_alerts.AlertEvent]:
    states: dict[str, AlertState] = {}
    events = []
    for minute, level in enumerate(levels):
        events += region_alerts.evaluate(
            states, SPECS, view(T0 + 60 * minute, level, offered), "north-west"
        )
    return events


def test_a_sustained_breach_fires_once_and_resolves_once() -> None:
    """Between critical and warning for 2 x FOR minutes then 0.97: one warning, one resolved."""
    events = run([WARNING_ONLY] * 2 * FOR + [0.97] * 2 * FOR)
    sl = [(e.severity, e.state) for e in events if e.alert == "ServiceLevelBelowStandard"]
    assert sl == [("warning", "firing"), ("warning", "resolved")]
    firing = next(e for e in events if e.state == "firing")
    # `for:` of the rules: bad from minute 0, fires once the breach has held kpi_for_seconds.
    assert firing.ts_s - T0 == THRESHOLDS.kpi_for_seconds
    assert firing.threshold == THRESHOLDS.service_level_warning
    assert len({e.alert_id for e in events}) == 1


def test_a_single_bad_minute_and_a_quiet_region_do_not_fire() -> None:
    """One bad minute fires nothing; neither does a breach on fewer calls than the rules need."""
    assert run([0.97] * 10 + [0.5] + [0.97] * 2 * FOR) == []
    assert run([0.5] * 2 * FOR, offered=THRESHOLDS.kpi_min_offered_per_hour - 1) == []
    assert run([0.5] * 2 * FOR, offered=THRESHOLDS.kpi_min_offered_per_hour) != []


def test_the_alert_record_has_the_design_fields() -> None:
    """The surge.alerts record carries every field of DESIGN.md's Alert."""
    record = orjson.loads(encode_alert(run([0.7] * (FOR + 1))[0]))
    assert set(record) == {
        "alert_id",
        "alert",
        "region",
        "severity",
        "state",
        "value",
        "threshold",
        "started_at",
        "ts",
        "summary",
    }
    assert record["state"] == "firing" and record["region"] == "north-west"


def test_active_reports_every_spec() -> None:
    """surge_alert_active has a 0/1 sample for each alert and severity."""
    states: dict[str, AlertState] = {}
    region_alerts.evaluate(states, SPECS, view(T0, 0.97), "london")
    assert len(region_alerts.active(states, SPECS)) == len(SPECS)
    assert all(on == 0 for _, _, on in region_alerts.active(states, SPECS))


def test_no_kpi_alert_before_a_full_hour_of_history() -> None:
    """Warm-up: a 60-minute ratio over less than 60 minutes of history is no data."""
    states: dict[str, AlertState] = {}
    events = []
    for minute in range(60):  # the first hour: without the warm-up, firing at minute FOR
        young = replace(view(T0 + 60 * minute, 0.5), history_minutes=minute + 1)
        events += region_alerts.evaluate(states, SPECS, young, "north-east")
    assert events == []


def forecast_events(forecasts: list[float], history_minutes: int = 120) -> list[tuple[str, float]]:
    """(state, minutes from T0) of the ServiceLevelBreachForecast events over the forecasts."""
    states: dict[str, AlertState] = {}
    events = []
    for minute, seconds in enumerate(forecasts):
        v = replace(
            view(T0 + 60 * minute, 0.97),
            breach_forecast_seconds=seconds,
            history_minutes=history_minutes,
        )
        events += region_alerts.evaluate(states, SPECS, v, "north-west")
    return [
        (e.state, (e.ts_s - T0) / 60) for e in events if e.alert == "ServiceLevelBreachForecast"
    ]


def test_a_breach_forecast_under_the_threshold_warns_after_its_for_and_resolves() -> None:
    """Forecast 20 min from minute 5 to 44, then +inf: firing at 10 (for: 5m); it resolves
    5 min after the forecast clears (the clear timer and dwell are the `for:` too), at 50."""
    inf = float("inf")
    assert THRESHOLDS.breach_forecast_for_seconds == 300
    got = forecast_events([inf] * 5 + [1200.0] * 40 + [inf] * 60)
    assert got == [("firing", 10.0), ("resolved", 50.0)]
    assert forecast_events([inf] * 5 + [1200.0] * 5 + [inf] * 60) == []  # 5 min: not yet


def test_a_breach_forecast_at_the_threshold_short_or_warming_up_stays_silent() -> None:
    """Exactly the threshold, under it for 4 minutes, or in the first hour: no event."""
    inf = float("inf")
    assert forecast_events([THRESHOLDS.breach_forecast_seconds] * 30) == []
    assert forecast_events([inf] * 5 + [600.0] * 5 + [inf] * 20) == []
    assert forecast_events([600.0] * 30, history_minutes=30) == []
