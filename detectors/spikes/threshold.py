"""Fixed-threshold rule: alarm when the count exceeds a fixed multiple of the expected count.

The naive rule a dashboard threshold implements ("more than twice the usual"), kept as the
yardstick the statistical tests must beat. It has no memory and ignores how noisy a small count
is, so at night, when a region expects half a referral a quarter-hour, two referrals alarm.
Score: the relative excess ``count / expected - 1`` (0 when on baseline, 1 at double).
"""

from __future__ import annotations

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

NAME = "threshold"


@dataclass(frozen=True, slots=True)
class Params:
    # Alarm when count > factor * expected. 2.0: the headline surge (x2); no published
    # source, it is the rule of thumb this module stands for.
    factor: float = 2.0
    min_expected: float = MIN_EXPECTED

    def __post_init__(self) -> None:
        if not self.factor > 0 or not self.min_expected > 0:
            raise ValueError("factor and min_expected must be positive")


@dataclass(frozen=True, slots=True)
class State:
    """Stateless rule; the empty state keeps the interface uniform."""


def initial(params: Params) -> State:
    return State()


def update(state: State, count: float, expected: float, params: Params) -> tuple[State, Score]:
    if not check_point(count, expected):
        return state, NEUTRAL
    e = max(expected, params.min_expected)
    return state, Score(count / e - 1.0, count > params.factor * e)


def run(counts: FloatArray, expected: FloatArray, params: Params) -> tuple[FloatArray, BoolArray]:
    c, e = check_series(counts, expected)
    ok = usable(c, e)
    c, e = c[ok], np.maximum(e[ok], params.min_expected)
    return scatter(ok, c / e - 1.0, c > params.factor * e)


def to_json(state: State) -> dict[str, Any]:
    return {"detector": NAME}


def from_json(doc: Mapping[str, Any]) -> State:
    if doc.get("detector") != NAME:
        raise ValueError(f"not a {NAME} state: {dict(doc)!r}")
    return State()
