"""Spike tests on a series of counts per interval: one interface, one small module per test.

Every module here (:mod:`.ears`, :mod:`.cusum`, :mod:`.ewma`, :mod:`.poisson`, :mod:`.threshold`)
provides the same five names, so the stream, a replay and the benchmark can swap them:

- ``Params``: a frozen dataclass of the test's parameters, defaults documented with their source;
- ``initial(params) -> State``: the state before the first interval (``State`` is frozen, plain
  data);
- ``update(state, count, expected, params) -> (State, Score)``: one interval, online;
- ``run(counts, expected, params) -> (scores, alarms)``: a whole array, offline. It gives exactly
  the numbers of folding ``update`` over the same arrays from ``initial`` (tests compare with
  ``np.array_equal``), so a backtest shows what the live worker would have shown;
- ``to_json(state) -> dict`` / ``from_json(doc) -> State``: an exact round trip, for a Faust table.

The time unit is one interval of counts: the stream feeds closed 15-minute intervals of referral
counts per (region, kind). ``expected`` is the count the seasonal baseline
(:mod:`detectors.baseline`) expects for that interval.

Conventions shared by every test (what "neutral" and "missing" mean):

- ``Score.value`` is a standardised score: about 0 in normal traffic, larger is more surprising,
  never NaN or infinite, and exactly 0.0 while the test warms up. ``Score.alarm`` is the test's
  own published decision rule; a hysteresis step downstream decides what to do about it (scoring
  apart from deciding).
- A NaN count (a missing interval) or a NaN expected value (the baseline has not seen this
  hour of the week often enough yet) gives the neutral score and leaves the state unchanged: the
  test skips the interval as if it had not happened. EARS on raw counts ignores ``expected``.
- Expected values below ``Params.min_expected`` are raised to it (default :data:`MIN_EXPECTED`),
  so an hour that has always been empty does not turn one referral into an infinite score.
- Negative or infinite counts or expected values are a caller's bug: ``ValueError``.

Bit-for-bit agreement of ``run`` and ``update`` is by construction, not by luck: both paths call
the same numpy kernel (``update`` on arrays of one element) or repeat the same IEEE operations
(+, -, *, /, sqrt, which round exactly) in the same order; numpy's element-wise functions such
as ``log`` and ``exp`` give the same value for an element whatever the length of the array.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Floor of the expected count per interval: one referral in an hour of the week that has always
# been empty is then a large but finite surprise. 0.1 per 15 minutes is below the quietest
# region-hour the generator produces (about 0.5 ambulance dispositions a quarter-hour).
MIN_EXPECTED = 0.1


@dataclass(frozen=True, slots=True)
class Score:
    value: float  # standardised, ~0 normal, larger = more surprising; 0.0 during warm-up
    alarm: bool


NEUTRAL = Score(0.0, False)

P_contra = TypeVar("P_contra", contravariant=True)
S = TypeVar("S")


class SpikeDetector(Protocol[P_contra, S]):
    """What each detector module provides (a module satisfies this protocol structurally)."""

    def initial(self, params: P_contra) -> S: ...

    def update(
        self, state: S, count: float, expected: float, params: P_contra
    ) -> tuple[S, Score]: ...

    def run(
        self, counts: FloatArray, expected: FloatArray, params: P_contra
    ) -> tuple[FloatArray, BoolArray]: ...

    def to_json(self, state: S) -> dict[str, Any]: ...

    def from_json(self, doc: Mapping[str, Any]) -> S: ...


def check_point(count: float, expected: float) -> bool:
    """True if the interval is usable; False if it is missing (NaN); raises if it is invalid."""
    if math.isnan(count) or math.isnan(expected):
        return False
    if not (0.0 <= count < math.inf and 0.0 <= expected < math.inf):
        raise ValueError(
            f"count {count!r} and expected {expected!r} must be finite and >= 0 "
            "(NaN marks a missing interval or a baseline still warming up)"
        )
    return True


def check_series(counts: FloatArray, expected: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Both arrays as 1-D float64 of equal length; raises as :func:`check_point` would."""
    c = np.asarray(counts, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if c.ndim != 1 or c.shape != e.shape:
        raise ValueError(
            f"counts {c.shape} and expected {e.shape} must be 1-D arrays of the same length"
        )
    for name, a in (("counts", c), ("expected", e)):
        known = a[~np.isnan(a)]
        if known.size and not (np.all(known >= 0) and np.all(np.isfinite(known))):
            raise ValueError(f"{name} must be finite and >= 0 where not NaN")
    return c, e


def usable(counts: FloatArray, expected: FloatArray) -> BoolArray:
    """The intervals the tests look at: neither the count nor the expected value is missing."""
    return ~(np.isnan(counts) | np.isnan(expected))


def scatter(mask: BoolArray, scores: FloatArray, alarms: BoolArray) -> tuple[FloatArray, BoolArray]:
    """Results computed on ``counts[mask]`` put back in place; skipped intervals are neutral."""
    out_scores = np.zeros(mask.shape, dtype=np.float64)
    out_alarms = np.zeros(mask.shape, dtype=np.bool_)
    out_scores[mask] = scores
    out_alarms[mask] = alarms
    return out_scores, out_alarms


def fold(
    detector: SpikeDetector[P_contra, S],
    counts: FloatArray,
    expected: FloatArray,
    params: P_contra,
    state: S | None = None,
) -> tuple[FloatArray, BoolArray, S]:
    """Fold ``update`` over arrays (from ``initial`` unless a state is given): the online path on
    a whole series, for catching up from history and for checking ``run`` against it."""
    c_all, e_all = check_series(counts, expected)
    s = detector.initial(params) if state is None else state
    scores = np.zeros(c_all.size, dtype=np.float64)
    alarms = np.zeros(c_all.size, dtype=np.bool_)
    for i, (c, e) in enumerate(zip(c_all.tolist(), e_all.tolist(), strict=True)):
        s, score = detector.update(s, c, e, params)
        scores[i] = score.value
        alarms[i] = score.alarm
    return scores, alarms, s


# The modules import Score and the helpers above from this package, so they come last.
from detectors.spikes import cusum, ears, ewma, poisson, threshold  # noqa: E402

DETECTORS: Mapping[str, SpikeDetector[Any, Any]] = {
    "ears": ears,
    "cusum": cusum,
    "ewma": ewma,
    "poisson": poisson,
    "threshold": threshold,
}

__all__ = [
    "DETECTORS",
    "MIN_EXPECTED",
    "NEUTRAL",
    "BoolArray",
    "FloatArray",
    "Score",
    "SpikeDetector",
    "check_point",
    "check_series",
    "cusum",
    "ears",
    "ewma",
    "fold",
    "poisson",
    "scatter",
    "threshold",
    "usable",
]
