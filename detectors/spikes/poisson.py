"""Exact Poisson upper-bound test of a count against the seasonal expected count.

Definition: under the null, the count of an interval is Poisson with the baseline's expected
value mu; the one-sided p-value of a count x is p = P(X >= x | mu), and the test alarms when
p < alpha (the exact test behind the "upper bound" of count surveillance, e.g. the Poisson
prediction limits of Farrington et al. 1996, J. R. Stat. Soc. A 159:547, before their
overdispersion correction). With ``window`` > 1 the test is applied to the sum of the last
``window`` counts against the sum of their expected values (a sum of independent Poissons is
Poisson), which trades a little delay for power against sustained surges.

Score: the one-sided normal equivalent z = Phi^-1(1 - p), clipped at 0 below (a count at or
under its expectation is not surprising, and x = 0 would give -inf). It is computed from log p,
so a count far in the tail gets a large finite score instead of p underflowing to 0.

No scipy: the tail is summed from its definition (the series of Poisson probabilities, per
element with its own stopping point), lgamma comes from :func:`math.lgamma`, and the normal
quantile is Wichura's AS241 (Applied Statistics 37:477-484, 1988; accurate to about 1e-16),
evaluated on log p in the tail so that it never sees a p that has underflowed.
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

NAME = "poisson"
VERSION = 1

_EPS = 1e-17  # a series stops when its next term adds less than this relative amount


@dataclass(frozen=True, slots=True)
class Params:
    # One-sided level per test. 0.001: the level surveillance::earsC (Salmon, Schumacher & Hoehle
    # 2016, J. Stat. Softw. 70(10)) uses for C1/C2 (z = 3.09). With 96 quarter-hours a day the
    # null gives at most 0.67 alarms per region-week, fewer because counts are discrete.
    alpha: float = 0.001
    window: int = 1  # intervals summed before testing (1: each interval on its own)
    min_expected: float = MIN_EXPECTED

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1 or self.window < 1 or not self.min_expected > 0:
            raise ValueError("alpha must be in (0, 1), window >= 1, min_expected positive")


@dataclass(frozen=True, slots=True)
class State:
    # The last window - 1 usable intervals, oldest first: (count, expected after the floor).
    recent: tuple[tuple[float, float], ...] = ()


def initial(params: Params) -> State:
    return State()


def _lgamma(a: FloatArray) -> FloatArray:
    return np.array([math.lgamma(v) for v in a.tolist()], dtype=np.float64)


def log_upper_tail(counts: FloatArray, mu: FloatArray) -> FloatArray:
    """log P(X >= count) for X ~ Poisson(mu), element-wise; counts rounded up, mu > 0.

    Above the mean the tail is summed directly, P(X >= n) = P(X = n) * sum_j mu^j / ((n+1)...(n+j)),
    so a tiny p keeps its digits. At or below the mean p is at least about 0.4 and is computed as
    1 - P(X <= n-1), summing P(X <= n-1) = P(X = n-1) * sum_j (n-1)...(n-j) / mu^j.
    """
    n = np.ceil(np.asarray(counts, dtype=np.float64))
    mu = np.asarray(mu, dtype=np.float64)
    out = np.zeros(n.shape, dtype=np.float64)
    upper = n > mu
    lower = (n >= 1) & ~upper
    if upper.any():
        nn, m = n[upper], mu[upper]
        term = np.ones(nn.shape)
        total = np.ones(nn.shape)
        active = np.ones(nn.shape, dtype=np.bool_)
        j = 0
        while active.any():
            j += 1
            term = np.where(active, term * m / (nn + j), term)
            total = np.where(active, total + term, total)
            active &= term > total * _EPS
        out[upper] = nn * np.log(m) - m - _lgamma(nn + 1.0) + np.log(total)
    if lower.any():
        nn, m = n[lower], mu[lower]
        term = np.ones(nn.shape)
        total = np.ones(nn.shape)
        active = nn > 1
        j = 0
        while active.any():
            j += 1
            term = np.where(active, term * (nn - j) / m, term)
            total = np.where(active, total + term, total)
            active &= (term > total * _EPS) & (nn - j > 1)
        below = np.exp((nn - 1.0) * np.log(m) - m - _lgamma(nn) + np.log(total))
        out[lower] = np.log1p(-below)
    return out


# AS241 (PPND16) coefficients, lowest degree first.
_A = (3.3871328727963666080, 1.3314166789178437745e2, 1.9715909503065514427e3,
      1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
      3.3430575583588128105e4, 2.5090809287301226727e3)  # fmt: skip
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
      5.2264952788528545610e3)  # fmt: skip
_C = (1.42343711074968357734, 4.63033784615654529590, 5.76949722146069140550,
      3.64784832476320460504, 1.27045825245236838258, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)  # fmt: skip
_D = (1.0, 2.05319162663775882187, 1.67638483018380384940, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)  # fmt: skip
_E = (6.65790464350110377720, 5.46378491116411436990, 1.78482653991729133580,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)  # fmt: skip
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)  # fmt: skip


def _poly(coefficients: tuple[float, ...], x: FloatArray) -> FloatArray:
    value = np.full(x.shape, coefficients[-1])
    for c in coefficients[-2::-1]:
        value = value * x + c
    return value


def upper_z(log_p: FloatArray) -> FloatArray:
    """z with P(Z >= z) = p for a standard normal Z, from log p (AS241); -inf where p = 1."""
    log_p = np.asarray(log_p, dtype=np.float64)
    with np.errstate(all="ignore"):  # every branch is computed everywhere, then one is kept
        p = np.exp(log_p)
        q = 0.5 - p
        r = 0.180625 - q * q
        central = q * _poly(_A, r) / _poly(_B, r)

        def tail(r: FloatArray) -> FloatArray:
            near = _poly(_C, r - 1.6) / _poly(_D, r - 1.6)
            far = _poly(_E, r - 5.0) / _poly(_F, r - 5.0)
            return np.where(r <= 5.0, near, far)

        small_p = tail(np.sqrt(-log_p))
        large_p = -tail(np.sqrt(-np.log(-np.expm1(log_p))))
        z = np.where(np.abs(q) <= 0.425, central, np.where(q > 0, small_p, large_p))
    out: FloatArray = np.where(log_p >= 0.0, -np.inf, z)
    return out


def _test(counts: FloatArray, expected: FloatArray, params: Params) -> tuple[FloatArray, BoolArray]:
    """(score, alarm) of summed counts against summed expected values; the kernel of both paths."""
    log_p = log_upper_tail(counts, expected)
    scores: FloatArray = np.maximum(upper_z(log_p), 0.0)
    alarms: BoolArray = log_p < math.log(params.alpha)
    return scores, alarms


def update(state: State, count: float, expected: float, params: Params) -> tuple[State, Score]:
    if not check_point(count, expected):
        return state, NEUTRAL
    e = max(expected, params.min_expected)
    keep = params.window - 1
    recent = state.recent
    if len(recent) < keep:
        return State((*recent, (count, e))), NEUTRAL
    count_sum, expected_sum = count, e
    if keep:
        count_sum, expected_sum = recent[0]
        for c, x in (*recent[1:], (count, e)):
            count_sum += c
            expected_sum += x
    scores, alarms = _test(np.array([count_sum]), np.array([expected_sum]), params)
    new = State((*recent[1:], (count, e))) if keep else state
    return new, Score(scores.item(), bool(alarms.item()))


def run(counts: FloatArray, expected: FloatArray, params: Params) -> tuple[FloatArray, BoolArray]:
    c, e = check_series(counts, expected)
    ok = usable(c, e)
    c, e = c[ok], np.maximum(e[ok], params.min_expected)
    w = params.window
    n = c.size - w + 1  # intervals with a full window behind them
    scores = np.zeros(c.size, dtype=np.float64)
    alarms = np.zeros(c.size, dtype=np.bool_)
    if n > 0:
        count_sum, expected_sum = c[:n], e[:n]
        for k in range(1, w):  # oldest first, as update adds them
            count_sum = count_sum + c[k : k + n]
            expected_sum = expected_sum + e[k : k + n]
        scores[w - 1 :], alarms[w - 1 :] = _test(count_sum, expected_sum, params)
    return scatter(ok, scores, alarms)


def to_json(state: State) -> dict[str, Any]:
    return {
        "detector": NAME,
        "version": VERSION,
        "recent": [[c, e] for c, e in state.recent],
    }


def from_json(doc: Mapping[str, Any]) -> State:
    if doc.get("detector") != NAME or doc.get("version") != VERSION:
        raise ValueError(
            f"not a {NAME} v{VERSION} state: {dict(doc)!r}; restart the detector from initial()"
        )
    return State(tuple((float(c), float(e)) for c, e in doc["recent"]))
