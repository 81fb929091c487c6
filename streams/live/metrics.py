"""Every Prometheus metric of the design, named once (../shared/DESIGN.md, section Metrics).

Two kinds. Pipeline counters (`surge_events_total`, `surge_event_lag_seconds`) count what this
process did. Business figures (calls, KPIs, waits, watermarks) are read from the regions' state at
scrape time, through `RegionCollector`: counters there are the exact cumulative counts kept in the
checkpointed state, so a restarted worker, or the worker a partition moved to, carries on from
the same number instead of from 0, and a worker exports only the regions it owns (`forget` drops
a region on revocation, so Prometheus never sees two workers' values for one region).

Built on a registry passed in, so tests use a fresh `CollectorRegistry()` each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from detectors.answer_rates import ALL_PROVIDERS, RegionView
from detectors.dispatches import DispatchView
from detectors.rota import RotaIndex
from detectors.staffing import StaffingView
from streams.contract.thresholds import THRESHOLDS
from streams.live.staffing_metrics import CapacityCollector, staffing_families

EVENT_RESULTS = ("ok", "invalid", "late", "duplicate")
V = TypeVar("V")
LAG_BUCKETS_SECONDS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)

# cumulative name in the state -> (metric, label value) of the exact counters
_CALL_OUTCOMES = {"offered": "offered", "answered": "answered", "abandoned": "abandoned"}
_CALLBACKS = {"callback_requested": "requested", "callback_made": "made"}


class ViewCollector(Collector, Generic[V]):
    """Serves the latest view of each owned region; views are replaced whole, never mutated, so
    the scrape thread always reads a consistent snapshot without a lock."""

    def __init__(self, families: Callable[[dict[str, V]], Iterator[Metric]]) -> None:
        self._views: dict[str, V] = {}
        self._families = families

    def publish(self, region: str, view: V) -> None:
        self._views = {**self._views, region: view}

    def forget(self, regions: Iterable[str]) -> None:
        drop = set(regions)
        self._views = {r: v for r, v in self._views.items() if r not in drop}

    def regions(self) -> set[str]:
        return set(self._views)

    def views(self) -> dict[str, V]:
        return self._views

    def describe(self) -> list[Metric]:
        return []  # label sets change with ownership; do not let register() call collect()

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._views)


def _region_families(views: dict[str, RegionView]) -> Iterator[Metric]:
    yield from _counters(views)
    yield from _gauges(views)
    yield _referral_rates(views)
    yield _alerts_active(views)
    yield from _referral_spikes(views)
    yield _breach_forecast(views)
    yield _wait_histogram(views)


def _referral_spikes(views: dict[str, RegionView]) -> Iterator[Metric]:
    expected = GaugeMetricFamily(
        "surge_referrals_expected",
        "Expected referrals of a kind in the last closed quarter-hour: the hour-of-week referral "
        "rate times the calls triaged in it (absent while the baseline warms up).",
        labels=["region", "kind"],
    )
    score = GaugeMetricFamily(
        "surge_referral_spike_score",
        "Standardised excess of the last closed quarter-hour's referrals over expected "
        "(one-sided Poisson z; ~0 normal, above 3 a spike).",
        labels=["region", "kind"],
    )
    for region, view in sorted(views.items()):
        for kind, exp, z, _ in view.referral_spikes:
            if exp is not None:
                expected.add_metric([region, kind], exp)
            score.add_metric([region, kind], z)
    yield from (expected, score)


def _breach_forecast(views: dict[str, RegionView]) -> Metric:
    family = GaugeMetricFamily(
        "surge_breach_forecast_seconds",
        "Predicted seconds until the 60- and 15-minute service levels are both below the warning "
        "threshold (detectors.forecast); 0 when they already are, +Inf when no breach is coming "
        "within the forecast's horizon.",
        labels=["region"],
    )
    for region, view in sorted(views.items()):
        if view.breach_forecast_seconds is not None:
            family.add_metric([region], view.breach_forecast_seconds)
    return family


def _alerts_active(views: dict[str, RegionView]) -> Metric:
    family = GaugeMetricFamily(
        "surge_alert_active",
        "1 while the in-stream alert (hysteresis, event time) is firing for the region, else 0.",
        labels=["region", "alert", "severity"],
    )
    for region, view in sorted(views.items()):
        for alert, severity, on in view.alerts_active:
            family.add_metric([region, alert, severity], on)
    return family


def _dispatch_families(views: dict[str, DispatchView]) -> Iterator[Metric]:
    family = CounterMetricFamily(
        "surge_dispatches",
        "Ambulance dispatches by source (111, 999, hcp, other) and category; exact.",
        labels=["region", "source", "category"],
    )
    for region, view in sorted(views.items()):
        for source, category, n in view.cumulative:
            family.add_metric([region, source, category], n)
    yield family


def _referral_rates(views: dict[str, RegionView]) -> Metric:
    family = GaugeMetricFamily(
        "surge_referral_rate_ratio",
        "111 dispositions of a kind (ambulance, ed) / all dispositions over the window.",
        labels=["region", "kind", "window"],
    )
    for region, view in sorted(views.items()):
        for kind, window, rate in view.referral_rates:
            family.add_metric([region, kind, window], rate)
    return family


def _counters(views: dict[str, RegionView]) -> Iterator[Metric]:
    calls = CounterMetricFamily(
        "surge_calls",
        "111 calls by outcome, counted at each event's own time; exact across restarts.",
        labels=["region", "provider", "outcome"],
    )
    within = CounterMetricFamily(
        "surge_calls_answered_within_target",
        "Calls answered within the target wait (60 s by default).",
        labels=["region", "provider"],
    )
    after = CounterMetricFamily(
        "surge_calls_abandoned_after_threshold",
        "Calls abandoned after the threshold wait (30 s by default).",
        labels=["region", "provider"],
    )
    callbacks = CounterMetricFamily(
        "surge_callbacks",
        "Clinical callbacks requested and made.",
        labels=["region", "provider", "outcome"],
    )
    callbacks_within = CounterMetricFamily(
        "surge_callbacks_within_target",
        "Clinical callbacks made within the target (10 min by default) of their request.",
        labels=["region", "provider"],
    )
    dispositions = CounterMetricFamily(
        "surge_dispositions",
        "111 dispositions (triage outcomes) by kind.",
        labels=["region", "disposition"],
    )
    expired = CounterMetricFamily(
        "surge_calls_expired",
        "Offered calls neither answered nor abandoned within the open-call limit (dropped).",
        labels=["region"],
    )
    for region, view in sorted(views.items()):
        by_disposition: dict[str, int] = {}
        for provider, name, n in view.cumulative:
            if name in _CALL_OUTCOMES:
                calls.add_metric([region, provider, _CALL_OUTCOMES[name]], n)
            elif name == "answered_within_target":
                within.add_metric([region, provider], n)
            elif name == "abandoned_after_threshold":
                after.add_metric([region, provider], n)
            elif name in _CALLBACKS:
                callbacks.add_metric([region, provider, _CALLBACKS[name]], n)
            elif name == "callbacks_within_target":
                callbacks_within.add_metric([region, provider], n)
            elif name.startswith("disposition:"):
                kind = name.split(":", 1)[1]
                by_disposition[kind] = by_disposition.get(kind, 0) + n
        for kind, n in sorted(by_disposition.items()):
            dispositions.add_metric([region, kind], n)
        expired.add_metric([region], view.expired_calls)
    yield from (calls, within, after, callbacks, callbacks_within, dispositions, expired)


def _gauges(views: dict[str, RegionView]) -> Iterator[Metric]:
    ratio_labels = ["region", "provider", "window"]
    answer = GaugeMetricFamily(
        "surge_answer_rate_ratio", "Answered / offered over the window.", labels=ratio_labels
    )
    service = GaugeMetricFamily(
        "surge_service_level_ratio",
        "Answered within target / answered over the window (standard: 0.95).",
        labels=ratio_labels,
    )
    abandon = GaugeMetricFamily(
        "surge_abandon_rate_ratio",
        "Abandoned after threshold / offered over the window (standard: below 0.05).",
        labels=ratio_labels,
    )
    callback = GaugeMetricFamily(
        "surge_callback_within_target_ratio",
        "Clinical callbacks made within 10 min of the request / callbacks requested over the "
        "window (each counted in its own minute).",
        labels=ratio_labels,
    )
    waiting = GaugeMetricFamily(
        "surge_calls_waiting",
        "Offered calls not yet answered or abandoned (event time).",
        labels=["region", "provider"],
    )
    longest = GaugeMetricFamily(
        "surge_longest_wait_seconds",
        "Age of the oldest waiting call at the region's latest event time; 0 when none waits.",
        labels=["region"],
    )
    mark = GaugeMetricFamily(
        "surge_watermark_seconds",
        "Event-time watermark (max event time - grace), Unix seconds; windows close behind it.",
        labels=["region"],
    )
    for region, view in sorted(views.items()):
        for w in view.windows:
            labels = [region, w.provider, w.window]
            k = w.kpis
            # A ratio without a denominator is absent, never 0 or 1 (DESIGN.md KPIs).
            if k.answer_rate is not None:
                answer.add_metric(labels, k.answer_rate)
            if k.service_level is not None:
                service.add_metric(labels, k.service_level)
            if k.abandon_rate is not None:
                abandon.add_metric(labels, k.abandon_rate)
            if k.callback_within_target_rate is not None:
                callback.add_metric(labels, k.callback_within_target_rate)
        for provider, n in view.calls_waiting:
            waiting.add_metric([region, provider], n)
        longest.add_metric([region], view.longest_wait_seconds or 0.0)
        if view.watermark_s is not None:
            mark.add_metric([region], view.watermark_s)
    yield from (answer, service, abandon, callback, waiting, longest, mark)


def _wait_histogram(views: dict[str, RegionView]) -> Metric:
    hist = HistogramMetricFamily(
        "surge_answer_wait_seconds",
        "Wait of answered calls, from the checkpointed state.",
        labels=["region"],
    )
    for region, view in sorted(views.items()):
        buckets = [(_le(le), float(n)) for le, n in view.wait_buckets]
        hist.add_metric([region], buckets, sum_value=view.wait_sum_seconds)
    return hist


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else f"{bound:g}"


class Metrics:
    """The registry's metrics; children are cached so the hot path does no label lookups."""

    def __init__(
        self,
        registry: CollectorRegistry,
        topics: tuple[str, ...],
        *,
        service_level: float = THRESHOLDS.service_level_standard,
        target_seconds: float = 60.0,
        patience_seconds: float | None = 300.0,
        providers: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.events_total = Counter(
            "surge_events_total",
            "Events read from each input topic by result (ok, invalid, late, duplicate).",
            ["topic", "result"],
            registry=registry,
        )
        self.event_lag_seconds = Histogram(
            "surge_event_lag_seconds",
            "Processing time minus event time of each valid event.",
            ["topic"],
            buckets=LAG_BUCKETS_SECONDS,
            registry=registry,
        )
        self.regions: ViewCollector[RegionView] = ViewCollector(_region_families)
        self.dispatches: ViewCollector[DispatchView] = ViewCollector(_dispatch_families)
        self.staffing: ViewCollector[StaffingView] = ViewCollector(staffing_families)
        registry.register(self.regions)
        registry.register(self.dispatches)
        registry.register(self.staffing)
        self.rota = RotaIndex()  # replaced whole by streams.live.rota
        self.capacity = CapacityCollector(
            self.regions.views,
            self.staffing.views,
            lambda: self.rota,
            providers or {},
            service_level=service_level,
            target_seconds=target_seconds,
            patience_seconds=patience_seconds,
        )
        registry.register(self.capacity)
        self._events = {
            (t, r): self.events_total.labels(t, r) for t in topics for r in EVENT_RESULTS
        }
        self._lag = {t: self.event_lag_seconds.labels(t) for t in topics}

    def count_event(self, topic: str, result: str) -> None:
        self._events[(topic, result)].inc()

    def observe_lag(self, topic: str, seconds: float) -> None:
        self._lag[topic].observe(seconds)


__all__ = ["ALL_PROVIDERS", "Metrics", "ViewCollector"]
