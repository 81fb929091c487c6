"""Metric names, labels and values exported from region views, on a fresh registry per test."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from detectors import dispatches, windows
from detectors.answer_rates import region_view
from detectors.dispatches import DispatchObs
from detectors.windows import CallObs, WindowConfig
from streams.live.metrics import Metrics

CONFIG = WindowConfig()
T0 = 1364544000  # 2013-03-29 08:00 UTC


def make() -> tuple[CollectorRegistry, Metrics]:
    registry = CollectorRegistry()
    return registry, Metrics(registry, ("calls",))


def published(events: list[CallObs]) -> tuple[CollectorRegistry, Metrics]:
    registry, metrics = make()
    state = windows.initial()
    for e in events:
        windows.apply(state, e, CONFIG)
    metrics.regions.publish("london", region_view(state, CONFIG))
    return registry, metrics


def test_pipeline_counters_start_at_zero_for_every_topic_and_result() -> None:
    """surge_events_total exists at 0 for each input topic and result before any event."""
    registry, metrics = make()
    assert (
        registry.get_sample_value("surge_events_total", {"topic": "calls", "result": "late"}) == 0
    )
    metrics.count_event("calls", "ok")
    assert registry.get_sample_value("surge_events_total", {"topic": "calls", "result": "ok"}) == 1


def test_region_counts_and_ratios_come_from_the_view() -> None:
    """Cumulative counters and window ratios are exported with the design's names and labels."""
    events = [
        CallObs("a", "offered", T0, "lcw"),
        CallObs("b", "offered", T0 + 1, "lcw"),
        CallObs("a", "answered", T0 + 20, "lcw", wait_seconds=20.0),
        CallObs("b", "abandoned", T0 + 50, "lcw", wait_seconds=49.0),
        CallObs("c", "offered", T0 + 400, "care-uk"),  # moves the watermark past minute T0
    ]
    registry, _ = published(events)
    get = registry.get_sample_value
    calls = {"region": "london", "provider": "lcw"}
    assert get("surge_calls_total", {**calls, "outcome": "offered"}) == 2
    assert get("surge_calls_total", {**calls, "outcome": "abandoned"}) == 1
    assert get("surge_calls_answered_within_target_total", calls) == 1
    assert get("surge_calls_abandoned_after_threshold_total", calls) == 1
    window = {"region": "london", "provider": "lcw", "window": "15m"}
    assert get("surge_answer_rate_ratio", window) == pytest.approx(0.5)
    assert get("surge_service_level_ratio", window) == 1.0
    assert get("surge_abandon_rate_ratio", window) == pytest.approx(0.5)
    assert get("surge_calls_waiting", {"region": "london", "provider": "all"}) == 1
    assert get("surge_answer_wait_seconds_bucket", {"region": "london", "le": "30"}) == 1
    assert get("surge_answer_wait_seconds_count", {"region": "london"}) == 1
    assert get("surge_watermark_seconds", {"region": "london"}) == T0 + 400 - 120


def test_referral_rates_are_shares_of_all_dispositions() -> None:
    """Referral rate = dispositions of the kind / all dispositions in the window."""
    events = [
        CallObs("a", "disposition", T0, "lcw", disposition="ambulance"),
        CallObs("b", "disposition", T0 + 1, "lcw", disposition="self_care"),
        CallObs("c", "disposition", T0 + 2, "care-uk", disposition="ed"),
        CallObs("d", "disposition", T0 + 3, "care-uk", disposition="ambulance"),
        CallObs("z", "offered", T0 + 400, "lcw"),
    ]
    registry, _ = published(events)
    rate = registry.get_sample_value
    assert (
        rate(
            "surge_referral_rate_ratio", {"region": "london", "kind": "ambulance", "window": "60m"}
        )
        == 0.5
    )
    assert (
        rate("surge_referral_rate_ratio", {"region": "london", "kind": "ed", "window": "15m"})
        == 0.25
    )


def test_dispatch_counts_are_exported_by_source_and_category() -> None:
    """surge_dispatches_total carries region, source and category."""
    registry, metrics = make()
    state = dispatches.initial()
    dispatches.apply(state, DispatchObs("i1", T0, "111", "C2"), 120.0, 1800.0)
    metrics.dispatches.publish("london", dispatches.view(state, 120.0))
    labels = {"region": "london", "source": "111", "category": "C2"}
    assert registry.get_sample_value("surge_dispatches_total", labels) == 1


def test_a_ratio_without_denominator_is_absent_not_zero() -> None:
    """Offered calls with no answers yet: answer rate 0, service level absent."""
    events = [CallObs("a", "offered", T0, "lcw"), CallObs("z", "offered", T0 + 400, "lcw")]
    registry, _ = published(events)
    window = {"region": "london", "provider": "lcw", "window": "15m"}
    assert registry.get_sample_value("surge_answer_rate_ratio", window) == 0.0
    assert registry.get_sample_value("surge_service_level_ratio", window) is None


def test_forgotten_regions_are_no_longer_exported() -> None:
    """A region released on revocation disappears from this worker's /metrics."""
    registry, metrics = published([CallObs("a", "offered", T0, "lcw")])
    labels = {"region": "london", "provider": "lcw", "outcome": "offered"}
    assert registry.get_sample_value("surge_calls_total", labels) == 1
    metrics.regions.forget(["london"])
    assert registry.get_sample_value("surge_calls_total", labels) is None


def test_callback_counters_and_ratio_follow_design_names() -> None:
    """Callbacks requested and made, those made within 10 min, and their ratio by window."""
    events = [
        CallObs("a", "callback_requested", T0, "lcw"),
        CallObs("a", "callback_made", T0 + 300, "lcw"),  # 5 min: within target
        CallObs("b", "callback_made", T0 + 700, "lcw"),  # arrives before its request
        CallObs("b", "callback_requested", T0 + 10, "lcw"),  # 11.5 min: outside the target
        CallObs("c", "callback_requested", T0 + 20, "care-uk"),  # not called back yet
        CallObs("d", "callback_requested", T0 + 30, "care-uk"),
        CallObs("d", "callback_made", T0 + 630, "care-uk"),  # exactly 10 min: within
        CallObs("z", "offered", T0 + 1200, "lcw"),  # closes the minutes above
    ]
    registry, _ = published(events)
    get = registry.get_sample_value
    lcw = {"region": "london", "provider": "lcw"}
    assert get("surge_callbacks_total", {**lcw, "outcome": "requested"}) == 2
    assert get("surge_callbacks_total", {**lcw, "outcome": "made"}) == 2
    assert get("surge_callbacks_within_target_total", lcw) == 1
    assert get("surge_callbacks_within_target_total", {**lcw, "provider": "care-uk"}) == 1
    ratio = "surge_callback_within_target_ratio"
    assert get(ratio, {**lcw, "window": "60m"}) == 0.5
    assert get(ratio, {**lcw, "provider": "care-uk", "window": "60m"}) == 0.5
    assert get(ratio, {**lcw, "provider": "all", "window": "60m"}) == 0.5
    # The 15-minute window (minutes 5..19) holds the callbacks made but none of the requests.
    assert get(ratio, {**lcw, "window": "15m"}) is None


def test_breach_forecast_is_the_views_per_region() -> None:
    """surge_breach_forecast_seconds: the view's forecast, +Inf when no breach is coming."""
    events = [CallObs("a", "offered", T0, "lcw"), CallObs("z", "offered", T0 + 400, "lcw")]
    registry, metrics = published(events)
    forecast = {"region": "london"}
    assert registry.get_sample_value("surge_breach_forecast_seconds", forecast) == float("inf")
    state = windows.initial()
    for e in events:
        windows.apply(state, e, CONFIG)
    soon = replace(region_view(state, CONFIG), breach_forecast_seconds=420.0)
    metrics.regions.publish("london", soon)
    assert registry.get_sample_value("surge_breach_forecast_seconds", forecast) == 420.0
