"""EWMA of standardised residuals against the seasonal expected count.

Definition (Roberts 1959, "Control chart tests based on geometric moving averages",
Technometrics 1(3):239-250; limits as in Lucas & Saccucci 1990, "Exponentially weighted moving
average control schemes", Technometrics 32(1):1-12): Z_t = lam * r_t + (1 - lam) * Z_{t-1},
Z_0 = 0, with the exact variance Var(Z_t) = lam / (2 - lam) * (1 - (1 - lam)^(2t)) for unit-variance
inputs; signal when Z_t > L * sqrt(Var(Z_t)).

Adaptation: the inputs are Pearson residuals of the counts against the seasonal baseline,
r_t = (x_t - mu_t) / sqrt(mu_t) (mean 0, variance 1 if counts are Poisson with mean mu_t), so
one chart serves every hour of the week. Only the upper limit alarms. The score is
Z_t / sqrt(Var(Z_t)), in the units of L. Lucas & Saccucci's normal-theory run lengths hold only
roughly: at a quarter-hour expecting half a referral the residuals are very skewed.
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

NAME = "ewma"
VERSION = 1


@dataclass(frozen=True, slots=True)
class Params:
    # lam = 0.2, L = 2.962: Lucas & Saccucci 1990's design for an in-control ARL of about 500
    # (two-sided chart, normal data; reprinted in Montgomery, "Introduction to Statistical
    # Quality Control"). This one-sided chart alarms about half as often on normal data.
    lam: float = 0.2
    limit: float = 2.962
    min_expected: float = MIN_EXPECTED

    def __post_init__(self) -> None:
        if not 0 < self.lam <= 1 or not self.limit > 0 or not self.min_expected > 0:
            raise ValueError("lam must be in (0, 1], limit and min_expected positive")


@dataclass(frozen=True, slots=True)
class State:
    z: float = 0.0
    decay: float = 1.0  # (1 - lam)^(2t) after t usable intervals, for the exact variance


def initial(params: Params) -> State:
    return State()


def _step(z: float, decay: float, residual: float, params: Params) -> tuple[float, float, float]:
    """(z, decay, score) after one residual, on Python floats; both paths use it."""
    keep = 1.0 - params.lam
    z = params.lam * residual + keep * z
    decay = decay * (keep * keep)
    variance = params.lam / (2.0 - params.lam) * (1.0 - decay)
    return z, decay, z / math.sqrt(variance)


def _residuals(counts: FloatArray, expected: FloatArray, params: Params) -> FloatArray:
    e = np.maximum(expected, params.min_expected)
    out: FloatArray = (counts - e) / np.sqrt(e)
    return out


def update(state: State, count: float, expected: float, params: Params) -> tuple[State, Score]:
    if not check_point(count, expected):
        return state, NEUTRAL
    residual = _residuals(np.array([count]), np.array([expected]), params).item()
    z, decay, score = _step(state.z, state.decay, residual, params)
    return State(z, decay), Score(score, score > params.limit)


def run(counts: FloatArray, expected: FloatArray, params: Params) -> tuple[FloatArray, BoolArray]:
    c, e = check_series(counts, expected)
    ok = usable(c, e)
    residuals = _residuals(c[ok], e[ok], params)
    scores = np.empty(residuals.size, dtype=np.float64)
    z, decay = 0.0, 1.0
    for i, r in enumerate(residuals.tolist()):
        z, decay, scores[i] = _step(z, decay, r, params)
    return scatter(ok, scores, scores > params.limit)


def to_json(state: State) -> dict[str, Any]:
    return {"detector": NAME, "version": VERSION, "z": state.z, "decay": state.decay}


def from_json(doc: Mapping[str, Any]) -> State:
    if doc.get("detector") != NAME or doc.get("version") != VERSION:
        raise ValueError(
            f"not a {NAME} v{VERSION} state: {dict(doc)!r}; restart the detector from initial()"
        )
    return State(float(doc["z"]), float(doc["decay"]))
