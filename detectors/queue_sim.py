"""A seeded discrete-event simulation of the M/M/N+M queue: the check on Erlang A
(detectors/erlang.py) and the readiness prediction's second opinion, with a confidence interval.

The model is Erlang A's: Poisson arrivals, exponential handle time and patience, N handlers,
one FIFO queue; a caller whose patience runs out before a handler is free hangs up and uses no
handler. FIFO makes the simulation one pass over the callers in arrival order: each caller's
wait is the time until the earliest handler is free (a heap of the times each handler is next
free), known on arrival, because only earlier callers who were answered occupy the handlers.

One interval is simulated as the steady state it is meant to stand for: the queue starts empty
`warmup_seconds` before the interval (by default three times handle time plus patience, the
time it takes to forget the empty start), and only callers arriving within the interval are
counted. Every random draw comes from a generator seeded by the caller (`numpy` PCG64).

Replications give a Student-t confidence interval on each figure's mean over independent seeds
(`replicate`); a figure that no replication can give (nothing answered: no service level, no
ASA) is None.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

# Two-sided 95 % Student t quantiles for 1..30 degrees of freedom; beyond, 1.96 + 2.4 / df
# (within 0.002 of the exact value from 31 on).
_T975: Final = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
                2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
                2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip
WARMUP_FACTOR: Final = 3.0


@dataclass(frozen=True, slots=True)
class Run:
    """The counted callers of one simulated interval and their figures (None: no denominator)."""

    offered: int
    answered: int
    within_target: int
    abandoned: int
    waited: int  # found every handler busy
    wait_seconds_total: float  # of the answered

    @property
    def service_level(self) -> float | None:
        """Answered within the target / answered (the NHS 111 KPI)."""
        return self.within_target / self.answered if self.answered else None

    @property
    def abandon_ratio(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None

    @property
    def asa_seconds(self) -> float | None:
        return self.wait_seconds_total / self.answered if self.answered else None

    @property
    def p_wait(self) -> float | None:
        return self.waited / self.offered if self.offered else None


@dataclass(frozen=True, slots=True)
class Interval95:
    """Mean over the replications that had the figure, and its 95 % confidence interval."""

    mean: float
    low: float
    high: float
    runs: int

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Estimate:
    """Each figure over the replications; None where fewer than two replications had it."""

    service_level: Interval95 | None
    abandon_ratio: Interval95 | None
    asa_seconds: Interval95 | None
    p_wait: Interval95 | None
    replications: int


def queue(
    arrivals_s: list[float],
    handles_s: list[float],
    patiences_s: list[float],
    *,
    agents: int,
    target_seconds: float,
    count_from_s: float = -math.inf,
    count_to_s: float = math.inf,
) -> Run:
    """FIFO M/M/N+M over the given callers (arrival order); counts those arriving in
    [count_from_s, count_to_s). Earlier callers warm the queue up."""
    if agents < 1:
        raise ValueError(f"agents must be >= 1, got {agents}: nobody to simulate answering")
    free = [-math.inf] * agents  # a heap of the times each handler is next free
    offered = answered = within = abandoned = waited = 0
    wait_total = 0.0
    for a, h, p in zip(arrivals_s, handles_s, patiences_s, strict=True):
        wait = max(0.0, free[0] - a)
        served = wait <= p
        if served:
            heapq.heapreplace(free, a + wait + h)
        if not count_from_s <= a < count_to_s:
            continue
        offered += 1
        waited += wait > 0
        if served:
            answered += 1
            within += wait <= target_seconds
            wait_total += wait
        else:
            abandoned += 1
    return Run(offered, answered, within, abandoned, waited, wait_total)


def simulate_interval(
    *,
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    patience_seconds: float,
    target_seconds: float,
    agents: int,
    rng: np.random.Generator,
    warmup_seconds: float | None = None,
) -> Run:
    """One replication of an interval offered `calls` expected callers (Poisson at the rate
    calls / interval_seconds) in steady state: the queue starts empty `warmup_seconds` earlier
    (default WARMUP_FACTOR x (handle time + patience)) and only the interval's callers count."""
    for name, value in (("interval_seconds", interval_seconds), ("aht_seconds", aht_seconds),
                        ("patience_seconds", patience_seconds)):  # fmt: skip
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not (math.isfinite(calls) and calls >= 0):
        raise ValueError(f"calls must be a finite number >= 0, got {calls!r}")
    warm = WARMUP_FACTOR * (aht_seconds + patience_seconds)
    warm = warm if warmup_seconds is None else warmup_seconds
    rate = calls / interval_seconds
    n = int(rng.poisson(rate * (warm + interval_seconds))) if rate > 0 else 0
    arrivals = np.sort(rng.uniform(-warm, interval_seconds, n))
    handles = rng.exponential(aht_seconds, n)
    patiences = rng.exponential(patience_seconds, n)
    return queue(
        arrivals.tolist(), handles.tolist(), patiences.tolist(), agents=agents,
        target_seconds=target_seconds, count_from_s=0.0, count_to_s=interval_seconds,
    )  # fmt: skip


def t975(df: int) -> float:
    """The two-sided 95 % Student t quantile for `df` >= 1 degrees of freedom."""
    if df < 1:
        raise ValueError(f"a confidence interval needs at least 2 replications (df {df})")
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def interval95(
    values: list[float], lowest: float = -math.inf, highest: float = math.inf
) -> Interval95 | None:
    """Mean and Student-t 95 % interval of independent replications, the interval cut to the
    figure's range [lowest, highest] (a share is never below 0); None under two runs."""
    if len(values) < 2:
        return None
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    half = t975(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return Interval95(mean, max(lowest, mean - half), min(highest, mean + half), len(x))


def replicate(
    *,
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    patience_seconds: float,
    target_seconds: float,
    agents: int,
    replications: int,
    seed: int | list[int],
    warmup_seconds: float | None = None,
) -> Estimate:
    """`replications` independent runs of the interval (child seeds of `seed`), each figure's
    mean with its 95 % interval over the runs that had it."""
    if replications < 2:
        raise ValueError(f"replications must be >= 2 for an interval, got {replications}")
    runs = [
        simulate_interval(
            calls=calls, interval_seconds=interval_seconds, aht_seconds=aht_seconds,
            patience_seconds=patience_seconds, target_seconds=target_seconds, agents=agents,
            rng=rng, warmup_seconds=warmup_seconds,
        )
        for rng in np.random.default_rng(seed).spawn(replications)
    ]  # fmt: skip

    def figure(values: list[float | None], highest: float = 1.0) -> Interval95 | None:
        return interval95([v for v in values if v is not None], 0.0, highest)

    return Estimate(
        service_level=figure([r.service_level for r in runs]),
        abandon_ratio=figure([r.abandon_ratio for r in runs]),
        asa_seconds=figure([r.asa_seconds for r in runs], math.inf),
        p_wait=figure([r.p_wait for r in runs]),
        replications=replications,
    )
