"""The handlers' working time: the shifts the rota becomes, who turns up for them after a failure,
their breaks, and the queue that answers the calls with them.

The rota is Erlang C to the forecast (agents.plan_rota); this module decides how that head count
is worked, which is where the ways a 111 service loses capacity differ (Scenario):

- "leave" cuts the head count at the failure: the handlers on duty go at once, a step a monitor
  sees within the minute. "no_login" keeps everyone already logged in to the end of their shift
  and fills only `capacity_left` of the shifts that start later (round-to, no random draw, never
  leaving a provider with nobody logged in), so the staffed count drifts down as shifts turn over
  while the rota still shows everyone: the slow loss a threshold on a fixed ratio notices late.
  After a recovery the shifts nobody took are logged in, as the step back of "leave" is.
- Breaks cost the rota, not the callers: the planner adds handlers (shrinkage) until in every
  minute those not on a planned break still meet the Erlang C head count, so a normal day with
  breaks meets the same standard. Breaks are planned on the rota's 30-minute grid, so the extra
  handlers fill whole rota intervals and the rota CSV shows them, and staggered through the middle
  of the shifts, so the staffed count dips a few percent at a time, below the staffing alerts. A
  break starts when the call in progress ends (it is late by that much), and the handler answers
  nothing during it.
- The queue is FIFO: each caller in turn takes the handler free soonest; a handler whose shift
  is over goes home (finishing the call in progress); a handler whose break is due takes it
  before the next call. Calls answered in a failing region's failure take `handle_factor` times
  their drawn handle time, so the slower triage feeds back into the queue.

Everything is decided from the rota and the calls, never from the agent states, so the calls are
the same whether the states are emitted or not.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.simulate.agents import (
    BREAK_MS,
    NEVER_MS,
    ROTA_MINUTES,
    cut_rota,
    plan_rota,
    shifts_of,
)
from streams.simulate.scenarios import Scenario

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

BREAK_AFTER_MS: Final = 4 * 3600_000  # a shift longer than this has a break
PLAN_ROUNDS: Final = 50  # shrinkage: rounds of adding handlers (a day converges in a few)


@dataclass(frozen=True)
class Staff:
    """One provider's handlers: the rota each minute, each shift worked and its planned break."""

    rostered: IntArray  # handlers the rota plans each minute (the normal day's, with shrinkage)
    shifts: list[tuple[int, int]]  # each handler's (on_ms, off_ms)
    break_at: list[int]  # planned start of each shift's break, NEVER_MS when it has none


def staff(
    rate_per_min: FloatArray,
    staffing: float,
    failed: npt.NDArray[np.bool_],
    s: Scenario,
    start_ms: int,
) -> Staff:
    """Plan the rota for the forecast `rate_per_min` and work it through the failed minutes."""
    need, on_duty = plan_rota(rate_per_min, staffing, failed, s.capacity_left)
    longest = None if s.shift_hours is None else 60_000 * round(s.shift_hours * 60)
    end_ms = start_ms + 60_000 * need.size
    rostered = _shrinkage(need, start_ms, longest) if s.breaks else need
    if s.loss == "no_login" and failed.any():
        plan = shifts_of(rostered, start_ms, longest)
        worked = _no_login(plan, failed, s.capacity_left, start_ms)
    else:
        on_duty = cut_rota(rostered, failed, s.capacity_left) if s.breaks else on_duty
        worked = shifts_of(on_duty, start_ms, longest)
    break_at = _planned_breaks(worked, start_ms, end_ms) if s.breaks else [NEVER_MS] * len(worked)
    return Staff(rostered, worked, break_at)


def _planned_breaks(shifts: list[tuple[int, int]], start_ms: int, end_ms: int) -> list[int]:
    """A rota-grid half hour in the middle half of each long shift (one still on at the end of the
    planned grid counts to there): the one with the fewest breaks already planned, then the one
    nearest the middle. Staggered as a centre staggers them, so the staffed count dips a few
    percent, not a team at once (shifts starting together would all break together)."""
    grid = ROTA_MINUTES * 60_000
    out = [NEVER_MS] * len(shifts)
    load: dict[int, int] = {}
    for k in sorted(range(len(shifts)), key=lambda i: shifts[i]):
        on, off = shifts[k]
        last = min(off, end_ms)
        if last - on <= BREAK_AFTER_MS:
            continue
        quarter, middle = (last - on) // 4, (on + last) // 2 - BREAK_MS // 2
        first = start_ms + grid * -(-(on + quarter - start_ms) // grid)
        slots = range(first, last - quarter - BREAK_MS + 1, grid)
        out[k] = min(slots, key=lambda b: (load.get(b, 0), abs(b - middle)))
        load[out[k]] = load.get(out[k], 0) + 1
    return out


def _away(break_at: list[int], start_ms: int, n_min: int) -> IntArray:
    """Handlers on a planned break each minute."""
    change = np.zeros(n_min + 1, dtype=np.int64)
    for b in break_at:
        if b != NEVER_MS:
            first = (b - start_ms) // 60_000
            change[min(first, n_min)] += 1
            change[min(first + BREAK_MS // 60_000, n_min)] -= 1
    return np.cumsum(change[:n_min])


def _shrinkage(need: IntArray, start_ms: int, longest_ms: int | None) -> IntArray:
    """The fewest extra handlers (found by adding the shortfall and re-planning the shifts, whose
    breaks move with them) for which those not on a break meet `need` in every minute."""
    rostered = need.copy()
    end_ms = start_ms + 60_000 * need.size
    for _ in range(PLAN_ROUNDS):
        shifts = shifts_of(rostered, start_ms, longest_ms)
        away = _away(_planned_breaks(shifts, start_ms, end_ms), start_ms, need.size)
        short = need - (rostered - away)
        if short.max() <= 0:
            break
        rostered = rostered + np.maximum(short, 0)
    return rostered


def _no_login(
    plan: list[tuple[int, int]], failed: npt.NDArray[np.bool_], left: float, start_ms: int
) -> list[tuple[int, int]]:
    """The planned shifts as worked: those starting in a failed minute are filled at `left`
    (every shift while nobody is logged in, unless `left` is 0); the rest log in at the
    recovery if still on then. Shift order (the handlers' numbers) is kept."""
    failed_at = np.flatnonzero(failed)
    recovery = failed_at[-1] + 1
    recovery_ms = start_ms + 60_000 * int(recovery) if recovery < failed.size else NEVER_MS
    worked: list[tuple[int, int] | None] = list(plan)
    running: list[int] = []  # off_ms of the shifts logged in, as a heap
    started = 0  # shifts that started in a failed minute so far
    for k in sorted(range(len(plan)), key=lambda i: plan[i]):
        on, off = plan[k]
        while running and running[0] <= on:
            heapq.heappop(running)
        if failed[(on - start_ms) // 60_000]:
            fill = math.floor((started + 1) * left + 0.5) > math.floor(started * left + 0.5)
            started += 1
            if not fill and (running or left == 0):
                late = recovery_ms < off
                worked[k] = (recovery_ms, off) if late else None
                continue
        heapq.heappush(running, off)
    return [w for w in worked if w is not None]


class Queue:
    """One provider's FIFO queue over its handlers' shifts, one caller at a time in arrival order:
    each caller takes the handler free soonest, or hangs up when that is beyond their patience.

    Callers must come in arrival order; a caller who arrives later may be added while the queue
    runs (a retrial), as long as none arrives before the one last taken."""

    def __init__(
        self,
        s: Staff,
        slow_ms: tuple[int, int] = (NEVER_MS, NEVER_MS),
        handle_factor: float = 1.0,
    ) -> None:
        # (free_at_ms, off_ms, shift): a shift starting later is a handler free later
        self._free = [(on, off, k) for k, (on, off) in enumerate(s.shifts)]
        heapq.heapify(self._free)
        self._due = list(s.break_at)
        self._went = [-1] * len(s.shifts)
        self._slow_ms = slow_ms
        self._handle_factor = handle_factor

    def take(self, a: int, p: int, drawn: int) -> tuple[int, int, int]:
        """(answer_ms, handler, handle_ms) of a caller arriving at `a` with patience `p` and a
        drawn handle time (x `handle_factor` when answered in [slow_ms)); (-1, -1, drawn) when
        the caller hangs up first. An abandoned call uses no handler."""
        free, due = self._free, self._due
        while free:
            f, off, k = free[0]
            t = a if a > f else f
            if due[k] <= t:  # the break comes first, from the end of the call in progress
                b = max(due[k], f)
                due[k] = NEVER_MS
                if b < off:
                    self._went[k] = b
                    heapq.heapreplace(free, (b + BREAK_MS, off, k))
                    continue
            if t < off:
                break
            heapq.heappop(free)
        else:
            return -1, -1, drawn
        if t - a > p:
            return -1, -1, drawn
        h = drawn
        if self._handle_factor != 1.0 and self._slow_ms[0] <= t < self._slow_ms[1]:
            h = max(1, round(drawn * self._handle_factor))
        heapq.heapreplace(free, (t + h, off, k))
        return t, k, h

    def breaks(self) -> list[int]:
        """When each handler went on its break (-1: none), breaks due after the last call each
        handler took included."""
        went = list(self._went)
        for f, off, k in self._free:
            b = max(self._due[k], f)
            if self._due[k] != NEVER_MS and b < off:
                went[k] = b
        return went


def serve(
    arrival_ms: IntArray,
    patience_ms: IntArray,
    handle_ms: IntArray,
    s: Staff,
    *,
    slow_ms: tuple[int, int] = (NEVER_MS, NEVER_MS),
    handle_factor: float = 1.0,
) -> tuple[IntArray, IntArray, IntArray, list[int]]:
    """Answer time of each call in arrival order (-1 if the caller hung up first), the index in
    `s.shifts` of the handler who answered it (-1 when abandoned), its handle time as worked
    (x `handle_factor` when answered in [slow_ms)), and when each handler went on its break (-1:
    none). Abandoned calls use no handler."""
    queue = Queue(s, slow_ms, handle_factor)
    answered = np.full(len(arrival_ms), -1, dtype=np.int64)
    handler = np.full(len(arrival_ms), -1, dtype=np.int64)
    handled = handle_ms.copy()
    for i, (a, p, drawn) in enumerate(
        zip(arrival_ms.tolist(), patience_ms.tolist(), handle_ms.tolist(), strict=True)
    ):
        t, k, h = queue.take(a, p, drawn)
        if t >= 0:
            answered[i], handler[i], handled[i] = t, k, h
    return answered, handler, handled, queue.breaks()
