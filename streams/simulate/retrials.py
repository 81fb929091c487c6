"""Callers who give up and try again (Scenario.retrials): each attempt is a call of its own, on the
same provider's queue, carrying `attempt` and `first_attempt_ts` (DESIGN.md, retrials).

A caller who abandons retries with a probability that rises with the wait they gave up after,
after a random delay, at most `MAX_ATTEMPTS` attempts in all; the retry joins the same FIFO queue
(streams.simulate.shifts.Queue) as every fresh caller, so the handlers who answer it are the ones
whose agent states the generator emits, and retrials add load and feed back: in a collapse they
lengthen the queue that made the callers give up.

Calibration (an assumption where no figure is published; none is for NHS 111):

- Retrial probability `p(w) = P_QUICK + (P_PATIENT - P_QUICK) (1 - exp(-w / P_SCALE_S))` for a
  caller who gave up after waiting w: 0.35 at a quick hang-up, 0.63 after 3 minutes, 0.78 after
  10, never above 0.80. The floor is the call-centre rule of thumb that "33 percent of the
  customers who abandon will retry", which its source warns depends on the caller's need (Response
  Design Corporation, FastFact "Caller retry behavior: ensuring call backs",
  responsedesign.com/fastfact/ensuringcallback.html); a sales line measured 14 % calling back
  (lead2call, vc.ru, 2023). A 111 caller has a health need, so more of them try again, and the
  longer they waited the more they needed it: callers with a more urgent need are the more patient
  ones (Gans, Koole and Mandelbaum, "Telephone call centers: tutorial, review, and research
  prospects", MSOM 5(2), 2003, the impatience of priority customers), and a long wait is effort
  already spent. The fifth who never retry are those who called 999, went to A&E or gave up:
  in 2013 callers "resorted to other measures" (BBC News, 26 March 2013), the rise in ambulance
  call-outs the generator already models (generator.REDIAL_999_UPLIFT).
- Delay from the hang-up to the redial: `REDIAL_MIN_S` plus a lognormal with median
  `REDIAL_MEDIAN_S` (4 min) and shape `REDIAL_SIGMA` (1.0): mean 7 minutes, 90 % within 15.
  Retrial models fitted to call-centre data put the redials of abandoned callers minutes, not
  hours, after the abandonment (an "orbit" of redialling callers: Ding, Koole and van der Mei, "A
  method for estimation of redial and reconnect probabilities in call centers", Winter Simulation
  Conference 2013; Ding, Remerova, van der Mei and Zwart, "Fluid approximation of a call center
  model with redials and reconnects", arXiv:1311.6248); the figures are ours (those papers give
  the model, their fitted values are for a commercial centre), chosen so most retry while the
  need is pressing and some wait for a better moment.
- Patience of a retry: exponential, `RETRY_PATIENCE_FACTOR` (0.8) times the first attempt's mean.
  Callers who abandoned before abandon more readily later (Emadi and Swaminathan, "Impact of
  callers' history on abandonment", UNC Kenan-Flagler working paper): the direction is published,
  the size is an assumption.
- At most `MAX_ATTEMPTS` (4) attempts: a caller who has failed three times goes elsewhere; it also
  bounds the queue of redialling callers in a total collapse.
- The platform counts attempts per day (DESIGN.md: "the caller's attempt number today", on the
  Europe/London clock), so a retry on the next local day is a first attempt of a new caller.

Every draw comes from the provider's generator, in the order the queue takes the calls, so a seed
gives the same attempts.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.contract.records import LONDON
from streams.simulate.agents import NEVER_MS
from streams.simulate.shifts import Queue, Staff

IntArray = npt.NDArray[np.int64]

P_QUICK: Final = 0.35  # retrial probability of a caller who hangs up at once
P_PATIENT: Final = 0.80  # ... approached by one who waited long
P_SCALE_S: Final = 180.0  # wait over which the probability goes 63 % of the way
REDIAL_MIN_S: Final = 20.0  # hang up, redial, get through the announcement
REDIAL_MEDIAN_S: Final = 240.0
REDIAL_SIGMA: Final = 1.0
RETRY_PATIENCE_FACTOR: Final = 0.8
MAX_ATTEMPTS: Final = 4

# A new attempt's (patience_ms, drawn handle_ms), from the generator's distributions.
Draw = Callable[[np.random.Generator, float], tuple[int, int]]


def retry_probability(wait_s: float) -> float:
    """Chance that a caller who gave up after `wait_s` seconds tries again."""
    return P_QUICK + (P_PATIENT - P_QUICK) * (1 - math.exp(-max(wait_s, 0.0) / P_SCALE_S))


def redial_delay_ms(rng: np.random.Generator) -> int:
    """Hang-up to redial: REDIAL_MIN_S + lognormal(median REDIAL_MEDIAN_S, REDIAL_SIGMA)."""
    return round(1000 * (REDIAL_MIN_S + rng.lognormal(math.log(REDIAL_MEDIAN_S), REDIAL_SIGMA)))


@dataclass(frozen=True)
class Attempts:
    """Every attempt a provider's queue took, in arrival order (times in ms)."""

    arrival_ms: IntArray
    patience_ms: IntArray
    answer_ms: IntArray  # -1 when the caller hung up
    handler: IntArray  # index into the shifts, -1 when abandoned
    handle_ms: IntArray  # as worked (x handle_factor in the slow window)
    attempt: IntArray  # 1 for a first attempt
    first_ms: IntArray  # the caller's first attempt today (its own arrival on a first attempt)
    caller: IntArray  # index (in these arrays) of the caller's first attempt
    breaks: list[int]  # when each handler went on its break, -1 for none


def _london_day(ms: int) -> int:
    return datetime.fromtimestamp(ms / 1000, tz=LONDON).toordinal()


def serve_with_retrials(
    rng: np.random.Generator,
    arrival_ms: IntArray,
    patience_ms: IntArray,
    handle_ms: IntArray,
    team: Staff,
    *,
    draw: Draw,
    end_ms: int,
    slow_ms: tuple[int, int] = (NEVER_MS, NEVER_MS),
    handle_factor: float = 1.0,
) -> Attempts:
    """Run the fresh callers (sorted by arrival) and their retries through one FIFO queue; a
    retry arriving at or after `end_ms` is never made (nothing after the window is emitted, and
    a later arrival cannot change an earlier caller's turn in a FIFO queue)."""
    queue = Queue(team, slow_ms, handle_factor)
    fresh = list(zip(arrival_ms.tolist(), patience_ms.tolist(), handle_ms.tolist(), strict=True))
    # (arrival, sequence, patience, drawn handle, attempt, first_ms, caller index or -1)
    waiting: list[tuple[int, int, int, int, int, int, int]] = []
    cols: tuple[list[int], ...] = tuple([] for _ in range(8))
    arr, pat, ans, hnd, worked, att, first, who = cols
    i = seq = 0
    while i < len(fresh) or waiting:
        if waiting and (i == len(fresh) or waiting[0][0] < fresh[i][0]):
            a, _, p, drawn, n, first_ms, caller = heapq.heappop(waiting)
        else:
            (a, p, drawn), n, caller = fresh[i], 1, -1
            first_ms = a
            i += 1
        index = len(arr)
        caller = index if caller < 0 else caller
        t, k, h = queue.take(a, p, drawn)
        for col, value in zip(cols, (a, p, t, k, h, n, first_ms, caller), strict=True):
            col.append(value)
        if t >= 0 or n >= MAX_ATTEMPTS or rng.random() >= retry_probability(p / 1000):
            continue
        again = a + p + redial_delay_ms(rng)
        if again >= end_ms:
            continue
        p2, drawn2 = draw(rng, RETRY_PATIENCE_FACTOR)
        if _london_day(again) == _london_day(first_ms):
            heapq.heappush(waiting, (again, seq, p2, drawn2, n + 1, first_ms, caller))
        else:  # the platform counts afresh on a new day: a new caller's first attempt
            heapq.heappush(waiting, (again, seq, p2, drawn2, 1, again, -1))
        seq += 1

    def column(values: list[int]) -> IntArray:
        return np.asarray(values, dtype=np.int64)

    return Attempts(
        column(arr), column(pat), column(ans), column(hnd), column(worked), column(att),
        column(first), column(who), queue.breaks(),
    )  # fmt: skip
