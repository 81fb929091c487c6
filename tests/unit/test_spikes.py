"""Spike tests: hand-computed values from the published definitions, online == offline, warm-up,
missing intervals and save/restore."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.spikes import (
    DETECTORS,
    NEUTRAL,
    FloatArray,
    Score,
    SpikeDetector,
    cusum,
    ears,
    ewma,
    fold,
    poisson,
    threshold,
)

LN2 = math.log(2.0)


def arr(*values: float) -> FloatArray:
    return np.array(values, dtype=np.float64)


def scores_of(
    detector: SpikeDetector[Any, Any],
    params: object,
    counts: list[float],
    expected: float | list[float] = 4.0,
) -> tuple[list[float], list[bool]]:
    e = [expected] * len(counts) if isinstance(expected, float) else expected
    s, a, _ = fold(detector, arr(*counts), arr(*e), params)
    return s.tolist(), a.tolist()


def poisson_tail(n: int, mu: float) -> float:
    """P(X >= n) = 1 - e^-mu sum_{k<n} mu^k / k!, summed exactly where it matters."""
    return 1.0 - math.exp(-mu) * math.fsum(mu**k / math.factorial(k) for k in range(n))


# --- EARS (Hutwagner et al. 2003; Fricker et al. 2008) --------------------------------------------

BASE7 = [3.0, 5.0, 4.0, 6.0, 2.0, 4.0, 4.0]  # mean 4, squares 1+1+0+4+4+0+0 = 10, sd = sqrt(10/6)


def test_ears_c1_is_the_count_standardised_by_the_seven_previous_periods() -> None:
    """C1 = (9 - 4) / sqrt(10 / 6) = 3.8730 after the baseline 3,5,4,6,2,4,4: above 3, alarm."""
    s, a = scores_of(ears, ears.Params("C1"), [*BASE7, 9.0])
    assert s[:7] == [0.0] * 7 and a[:7] == [False] * 7  # warm-up: 7 periods of baseline
    assert s[7] == pytest.approx(5 / math.sqrt(10 / 6), rel=1e-15)
    assert s[7] == pytest.approx(3.872983346207417, rel=1e-15)
    assert a[7]


def test_ears_c1_at_three_is_not_an_alarm() -> None:
    """The published rule is C1 > 3, strictly: exactly 3 (sd floored at 1) is quiet, 3.5 is not."""
    s, a = scores_of(ears, ears.Params("C1"), [4.0] * 7 + [7.0])
    assert s[7] == 3.0 and not a[7]
    s, a = scores_of(ears, ears.Params("C1"), [4.0] * 7 + [7.5])
    assert s[7] == 3.5 and a[7]


def test_ears_c2_skips_two_guard_periods() -> None:
    """C2 uses periods t-9..t-3: two large guard values change nothing, the count is tested
    against the same baseline as C1 was."""
    s, a = scores_of(ears, ears.Params("C2"), [*BASE7, 20.0, 20.0, 9.0])
    assert s[:9] == [0.0] * 9
    assert s[9] == pytest.approx(5 / math.sqrt(10 / 6), rel=1e-15)
    assert a[9]


def test_ears_c3_sums_the_excess_of_three_c2_values_over_one() -> None:
    """Constant baseline (sd floored at min_sd = 1): C2 = 2.5, 0.5, 1.8 gives
    C3 = 1.5 + 0 + 0.8 = 2.3 > 2; warm-up lasts until two earlier C2 values exist (11 periods)."""
    s, a = scores_of(ears, ears.Params("C3"), [4.0] * 9 + [6.5, 4.5, 5.8])
    assert s[:11] == [0.0] * 11 and not any(a[:11])
    assert s[11] == pytest.approx(2.3, rel=1e-12)
    assert a[11]
    c2, _ = scores_of(ears, ears.Params("C2"), [4.0] * 9 + [6.5, 4.5, 5.8])
    assert c2[9:] == pytest.approx([2.5, 0.5, 1.8])


def test_ears_min_sd_floors_a_constant_baseline() -> None:
    """Seven zeros then one referral: (1 - 0) / max(0, 1.0) = 1, no division by zero."""
    s, a = scores_of(ears, ears.Params("C1"), [0.0] * 7 + [1.0, 4.0])
    assert s[7] == 1.0 and not a[7]
    assert s[8] == pytest.approx(4.0 - 1 / 7) and a[8]  # sd sqrt(1/7) < 1: floored again


def test_ears_seasonal_tests_residuals_against_the_baseline() -> None:
    """seasonal=True applies C1 to count - expected: a diurnal ramp matching the baseline is
    quiet, where the classic form alarms on the same counts."""
    counts = [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 14.0]
    expected = [c - r for c, r in zip(counts, [0.0, 1, -1, 0, 1, -1, 0, 0], strict=True)]
    _, classic_alarms = scores_of(ears, ears.Params("C1"), counts, expected)
    seasonal, _ = scores_of(ears, ears.Params("C1", seasonal=True), counts, expected)
    assert classic_alarms[7]
    assert seasonal[7] == pytest.approx(0.0 / math.sqrt(4 / 6))


def test_ears_classic_ignores_a_missing_expected_value() -> None:
    """On counts, NaN expected (the baseline warming up) does not stop EARS."""
    s, a = scores_of(ears, ears.Params("C1"), [*BASE7, 9.0], math.nan)
    assert s[7] == pytest.approx(3.872983346207417) and a[7]


# --- Poisson CUSUM (Lucas 1985) -------------------------------------------------------------------


def test_cusum_accumulates_log_likelihood_ratios_and_restarts_after_a_signal() -> None:
    """mu 4, ratio 2, h 5: increments x ln 2 - 4 give S = 0, 2.2383, 5.1698 (signal, restart), 0."""
    s, a = scores_of(cusum, cusum.Params(ratio=2.0, h=5.0), [4.0, 9.0, 10.0, 3.0])
    assert s == pytest.approx([0.0, 9 * LN2 - 4, 19 * LN2 - 8, 0.0], rel=1e-15)
    assert s[1] == pytest.approx(2.238324625039508) and s[2] == pytest.approx(5.169796430599054)
    assert a == [False, False, True, False]


def test_cusum_with_a_constant_mean_is_lucas_counted_data_cusum() -> None:
    """For a constant mean, S / ln(ratio) is Lucas's S_t = max(0, S_{t-1} + x_t - k) with
    k = (mu_d - mu_a) / (ln mu_d - ln mu_a) = 4 / ln 2."""
    counts = [3.0, 7.0, 6.0, 2.0, 9.0, 8.0, 5.0, 0.0, 11.0]
    k = (8.0 - 4.0) / (math.log(8.0) - math.log(4.0))
    lucas, expected = 0.0, []
    for x in counts:
        lucas = max(0.0, lucas + x - k)
        expected.append(lucas)
    s, _ = scores_of(cusum, cusum.Params(h=1e9), counts)
    assert [v / LN2 for v in s] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_cusum_keeps_alarming_without_reset() -> None:
    """reset_on_alarm=False holds the sum: the alarm stays up while S >= h."""
    _, a = scores_of(cusum, cusum.Params(h=5.0, reset_on_alarm=False), [4.0, 9.0, 10.0, 6.0])
    assert a == [False, False, True, True]


# --- EWMA (Roberts 1959; Lucas & Saccucci 1990) ---------------------------------------------------


def test_ewma_standardises_by_the_exact_variance() -> None:
    """lam 0.2, mu 4, x = 6, 2: residuals 1, -1; Z = 0.2, -0.04; Var = 0.04, 0.0656."""
    s, a = scores_of(ewma, ewma.Params(lam=0.2), [6.0, 2.0])
    assert s[0] == pytest.approx(1.0, rel=1e-14)
    assert s[1] == pytest.approx(-0.04 / math.sqrt(0.2 / 1.8 * (1 - 0.8**4)), rel=1e-14)
    assert s[1] == pytest.approx(-0.15617376188860607)
    assert a == [False, False]


def test_ewma_alarms_above_its_limit() -> None:
    """mu 1, x 5: residual 4, Z = 0.8, sd 0.2, score 4 > L = 2.962."""
    s, a = scores_of(ewma, ewma.Params(), [5.0], 1.0)
    assert s == pytest.approx([4.0]) and a == [True]


# --- exact Poisson test ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "z"),
    [
        (0.5, 0.0),
        (0.025, 1.959963984540054),  # the two-sided 95 % point
        (0.001, 3.090232306167813),
        (1e-10, 6.361340902404056),
    ],
)
def test_upper_z_matches_tabulated_normal_quantiles(p: float, z: float) -> None:
    """AS241 on log p gives the tabulated one-sided normal points."""
    assert poisson.upper_z(arr(math.log(p)))[0] == pytest.approx(z, rel=1e-14, abs=1e-15)


def test_upper_z_agrees_with_the_standard_library_and_survives_underflow() -> None:
    """Across the range, z equals statistics.NormalDist's AS241; for p = e^-100000 it is finite."""
    ps = np.geomspace(1e-300, 0.999, 400)
    z = poisson.upper_z(np.log(ps))
    reference = [-statistics.NormalDist().inv_cdf(p) for p in ps.tolist()]
    assert z.tolist() == pytest.approx(reference, rel=1e-12, abs=1e-12)
    far = poisson.upper_z(arr(-1e5, 0.0))
    assert math.isfinite(far[0]) and far[0] > 400 and far[1] == -math.inf


@pytest.mark.parametrize(
    ("n", "mu"),
    [(0, 3.0), (1, 0.5), (3, 1.0), (10, 2.0), (5, 5.0), (4, 5.0), (150, 100.0), (30, 0.1)],
)
def test_log_upper_tail_is_the_poisson_tail(n: int, mu: float) -> None:
    """log P(X >= n | mu) against 1 - e^-mu sum_{k<n} mu^k/k! (or the tail sum when tiny)."""
    got = math.exp(poisson.log_upper_tail(arr(n), arr(mu))[0])
    if n > 3 * mu + 10:  # far tail: sum the tail itself, 1 - (sum) would cancel
        want = math.fsum(
            math.exp(k * math.log(mu) - mu - math.lgamma(k + 1)) for k in range(n, n + 200)
        )
    else:
        want = poisson_tail(n, mu)
    assert got == pytest.approx(want, rel=1e-12)


def test_log_upper_tail_hand_values() -> None:
    """P(X >= 3 | 1) = 1 - 2.5/e; P(X >= 1 | 0.5) = 1 - e^-0.5."""
    tail = np.exp(poisson.log_upper_tail(arr(3, 1), arr(1.0, 0.5)))
    assert tail.tolist() == pytest.approx([1 - 2.5 / math.e, 1 - math.exp(-0.5)], rel=1e-14)


def test_poisson_test_scores_z_and_alarms_below_alpha() -> None:
    """x = 3 at mu = 1: p = 0.0803, z = 1.4025, no alarm; x = 6 at mu = 0.5: p = 1.4e-5, alarm."""
    s, a = scores_of(poisson, poisson.Params(), [3.0, 6.0, 0.0], [1.0, 0.5, 2.0])
    p1, p2 = 1 - 2.5 / math.e, poisson_tail(6, 0.5)
    assert p2 == pytest.approx(1.4164937e-5, rel=1e-6)
    assert s[0] == pytest.approx(-statistics.NormalDist().inv_cdf(p1), rel=1e-12)
    assert s[1] == pytest.approx(-statistics.NormalDist().inv_cdf(p2), rel=1e-10)
    assert s[2] == 0.0  # nothing happened: p = 1, z clipped at 0
    assert a == [False, True, False]


def test_poisson_window_tests_the_sum_of_the_last_intervals() -> None:
    """window 2: 3 + 4 = 7 against 1 + 1.5 = 2.5: p = P(X >= 7 | 2.5) = 0.0142; first is warm-up."""
    s, a = scores_of(poisson, poisson.Params(window=2), [3.0, 4.0], [1.0, 1.5])
    assert s[0] == 0.0
    want = -statistics.NormalDist().inv_cdf(poisson_tail(7, 2.5))
    assert s[1] == pytest.approx(want, rel=1e-12) and a == [False, False]


# --- fixed threshold ------------------------------------------------------------------------------


def test_threshold_alarms_strictly_above_factor_times_expected() -> None:
    """factor 2 at mu 4: 9 alarms (score 1.25), 8 does not (score 1.0)."""
    s, a = scores_of(threshold, threshold.Params(), [9.0, 8.0, 2.0])
    assert s == [1.25, 1.0, -0.5] and a == [True, False, False]


def test_expected_below_the_floor_is_raised_to_it() -> None:
    """An empty hour (expected 0) is treated as 0.1: one referral is a finite surprise."""
    s, a = scores_of(threshold, threshold.Params(), [1.0], 0.0)
    assert s == [pytest.approx(9.0)] and a == [True]
    zs, _ = scores_of(poisson, poisson.Params(), [1.0], 0.0)
    assert zs[0] == pytest.approx(-statistics.NormalDist().inv_cdf(1 - math.exp(-0.1)))


# --- the interface: online == offline, warm-up, missing data, save/restore ------------------------

CONFIGS: list[tuple[str, Any]] = [
    ("ears", ears.Params("C1")),
    ("ears", ears.Params("C2")),
    ("ears", ears.Params("C3")),
    ("ears", ears.Params("C3", seasonal=True)),
    ("ears", ears.Params("C2", baseline=3, min_sd=0.25)),
    ("cusum", cusum.Params()),
    ("cusum", cusum.Params(ratio=1.5, h=2.0, reset_on_alarm=False)),
    ("ewma", ewma.Params()),
    ("ewma", ewma.Params(lam=1.0, limit=2.0)),
    ("poisson", poisson.Params()),
    ("poisson", poisson.Params(alpha=0.05, window=3)),
    ("threshold", threshold.Params()),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]

counts_strategy = st.lists(
    st.one_of(st.integers(0, 60).map(float), st.just(math.nan)), min_size=0, max_size=60
)


@st.composite
def series(draw: st.DrawFn) -> tuple[FloatArray, FloatArray]:
    counts = draw(counts_strategy)
    expected = draw(
        st.lists(
            st.one_of(st.floats(0.0, 40.0), st.just(math.nan)),
            min_size=len(counts),
            max_size=len(counts),
        )
    )
    return arr(*counts), arr(*expected)


@pytest.mark.parametrize(("name", "params"), CONFIGS, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(data=series())
def test_run_equals_folding_update_exactly(
    name: str, params: object, data: tuple[FloatArray, FloatArray]
) -> None:
    """The offline run and the online update give bit-identical scores and alarms."""
    detector = DETECTORS[name]
    counts, expected = data
    scores, alarms = detector.run(counts, expected, params)
    folded_scores, folded_alarms, _ = fold(detector, counts, expected, params)
    assert np.array_equal(scores, folded_scores)
    assert np.array_equal(alarms, folded_alarms)
    assert np.all(np.isfinite(scores))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3000), st.floats(0.0, 2500.0)), max_size=30),
    window=st.integers(1, 3),
)
def test_poisson_run_equals_update_at_national_volumes(
    rows: list[tuple[int, float]], window: int
) -> None:
    """Counts in the thousands (long tail series, both branches): still bit-identical."""
    counts = np.array([float(c) for c, _ in rows])
    expected = np.array([e for _, e in rows])
    params = poisson.Params(window=window)
    scores, alarms = poisson.run(counts, expected, params)
    folded_scores, folded_alarms, _ = fold(poisson, counts, expected, params)
    assert np.array_equal(scores, folded_scores) and np.array_equal(alarms, folded_alarms)
    assert np.all(np.isfinite(scores))


@pytest.mark.parametrize(("name", "params"), CONFIGS, ids=IDS)
@settings(max_examples=30, deadline=None)
@given(data=series(), cut=st.integers(0, 60))
def test_save_and_restore_continues_exactly(
    name: str, params: object, data: tuple[FloatArray, FloatArray], cut: int
) -> None:
    """Stopping anywhere, saving the state as JSON and restoring it changes nothing."""
    detector = DETECTORS[name]
    counts, expected = data
    cut = min(cut, counts.size)
    whole, whole_alarms, end = fold(detector, counts, expected, params)
    first, first_alarms, middle = fold(detector, counts[:cut], expected[:cut], params)
    restored = detector.from_json(json.loads(json.dumps(detector.to_json(middle))))
    assert restored == middle
    rest, rest_alarms, end2 = fold(detector, counts[cut:], expected[cut:], params, restored)
    assert np.array_equal(np.concatenate([first, rest]), whole)
    assert np.array_equal(np.concatenate([first_alarms, rest_alarms]), whole_alarms)
    assert end2 == end


@pytest.mark.parametrize(("name", "params"), CONFIGS, ids=IDS)
def test_missing_intervals_are_neutral_and_leave_the_state_alone(name: str, params: Any) -> None:
    """A NaN count gives the neutral score and the same state, for every detector."""
    detector = DETECTORS[name]
    _, _, state = fold(detector, arr(*[3.0] * 12), arr(*[2.0] * 12), params)
    after, score = detector.update(state, math.nan, 2.0, params)
    assert score == NEUTRAL and after == state


@pytest.mark.parametrize("name", ["cusum", "ewma", "poisson", "threshold"])
def test_a_baseline_still_warming_up_gives_neutral_scores(name: str) -> None:
    """Expected NaN (the hour of week has no baseline yet): neutral score, state unchanged."""
    detector = DETECTORS[name]
    params: Any = {
        "cusum": cusum.Params(),
        "ewma": ewma.Params(),
        "poisson": poisson.Params(),
        "threshold": threshold.Params(),
    }[name]
    state = detector.initial(params)
    after, score = detector.update(state, 50.0, math.nan, params)
    assert score == Score(0.0, False) and after == state
    scores, alarms = detector.run(arr(50.0, 50.0), arr(math.nan, math.nan), params)
    assert scores.tolist() == [0.0, 0.0] and alarms.tolist() == [False, False]


@pytest.mark.parametrize(("name", "params"), CONFIGS, ids=IDS)
@pytest.mark.parametrize(("count", "expected"), [(-1.0, 2.0), (1.0, -0.5), (math.inf, 2.0)])
def test_invalid_values_raise(name: str, params: Any, count: float, expected: float) -> None:
    """Negative or infinite inputs are a caller's bug, online and offline."""
    detector = DETECTORS[name]
    with pytest.raises(ValueError, match="must be finite"):
        detector.update(detector.initial(params), count, expected, params)
    with pytest.raises(ValueError, match="must be finite"):
        detector.run(arr(1.0, count), arr(1.0, expected), params)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_a_state_of_another_detector_is_refused(name: str) -> None:
    """Restoring the wrong document fails loudly instead of starting from nonsense."""
    with pytest.raises(ValueError, match="state"):
        DETECTORS[name].from_json({"detector": "something-else", "version": 1})


def test_scores_stay_finite_far_in_the_tail() -> None:
    """A thousand referrals where the baseline expects none: large, finite scores."""
    for name, params in CONFIGS:
        scores, alarms = DETECTORS[name].run(arr(*[0.0] * 12, 1000.0), arr(*[0.0] * 13), params)
        assert np.all(np.isfinite(scores)), name
        assert scores[-1] > 0 and alarms[-1], name


def test_mismatched_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        cusum.run(arr(1.0, 2.0), arr(1.0), cusum.Params())
