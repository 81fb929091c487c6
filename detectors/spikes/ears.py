"""CDC EARS C1, C2 and C3: Shewhart-like charts on a short moving baseline.

Published definitions (Hutwagner et al. 2003, "The bioterrorism preparedness and response Early
Aberration Reporting System (EARS)", J. Urban Health 80(2 Suppl 1):i89-i96; Hutwagner et al. 2005,
Stat. Med. 24:543-550; written out in Fricker, Hegler & Dunfee 2008, Stat. Med. 27:3407-3429):
with Y_t the count of period t and mean/sd the sample mean and standard deviation (n - 1),

- C1: baseline = the 7 periods t-7 .. t-1; C1_t = (Y_t - mean) / sd; signal if C1_t > 3.
- C2: baseline = t-9 .. t-3 (a 2-period guard band keeps the start of an outbreak out of its
  own baseline); C2_t = (Y_t - mean) / sd; signal if C2_t > 3.
- C3: C3_t = sum over i = 0, 1, 2 of max(0, C2_{t-i} - 1); signal if C3_t > 2.

Adaptations, both explicit in ``Params``:

- A period is one interval of the stream (15 minutes), not a day. EARS was built for daily
  counts with short histories; on quarter-hours its 7-period baseline spans 1 h 45 min, so the
  evening rise of the diurnal curve looks like an aberration. ``seasonal=True`` runs the same
  statistics on the residuals Y_t - expected_t against the hour-of-week baseline instead of on
  the counts (an adaptation of ours, not published EARS); the default is the published form on
  counts, which ignores ``expected``.
- ``min_sd`` floors the standard deviation (surveillance::earsC's ``minSigma``, whose default 0
  divides by zero on a baseline of equal counts, e.g. seven empty night intervals). Ours is 1.0,
  our choice: after seven zeros it takes four referrals in a quarter-hour, not one, to alarm.

Warm-up: neutral until the baseline is full (C1: 7 usable intervals before, C2: 9) and, for C3,
until the two previous C2 values exist (11 intervals), as in surveillance::earsC's ranges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detectors.spikes.interface import (
    NEUTRAL,
    BoolArray,
    FloatArray,
    Score,
    check_point,
    check_series,
    scatter,
)

NAME = "ears"
VERSION = 1

Method = Literal["C1", "C2", "C3"]
_GUARD = {"C1": 0, "C2": 2, "C3": 2}  # periods between the baseline and the tested one
_LIMIT = {"C1": 3.0, "C2": 3.0, "C3": 2.0}  # published signal thresholds
C3_LAGS = 3  # C3 sums the current and the two previous C2 values


@dataclass(frozen=True, slots=True)
class Params:
    method: Method = "C2"
    baseline: int = 7  # periods in the baseline (published: 7)
    limit: float | None = None  # signal threshold; None = published (C1, C2: 3; C3: 2)
    min_sd: float = 1.0
    seasonal: bool = False  # True: test residuals count - expected (our adaptation, see above)

    def __post_init__(self) -> None:
        if self.method not in _GUARD:
            raise ValueError(f"method {self.method!r} must be C1, C2 or C3")
        if self.baseline < 2 or not self.min_sd > 0:
            raise ValueError("baseline needs at least 2 periods and min_sd must be positive")

    @property
    def guard(self) -> int:
        return _GUARD[self.method]

    @property
    def threshold(self) -> float:
        return _LIMIT[self.method] if self.limit is None else self.limit


@dataclass(frozen=True, slots=True)
class State:
    history: tuple[
        float, ...
    ] = ()  # last baseline + guard values of the tested series, oldest first
    c2: tuple[float, ...] = ()  # C3 only: the last (up to) two C2 values, oldest first


def initial(params: Params) -> State:
    return State()


def _statistic(windows: FloatArray, values: FloatArray, params: Params) -> FloatArray:
    """(value - mean) / max(sd, min_sd) per row of baseline windows: the kernel of both paths.

    Sums run column by column in a fixed order, so a row gives the same bits whether it is
    alone (online) or one of many (offline).
    """
    n = windows.shape[1]
    total = windows[:, 0]
    for k in range(1, n):
        total = total + windows[:, k]
    mean = total / n
    squares = (windows[:, 0] - mean) ** 2
    for k in range(1, n):
        squares = squares + (windows[:, k] - mean) ** 2
    sd = np.sqrt(squares / (n - 1))
    out: FloatArray = (values - mean) / np.maximum(sd, params.min_sd)
    return out


def _c3(c2_lag2: FloatArray, c2_lag1: FloatArray, c2: FloatArray) -> FloatArray:
    out: FloatArray = (
        np.maximum(c2_lag2 - 1.0, 0.0) + np.maximum(c2_lag1 - 1.0, 0.0)
    ) + np.maximum(c2 - 1.0, 0.0)
    return out


def _value(count: float, expected: float, params: Params) -> float:
    return count - expected if params.seasonal else count


def update(state: State, count: float, expected: float, params: Params) -> tuple[State, Score]:
    # On counts, a NaN expected value (baseline warming up) does not matter; a negative one does.
    ignored = not params.seasonal and math.isnan(expected)
    if not check_point(count, 0.0 if ignored else expected):
        return state, NEUTRAL
    y = _value(count, expected, params)
    span = params.baseline + params.guard
    history = state.history
    if len(history) < span:
        return State((*history, y), state.c2), NEUTRAL
    window = np.array([history[: params.baseline]])
    c = _statistic(window, np.array([y]), params)
    history = (*history[1:], y)
    if params.method != "C3":
        value = c.item()
        return State(history, ()), Score(value, value > params.threshold)
    c2 = (*state.c2, c.item())
    if len(c2) < C3_LAGS:
        return State(history, c2), NEUTRAL
    value = _c3(np.array([c2[0]]), np.array([c2[1]]), c).item()
    return State(history, c2[1:]), Score(value, value > params.threshold)


def run(counts: FloatArray, expected: FloatArray, params: Params) -> tuple[FloatArray, BoolArray]:
    c, e = check_series(counts, expected)
    ok = ~np.isnan(c)
    if params.seasonal:
        ok &= ~np.isnan(e)
    y = c[ok] - e[ok] if params.seasonal else c[ok]
    span = params.baseline + params.guard
    scores = np.zeros(y.size, dtype=np.float64)
    if y.size > span:
        windows = sliding_window_view(y[: y.size - params.guard - 1], params.baseline)
        stats = _statistic(windows, y[span:], params)
        if params.method != "C3":
            scores[span:] = stats
        elif stats.size >= C3_LAGS:
            scores[span + C3_LAGS - 1 :] = _c3(stats[:-2], stats[1:-1], stats[2:])
    return scatter(ok, scores, scores > params.threshold)


def to_json(state: State) -> dict[str, Any]:
    return {
        "detector": NAME,
        "version": VERSION,
        "history": list(state.history),
        "c2": list(state.c2),
    }


def from_json(doc: Mapping[str, Any]) -> State:
    if doc.get("detector") != NAME or doc.get("version") != VERSION:
        raise ValueError(
            f"not a {NAME} v{VERSION} state: {dict(doc)!r}; restart the detector from initial()"
        )
    return State(tuple(float(v) for v in doc["history"]), tuple(float(v) for v in doc["c2"]))
