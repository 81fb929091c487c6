"""The queue projection: each provider's fluid queue run forward, its answers added to the minutes.

Why a module of its own: the inner loop of the forecast (a step of ``step_seconds`` per provider
over the horizon), with its shortcuts for a queue that has settled and the Erlang A correction of
the fluid's answers within target.

Forward, in steps of ``step_seconds``: arrivals join the back, each queued cohort shrinks by
abandonment, capacity answers from the head, and an answer is late when its cohort has waited
more than ``WindowConfig.answer_target_seconds``. The fluid mean misses the queue's randomness
(near capacity the mean wait is short but many callers wait past the target), so with
``model="erlang_a"`` the answers it counts within target are scaled by the steady-state service
level of an M/M/N+M queue (:func:`erlang_a_service_level`) at the same rates, N = capacity x
``mean_handle_seconds``; with ``persist`` an overloaded provider's are also no better than its
last ``recent_minutes``. Each future minute's answers are added to what the state already holds
for it (minutes after E), and the rolling windows are recomputed minute by minute, so the minutes
that roll out of the window count as much as the new ones. ``benchmarks/forecast.py`` measures
the lead time, misses and false warnings on generated capacity losses and normal weeks.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from detectors.forecast.params import MINUTE, Params, ProviderInputs, _Minutes


def _within_share(
    p: ProviderInputs, *, patience_s: float, target_s: float, params: Params
) -> float:
    """Of the answers the fluid counts within target, the share that is. Erlang A: the queue's
    randomness puts some callers past the target however short the mean wait. Persist: while
    the provider is overloaded, no better than its recent answers."""
    rate, capacity = p.arrivals_per_minute, p.capacity_per_minute
    share = 1.0
    if params.model == "erlang_a" and capacity is not None:
        handle = params.mean_handle_seconds if p.handle_seconds is None else p.handle_seconds
        servers = capacity * handle / MINUTE if p.handlers is None else p.handlers
        share = erlang_a_service_level(
            rate,
            servers,
            handle_seconds=handle,
            patience_seconds=patience_s,
            target_seconds=target_s,
        )
    recent = p.recent_service_level
    if params.persist and capacity is not None and rate >= capacity and recent is not None:
        share = min(share, recent)
    return share


def _simulate(
    rows: _Minutes,
    p: ProviderInputs,
    queue: list[float],
    *,
    now: float,
    end_s: float,
    patience_s: float,
    target_s: float,
    params: Params,
) -> None:
    """Run one provider's fluid queue from now to `end_s`, adding its answers to `rows`."""
    step = params.step_seconds
    rate = p.arrivals_per_minute
    lam = rate * step / MINUTE
    capacity = p.capacity_per_minute
    per_step = math.inf if capacity is None else capacity * step / MINUTE
    share = _within_share(p, patience_s=patience_s, target_s=target_s, params=params)
    hazard = 1.0 / patience_s
    # The head's wait tends monotonically to w* = ln(arrivals / capacity) / hazard (answers
    # per second = arrivals x exp(-hazard w) at the head's offer time), so once the head and w*
    # are on the same side of the target, every later answer is on that side too.
    settled = math.inf
    if capacity is not None and 0 < capacity < rate:
        settled = math.log(rate / capacity) / hazard
    answered, within = rows.answered, rows.within
    # Cohorts [offer time, mass, time the mass was last updated]; oldest first.
    cohorts: deque[list[float]] = deque([ts, 1.0, now] for ts in queue)
    t = now
    while t < end_s:
        if not cohorts and per_step >= lam:
            # Empty queue, capacity above demand: from here every caller is answered on arrival.
            _fill(rows, t, end_s, rate, rate * share)
            return
        # Overloaded, with the observed queue served (its offer times need not follow the
        # fluid): the rest is steady, capacity answers a minute, all late or all not.
        if cohorts and cohorts[0][0] >= now and capacity is not None and capacity < rate:
            late = t - cohorts[0][0] > target_s
            if late == (settled > target_s):
                _fill(rows, t, end_s, capacity, 0.0 if late else capacity * share)
                return
        i = (int(t // MINUTE) * MINUTE - rows.base) // MINUTE
        t_next = min((math.floor(t / step) + 1) * step, end_s)
        if lam > 0:
            mid = (t + t_next) / 2
            cohorts.append([mid, rate * (t_next - t) / MINUTE, mid])
        free = per_step * (t_next - t) / step
        while cohorts and free > 0:
            head = cohorts[0]
            mass = head[1] * math.exp(-hazard * (t_next - head[2]))
            served = min(mass, free)
            free -= served
            answered[i] += served
            if t_next - head[0] <= target_s:
                within[i] += served * share
            if served >= mass:
                cohorts.popleft()
            else:
                head[1], head[2] = mass - served, t_next
        t = t_next


def _fill(rows: _Minutes, start_s: float, end_s: float, rate: float, within: float) -> None:
    """Answers at `rate` per minute from start to end, `within` per minute within target.

    Minute by minute each adds `rate * (t_next - t) / MINUTE`; every whole minute adds the same
    value (t_next - t is 60), so it is computed once and added to the whole run of them."""
    answered, within_rows = rows.answered, rows.within
    t = start_s
    while t < end_s:
        minute = int(t // MINUTE) * MINUTE
        t_next = min(minute + MINUTE, end_s)
        i = (minute - rows.base) // MINUTE
        if t == minute and t_next == minute + MINUTE:
            whole = int((end_s - minute) // MINUTE)  # whole minutes from this one on
            a, w, stop = rate * MINUTE / MINUTE, within * MINUTE / MINUTE, i + whole
            _add(answered, i, stop, a)
            _add(within_rows, i, stop, w)
            t = minute + whole * MINUTE
            continue
        answered[i] += rate * (t_next - t) / MINUTE
        within_rows[i] += within * (t_next - t) / MINUTE
        t = t_next


def _add(values: list[float], i: int, stop: int, x: float) -> None:
    """values[j] += x for j in [i, stop). The minutes after now's mostly hold one value (zero,
    or the same answers of the providers filled before), so that run is one sum, repeated."""
    run = values[i:stop]
    if run and run.count(run[0]) == len(run):
        values[i:stop] = [run[0] + x] * len(run)
    else:
        values[i:stop] = [v + x for v in run]


def erlang_a_service_level(
    arrivals_per_minute: float,
    servers: float,
    *,
    handle_seconds: float,
    patience_seconds: float,
    target_seconds: float,
    step_seconds: float = 0.5,
) -> float:
    """Steady-state share of answered calls answered within the target in an M/M/N+M queue.

    Poisson arrivals, N servers with exponential handle times, FIFO, callers who hang up after an
    exponential patience. The number in the system is a birth-death chain (Erlang A); a caller
    who arrives to find n >= N joins the queue at position k = n - N + 1 and moves up at rate
    N / handle + (k - 1) / patience (a call ends or someone ahead hangs up) while hanging up at
    1 / patience itself. P(answered within t | k) solves a lower-triangular linear system of
    ODEs, integrated over [0, target] in steps of `step_seconds` (exact for constant rates per
    step); P(answered | k) is a product. Checked against a call-by-call simulation in the tests.
    """
    lam = arrivals_per_minute / MINUTE
    if lam <= 0:
        return 1.0
    n_servers = max(1, round(servers))
    rate = 1.0 / handle_seconds
    hazard = 1.0 / patience_seconds
    load = lam * handle_seconds
    k = np.arange(n_servers + 1, dtype=np.float64)
    log_low = k * math.log(load) - np.array([math.lgamma(x + 1.0) for x in k])
    # Queue positions until the arrival rate is far below the departure rate.
    depth = min(5000, int(max(0.0, (lam - n_servers * rate) / hazard) * 3) + 200)
    j = np.arange(1, depth + 1, dtype=np.float64)
    log_queue = log_low[-1] + np.cumsum(math.log(lam) - np.log(n_servers * rate + j * hazard))
    log_pi = np.concatenate([log_low, log_queue])
    pi = np.exp(log_pi - log_pi.max())
    joins = pi[n_servers : n_servers + depth]  # an arrival that finds n = N + k - 1
    moves = n_servers * rate + (j - 1.0) * hazard
    answered = np.cumprod(moves / (moves + hazard))
    leave = moves + hazard
    decay = np.exp(-leave * step_seconds)
    gain = (1.0 - decay) / leave * moves
    within = np.zeros(depth)
    for _ in range(round(target_seconds / step_seconds)):
        ahead = np.concatenate(([1.0], within[:-1]))
        within = within * decay + gain * ahead
    at_once = float(pi[:n_servers].sum())
    return (at_once + float(joins @ within)) / (at_once + float(joins @ answered))
