"""Event-time windows: buckets, watermark and grace, duplicates, open calls, KPIs, save/restore."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import windows as w
from detectors.windows import (
    DUPLICATE,
    LATE,
    OK,
    TOO_LATE,
    CallObs,
    Kpis,
    RegionState,
    Totals,
    WindowConfig,
)

T0 = 1_700_000_040  # a minute start (28_333_334 * 60), Tue 14 Nov 2023 22:14 UTC
CONFIG = WindowConfig()


def offered(call_id: str, ts: float, provider: str = "p1") -> CallObs:
    return CallObs(call_id, "offered", ts, provider)


def answered(call_id: str, ts: float, wait: float, provider: str = "p1") -> CallObs:
    return CallObs(call_id, "answered", ts, provider, wait_seconds=wait)


def abandoned(call_id: str, ts: float, wait: float, provider: str = "p1") -> CallObs:
    return CallObs(call_id, "abandoned", ts, provider, wait_seconds=wait)


def requested(call_id: str, ts: float, provider: str = "p1") -> CallObs:
    return CallObs(call_id, "callback_requested", ts, provider)


def made(call_id: str, ts: float, provider: str = "p1") -> CallObs:
    return CallObs(call_id, "callback_made", ts, provider)


def run(events: Iterable[CallObs], config: WindowConfig = CONFIG) -> tuple[RegionState, list[str]]:
    state = w.initial()
    results = [w.apply(state, e, config) for e in events]
    return state, results


def roundtrip(state: RegionState) -> RegionState:
    return w.from_json(json.loads(json.dumps(w.to_json(state))))


# --- KPIs -----------------------------------------------------------------------------------------

MIXED = Totals(
    offered=10,
    answered=8,
    abandoned=2,
    answered_within_target=5,
    abandoned_after_threshold=1,
    answered_wait_sum_seconds=540.0,
)


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        pytest.param(Totals(), Kpis(None, None, None, None), id="empty"),
        pytest.param(Totals(offered=3), Kpis(0.0, None, 0.0, None), id="offered-only"),
        pytest.param(MIXED, Kpis(0.8, 0.625, 0.1, 67.5), id="mixed"),
        pytest.param(
            Totals(offered=4, answered=4, answered_within_target=4, answered_wait_sum_seconds=20.0),
            Kpis(1.0, 1.0, 0.0, 5.0),
            id="all-answered-fast",
        ),
        pytest.param(
            Totals(answered=2, answered_wait_sum_seconds=90.0),
            Kpis(None, 0.0, None, 45.0),
            id="answered-without-offers-in-window",
        ),
        pytest.param(
            Totals(callbacks_requested=4, callbacks_made=4, callbacks_within_target=3),
            Kpis(None, None, None, None, 0.75),
            id="callbacks",
        ),
        pytest.param(
            Totals(callbacks_made=2, callbacks_within_target=2),
            Kpis(None, None, None, None, None),
            id="callbacks-made-without-requests-in-window",
        ),
    ],
)
def test_kpis_hand_computed(totals: Totals, expected: Kpis) -> None:
    """KPIs are the DESIGN.md ratios, and None where the denominator is zero."""
    assert w.kpis(totals) == expected


def test_mixed_case_through_apply() -> None:
    """Ten offered calls, eight answered and two abandoned give the hand-computed MIXED totals."""
    waits = [0, 10, 59, 60, 61, 120, 30, 200]  # within 60 s: 0, 10, 59, 60, 30 -> 5; sum 540
    events = [offered(f"c{i}", T0 + i) for i in range(10)]
    events += [answered(f"c{i}", T0 + 10 + i, float(x)) for i, x in enumerate(waits)]
    events += [abandoned("c8", T0 + 40, 30.0), abandoned("c9", T0 + 41, 31.0)]
    state, results = run(events)
    assert set(results) == {OK}
    assert w.window_totals(state, None, T0, 1) == MIXED
    assert w.kpis(MIXED) == Kpis(0.8, 0.625, 0.1, 67.5)


@pytest.mark.parametrize(
    ("event", "within_target", "after_threshold"),
    [
        (answered("c", T0 + 60, 60.0), 1, 0),  # exactly the target counts as within
        (answered("c", T0 + 60, 60.5), 0, 0),
        (abandoned("c", T0 + 30, 30.0), 0, 0),  # exactly the threshold is not after it
        (abandoned("c", T0 + 30, 30.5), 0, 1),
    ],
)
def test_target_and_threshold_boundaries(
    event: CallObs, within_target: int, after_threshold: int
) -> None:
    """A wait of exactly 60 s is within target; exactly 30 s is not abandoned after threshold."""
    state, _ = run([offered("c", T0), event])
    totals = w.window_totals(state, "p1", T0 + 60, 2)
    assert totals.answered_within_target == within_target
    assert totals.abandoned_after_threshold == after_threshold


# --- clinical callbacks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "within"),
    [(0.0, 1), (599.0, 1), (600.0, 1), (600.5, 0), (3600.0, 0)],  # exactly 10 min is within
)
@pytest.mark.parametrize("made_first", [False, True], ids=["in-order", "made-first"])
def test_callback_within_target_boundary_in_either_arrival_order(
    delay: float, within: int, made_first: bool
) -> None:
    """A callback made at most 10 min after its request counts within target, in the made
    minute, whichever of the two arrives first."""
    events = [requested("c", T0 + 10), made("c", T0 + 10 + delay)]
    state, results = run(reversed(events) if made_first else events)
    assert set(results) <= {OK, LATE}
    made_minute = int((T0 + 10 + delay) // 60) * 60
    assert state.buckets[("p1", made_minute)].callbacks_within_target == within
    assert state.cumulative.get(("p1", "callbacks_within_target"), 0) == within
    assert (state.callback_requests, state.callbacks_made_early) == ({}, {})
    totals = w.window_totals(state, "p1", made_minute, 90)
    assert (totals.callbacks_requested, totals.callbacks_made) == (1, 1)
    assert totals.callbacks_within_target == within


def test_callback_made_first_waits_for_its_request() -> None:
    """A callback_made that overtakes its request is kept, then counted when the request comes."""
    state, _ = run([made("c", T0 + 70, provider="p2")])
    assert state.callbacks_made_early == {"c": ("p2", T0 + 70)}
    assert state.buckets[("p2", T0 + 60)].callbacks_within_target == 0
    w.apply(state, requested("c", T0 + 20, provider="p2"), CONFIG)
    assert state.callbacks_made_early == {}
    assert state.buckets[("p2", T0 + 60)].callbacks_within_target == 1  # the made's minute
    assert state.buckets[("p2", T0)].callbacks_within_target == 0
    assert state == roundtrip(state)


def test_callback_halves_are_forgotten_after_the_open_call_limit() -> None:
    """A request never called back (or a callback never requested) is kept up to the open-call
    limit of event time and then forgotten, so the state stays bounded."""
    limit = CONFIG.open_call_limit_seconds
    state, _ = run([requested("r", T0), made("m", T0 + 5), offered("tick1", T0 + limit)])
    assert set(state.callback_requests) == {"r"}
    assert set(state.callbacks_made_early) == {"m"}
    assert roundtrip(state) == state
    w.apply(state, offered("tick2", T0 + limit + 10), CONFIG)
    assert (state.callback_requests, state.callbacks_made_early) == ({}, {})
    # A request arriving already older than the limit is not kept at all.
    w.apply(state, requested("old", T0 + 1), CONFIG)
    assert state.callback_requests == {}
    assert state.cumulative.get(("p1", "callbacks_within_target"), 0) == 0


def test_callback_memory_stays_bounded_over_a_day() -> None:
    """A day of callbacks, one in ten never made, keeps only the requests within the limit."""
    config = WindowConfig(retention_minutes=60, open_call_limit_seconds=1800.0)
    state = w.initial()
    most_waiting = most_heap = 0
    for i in range(86_400 // 30):  # a callback request every 30 s for 24 h
        t = T0 + 30.0 * i
        w.apply(state, requested(f"c{i}", t), config)
        if i % 10:
            w.apply(state, made(f"c{i}", t + 240), config)
        most_waiting = max(most_waiting, len(state.callback_requests))
        most_heap = max(most_heap, len(state._callback_heap))
    assert most_waiting <= 1800 // 300 + 240 // 30 + 2  # unmade within the limit, due ones
    assert most_heap <= 2 * most_waiting + 64 + 1
    assert state.cumulative[("p1", "callbacks_within_target")] == sum(
        1 for i in range(86_400 // 30) if i % 10
    )
    assert state == roundtrip(state)


def test_callback_target_is_configurable() -> None:
    """callback_target_seconds sets the standard; a negative one is refused."""
    state, _ = run(
        [requested("c", T0), made("c", T0 + 200)], WindowConfig(callback_target_seconds=120)
    )
    assert state.cumulative.get(("p1", "callbacks_within_target"), 0) == 0
    with pytest.raises(ValueError, match="callback_target_seconds"):
        WindowConfig(callback_target_seconds=-1.0)


# --- watermark, grace, late -----------------------------------------------------------------------

MAX_TS = T0 + 600  # watermark T0 + 480, closed minute T0 + 420


@pytest.mark.parametrize(
    ("offset", "result"),
    [
        (30, OK),  # ahead of the max
        (0, OK),
        (-100, OK),  # within grace
        (-120, OK),  # T0 + 480: minute T0 + 480 is still open
        (-121, LATE),  # T0 + 479: minute T0 + 420 ends at the watermark, so it is closed
        (-400, LATE),
        (-92 * 60, LATE),  # T0 - 4920: its minute is the cutoff T0 + 480 - 90 * 60, retained
        (-92 * 60 - 1, TOO_LATE),  # T0 - 4921: minute T0 - 4980 is behind the cutoff
        (-4 * 3600, TOO_LATE),
    ],
)
def test_grace_late_and_too_late(offset: int, result: str) -> None:
    """Within grace is OK; a closed minute is LATE but counted; beyond retention is TOO_LATE."""
    state, _ = run([offered("first", MAX_TS)])
    probe = offered("probe", MAX_TS + offset)
    minute = int((MAX_TS + offset) // 60) * 60
    assert w.apply(state, probe, CONFIG) == result
    counted = state.buckets.get(("p1", minute))
    if result == TOO_LATE:
        assert counted is None
        assert ("probe", "offered") not in state.seen
        assert "probe" not in state.open_calls
        assert (state.too_late, state.late) == (1, 0)
    else:
        assert counted is not None
        assert counted.offered == (2 if offset in (0, 30) else 1)
        assert state.late == (1 if result == LATE else 0)


def test_watermark_and_closed_minute() -> None:
    """The watermark is max event time minus grace; the closed minute is the last ending by it."""
    state = w.initial()
    assert w.watermark(state, CONFIG) is None
    assert w.closed_minute(state, CONFIG) is None
    w.apply(state, offered("a", MAX_TS), CONFIG)
    w.apply(state, offered("b", MAX_TS - 500), CONFIG)  # an older event does not move it back
    assert w.watermark(state, CONFIG) == T0 + 480
    assert w.closed_minute(state, CONFIG) == T0 + 420
    w.apply(state, offered("c", T0 + 899), CONFIG)  # watermark T0 + 779: minute 660 ends by it
    assert w.closed_minute(state, CONFIG) == T0 + 660


# --- duplicates -----------------------------------------------------------------------------------


def test_duplicate_counted_once_other_kind_is_not_duplicate() -> None:
    """A redelivered (call_id, kind) counts once; the same call with another kind still counts."""
    events = [offered("c", T0), offered("c", T0), answered("c", T0 + 5, 5.0), offered("c", T0 + 1)]
    state, results = run(events)
    assert results == [OK, DUPLICATE, OK, DUPLICATE]
    totals = w.window_totals(state, None, T0, 1)
    assert (totals.offered, totals.answered, state.duplicates) == (1, 1, 2)


# --- calls waiting, longest wait, expiry ----------------------------------------------------------


def test_calls_waiting_and_longest_wait() -> None:
    """Open calls are those offered and not yet answered; the longest wait is in event time."""
    state = w.initial()
    assert (w.calls_waiting(state), w.longest_wait_seconds(state)) == (0, None)
    w.apply(state, offered("a", T0), CONFIG)
    w.apply(state, offered("b", T0 + 10, provider="p2"), CONFIG)
    w.apply(state, offered("c", T0 + 40), CONFIG)
    assert w.calls_waiting(state) == 3
    assert w.calls_waiting(state, "p1") == 2
    assert w.calls_waiting(state, "p2") == 1
    assert w.longest_wait_seconds(state) == 40.0
    w.apply(state, answered("a", T0 + 50, 50.0), CONFIG)
    assert w.longest_wait_seconds(state) == 40.0  # b: offered T0 + 10, max T0 + 50
    w.apply(state, abandoned("b", T0 + 55, 45.0, provider="p2"), CONFIG)
    w.apply(state, answered("c", T0 + 70, 30.0), CONFIG)
    assert (w.calls_waiting(state), w.longest_wait_seconds(state)) == (0, None)


@pytest.mark.parametrize("outcome", [answered("a", T0 + 20, 20.0), abandoned("a", T0 + 20, 20.0)])
def test_outcome_before_offer_leaves_no_open_call(outcome: CallObs) -> None:
    """An answer or abandon that overtakes its offer does not leave the call open."""
    state, results = run([outcome, offered("a", T0)])
    assert results == [OK, OK]
    assert w.calls_waiting(state) == 0
    assert state.open_calls == {}


def test_open_call_expires_after_limit() -> None:
    """A call never answered stays waiting up to the limit of event time, then counts as expired."""
    limit = CONFIG.open_call_limit_seconds
    state, _ = run([offered("stuck", T0), offered("tick1", T0 + limit)])
    assert w.calls_waiting(state) == 2
    assert w.longest_wait_seconds(state) == limit
    assert state.expired_calls == 0
    w.apply(state, offered("tick2", T0 + limit + 1), CONFIG)
    assert "stuck" not in state.open_calls
    assert (state.expired_calls, w.calls_waiting(state)) == (1, 2)
    assert w.longest_wait_seconds(state) == 1.0


def test_late_offer_older_than_limit_counts_expired_at_once() -> None:
    """An offer arriving already older than the limit is counted expired, not opened."""
    config = WindowConfig(open_call_limit_seconds=600.0)
    state, results = run([offered("new", T0 + 1000), offered("old", T0 + 300)], config)
    assert results == [OK, LATE]
    assert "old" not in state.open_calls
    assert state.expired_calls == 1


# --- rolling windows ------------------------------------------------------------------------------


def minute_series(minutes: int) -> RegionState:
    """Minute i holds 1 offered call for p1 and 2 for p2, plus a disposition every 10th minute."""
    events: list[CallObs] = []
    for i in range(minutes):
        t = T0 + 60 * i
        events.append(offered(f"a{i}", t + 1))
        events += [offered(f"b{i}", t + 2, "p2"), offered(f"c{i}", t + 3, "p2")]
        if i % 10 == 0:
            events.append(CallObs(f"a{i}", "disposition", t + 4, "p1", disposition="ed"))
    state, results = run(events)
    assert set(results) == {OK}
    return state


@pytest.mark.parametrize(
    ("provider", "end_index", "minutes", "offered_count", "ed"),
    [
        ("p1", 89, 15, 15, 1),  # minutes 75..89: disposition at 80
        ("p2", 89, 15, 30, 0),
        (None, 89, 15, 45, 1),
        ("p1", 89, 60, 60, 6),  # minutes 30..89: 30, 40, ..., 80
        (None, 89, 60, 180, 6),
        (None, 9, 15, 30, 1),  # the window reaches back before the first minute
        (None, 0, 1, 3, 1),
        ("p3", 89, 60, 0, 0),
        (None, 200, 15, 0, 0),  # after the series
    ],
)
def test_rolling_window_sums(
    provider: str | None, end_index: int, minutes: int, offered_count: int, ed: int
) -> None:
    """15- and 60-minute windows sum the buckets of exactly their minutes."""
    state = minute_series(90)
    totals = w.window_totals(state, provider, T0 + 60 * end_index, minutes)
    assert totals.offered == offered_count
    assert totals.dispositions == ((("ed", ed),) if ed else ())


def test_window_totals_rejects_unaligned_end() -> None:
    """An end that is not a minute start is a caller bug, not an empty window."""
    with pytest.raises(ValueError, match="minute start"):
        w.window_totals(w.initial(), None, T0 + 1, 15)


@pytest.mark.parametrize(
    "event",
    [
        CallObs("c", "answered", T0, "p1"),
        CallObs("c", "disposition", T0, "p1"),
        CallObs("c", "hung_up", T0, "p1"),
    ],
)
def test_invalid_event_raises_and_changes_nothing(event: CallObs) -> None:
    """A kind without its required field, or an unknown kind, raises before any change."""
    state = w.initial()
    with pytest.raises(ValueError):
        w.apply(state, event, CONFIG)
    assert state == w.initial()


def test_config_retention_must_cover_longest_window() -> None:
    """Retention shorter than a window would read evicted buckets, so it is refused."""
    with pytest.raises(ValueError, match="retention_minutes"):
        WindowConfig(retention_minutes=30, windows_minutes=(15, 60))


def test_eviction_keeps_memory_bounded() -> None:
    """A day at a steady rate keeps buckets and seen-entries within retention plus grace."""
    config = WindowConfig(retention_minutes=60, open_call_limit_seconds=1800.0)
    providers = ("p1", "p2")
    minutes_kept = config.retention_minutes + int(config.grace_seconds // 60) + 2
    state = w.initial()
    most_buckets = most_seen = most_heap = 0
    for i in range(86_400 // 6):  # a call every 6 s for 24 h
        t = T0 + 6.0 * i
        p = providers[i % 2]
        w.apply(state, offered(f"c{i}", t, p), config)
        if i % 50:  # every 50th call is never answered and must expire
            w.apply(state, answered(f"c{i}", t + 3, 3.0, p), config)
        most_buckets = max(most_buckets, len(state.buckets))
        most_seen = max(most_seen, len(state.seen))
        most_heap = max(most_heap, len(state._open_heap))
    assert most_buckets <= len(providers) * minutes_kept
    assert most_seen <= 2 * 10 * minutes_kept  # two kinds, ten calls a minute
    assert most_heap <= 2 * 30 + 64 + 1  # compacted: about the calls open within the limit
    assert w.calls_waiting(state) <= 1800 // 300 + 1
    assert state.expired_calls >= 14_400 // 50 - 7
    assert state == roundtrip(state)


# --- properties -----------------------------------------------------------------------------------

PROP_CONFIG = WindowConfig(retention_minutes=60, open_call_limit_seconds=1800.0)
GRACE = PROP_CONFIG.grace_seconds


@st.composite
def call_streams(draw: st.DrawFn, span_s: int = 3 * 3600) -> list[CallObs]:
    """Coherent calls (offer, maybe an outcome, callbacks, disposition) plus exact redeliveries.

    Waits are whole or quarter seconds (exact in binary), at most 900 s, well under the open-call
    limit minus grace, which is what makes the final state independent of order within grace.
    """
    events: list[CallObs] = []
    for i in range(draw(st.integers(1, 30))):
        cid, p = f"c{i}", draw(st.sampled_from(["p1", "p2", "p3"]))
        t = T0 + draw(st.integers(0, span_s)) + draw(st.sampled_from([0.0, 0.25, 0.5]))
        events.append(offered(cid, t, p))
        wait = float(draw(st.sampled_from([0, 30, 60]) | st.integers(0, 900)))
        outcome = draw(st.sampled_from(["answered", "abandoned", None]))
        if outcome is not None:
            events.append(CallObs(cid, outcome, t + wait, p, wait_seconds=wait))
        if outcome == "answered" and draw(st.booleans()):
            label = draw(st.sampled_from(["ambulance", "ed", "self_care"]))
            at = t + wait + draw(st.integers(0, 600))
            events.append(CallObs(cid, "disposition", at, p, disposition=label))
        asked = t + wait + 5
        if draw(st.booleans()):
            events.append(requested(cid, asked, p))
        if draw(st.booleans()):  # with or without its request; around the 10-minute target
            delay = draw(st.sampled_from([0, 60, 600, 601]) | st.integers(0, 1200))
            events.append(made(cid, asked + delay, p))
    redelivered = draw(st.lists(st.integers(0, len(events) - 1), max_size=6))
    return events + [events[i] for i in redelivered]


def within_grace(events: list[CallObs], seed: int) -> list[CallObs]:
    """An arrival order where no event is grace_seconds or more behind the max seen before it."""
    rng = random.Random(seed)
    keyed = [(e.ts_s + rng.uniform(0.0, GRACE * 0.999), i) for i, e in enumerate(events)]
    return [events[i] for _, i in sorted(keyed)]


def all_window_totals(state: RegionState) -> dict[tuple[str | None, int, int], Totals]:
    """Totals of every window, provider and closed minute still retained."""
    end = w.closed_minute(state, PROP_CONFIG)
    if end is None or not state.buckets:
        return {}
    first = min(m for _, m in state.buckets)
    out: dict[tuple[str | None, int, int], Totals] = {}
    for minute in range(first, end + 1, 60):
        for provider in [None, *sorted(w.providers(state))]:
            for size in PROP_CONFIG.windows_minutes:
                out[(provider, minute, size)] = w.window_totals(state, provider, minute, size)
    return out


@settings(max_examples=150, deadline=None)
@given(events=call_streams(), seed=st.integers(0, 2**32 - 1))
def test_order_within_grace_does_not_change_state(events: list[CallObs], seed: int) -> None:
    """Any arrival order within grace gives the same state and the same closed-minute totals."""
    in_order, _ = run(sorted(events, key=lambda e: e.ts_s), PROP_CONFIG)
    shuffled, shuffled_results = run(within_grace(events, seed), PROP_CONFIG)
    assert set(shuffled_results) <= {OK, DUPLICATE}
    assert w.to_json(shuffled) == w.to_json(in_order)
    assert shuffled == in_order
    assert all_window_totals(shuffled) == all_window_totals(in_order)


@settings(max_examples=150, deadline=None)
@given(events=call_streams(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_save_restore_mid_stream_is_invisible(
    events: list[CallObs], seed: int, data: st.DataObject
) -> None:
    """Saving, JSON round-tripping and restoring at any point changes neither state nor results."""
    random.Random(seed).shuffle(events)  # any order at all: late and too-late events included
    split = data.draw(st.integers(0, len(events)))
    whole, whole_results = run(events, PROP_CONFIG)
    first, first_results = run(events[:split], PROP_CONFIG)
    resumed = roundtrip(first)
    rest_results = [w.apply(resumed, e, PROP_CONFIG) for e in events[split:]]
    assert first_results + rest_results == whole_results
    assert resumed == whole
    assert w.to_json(resumed) == w.to_json(whole)


@settings(max_examples=150, deadline=None)
@given(events=call_streams(), seed=st.integers(0, 2**32 - 1))
def test_json_roundtrip_is_exact(events: list[CallObs], seed: int) -> None:
    """to_json then from_json gives back an equal state, with an equal document."""
    random.Random(seed).shuffle(events)
    state, _ = run(events, PROP_CONFIG)
    restored = roundtrip(state)
    assert restored == state
    assert w.to_json(restored) == w.to_json(state)


@settings(max_examples=100, deadline=None)
@given(events=call_streams(), seed=st.integers(0, 2**32 - 1))
def test_counts_are_conserved(events: list[CallObs], seed: int) -> None:
    """With nothing evicted or too late, buckets hold each distinct event exactly once."""
    config = WindowConfig(retention_minutes=600)
    state, results = run(within_grace(events, seed), config)
    assert TOO_LATE not in results
    distinct = set((e.call_id, e.kind) for e in events)
    buckets = state.buckets.values()
    assert sum(b.offered for b in buckets) == sum(1 for _, k in distinct if k == "offered")
    assert sum(b.answered + b.abandoned for b in buckets) == sum(
        1 for _, k in distinct if k in ("answered", "abandoned")
    )
    assert sum(sum(b.dispositions.values()) for b in buckets) == sum(
        1 for _, k in distinct if k == "disposition"
    )
    assert state.duplicates == len(events) - len(distinct)
    # Callbacks within target: requests and mades paired by call id, made - requested <= 10 min.
    asked = {e.call_id: e.ts_s for e in events if e.kind == "callback_requested"}
    done = {e.call_id: e.ts_s for e in events if e.kind == "callback_made"}
    within = sum(1 for c, ts in done.items() if c in asked and ts - asked[c] <= 600.0)
    assert sum(b.callbacks_within_target for b in buckets) == within
    assert (
        sum(n for (_, name), n in state.cumulative.items() if name == "callbacks_within_target")
        == within
    )
    assert set(state.callback_requests) == set(asked) - set(done)
    assert set(state.callbacks_made_early) == set(done) - set(asked)


@settings(max_examples=150, deadline=None)
@given(events=call_streams(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_rolled_region_windows_equal_fresh_sums(
    events: list[CallObs], seed: int, data: st.DataObject
) -> None:
    """Region-wide windows rolled on minute by minute, with late events, late-paired callbacks
    and evictions in between, equal the same windows summed afresh on a restored copy."""
    rng = random.Random(seed)
    arrival = sorted(events, key=lambda e: e.ts_s + rng.uniform(0.0, 3 * GRACE))  # some late
    config = WindowConfig(grace_seconds=GRACE, retention_minutes=61, dedup_minutes=30)
    state = w.initial()
    for event in arrival:
        w.apply(state, event, config)
        end = w.closed_minute(state, config)
        if end is None:
            continue
        back = data.draw(st.integers(0, 3))  # sometimes the same end again, or an earlier one
        for minute in range(end - back * 60, end + 60, 60):
            for size in (15, 60):
                rolled = w.window_totals(state, None, minute, size)
                assert rolled == w.window_totals(roundtrip(state), None, minute, size)


def fresh_minute_sums(state: RegionState, first: int, last: int) -> w.MinuteSums:
    """What minute_sums must give: each minute's buckets added to 0.0 in sorted provider order."""
    sums = w.MinuteSums([], [], [], [], [], [])
    for minute in range(first, last + 60, 60):
        names = sorted(p for p, m in state.buckets if m == minute)
        offered = answered = within = abandoned = wait_sum = 0.0
        for p in names:
            b = state.buckets[(p, minute)]
            offered += b.offered
            answered += b.answered
            within += b.answered_within_target
            abandoned += b.abandoned
            wait_sum += b.answered_wait_sum_seconds
        sums.offered.append(offered)
        sums.answered.append(answered)
        sums.answered_within_target.append(within)
        sums.abandoned.append(abandoned)
        sums.answered_wait_sum_seconds.append(wait_sum)
        sums.providers.append(tuple(names))
    return sums


@settings(max_examples=150, deadline=None)
@given(
    events=st.one_of(call_streams(), call_streams(span_s=14 * 3600)),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_kept_minute_sums_equal_fresh_sums(
    events: list[CallObs], seed: int, data: st.DataObject
) -> None:
    """The per-minute sums the region keeps, read after late events, late-paired callbacks,
    evictions and gaps of hours, from minutes before or after the last read, equal the buckets
    summed afresh, and so do the region-wide windows that read their wait sums."""
    rng = random.Random(seed)
    arrival = sorted(events, key=lambda e: e.ts_s + rng.uniform(0.0, 3 * GRACE))  # some late
    config = WindowConfig(grace_seconds=GRACE, retention_minutes=61, dedup_minutes=30)
    state = w.initial()
    for event in arrival:
        w.apply(state, event, config)
        assert state.max_ts_s is not None
        now_minute = int(state.max_ts_s // 60) * 60
        last = now_minute + 60 * data.draw(st.integers(-3, 2))
        first = last - 60 * data.draw(st.integers(0, 70) | st.integers(0, 400))
        assert w.minute_sums(state, first, last) == fresh_minute_sums(state, first, last)
        for size in (15, 60):
            fresh = w.window_totals(roundtrip(state), None, last, size)
            assert w.window_totals(state, None, last, size) == fresh


def test_minute_sums_add_in_sorted_provider_order() -> None:
    """A minute's waits are added in sorted provider order whatever order they came in (0.1,
    0.2, 0.3 sum to another float the other way round), also once a late one joins a minute
    already summed; a window adds each bucket's wait in turn, not the minutes' sums."""
    assert (0.1 + 0.2) + 0.3 != (0.3 + 0.2) + 0.1
    state = w.initial()
    for call_id, ts, wait, p in [("a", 1, 0.3, "p3"), ("b", 1, 0.2, "p2"), ("c", 61, 0.4, "p2")]:
        w.apply(state, answered(call_id, T0 + ts, wait, p), CONFIG)
    assert w.minute_sums(state, T0, T0 + 60).answered_wait_sum_seconds == [0.2 + 0.3, 0.4]
    w.apply(state, answered("d", T0 + 2, 0.1, "p1"), CONFIG)
    w.apply(state, answered("e", T0 + 62, 0.3, "p1"), CONFIG)
    sums = w.minute_sums(state, T0, T0 + 60)
    assert sums.answered_wait_sum_seconds == [(0.1 + 0.2) + 0.3, 0.3 + 0.4]
    assert sums.providers == [("p1", "p2", "p3"), ("p1", "p2")]
    assert sums.answered == [3.0, 2.0]
    chained = (((0.1 + 0.2) + 0.3) + 0.3) + 0.4
    assert chained != ((0.1 + 0.2) + 0.3) + (0.3 + 0.4)
    assert w.window_totals(state, None, T0 + 60, 2).answered_wait_sum_seconds == chained


def test_minute_sums_reject_unaligned_minutes() -> None:
    with pytest.raises(ValueError, match="minute starts"):
        w.minute_sums(w.initial(), T0 + 1, T0 + 60)
