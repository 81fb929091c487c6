"""Breach forecast: hand-computed queues, the rule's condition, and properties of the forecast."""

from __future__ import annotations

import heapq
import math
import random
import zlib
from collections import deque
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import forecast as fc
from detectors import windows
from detectors.answer_rates import region_view
from detectors.forecast import Params
from detectors.staffing import StaffedAt
from detectors.windows import CallObs, RegionState, WindowConfig, kpis, window_totals
from streams.contract.thresholds import THRESHOLDS

T0 = 1_700_000_040  # a minute start
CONFIG = WindowConfig()
# Exact fluid arithmetic for the hand examples: no abandonment (patience unbounded, since none
# of these callers hangs up) and the rates as measured, not taken towards "no breach".
EXACT = Params(
    threshold=0.9,
    min_offered=30,
    model="fluid",
    confidence_z=0.0,
    default_patience_seconds=1e9,
    max_patience_seconds=1e9,
)


def fifo(pattern: list[tuple[int, int]], answer_delay_s: int = 1) -> list[CallObs]:
    """One provider's FIFO queue, minute by minute from T0: (offered, answered) per minute.

    Offers are spread evenly over their minute (whole seconds); the k-th answer of a minute is
    at (60 k) // answered + answer_delay_s seconds into it and takes the oldest waiting call (a
    handler with nobody waiting stays idle).
    """
    events: list[tuple[float, int, CallObs]] = []
    waiting: deque[tuple[str, int]] = deque()
    n = 0
    for m, (offered, answered) in enumerate(pattern):
        base = T0 + 60 * m
        offers = [base + (60 * k) // offered for k in range(offered)]
        answers = [base + (60 * k) // answered + answer_delay_s for k in range(answered)]
        for ts, kind in sorted([(t, 0) for t in offers] + [(t, 1) for t in answers]):
            if kind == 0:
                call_id = f"c{n}"
                n += 1
                waiting.append((call_id, ts))
                events.append((ts, 0, CallObs(call_id, "offered", ts, "p1")))
            elif waiting:
                call_id, offered_at = waiting.popleft()
                obs = CallObs(call_id, "answered", ts, "p1", wait_seconds=float(ts - offered_at))
                events.append((ts, 1, obs))
    return [e for _, _, e in sorted(events, key=lambda x: (x[0], x[1]))]


def state_of(events: list[CallObs]) -> RegionState:
    state = windows.initial()
    for e in events:
        windows.apply(state, e, CONFIG)
    return state


def at_70_minutes(pattern: list[tuple[int, int]], answer_delay_s: int = 1) -> RegionState:
    """The state of 70 minutes of `pattern`, with one more call offered at 70:00 (now)."""
    events = fifo(pattern, answer_delay_s)
    return state_of([*events, CallObs("now", "offered", T0 + 70 * 60, "p1")])


E = T0 + 67 * 60  # the last closed minute when the newest event is at 70:00 (grace 120 s)
GOOD_HOUR = [(10, 10)] * 60  # 10 calls a minute, each answered after 1 s


def test_overload_breaches_when_the_hand_computed_window_says() -> None:
    """10 offered and 4 answered a minute for 10 minutes after a good hour: breach at 74:00.

    Answer j after 60:00 is at 15 j + 1 s and takes the call offered at 6 j s: wait 9 j + 1 s,
    so 7 of the 40 answers in 60-69 are within 60 s, and every later answer is late. At minute
    B the 60m window holds 10 (119 - B) good answers, those 40, and 4 (B - 69) late ones:
    10 (119 - B) + 7 < 0.9 [10 (119 - B) + 40 + 4 (B - 69)]  <=>  B > 73.57, so B = 74, where
    the 15m window (60-74) is at 7 / 60. From the closed minute 67:00 that is 7 minutes.
    """
    state = at_70_minutes(GOOD_HOUR + [(10, 4)] * 10)
    result = fc.forecast(state, CONFIG, E, EXACT)
    assert result.breach_minute == T0 + 74 * 60
    assert result.seconds == 7 * 60
    assert result.inputs is not None
    (p,) = result.inputs.providers
    assert p.arrivals_per_minute == pytest.approx(10)
    assert p.capacity_per_minute == pytest.approx(4)  # minutes 61-69 start with >= 5 queued
    assert p.calls_waiting == 100 - 40 + 1
    assert p.oldest_wait_seconds == 6 * 60  # call 40, offered at 64:00


def test_capacity_equal_to_arrivals_with_short_waits_never_breaches() -> None:
    """10 offered and 10 answered a minute, each after 36 s: 6 always queue, nobody is late."""
    state = at_70_minutes([(10, 10)] * 70, answer_delay_s=36)
    params = replace(EXACT, busy_queue_minutes=0.5)  # 6 queued count as a busy minute
    result = fc.forecast(state, CONFIG, E, params)
    assert result.inputs is not None
    (p,) = result.inputs.providers
    assert p.capacity_per_minute == pytest.approx(10)
    assert result.seconds == math.inf


def test_a_good_hour_without_queue_never_breaches() -> None:
    """Nobody ever queued: capacity was never the limit, no queue is forecast."""
    result = fc.forecast(at_70_minutes([(10, 10)] * 70), CONFIG, E, EXACT)
    assert result.inputs is not None
    assert result.inputs.providers[0].capacity_per_minute is None
    assert result.seconds == math.inf


def test_no_capacity_with_a_backlog_has_no_service_level_to_breach() -> None:
    """Nothing answered for 10 minutes: the window keeps its good answers until they roll out,
    then has no denominator; the service level never falls (abandonment alerts speak then)."""
    state = at_70_minutes(GOOD_HOUR + [(10, 0)] * 10)
    result = fc.forecast(state, CONFIG, E, EXACT)
    assert result.inputs is not None
    assert result.inputs.providers[0].capacity_per_minute == 0
    assert result.seconds == math.inf


def test_more_capacity_on_a_backlog_can_bring_the_breach_sooner() -> None:
    """1 answer a minute instead of 4: breach at 92:00 instead of 74:00 (the KPI counts answered
    calls only, so answering more long waiters lowers it sooner). By hand: waits 54 j + 1 s, 2 of
    10 within; 10 (119 - B) + 2 < 0.9 [10 (119 - B) + 10 + (B - 69)]  <=>  B > 91.6."""
    slow = fc.forecast(at_70_minutes(GOOD_HOUR + [(10, 1)] * 10), CONFIG, E, EXACT)
    fast = fc.forecast(at_70_minutes(GOOD_HOUR + [(10, 4)] * 10), CONFIG, E, EXACT)
    assert slow.breach_minute == T0 + 92 * 60
    assert fast.breach_minute == T0 + 74 * 60


def test_already_breached_is_zero() -> None:
    """Every call answered after 90 s for 70 minutes: the condition holds at the view's end."""
    result = fc.forecast(at_70_minutes([(10, 10)] * 70, answer_delay_s=90), CONFIG, E, EXACT)
    assert result.seconds == 0.0
    assert result.breach_minute == E


def test_too_few_calls_for_the_rule_never_breach() -> None:
    """A late answer every 3 minutes is 20 an hour: below kpi_min_offered_per_hour, no breach."""
    quiet = [(1, 1) if m % 3 == 0 else (0, 0) for m in range(70)]
    result = fc.forecast(at_70_minutes(quiet, answer_delay_s=90), CONFIG, E, EXACT)
    assert result.seconds == math.inf


def test_an_empty_region_and_a_bad_minute() -> None:
    """No events: nothing coming. An end that is not a minute start is a caller's error."""
    assert fc.forecast(windows.initial(), CONFIG, E, Params()) == fc.NONE_COMING
    with pytest.raises(ValueError, match="minute start"):
        fc.forecast(windows.initial(), CONFIG, E + 1, Params())


def test_defaults_are_the_alert_rule_thresholds() -> None:
    """The forecast is of ServiceLevelBelowStandard's warning condition, with its numbers."""
    p = Params()
    assert p.threshold == THRESHOLDS.service_level_warning
    assert p.min_offered == THRESHOLDS.kpi_min_offered_per_hour
    assert p.horizon_seconds > THRESHOLDS.breach_forecast_seconds
    assert CONFIG.answer_target_seconds == 60


def test_region_view_carries_the_forecast_at_its_end_minute() -> None:
    """RegionView.breach_forecast_seconds is the forecast at the view's closed minute."""
    state = at_70_minutes(GOOD_HOUR + [(10, 4)] * 10)
    view = region_view(state, CONFIG)
    assert view.breach_forecast_seconds == fc.forecast(state, CONFIG, E, Params()).seconds
    assert region_view(windows.initial(), CONFIG).breach_forecast_seconds is None


# Random traffic for the properties: per minute (offered, answered, answer delay).
minutes = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 12), st.sampled_from([1, 30, 90, 200])),
    min_size=5,
    max_size=80,
)


def random_events(pattern: list[tuple[int, int, int]]) -> list[CallObs]:
    """Each minute's calls through fifo() with that minute's answer delay, in time order (a
    minute's unanswered calls stay open: a backlog that comes and goes with the delays)."""
    out = [
        e._replace(call_id=f"{m}-{e.call_id}", ts_s=e.ts_s + 60 * m)
        for m, (offered, answered, delay) in enumerate(pattern)
        for e in fifo([(offered, answered)], delay)
    ]
    return sorted(out, key=lambda e: e.ts_s)


def condition(state: RegionState, end: int, params: Params) -> bool:
    """The warning rule's condition from the windows' own KPIs (independent of the forecast)."""
    hour = window_totals(state, None, end, params.window_minutes)
    quarter = kpis(window_totals(state, None, end, params.recent_minutes)).service_level
    level = kpis(hour).service_level
    return (
        hour.offered >= params.min_offered
        and level is not None
        and level < params.threshold
        and (quarter is None or quarter < params.threshold)
    )


@settings(max_examples=60, deadline=None)
@given(minutes)
def test_the_result_is_zero_whole_minutes_or_infinite(pattern: list[tuple[int, int, int]]) -> None:
    """0 exactly when the rule's condition holds at the end; else whole minutes within the
    horizon, or +inf."""
    state = state_of(random_events(pattern))
    end = windows.closed_minute(state, CONFIG)
    if end is None:
        return
    params = Params()
    result = fc.forecast(state, CONFIG, end, params)
    assert (result.seconds == 0) == condition(state, end, params)
    if math.isfinite(result.seconds):
        assert result.seconds % 60 == 0
        assert 0 <= result.seconds <= params.horizon_seconds
    else:
        assert result.breach_minute is None


@settings(max_examples=40, deadline=None)
@given(minutes, st.randoms(use_true_random=False))
def test_order_and_a_save_restore_do_not_change_the_forecast(
    pattern: list[tuple[int, int, int]], rnd: random.Random
) -> None:
    """Events shuffled within a minute, and a JSON round trip, give the same forecast."""
    events = random_events(pattern)
    shuffled = sorted(events, key=lambda e: (int(e.ts_s // 60), rnd.random()))
    state, other = state_of(events), state_of(shuffled)
    end = windows.closed_minute(state, CONFIG)
    if end is None:
        return
    expected = fc.forecast(state, CONFIG, end, Params())
    assert fc.forecast(other, CONFIG, end, Params()) == expected
    restored = windows.from_json(windows.to_json(state))
    assert fc.forecast(restored, CONFIG, end, Params()) == expected


@settings(max_examples=40, deadline=None)
@given(minutes, st.floats(0.5, 0.99), st.floats(0.5, 0.99))
def test_a_higher_threshold_never_breaches_later(
    pattern: list[tuple[int, int, int]], a: float, b: float
) -> None:
    """The same future judged against a stricter threshold breaches no later."""
    state = state_of(random_events(pattern))
    end = windows.closed_minute(state, CONFIG)
    if end is None:
        return
    low, high = sorted((a, b))
    strict = fc.forecast(state, CONFIG, end, Params(threshold=high))
    lenient = fc.forecast(state, CONFIG, end, Params(threshold=low))
    assert strict.seconds <= lenient.seconds


def simulated_service_level(
    per_minute: float, servers: int, *, handle_s: float, patience_s: float, hours: float
) -> float:
    """A call-by-call M/M/N+M queue (FIFO, abandoned callers use no handler): the share of
    answered calls answered within 60 s."""
    rng = np.random.default_rng(1)
    n = int(per_minute * 60 * hours)
    arrivals = np.cumsum(rng.exponential(60 / per_minute, n))
    patience = rng.exponential(patience_s, n)
    handle = rng.exponential(handle_s, n)
    free = [0.0] * servers
    answered = within = 0
    for a, p, h in zip(arrivals.tolist(), patience.tolist(), handle.tolist(), strict=True):
        start = max(a, free[0])
        if start - a <= p:
            heapq.heapreplace(free, start + h)
            answered += 1
            within += start - a <= 60
    return within / answered


@pytest.mark.parametrize(
    ("per_minute", "servers"),
    [(3.0, 30), (3.0, 26), (3.5, 25), (1.0, 10), (3.0, 10)],  # healthy .. collapsed
)
def test_erlang_a_matches_a_call_by_call_simulation(per_minute: float, servers: int) -> None:
    """The Erlang A service level is within 2 points of 300 simulated hours of the same queue."""
    model = fc.erlang_a_service_level(
        per_minute, servers, handle_seconds=480, patience_seconds=300, target_seconds=60
    )
    simulated = simulated_service_level(
        per_minute, servers, handle_s=480, patience_s=300, hours=300
    )
    assert model == pytest.approx(simulated, abs=0.02)


@given(st.floats(0.5, 20), st.integers(1, 150), st.floats(30, 1200))
@settings(max_examples=60, deadline=None)
def test_erlang_a_improves_with_handlers_and_worsens_with_calls(
    per_minute: float, servers: int, patience_s: float
) -> None:
    """One more handler never lowers the service level; 10 % more calls never raise it."""

    def level(rate: float, n: int) -> float:
        return fc.erlang_a_service_level(
            rate, n, handle_seconds=480, patience_seconds=patience_s, target_seconds=60
        )

    base = level(per_minute, servers)
    assert 0.0 <= base <= 1.0
    assert level(per_minute, servers + 1) >= base - 1e-9
    assert level(per_minute * 1.1, servers) <= base + 1e-9


def loop_breach_index(rows: fc._Minutes, lo: int, hi: int, params: Params) -> int | None:
    """The rule's condition minute by minute over Python prefix sums: what the vectorised
    _breach_index must give (the same float operations, so the same first minute)."""
    sums = [[0.0], [0.0], [0.0]]
    for column, values in zip(sums, (rows.offered, rows.answered, rows.within), strict=True):
        for v in values:
            column.append(column[-1] + v)
    offered, answered, within = sums
    hour, recent, threshold = params.window_minutes, params.recent_minutes, params.threshold
    for j in range(lo, hi + 1):
        h0, r0 = max(0, j + 1 - hour), max(0, j + 1 - recent)
        if offered[j + 1] - offered[h0] < params.min_offered:
            continue
        ans = answered[j + 1] - answered[h0]
        if ans <= 0 or within[j + 1] - within[h0] >= threshold * ans:
            continue
        ans = answered[j + 1] - answered[r0]
        if ans <= 0 or within[j + 1] - within[r0] < threshold * ans:
            return j
    return None


# Whole counts and fluid fractions (the sums round), some minutes far larger than others.
counts = st.one_of(st.integers(0, 12).map(float), st.floats(0, 12), st.floats(0, 1e6))
shares = st.one_of(st.sampled_from([0.0, 0.5, 0.85, 1.0]), st.floats(0, 1))  # within / answered


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(counts, counts, shares), min_size=1, max_size=150),
    st.data(),
    st.sampled_from([0.85, 0.5, 1.0]),
    st.sampled_from([0, 60, 300]),
)
def test_the_breach_index_is_the_minute_by_minute_loop(
    minutes: list[tuple[float, float, float]], data: st.DataObject, threshold: float, least: int
) -> None:
    """Bit for bit the same first minute as the loop, for any range (windows cut off at 0)."""
    rows = fc._Minutes.zeros(T0, len(minutes))
    for i, (offered, answered, share) in enumerate(minutes):
        rows.offered[i], rows.answered[i], rows.within[i] = offered, answered, answered * share
    hour = data.draw(st.integers(1, 70))
    params = Params(
        threshold=threshold,
        window_minutes=hour,
        recent_minutes=data.draw(st.integers(1, hour)),
        min_offered=least,
    )
    lo = data.draw(st.integers(0, len(minutes) - 1))
    hi = data.draw(st.integers(lo, len(minutes) - 1))
    assert fc._breach_index(rows, lo, hi, params) == loop_breach_index(rows, lo, hi, params)


@pytest.mark.parametrize(
    ("offered", "answered", "within", "expected"),
    [
        (60, (2, 2), (1, 0), 1),  # hour 1 of 4 and the last minute 0 of 2 within: below
        (59, (2, 2), (1, 0), None),  # too few calls offered in the hour
        (60, (2, 2), (2, 0), None),  # the hour exactly at the threshold is not below it
        (60, (2, 2), (0, 1), None),  # the last minute exactly at the threshold
        (60, (4, 0), (0, 0), 1),  # nothing answered in the last minute: absent counts as below
    ],
)
def test_the_breach_index_at_the_rule_boundaries(
    offered: int, answered: tuple[int, int], within: tuple[int, int], expected: int | None
) -> None:
    """Two minutes, a 2-minute "hour" and a 1-minute recent window at threshold 0.5."""
    rows = fc._Minutes(T0, [offered, 0.0], [*map(float, answered)], [*map(float, within)], [], [])
    params = Params(threshold=0.5, window_minutes=2, recent_minutes=1, min_offered=60)
    assert fc._breach_index(rows, 1, 1, params) == expected
    assert loop_breach_index(rows, 1, 1, params) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=40, max_size=40),
    st.floats(0, 1),
    st.integers(0, 30),
    st.floats(0, 60),
    st.floats(0, 20),
)
def test_fill_adds_what_a_minute_by_minute_loop_adds(
    held: list[float], start: float, minutes: int, tail: float, rate: float
) -> None:
    """Whole minutes added at once are the floats of adding each minute on its own, also over
    what earlier providers added, with partial first and last minutes."""
    n = len(held)
    start_s = T0 + start * 60 * (n - minutes - 1)
    end_s = min(int(start_s // 60) * 60 + minutes * 60 + tail, T0 + n * 60)
    rows = fc._Minutes(T0, [], [], [], [], [])
    rows.answered, rows.within = list(held), list(held)
    fc._fill(rows, start_s, end_s, rate, rate * 0.7)
    answered, within, t = list(held), list(held), start_s
    while t < end_s:
        minute = int(t // 60) * 60
        t_next = min(minute + 60, end_s)
        answered[(minute - T0) // 60] += rate * (t_next - t) / 60
        within[(minute - T0) // 60] += rate * 0.7 * (t_next - t) / 60
        t = t_next
    assert (rows.answered, rows.within) == (answered, within)


def loop_minutes(
    state: RegionState, first: int, now_minute: int, n: int, own_from: int
) -> tuple[fc._Minutes, dict[str, fc._Minutes]]:
    """_minutes as it was, bucket by bucket in sorted provider order, every list n minutes: what
    the sums windows keeps must give (the same floats)."""
    region = fc._Minutes.zeros(first, n)
    per_provider: dict[str, fc._Minutes] = {}
    for provider, minute in sorted(state.buckets, key=lambda key: (key[1], key[0])):
        if not first <= minute <= now_minute:
            continue
        b, i = state.buckets[(provider, minute)], (minute - first) // 60
        region.offered[i] += b.offered
        region.answered[i] += b.answered
        region.within[i] += b.answered_within_target
        region.abandoned[i] += b.abandoned
        region.wait_sum[i] += b.answered_wait_sum_seconds
        own = per_provider.setdefault(provider, fc._Minutes.zeros(first, n))
        if minute >= own_from:
            own.offered[i] += b.offered
            own.answered[i] += b.answered
            own.within[i] += b.answered_within_target
            own.abandoned[i] += b.abandoned
    return region, per_provider


@settings(max_examples=40, deadline=None)
@given(minutes, st.randoms(use_true_random=False), st.data())
def test_minutes_and_forecast_from_kept_sums_are_those_summed_afresh(
    pattern: list[tuple[int, int, int]], rnd: random.Random, data: st.DataObject
) -> None:
    """Stepped minute by minute as events arrive (three providers, fractional waits, some late),
    _minutes reads what the old bucket-by-bucket loop read, and the forecast equals that of a
    restored copy, which sums every minute afresh."""
    events = [
        e._replace(
            provider=f"p{zlib.crc32(e.call_id.encode()) % 3}",
            wait_seconds=None if e.wait_seconds is None else e.wait_seconds + 0.1,
        )
        for e in random_events(pattern)
    ]
    arrival = sorted(events, key=lambda e: e.ts_s + rnd.uniform(0.0, 300.0))
    state, stepped = windows.initial(), None
    for event in arrival:
        windows.apply(state, event, CONFIG)
        end = windows.closed_minute(state, CONFIG)
        if end is None or end == stepped or state.max_ts_s is None:
            continue
        stepped = end
        now_minute = int(state.max_ts_s // 60) * 60
        first = now_minute - 60 * data.draw(st.integers(0, 130))
        own_from = data.draw(st.integers(first // 60, now_minute // 60)) * 60
        n = (now_minute - first) // 60 + 1 + data.draw(st.integers(0, 130))
        region, own = fc._minutes(state, first, now_minute, n, own_from)
        old, old_own = loop_minutes(state, first, now_minute, n, own_from)
        k, lo = (now_minute - first) // 60 + 1, (own_from - first) // 60
        assert (region.offered, region.answered, region.within) == (
            old.offered,
            old.answered,
            old.within,
        )
        assert (region.abandoned, region.wait_sum) == (old.abandoned[:k], old.wait_sum[:k])
        assert own.keys() == old_own.keys()
        for name, rows in own.items():
            was = old_own[name]
            assert rows.base == own_from
            assert (rows.offered, rows.answered, rows.within, rows.abandoned) == (
                was.offered[lo:k],
                was.answered[lo:k],
                was.within[lo:k],
                was.abandoned[lo:k],
            )
        restored = windows.from_json(windows.to_json(state))
        assert fc.forecast(state, CONFIG, end, Params()) == fc.forecast(
            restored, CONFIG, end, Params()
        )


@given(
    values=st.lists(st.sampled_from([0.0, 1.5, 0.1, 2.0 / 3.0, 1e-300]), max_size=40),
    bounds=st.tuples(st.integers(0, 45), st.integers(0, 45)),
    x=st.sampled_from([0.0, 0.1, 1.0 / 3.0, 7.25, 1e16]),
)
def test_adding_to_a_run_of_minutes_is_adding_to_each(
    values: list[float], bounds: tuple[int, int], x: float
) -> None:
    """_add's shortcut for a run of equal minutes gives each minute's own sum, bit for bit."""
    i, stop = sorted(bounds)
    want = [v + x if i <= j < stop else v for j, v in enumerate(values)]
    got = list(values)
    fc._add(got, i, stop, x)
    assert [v.hex() for v in got] == [v.hex() for v in want]


def staffed(handlers: int, calls: int = 0, handle_s: float | None = None) -> tuple[StaffedAt]:
    return (StaffedAt("p1", handlers, calls, handle_s),)


def test_a_staff_loss_is_forecast_before_anyone_waits() -> None:
    """A good hour, 10 calls a minute answered at once; at 70:00 only 40 handlers of 480 s are
    staffed: 5 answers a minute. Nobody has waited yet, so capacity read from answers is not
    observed and no breach is forecast; from the handlers it is.

    By hand (fluid, no abandonment): from 70:00 the queue grows by 5 a minute and the answer at
    70 + x minutes takes the caller offered at 70 + x / 2, so answers from about 72:00 on are
    late. At minute B the 60m window holds 10 (129 - B) + 10 good answers and 5 (B - 71) late
    ones: good < 0.9 x all  <=>  5.5 B > 449.5, B = 82 (83 if minute 72's first answers count as
    within, the fluid's 10 s steps decide). From the closed minute 67:00: 15 or 16 minutes."""
    state = at_70_minutes(GOOD_HOUR + [(10, 10)] * 10)
    assert fc.forecast(state, CONFIG, E, EXACT).seconds == math.inf
    result = fc.forecast(state, CONFIG, E, EXACT, staffed(40))
    assert result.inputs is not None
    (p,) = result.inputs.providers
    assert (p.handlers, p.handle_seconds) == (40, EXACT.mean_handle_seconds)
    assert p.capacity_per_minute == pytest.approx(5.0)
    assert result.breach_minute in {T0 + 82 * 60, T0 + 83 * 60}
    assert result.seconds in {15 * 60, 16 * 60}


def test_enough_handlers_forecast_no_breach_and_the_measured_handle_time_counts() -> None:
    """100 handlers of 480 s answer 12.5 a minute: no breach. The same 100 at a measured 1200 s
    handle time (enough calls for the mean to count) answer 5 a minute: the breach above."""
    state = at_70_minutes(GOOD_HOUR + [(10, 10)] * 10)
    assert fc.forecast(state, CONFIG, E, EXACT, staffed(100)).seconds == math.inf
    slow = fc.forecast(state, CONFIG, E, EXACT, staffed(100, calls=50, handle_s=1200.0))
    assert slow.inputs is not None and slow.inputs.providers[0].capacity_per_minute == 5.0
    assert slow.seconds in {15 * 60, 16 * 60}
    few = fc.forecast(state, CONFIG, E, EXACT, staffed(100, calls=3, handle_s=1200.0))
    assert few.seconds == math.inf  # 3 calls: the default handle time, 12.5 a minute
    off = fc.forecast(state, CONFIG, E, replace(EXACT, use_staffing=False), staffed(40))
    assert off.seconds == math.inf  # the old model on request
