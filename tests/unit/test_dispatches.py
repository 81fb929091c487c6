"""Dispatch counts: exact by source and category, redeliveries once, state round trip."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from detectors import dispatches as d
from detectors.dispatches import DispatchObs

T0 = 1364544000.0


def run(events: list[DispatchObs]) -> tuple[d.DispatchState, list[str]]:
    state = d.initial()
    return state, [d.apply(state, e, 120.0, 1800.0) for e in events]


def test_counts_by_source_and_category_and_drops_redeliveries() -> None:
    """Each incident counts once under its source and category; a redelivery is a duplicate."""
    events = [
        DispatchObs("i1", T0, "111", "C2"),
        DispatchObs("i2", T0 + 5, "999", "C1"),
        DispatchObs("i1", T0 + 6, "111", "C2"),
        DispatchObs("i3", T0 + 7, "111", "C2"),
    ]
    state, results = run(events)
    assert results == ["ok", "ok", "duplicate", "ok"]
    assert d.view(state, 120.0).cumulative == (("111", "C2", 2), ("999", "C1", 1))


def test_an_event_behind_the_grace_is_late_but_counted() -> None:
    """A dispatch more than the grace behind the newest is counted and flagged late."""
    state, results = run(
        [DispatchObs("a", T0 + 600, "999", "C3"), DispatchObs("b", T0, "hcp", "C4")]
    )
    assert results == ["ok", "late"]
    assert state.cumulative[("hcp", "C4")] == 1


def test_old_incidents_are_forgotten_after_the_dedup_window() -> None:
    """Incident ids older than the dedup window are dropped from memory."""
    state, _ = run(
        [DispatchObs("old", T0, "999", "C2"), DispatchObs("new", T0 + 3600, "999", "C2")]
    )
    assert set(state.seen) == {"new"}


@given(
    st.lists(
        st.tuples(
            st.integers(0, 50),
            st.integers(0, 7200),
            st.sampled_from(["111", "999"]),
            st.sampled_from(["C1", "C2"]),
        ),
        max_size=60,
    )
)
def test_state_round_trips_through_json(raw: list[tuple[int, int, str, str]]) -> None:
    """to_json then from_json gives back an equal state."""
    state, _ = run([DispatchObs(f"i{i}", T0 + t, s, c) for i, t, s, c in raw])
    assert d.from_json(json.loads(json.dumps(d.to_json(state)))) == state
