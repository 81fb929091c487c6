"""In-stream alert hysteresis: thresholds, timers, dwell, no data, time order, episodes, JSON."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import hysteresis as h
from detectors.hysteresis import FIRING, RESOLVED, AlertState, HysteresisParams, Transition
from streams.contract.thresholds import THRESHOLDS

T0 = 1_700_000_040.0
MIN = 60.0

# ServiceLevelBelowStandard (warning) as the Prometheus rule reads it: below SL for FOR minutes.
SL = THRESHOLDS.service_level_warning
FOR = THRESHOLDS.kpi_for_seconds // 60
SL_WARNING = HysteresisParams.low_is_bad(raise_below=SL, raise_after_seconds=FOR * MIN)
# AbandonmentAboveStandard (critical) with a band and timers on both sides.
HIGH, CLEAR = THRESHOLDS.abandon_critical, THRESHOLDS.abandon_standard
BAD, BAND = HIGH + 0.01, (HIGH + CLEAR) / 2
ABANDON = HysteresisParams.high_is_bad(
    raise_above=HIGH,
    clear_below=CLEAR,
    raise_after_seconds=600,
    clear_after_seconds=300,
    min_dwell_seconds=1800,
)


def run(
    values: Iterable[float | None], params: HysteresisParams, step_s: float = MIN
) -> tuple[AlertState, list[Transition]]:
    """Feed one value a step (a closed minute by default) from T0: the end state and events."""
    state, events = h.initial(), []
    for i, value in enumerate(values):
        state, event = h.step(state, value, T0 + i * step_s, params)
        if event is not None:
            events.append(event)
    return state, events


def kinds(events: Sequence[Transition]) -> list[str]:
    return [e.kind for e in events]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([SL] * 2 * FOR, []),  # exactly at the threshold is not below it (the rule's `<`)
        ([SL - 0.001] * FOR, []),  # FOR - 1 minutes of breach: pending only
        ([SL - 0.001] * (FOR + 1), [FIRING]),  # FOR minutes after the first: the rule's `for:`
        ([0.5] + [0.97] * 2 * FOR, []),  # one bad minute does not fire
        ([0.5] * 5 + [0.95] + [0.5] * FOR, []),  # a good minute restarts the timer
        ([0.5] * (FOR + 1) + [SL], [FIRING, RESOLVED]),  # no band: at the threshold is clear
        ([0.5] * (FOR + 1) + [None] * 2 * FOR, [FIRING]),  # no data never resolves
        ([None] * 2 * FOR, []),
        ([], []),
        ([math.nan] * 2 * FOR, []),
    ],
)
def test_service_level_boundaries(values: list[float | None], expected: list[str]) -> None:
    """The low-is-bad machine without a band fires and clears where the Prometheus rule does."""
    assert kinds(run(values, SL_WARNING)[1]) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([HIGH] * 30, []),  # exactly at raise_above is not above it
        ([BAD] * 10, []),
        ([BAD] * 11, [FIRING]),
        ([BAD] * 11 + [BAND] * 60, [FIRING]),  # in the band: stays firing
        ([BAD] * 11 + [CLEAR] * 29, [FIRING]),  # clear for 28 min: the dwell (30 min) holds it
        ([BAD] * 11 + [CLEAR] * 30, [FIRING, RESOLVED]),  # 30 min after firing
        # After the dwell: clear 3 min, one minute in the band, then clear 4 min (< 5) / 5 min.
        ([BAD] * 41 + [CLEAR] * 4 + [BAND] + [CLEAR] * 5, [FIRING]),
        ([BAD] * 41 + [CLEAR] * 4 + [BAND] + [CLEAR] * 6, [FIRING, RESOLVED]),
        ([BAD] * 41 + [CLEAR] * 4 + [0.3] + [CLEAR] * 6, [FIRING, RESOLVED]),  # bad: same
    ],
)
def test_abandonment_band_and_dwell(values: list[float | None], expected: list[str]) -> None:
    """The high-is-bad machine holds in the band and waits for clear_after and the dwell."""
    assert kinds(run(values, ABANDON)[1]) == expected


def test_clear_after_counts_from_the_first_clear_step() -> None:
    """With the dwell long passed, RESOLVED comes clear_after_seconds after the first clear."""
    values = [0.2] * 40 + [0.01] * 10
    _, events = run(values, ABANDON)
    assert kinds(events) == [FIRING, RESOLVED]
    assert events[0].ts_s == T0 + 10 * MIN
    assert events[1].ts_s == T0 + 45 * MIN  # first clear at minute 40, + 5 minutes
    assert events[1].started_at_s == events[0].started_at_s == events[0].ts_s
    assert events[1].episode == events[0].episode == 1
    assert events[1].value == 0.01


def test_zero_timers_are_a_plain_threshold_filter() -> None:
    """With no timers and no dwell, every crossing is a transition on its own step."""
    params = HysteresisParams.high_is_bad(raise_above=1.0)
    _, events = run([2, 0, 2, 2, 0, 0.5], params)
    assert [(e.kind, e.episode, e.ts_s) for e in events] == [
        (FIRING, 1, T0),
        (RESOLVED, 1, T0 + MIN),
        (FIRING, 2, T0 + 2 * MIN),
        (RESOLVED, 2, T0 + 4 * MIN),
    ]


def test_none_keeps_the_pending_timer() -> None:
    """A gap in the data neither resets nor fires: the next bad value fires if the timer is due."""
    state, events = run([0.5, None, None, None], SL_WARNING, step_s=5 * MIN)
    assert events == [] and state.status == "pending" and state.since_s == T0
    state, event = h.step(state, 0.5, T0 + FOR * MIN, SL_WARNING)
    assert event is not None and event.kind == FIRING and state.last_value == 0.5


def test_time_going_backwards_is_ignored() -> None:
    """A step older than the last changes nothing and emits nothing; the same time is accepted."""
    state, _ = run([0.5] * 5, SL_WARNING)
    assert h.step(state, 0.99, T0, SL_WARNING) == (state, None)
    same, event = h.step(state, 0.99, T0 + 4 * MIN, SL_WARNING)
    assert event is None and same.status == "ok"


def test_infinity_is_a_value() -> None:
    """A +Inf breach forecast is clear; the state still round-trips through strict JSON."""
    params = HysteresisParams.low_is_bad(raise_below=1800, raise_after_seconds=300)
    state, events = run([600] * 6 + [math.inf], params)
    assert kinds(events) == [FIRING, RESOLVED]
    text = json.dumps(h.to_json(state), allow_nan=False)
    assert h.from_json(json.loads(text)) == state


@pytest.mark.parametrize(
    "make",
    [
        lambda: HysteresisParams.high_is_bad(raise_above=0.1, clear_below=0.2),
        lambda: HysteresisParams.low_is_bad(raise_below=0.9, clear_above=0.8),
        lambda: HysteresisParams.high_is_bad(raise_above=math.nan),
        lambda: HysteresisParams.high_is_bad(raise_above=1, raise_after_seconds=-1),
        lambda: HysteresisParams(1, 1, "sideways"),  # type: ignore[arg-type]
    ],
)
def test_bad_params_are_refused(make: object) -> None:
    """Params that could never resolve (or make no sense) fail at construction."""
    with pytest.raises(ValueError, match=r"."):
        make()  # type: ignore[operator]


def test_bad_state_documents_are_refused() -> None:
    """An unknown version or status fails loudly instead of mis-reading a changelog."""
    doc = h.to_json(AlertState())
    with pytest.raises(ValueError, match="version"):
        h.from_json({**doc, "version": 99})
    with pytest.raises(ValueError, match="status"):
        h.from_json({**doc, "status": "flapping"})


def test_alert_id_is_stable_per_episode() -> None:
    """FIRING and RESOLVED of one episode share an id; severities and episodes do not."""
    assert h.alert_id("london", "CallsWaitingHigh", 3) == "CallsWaitingHigh:london:3"
    assert h.alert_id("london", "CallsWaitingHigh", 3, "critical") == (
        "CallsWaitingHigh:critical:london:3"
    )


values_st = st.one_of(
    st.none(), st.sampled_from([0.0, 0.04, 0.05, 0.07, 0.10, 0.11, 0.5]), st.floats(0, 1)
)
params_st = st.builds(
    HysteresisParams.high_is_bad,
    raise_above=st.sampled_from([0.10, 0.3]),
    clear_below=st.sampled_from([0.05, 0.10]),
    raise_after_seconds=st.sampled_from([0.0, 60.0, 600.0]),
    clear_after_seconds=st.sampled_from([0.0, 120.0, 300.0]),
    min_dwell_seconds=st.sampled_from([0.0, 300.0, 1800.0]),
)
steps_st = st.lists(
    st.tuples(values_st, st.sampled_from([0.0, 1.0, 30.0, 60.0, 600.0])), max_size=120
)


@settings(max_examples=300, deadline=None)
@given(params=params_st, steps=steps_st)
def test_episodes_are_well_formed(
    params: HysteresisParams, steps: list[tuple[float | None, float]]
) -> None:
    """Any sequence gives alternating FIRING/RESOLVED with increasing episodes, spaced by the dwell,
    each FIRING after raise_after_seconds of bad values and each RESOLVED after clear_after of
    clear ones (no-data steps in between neither break nor count as evidence)."""
    state, ts, seen = h.initial(), T0, []
    events: list[Transition] = []
    for value, gap in steps:
        ts += gap
        state, event = h.step(state, value, ts, params)
        seen.append((value, ts))
        if event is None:
            continue
        events.append(event)
        bad = params.is_bad if event.kind == FIRING else params.is_clear
        after = params.raise_after_seconds if event.kind == FIRING else params.clear_after_seconds
        # Walk back over the real values: all on the transition's side for `after` seconds.
        first = ts
        for v, t in reversed(seen):
            if v is None or math.isnan(v):
                continue
            if not bad(v):
                break
            first = t
        assert ts - first >= after
    assert kinds(events) == [FIRING, RESOLVED] * (len(events) // 2) + [FIRING] * (len(events) % 2)
    assert [e.episode for e in events[::2]] == list(range(1, len(events[::2]) + 1))
    for fired, resolved in zip(events[::2], events[1::2], strict=False):
        assert resolved.episode == fired.episode and resolved.started_at_s == fired.ts_s
    for a, b in itertools.pairwise(events):
        assert b.ts_s - a.ts_s >= params.min_dwell_seconds
    assert (state.status in ("firing", "clearing")) == (len(events) % 2 == 1)


@settings(max_examples=200, deadline=None)
@given(params=params_st, steps=steps_st, cut=st.integers(0, 120))
def test_save_restore_is_invisible(
    params: HysteresisParams, steps: list[tuple[float | None, float]], cut: int
) -> None:
    """Checkpointing to JSON and restoring at any point changes no later transition."""
    ts, straight, restored = T0, h.initial(), h.initial()
    for i, (value, gap) in enumerate(steps):
        ts += gap
        if i == cut:
            restored = h.from_json(json.loads(json.dumps(h.to_json(restored), allow_nan=False)))
        straight, a = h.step(straight, value, ts, params)
        restored, b = h.step(restored, value, ts, params)
        assert a == b
    assert restored == straight
