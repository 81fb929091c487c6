"""Metric names, labels and pre-initialisation, on a fresh registry per test."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.catalogue import default_catalogue
from streams.metrics import Metrics


def make() -> tuple[CollectorRegistry, Metrics]:
    registry = CollectorRegistry()
    return registry, Metrics.create(registry, default_catalogue(), ("calls",))


def test_every_region_provider_outcome_starts_at_zero() -> None:
    """A region that has sent nothing yet is a 0 series, not a missing one."""
    registry, _ = make()
    labels = {"region": "north-east", "provider": "neas", "outcome": "abandoned"}
    assert registry.get_sample_value("surge_calls_total", labels) == 0.0
    assert (
        registry.get_sample_value("surge_events_total", {"topic": "calls", "result": "late"}) == 0
    )


def test_counting_outcomes_and_passing_other_events() -> None:
    """Offered, answered and abandoned count; dispositions are not call outcomes."""
    registry, m = make()
    m.count_call("london", "lcw", "offered")
    m.count_call("london", "lcw", "offered")
    m.count_call("london", "lcw", "disposition")
    m.count_event("calls", "ok")
    labels = {"region": "london", "provider": "lcw", "outcome": "offered"}
    assert registry.get_sample_value("surge_calls_total", labels) == 2.0
    assert registry.get_sample_value("surge_events_total", {"topic": "calls", "result": "ok"}) == 1
