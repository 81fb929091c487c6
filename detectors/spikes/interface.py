"""The interface every spike test shares (DESIGN of :mod:`detectors.spikes`): the score, the
neutral score, the detector protocol, and the checks and folds all of them use."""

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
