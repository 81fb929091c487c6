"""Queueing models of a contact centre: Erlang C (M/M/N) and Erlang A (M/M/N+M).

Why: "required handlers" (DESIGN.md, KPIs) is the smallest N for which Erlang A meets the
service-level standard for the current callers, handle time and patience, Erlang C where patience
is unknown. Erlang C lets nobody hang up, so in an overload it has no steady state and asks for
more handlers than a queue whose callers give up needs; Erlang A is stable at any load and also
says how many callers abandon.

Definitions (the NHS 111 minimum data set's, DESIGN.md KPIs):

- ``service_level`` = answered within the target / answered. Only answered callers count, as in
  the KPI "answered within 60 s / answered". ``answered_within_target_ratio`` = answered within
  the target / offered, the share of all callers (the textbook "service level" of Erlang A). The
  two are equal in Erlang C, where every caller is answered.
- ``p_wait``: the share of callers who find every handler busy (the Erlang C probability).
- ``asa_seconds``: mean wait of answered callers, those answered at once counting 0 s.
- ``occupancy``: carried load / N, the share of handler time spent on calls.
- ``abandon_ratio``: abandoned / offered (Erlang A); None for Erlang C, which has no abandonment:
  absent, not 0, so no one reads "nobody hangs up" into a model that cannot say.

All are steady-state probabilities for the next caller, not ratios of counts. With no calls the
next caller finds every handler free: service level 1, no wait, occupancy 0 (the limit as the
arrival rate falls to 0), so the figures stay continuous in the load; an observed ratio with no
denominator is None elsewhere in the project, but this is a prediction, not an observation.

Erlang C overloaded (offered load >= N) has no steady state: the queue grows without bound, so
every caller waits (``p_wait`` 1), none within a finite target (service level 0), the ASA is
infinite and the handlers are always busy (occupancy 1).

Numerics (stable to N = 1000 and beyond, no factorials): Erlang B by its recursion, in logs.
Erlang A follows Mandelbaum & Zeltyn, "The M/M/n+G queue: summary of performance measures"
(exponential patience). Relative to the stationary probability of "N busy, none queued", the
states with n < N weigh 1/B(N, a) - 1 and the queue states N + k weigh
prod_{i<=k} lam / (N mu + i theta). A caller who finds k queued reaches a handler after a sum of
exponentials of rates N mu + j theta, j = 0..k, unless they hang up first (rate theta); summing
over k gives the density of that wait in closed form, N mu exp(-N mu t + (lam / theta)(1 -
exp(-theta t))), whose integrals (killed at rate theta for the answered) give every measure. The
integrand is log-concave with a head of scale 1/theta and a tail of scale 1/(N mu), so it is taken
by Gauss-Legendre on segments as short as its local rate of change asks, in log space, over the
span where it is within e^-45 of its peak: nothing is cut off that could show in a double.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_GAUSS_X, _GAUSS_W = np.polynomial.legendre.leggauss(12)  # per segment; exact to degree 23
_STEP = 0.5  # a segment's log-integrand moves by about this: e^0.5 is a polynomial to 1e-16
_DROP = 45.0  # integrate where log(integrand) is within this of its peak: e^-45 ~ 3e-20
_BISECTIONS = 200  # enough to pin a span end to a double
_MAX_SEGMENTS = 20_000  # a backstop only
_MAX_PATIENT_CALLS = 1e12  # lam * patience: beyond, phi's ~1e12 magnitude eats the 45 of its span


@dataclass(frozen=True, slots=True)
class Performance:
    """Steady-state figures of one staffing level (definitions in the module docstring)."""

    agents: int
    service_level: float  # answered within target / answered (the NHS 111 KPI)
    answered_within_target_ratio: float  # answered within target / offered
    p_wait: float
    asa_seconds: float
    occupancy: float
    abandon_ratio: float | None  # None: Erlang C models no abandonment


def _number(name: str, value: float, *, zero_ok: bool, why: str) -> float:
    """`value` as a float, or a ValueError naming the argument and why it cannot be so."""
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if bad or not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}: {why}")
    return float(value)


def _rates(
    calls: float, interval_seconds: float, aht_seconds: float, target_seconds: float
) -> tuple[float, float, float]:
    """Validated arrival rate (calls/s), handle time and target (seconds)."""
    n = _number("calls", calls, zero_ok=True, why="a count of offered calls")
    span = _number("interval_seconds", interval_seconds, zero_ok=False, why="calls per no time")
    aht = _number("aht_seconds", aht_seconds, zero_ok=False, why="every call takes some time")
    target = _number("target_seconds", target_seconds, zero_ok=True, why="a wait limit")
    return n / span, aht, target


def _agents(agents: int) -> int:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise ValueError(
            f"agents must be a whole number >= 1, got {agents!r}: with nobody on the phones "
            "no call is answered and there is no service level to model"
        )
    return agents


def _log_inverse_erlang_b(load: float, agents: int) -> float:
    """log(1 / B(N, a)) = log sum_{n<=N} N! / n! a^(n-N) by the recursion 1/B(n) = 1 + n/a
    1/B(n-1), in logs so that a small load on many agents (1/B ~ N!/a^N) cannot overflow."""
    log_inv = 0.0
    for n in range(1, agents + 1):
        x = math.log(n) - math.log(load) + log_inv
        log_inv = x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))
    return log_inv


def _idle(agents: int, abandon_ratio: float | None) -> Performance:
    """No calls: the next caller finds every handler free (the limit as the load falls to 0)."""
    return Performance(agents, 1.0, 1.0, 0.0, 0.0, 0.0, abandon_ratio)


def erlang_c(
    *, calls: float, interval_seconds: float, aht_seconds: float, target_seconds: float, agents: int
) -> Performance:
    """Erlang C (M/M/N, nobody hangs up): the textbook formulas on Erlang B's recursion.

    ``calls`` offered over ``interval_seconds`` (pass interval_seconds=1 for a rate per second).
    C = N B / (N - a (1 - B)); service level = 1 - C exp(-(N - a) T / AHT); ASA = C AHT / (N - a).
    """
    lam, aht, target = _rates(calls, interval_seconds, aht_seconds, target_seconds)
    n = _agents(agents)
    load = lam * aht
    if load == 0:
        return _idle(n, None)
    if load >= n:
        return Performance(n, 0.0, 0.0, 1.0, math.inf, 1.0, None)
    blocking = math.exp(-_log_inverse_erlang_b(load, n))
    p_wait = n * blocking / (n - load * (1.0 - blocking))
    level = 1.0 - p_wait * math.exp(-(n - load) * target / aht)
    return Performance(n, level, level, p_wait, p_wait * aht / (n - load), load / n, None)


def _span(c: float, lam: float, theta: float) -> tuple[float, float]:
    """Where phi(t) = -c t + (lam/theta)(1 - e^(-theta t)) is within _DROP of its maximum.
    phi is concave (phi'' < 0) with its peak where lam e^(-theta t) = c, so bisection finds it."""

    def phi(t: float) -> float:
        return -c * t - lam / theta * math.expm1(-theta * t)

    peak = max(0.0, (math.log(lam) - math.log(c)) / theta)
    floor = phi(peak) - _DROP

    def cross(inside: float, outside: float) -> float:
        for _ in range(_BISECTIONS):
            mid = 0.5 * (inside + outside)
            if mid in (inside, outside):
                break
            inside, outside = (mid, outside) if phi(mid) > floor else (inside, mid)
        return outside

    lo = 0.0 if phi(0.0) >= floor else cross(peak, 0.0)
    step = 1.0 / c
    while phi(peak + step) > floor:
        step *= 2.0
    return lo, cross(peak, peak + step)


def _breakpoints(c: float, lam: float, theta: float, *, hang_up: bool) -> list[float]:
    """Segment ends over phi_c's span, each segment short enough that the log-integrand moves
    by about _STEP on it: the step is _STEP over the local rate of change, the larger of |phi'|
    and sqrt|phi''| (the width of the peak), and with ``hang_up`` theta e^(-theta t), the rate of
    the factor 1 - e^(-theta t) of the abandoning callers. The integrand has a head of scale
    1/theta and a tail of scale 1/c that can be 10^4 times longer, so equal steps cannot serve."""
    lo, hi = _span(c, lam, theta)
    points, t = [lo], lo
    for _ in range(_MAX_SEGMENTS):  # a few hundred in practice: |phi| moves by < ~150 in all
        decay = math.exp(-theta * t)
        rate = max(abs(lam * decay - c), math.sqrt(theta * lam * decay), 16 * _STEP / (hi - lo))
        rate = max(rate, theta * decay) if hang_up else rate
        t = min(hi, t + _STEP / rate)
        points.append(t)
        if t >= hi:
            break
    return points if points[-1] >= hi else [*points, hi]


def _nodes(points: list[float]) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights, one row per segment between consecutive points."""
    ends = np.asarray(points, dtype=np.float64)
    half = np.diff(ends)[:, None] / 2.0
    return ends[:-1, None] + half * (1.0 + _GAUSS_X), half * _GAUSS_W


def erlang_a(
    *,
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    target_seconds: float,
    agents: int,
    patience_seconds: float,
) -> Performance:
    """Erlang A (M/M/N+M, FIFO): callers hang up after an exponential patience of mean
    ``patience_seconds``; an abandoned caller uses no handler. Stable at any load.

    Weights are relative to the state "N busy, none queued" and kept in logs (module
    docstring): the waiting callers' wait density N mu e^phi0(t) with phi0 = -N mu t + (lam /
    theta)(1 - e^(-theta t)), and e^phi1 = e^(phi0 - theta t) for those not hanging up first.
    """
    lam, aht, target = _rates(calls, interval_seconds, aht_seconds, target_seconds)
    n = _agents(agents)
    patience = _number(
        "patience_seconds", patience_seconds, zero_ok=False, why="mean time before hanging up"
    )
    if lam * patience > _MAX_PATIENT_CALLS:
        raise ValueError(
            f"calls per second x patience_seconds must be <= {_MAX_PATIENT_CALLS:g}, got "
            f"{lam * patience:.3g}: more callers arriving within one mean patience than double "
            "precision can model; check the units of calls, interval_seconds and patience_seconds"
        )
    if lam == 0:
        return _idle(n, 0.0)
    theta, c = 1.0 / patience, n / aht  # hang-up rate, handlers' completion rate

    def log_phi(t: FloatArray, rate: float) -> FloatArray:
        return -rate * t - lam / theta * np.expm1(-theta * t)

    def log_sum(values: FloatArray, shift: float) -> float:
        total = float(values.sum())
        return math.log(c) + shift + math.log(total) if total > 0 else -math.inf

    t0, w0 = _nodes(_breakpoints(c, lam, theta, hang_up=True))
    exponent = log_phi(t0, c)
    shift0 = float(exponent.max())
    waiting = w0 * np.exp(exponent - shift0)
    log_wait = log_sum(waiting, shift0)
    log_abandon = log_sum(-waiting * np.expm1(-theta * t0), shift0)  # no J0 - J1 cancellation

    ends = _breakpoints(c + theta, lam, theta, hang_up=False)
    ends = sorted({*ends, target}) if ends[0] < target < ends[-1] else ends
    t1, w1 = _nodes(ends)
    exponent = log_phi(t1, c + theta)
    shift1 = float(exponent.max())
    served = w1 * np.exp(exponent - shift1)
    log_served = log_sum(served, shift1)
    log_within = log_sum(served[np.asarray(ends[1:]) <= target], shift1)
    log_wait_time = log_sum(served * t1, shift1)

    log_inv = _log_inverse_erlang_b(lam * aht, n)
    log_low = log_inv + math.log(-math.expm1(-log_inv))  # log(1/B - 1): states n < N
    log_total = float(np.logaddexp(log_low, log_wait))
    log_answered = float(np.logaddexp(log_low, log_served))
    log_on_time = float(np.logaddexp(log_low, log_within))
    p_answered = math.exp(log_answered - log_total)
    return Performance(
        agents=n,
        service_level=min(1.0, math.exp(log_on_time - log_answered)),
        answered_within_target_ratio=min(1.0, math.exp(log_on_time - log_total)),
        p_wait=min(1.0, math.exp(log_wait - log_total)),
        asa_seconds=math.exp(log_wait_time - log_answered),
        occupancy=min(1.0, lam * aht * p_answered / n),
        abandon_ratio=min(1.0, math.exp(log_abandon - log_total)),
    )


def performance(
    *,
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    target_seconds: float,
    agents: int,
    patience_seconds: float | None = None,
) -> Performance:
    """Erlang A when the callers' patience is known, Erlang C otherwise (DESIGN.md, KPIs)."""
    if patience_seconds is None:
        return erlang_c(
            calls=calls, interval_seconds=interval_seconds, aht_seconds=aht_seconds,
            target_seconds=target_seconds, agents=agents,
        )  # fmt: skip
    return erlang_a(
        calls=calls, interval_seconds=interval_seconds, aht_seconds=aht_seconds,
        target_seconds=target_seconds, agents=agents, patience_seconds=patience_seconds,
    )  # fmt: skip


def required_agents(
    *,
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    target_seconds: float,
    service_level_target: float,
    patience_seconds: float | None = None,
    max_agents: int | None = None,
) -> int:
    """The smallest N whose ``service_level`` (answered within target / answered) is at least
    ``service_level_target``: Erlang A with ``patience_seconds``, Erlang C without.

    0 when there are no calls (no caller, no handler needed). The service level grows with N,
    so N is found by bisection between a lower bound (Erlang C: the first stable N, floor(a) +
    1) and ``max_agents``, by default a + 10 sqrt(a) + 10: square-root staffing with a safety
    factor of 10, where fewer than 1e-20 of callers wait. A target that this cannot meet raises
    ValueError.
    """
    lam, aht, _ = _rates(calls, interval_seconds, aht_seconds, target_seconds)
    goal = service_level_target
    if isinstance(goal, bool) or not isinstance(goal, int | float) or not 0 < goal < 1:
        raise ValueError(
            f"service_level_target must be a share strictly between 0 and 1, got {goal!r}: "
            "no finite staff answers every Poisson caller within a target"
        )
    if patience_seconds is not None:
        _number("patience_seconds", patience_seconds, zero_ok=False, why="mean time to hang up")
    load = lam * aht
    if load == 0:
        return 0
    top = math.ceil(load + 10.0 * math.sqrt(load) + 10.0) if max_agents is None else max_agents
    low = 1 if patience_seconds is not None else math.floor(load) + 1

    def meets(n: int) -> bool:
        level = performance(
            calls=calls, interval_seconds=interval_seconds, aht_seconds=aht_seconds,
            target_seconds=target_seconds, agents=n, patience_seconds=patience_seconds,
        ).service_level  # fmt: skip
        return level >= goal

    if isinstance(top, bool) or not isinstance(top, int) or top < low or not meets(top):
        raise ValueError(
            f"no staffing from {low} to {top} agents meets a service level of {goal} within "
            f"{target_seconds} s at {load:.4g} Erlangs offered: raise max_agents or lower "
            "the target"
        )
    if meets(low):
        return low
    bad, good = low, top  # invariant: meets(good) and not meets(bad)
    while good - bad > 1:
        mid = (bad + good) // 2
        bad, good = (bad, mid) if meets(mid) else (mid, good)
    return good
