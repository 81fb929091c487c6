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

from collections.abc import Mapping
from typing import Any

from detectors.spikes import cusum, ears, ewma, poisson, threshold
from detectors.spikes.interface import (
    MIN_EXPECTED,
    NEUTRAL,
    BoolArray,
    FloatArray,
    Score,
    SpikeDetector,
    check_point,
    check_series,
    fold,
    scatter,
    usable,
)

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
