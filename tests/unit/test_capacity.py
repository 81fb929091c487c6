"""Required handlers from the last hour's calls and the agents' handle time."""

from __future__ import annotations

import pytest

from detectors import capacity, erlang


def test_required_is_erlang_c_at_the_standard() -> None:
    """Enough traffic: the Erlang C staff for 95 % within 60 s, and one fewer misses it."""
    n = capacity.required(360, 300, 480.0, service_level=0.95, target_seconds=60)
    assert n is not None
    kw = {"calls": 360, "interval_seconds": 3600.0, "aht_seconds": 480.0, "target_seconds": 60}
    assert erlang.erlang_c(agents=n, **kw).service_level >= 0.95
    assert erlang.erlang_c(agents=n - 1, **kw).service_level < 0.95


def test_with_patience_it_is_erlang_a_and_needs_no_more_than_erlang_c() -> None:
    """Callers who hang up free the queue: Erlang A's figure is at most Erlang C's."""
    c = capacity.required(360, 300, 480.0, service_level=0.95, target_seconds=60)
    a = capacity.required(
        360, 300, 480.0, service_level=0.95, target_seconds=60, patience_seconds=300.0
    )
    assert a is not None and c is not None and a <= c
    kw = {"calls": 360, "interval_seconds": 3600.0, "aht_seconds": 480.0, "target_seconds": 60}
    assert erlang.erlang_a(agents=a, patience_seconds=300.0, **kw).service_level >= 0.95
    assert erlang.erlang_a(agents=a - 1, patience_seconds=300.0, **kw).service_level < 0.95


def test_retrials_that_double_the_attempts_would_double_the_load() -> None:
    """Required grows with the callers offered: twice the callers needs more, not twice as many
    (the pooling of Erlang), so it must be fed callers, not attempts (issue 18)."""
    one = capacity.required(360, 300, 480.0, service_level=0.95, target_seconds=60)
    two = capacity.required(720, 600, 480.0, service_level=0.95, target_seconds=60)
    assert one is not None and two is not None
    assert one < two < 2 * one


@pytest.mark.parametrize(
    ("offered", "handled", "aht"),
    [(0, 0, None), (9, 9, 400.0), (100, 4, 400.0), (100, 50, None)],
)
def test_too_little_traffic_gives_no_figure(offered: int, handled: int, aht: float | None) -> None:
    """Below 10 calls offered or 5 handled in the hour, or without a handle time: None."""
    assert capacity.required(offered, handled, aht, service_level=0.95, target_seconds=60) is None
