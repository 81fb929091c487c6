"""Seasonal baseline: hour of week in London time across DST, learning, warm-up, protection
from surges, save/restore."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import baseline as b

LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")
PARAMS = b.Params()


def ts(year: int, month: int, day: int, hour: int, minute: int = 0, *, tz: ZoneInfo = UTC) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()


# --- hour of week ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "how"),
    [
        (ts(2024, 1, 1, 0), 0),  # Monday 00:00 GMT
        (ts(2024, 1, 7, 23, 59), 167),  # Sunday 23:59 GMT
        (ts(2024, 7, 1, 0, tz=LONDON), 0),  # Monday 00:00 BST = Sunday 23:00 UTC
        (ts(2024, 6, 30, 22, 30), 167),  # Sunday 23:30 BST
        (ts(2024, 1, 3, 18, 15), 2 * 24 + 18),  # Wednesday 18:15
    ],
)
def test_hour_of_week_is_london_wall_clock(instant: float, how: int) -> None:
    """0 is Monday 00:00 London time, 167 Sunday 23:00, in winter and summer alike."""
    assert b.hour_of_week(instant) == how


def test_the_same_local_hour_keeps_its_bucket_across_the_march_change() -> None:
    """Monday 09:00 GMT before 31 March 2024 and 09:00 BST after share bucket 9, an hour apart in
    UTC; the skipped local hour (01:00 on the Sunday) has no instants."""
    before, after = ts(2024, 3, 25, 9, tz=LONDON), ts(2024, 4, 1, 9, tz=LONDON)
    assert after - before == 7 * 86400 - 3600
    assert b.hour_of_week(before) == b.hour_of_week(after) == 9
    assert b.hour_of_week(ts(2024, 3, 31, 0, 59)) == 6 * 24 + 0  # 00:59 GMT
    assert b.hour_of_week(ts(2024, 3, 31, 1, 0)) == 6 * 24 + 2  # 02:00 BST


def test_the_same_local_hour_keeps_its_bucket_across_the_october_change() -> None:
    """Monday 09:00 BST before 27 October 2024 and 09:00 GMT after share bucket 9; the repeated
    local hour 01:00 maps both of its UTC hours to Sunday 01:00."""
    before, after = ts(2024, 10, 21, 9, tz=LONDON), ts(2024, 10, 28, 9, tz=LONDON)
    assert after - before == 7 * 86400 + 3600
    assert b.hour_of_week(before) == b.hour_of_week(after) == 9
    assert b.hour_of_week(ts(2024, 10, 27, 0, 30)) == b.hour_of_week(ts(2024, 10, 27, 1, 30))
    assert b.hour_of_week(ts(2024, 10, 27, 1, 30)) == 6 * 24 + 1


def test_a_dst_week_of_quarter_hours_fills_the_buckets_it_should() -> None:
    """Quarter-hours of the week of 27 October 2024 (169 hours): every bucket gets 4, except
    Sunday 01:00, which gets 8."""
    start = ts(2024, 10, 21, 0, tz=LONDON)
    end = ts(2024, 10, 28, 0, tz=LONDON)
    hows = b.hours_of_week(np.arange(start, end, 900.0))
    counts = np.bincount(hows, minlength=168)
    assert counts[6 * 24 + 1] == 8
    assert np.all(np.delete(counts, 6 * 24 + 1) == 4)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1.5e9, 2.0e9), min_size=1, max_size=40))
def test_hours_of_week_agrees_with_the_scalar_form(instants: list[float]) -> None:
    """The array form gives hour_of_week of every instant."""
    got = b.hours_of_week(np.array(instants))
    assert got.tolist() == [b.hour_of_week(t) for t in instants]


def test_hours_of_week_is_monotone_within_a_week() -> None:
    """Every quarter-hour of a winter week, in order, walks 0..167 four times each."""
    start = ts(2024, 1, 8, 0)
    hows = b.hours_of_week(start + 900.0 * np.arange(672, dtype=np.float64))
    assert hows.tolist() == [h for h in range(168) for _ in range(4)]


# --- learning -------------------------------------------------------------------------------------


def test_a_bucket_warms_up_then_is_the_plain_mean() -> None:
    """NaN until min_samples intervals; then the mean of what was learned."""
    state = b.initial()
    for i, count in enumerate([3.0, 5.0, 4.0]):
        state = b.update(state, 10, count, PARAMS)
        assert math.isnan(b.expected(state, 10, PARAMS)), i
    state = b.update(state, 10, 8.0, PARAMS)
    assert b.expected(state, 10, PARAMS) == 5.0
    assert math.isnan(b.expected(state, 11, PARAMS))


def test_after_memory_samples_the_mean_is_exponentially_weighted() -> None:
    """memory 4: the fifth sample moves the mean by a quarter of its distance."""
    params = b.Params(memory=4, min_samples=1, clip_sd=None)
    state = b.learn(b.initial(), np.full(5, 7), np.array([2.0, 2.0, 2.0, 2.0, 10.0]), params)
    assert b.expected(state, 7, params) == 2.0 + (10.0 - 2.0) / 4
    assert state.samples[7] == 5


def test_alarmed_intervals_do_not_raise_the_baseline() -> None:
    """A x3 surge the detector flagged leaves the expected value where it was."""
    hows = np.full(16, 42)
    state = b.learn(b.initial(), hows, np.full(16, 6.0), PARAMS)
    before = b.expected(state, 42, PARAMS)
    surge = np.full(8, 18.0)
    protected = b.learn(state, hows[:8], surge, PARAMS, alarmed=np.ones(8, dtype=np.bool_))
    assert b.expected(protected, 42, PARAMS) == before == 6.0
    assert protected == state
    state2 = b.update(state, 42, 18.0, PARAMS, alarmed=True)
    assert state2 == state


def test_unflagged_surge_counts_are_winsorised() -> None:
    """An unflagged count of 100 where 6 is usual is learned as 6 + 4 sqrt(6) = 15.8, not 100."""
    state = b.learn(b.initial(), np.full(16, 3), np.full(16, 6.0), PARAMS)
    after = b.update(state, 3, 100.0, PARAMS)
    assert b.expected(after, 3, PARAMS) == pytest.approx(6.0 + (4 * math.sqrt(6.0)) / 17)
    unclipped = b.update(state, 3, 100.0, b.Params(clip_sd=None))
    assert b.expected(unclipped, 3, PARAMS) == pytest.approx(6.0 + 94.0 / 17)


def test_missing_counts_are_skipped() -> None:
    state = b.learn(b.initial(), np.full(4, 0), np.full(4, 2.0), PARAMS)
    assert b.update(state, 0, math.nan, PARAMS) == state


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 167),
            st.one_of(st.integers(0, 40).map(float), st.just(math.nan)),
            st.booleans(),
        ),
        max_size=80,
    )
)
def test_learn_equals_folding_update_and_survives_json(
    rows: list[tuple[int, float, bool]],
) -> None:
    """learn() is update() folded over history; the JSON round trip restores the state exactly."""
    params = b.Params(memory=3, min_samples=2)
    folded = b.initial()
    for how, count, alarmed in rows:
        folded = b.update(folded, how, count, params, alarmed=alarmed)
    hows = np.array([r[0] for r in rows], dtype=np.int64)
    counts = np.array([r[1] for r in rows], dtype=np.float64)
    flags = np.array([r[2] for r in rows], dtype=np.bool_)
    assert b.learn(b.initial(), hows, counts, params, flags) == folded
    assert b.from_json(json.loads(json.dumps(b.to_json(folded)))) == folded
    every = np.arange(168)
    series = b.expected_series(folded, every, params)
    single = [b.expected(folded, h, params) for h in range(168)]
    assert np.array_equal(series, np.array(single), equal_nan=True)


@pytest.mark.parametrize("how", [-1, 168])
def test_an_hour_outside_the_week_is_refused(how: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.167"):
        b.update(b.initial(), how, 1.0, PARAMS)
    with pytest.raises(ValueError, match=r"0\.\.167"):
        b.expected_series(b.initial(), np.array([how]), PARAMS)


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="must be finite"):
        b.update(b.initial(), 0, -1.0, PARAMS)


def test_a_state_of_another_version_is_refused() -> None:
    doc = b.to_json(b.initial()) | {"version": 99}
    with pytest.raises(ValueError, match="learn"):
        b.from_json(doc)


def test_learning_across_a_dst_change_keeps_the_diurnal_shape() -> None:
    """Four weeks of quarter-hours whose count is the local hour (a diurnal curve on the wall
    clock), spanning 31 March 2024: every bucket learns exactly its own local hour."""
    start = datetime(2024, 3, 18, tzinfo=LONDON)
    instants = np.arange(start.timestamp(), (start + timedelta(days=28)).timestamp(), 900.0)
    local_hours = np.array([datetime.fromtimestamp(t, tz=LONDON).hour for t in instants.tolist()])
    state = b.learn(b.initial(), b.hours_of_week(instants), local_hours.astype(float), PARAMS)
    learned = b.expected_series(state, np.arange(168), PARAMS)
    assert learned.tolist() == [float(h % 24) for h in range(168)]
