"""Poisson CUSUM against the seasonal expected count: the test that accumulates small excesses.

Definition (Lucas 1985, "Counted data CUSUM's", Technometrics 27(2):129-144; Hawkins & Olwell
1998, "Cumulative Sum Charts and Charting for Quality Improvement", ch. 6): for counts with
in-control mean mu_a and a shift to mu_d to detect, S_t = max(0, S_{t-1} + x_t - k) with reference
value k = (mu_d - mu_a) / (ln mu_d - ln mu_a), signalling when S_t >= h.

Adaptation: the in-control mean here changes every interval (the diurnal and weekly shape), so
the CUSUM is written as a sum of log-likelihood ratios (nats), the form in which each term may
have its own in-control mean (Hawkins & Olwell 1998, the Poisson CUSUM as a likelihood-ratio
sum): with mu_t the expected count and mu_d = ratio * mu_t,

    S_t = max(0, S_{t-1} + x_t ln(ratio) - mu_t (ratio - 1)),   alarm when S_t >= h.

With a constant mu this is Lucas's CUSUM multiplied by ln(ratio): k = mu (ratio - 1) / ln(ratio)
and Lucas's decision interval is h / ln(ratio). In nats, h has a meaning free of the count level:
the in-control average run length is at least e^h intervals (Wald's inequality for a
likelihood-ratio CUSUM; Lorden 1971, Ann. Math. Stat. 42:1897), whatever the region or hour.

After a signal the sum restarts from 0 (``reset_on_alarm``; Lucas 1985's restart after a
signal), so a long surge signals again every few intervals instead of holding one alarm that
outlives the surge by hours while the excess drains away. The score is S_t in nats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors.spikes.interface import (
    MIN_EXPECTED,
    NEUTRAL,
    BoolArray,
    FloatArray,
    Score,
    check_point,
    check_series,
    scatter,
    usable,
)

NAME = "cusum"
VERSION = 1


@dataclass(frozen=True, slots=True)
class Params:
    # Out-of-control mean as a multiple of the expected count: the shift the test is tuned to.
    # 2.0 is the headline surge (x2); Lucas 1985 designs k for "the shift to detect".
    ratio: float = 2.0
    # Decision interval in nats. The in-control run length is at least e^h intervals whatever the
    # count level (Lorden 1971): 5.5 guarantees >= 245 quarter-hours. Chosen with
    # benchmarks/detection.py on seeds 2 and 3 (8 baseline weeks) as the lowest h whose false
    # alarms stay under the 1 per region-week (0.7-0.85 there; 5.0 reached 0.97).
    # Noise in a learned baseline, not the test, causes most of them: against the true rate the
    # same test gives about 0.1-0.3.
    h: float = 5.5
    reset_on_alarm: bool = True
    min_expected: float = MIN_EXPECTED

    def __post_init__(self) -> None:
        if not self.ratio > 1 or not self.h > 0 or not self.min_expected > 0:
            raise ValueError("ratio must exceed 1, h and min_expected must be positive")


@dataclass(frozen=True, slots=True)
class State:
    s: float = 0.0  # the cumulative sum, nats


def initial(params: Params) -> State:
    return State()


def _step(s: float, increment: float, params: Params) -> tuple[float, bool]:
    """One recursion step on Python floats (exact IEEE operations: both paths use it)."""
    s = max(0.0, s + increment)
    alarm = s >= params.h
    return s, alarm


def update(state: State, count: float, expected: float, params: Params) -> tuple[State, Score]:
    if not check_point(count, expected):
        return state, NEUTRAL
    e = max(expected, params.min_expected)
    s, alarm = _step(state.s, count * math.log(params.ratio) - e * (params.ratio - 1.0), params)
    return State(0.0 if alarm and params.reset_on_alarm else s), Score(s, alarm)


def run(counts: FloatArray, expected: FloatArray, params: Params) -> tuple[FloatArray, BoolArray]:
    c, e = check_series(counts, expected)
    ok = usable(c, e)
    increments = c[ok] * math.log(params.ratio) - np.maximum(e[ok], params.min_expected) * (
        params.ratio - 1.0
    )
    scores = np.empty(increments.size, dtype=np.float64)
    alarms = np.empty(increments.size, dtype=np.bool_)
    s = 0.0
    for i, inc in enumerate(increments.tolist()):
        s, alarm = _step(s, inc, params)
        scores[i] = s
        alarms[i] = alarm
        if alarm and params.reset_on_alarm:
            s = 0.0
    return scatter(ok, scores, alarms)


def to_json(state: State) -> dict[str, Any]:
    return {"detector": NAME, "version": VERSION, "s": state.s}


def from_json(doc: Mapping[str, Any]) -> State:
    if doc.get("detector") != NAME or doc.get("version") != VERSION:
        raise ValueError(
            f"not a {NAME} v{VERSION} state: {dict(doc)!r}; restart the detector from initial()"
        )
    return State(float(doc["s"]))
