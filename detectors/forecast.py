"""Service-level breach forecast: the seconds until a region's rolling service level breaches.

Why: ServiceLevelBelowStandard pages once the hour is already being lost (60- and 15-minute
service level below its threshold, held for its `for:`). A queue forecast from the same windows
can warn while there is still time to bring staff forward or arrange overflow (DESIGN.md,
issue 8).

What is forecast: the first minute B after the view's end minute E at which the rolling 60-minute
service level (answered within target / answered) is below ``Params.threshold`` and the
15-minute one is too (or is absent: nothing answered), with at least ``Params.min_offered``
calls offered in the hour: the condition of the ServiceLevelBelowStandard warning
(streams/contract/thresholds.py THRESHOLDS). The result is B - E seconds (B's figures are shown B -
E after E's), 0 if the condition already holds at E, +inf if it does not come within
``Params.horizon_seconds``. A region that answers nothing has no service level, so a total
collapse alone never "breaches" (the abandonment and calls-waiting alerts speak then), and
answering a backlog of long waiters lowers the service level sooner than leaving them: more
capacity can bring the breach sooner (tests/unit/test_forecast.py has both, by hand).

The model: per provider (each answers its own queue), a fluid FIFO queue of impatient callers run
forward from the region's newest event time (``state.max_ts_s``, "now"), from:

- Arrival rate: offered calls per minute, an EWMA over the last ``rate_minutes`` minutes complete
  by event time (half-life ``arrival_halflife_minutes``), held constant over the horizon. No
  hour-of-week correction: the rota follows the same demand profile (it is staffed to the
  forecast), so lifting arrivals for the evening peak without lifting capacity would warn every
  evening; a breach comes from demand or capacity leaving the plan, which recent rates show.
- Capacity: answers per minute while calls wait. The calls waiting at the start of each past
  minute follow from the open calls now and each later minute's offered - answered - abandoned.
  A minute that starts with at least ``busy_queue_calls`` and ``busy_queue_minutes`` of arrivals
  waiting keeps every handler busy, so its answers measure what the handlers can do; capacity is
  the EWMA of those minutes' answers once there are ``min_busy_minutes`` of them. Until then
  capacity was not the limit and is not observed: every caller is answered on arrival.
- Noise: a region has 1-10 calls a minute, so 15 minutes of counts cannot tell 3.3 arrivals from
  2.8 answers a minute. Both rates are taken ``confidence_z`` Poisson standard errors towards "no
  breach" (arrivals lower, capacity higher): the forecast acts on the overload the counts show.
- Calls waiting: the open calls with their own offer times (stale ones, older than
  ``stale_call_seconds``, are lost events, not callers), so the next answered caller's wait is
  known, not guessed.
- Patience: callers hang up at a constant hazard (exponential patience). With a queue wait w a
  share 1 - exp(-w / patience) hang up first, so patience = -(mean answered wait) / ln(1 -
  abandoned share) over the last hour; ``default_patience_seconds`` when the hour cannot say.

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

Pure and deterministic: a RegionState in, a Forecast out; no clock (the region's event time).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.windows import RegionState, WindowConfig, minute_sums

MINUTE = 60
MODELS = ("fluid", "erlang_a")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Params:
    """Documented defaults; the threshold and timings match THRESHOLDS of the alert rules."""

    # The ServiceLevelBelowStandard warning's condition (streams/contract/thresholds.py THRESHOLDS:
    # service_level_warning, kpi_min_offered_per_hour; a unit test keeps them equal).
    threshold: float = 0.85  # 60m and 15m service level below this
    window_minutes: int = 60  # the rolling service level forecast
    recent_minutes: int = 15  # the second window the rule also needs below the threshold
    min_offered: int = 60  # calls offered in the hour for the rule to count
    horizon_seconds: float = 7200.0  # +inf beyond this
    step_seconds: float = 10.0  # fluid step; a wait is judged against the target to this
    rate_minutes: int = 15  # complete minutes the arrival and capacity rates are read from
    arrival_halflife_minutes: float = 5.0
    capacity_halflife_minutes: float = 5.0
    # A minute that starts with this many calls waiting, and at least busy_queue_minutes of
    # arrivals, keeps every handler busy: its answers measure capacity.
    busy_queue_calls: int = 2
    busy_queue_minutes: float = 0.5
    min_busy_minutes: int = 3  # such minutes before capacity counts as observed
    # Rates are taken this many standard errors towards "no breach" (arrivals lower, capacity
    # higher): a forecast acts on the overload the counts show beyond Poisson noise.
    confidence_z: float = 0.75
    persist: bool = True  # overloaded: future answers no better than the recent ones
    # "fluid": a caller the fluid answers within target is within target. "erlang_a": only a
    # share of them, the steady-state service level of an M/M/N+M queue (Erlang A) at the
    # arrival rate, N = capacity x mean handle time, and the callers' patience: the queue's
    # randomness makes some callers wait past the target even when the mean wait is short.
    model: str = "fluid"
    mean_handle_seconds: float = 480.0  # call handling time (NHS 111: about 8 minutes)
    stale_call_seconds: float = 3600.0  # open calls older than this are lost events, not callers
    default_patience_seconds: float = 300.0  # callers' mean patience when the data cannot say
    min_patience_seconds: float = 30.0  # clamp of the estimate
    max_patience_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold {self.threshold} must be in (0, 1]")
        if not 1 <= self.recent_minutes <= self.window_minutes:
            raise ValueError("recent_minutes must be between 1 and window_minutes")
        if self.horizon_seconds < MINUTE or self.rate_minutes < 1:
            raise ValueError("horizon_seconds must be at least a minute and rate_minutes >= 1")
        if not 0 < self.step_seconds <= MINUTE or MINUTE % self.step_seconds:
            raise ValueError(f"step_seconds {self.step_seconds} must divide a minute")
        if not 0 < self.min_patience_seconds <= self.max_patience_seconds:
            raise ValueError("patience bounds must be positive and ordered")
        if self.model not in MODELS or self.mean_handle_seconds <= 0:
            raise ValueError(f"model {self.model!r} must be one of {MODELS}, handle time > 0")


@dataclass(frozen=True, slots=True)
class ProviderInputs:
    """One provider's queue: providers answer their own calls, so each is run on its own."""

    provider: str
    arrivals_per_minute: float
    capacity_per_minute: float | None  # answers per minute while calls wait; None: unobserved
    calls_waiting: int
    oldest_wait_seconds: float  # 0 when nobody waits
    recent_service_level: float | None  # within target / answered, last recent_minutes


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the forecast was computed from: for the log, the dashboards and the tests."""

    now_s: float  # the region's newest event time; the queues are as of this instant
    patience_seconds: float
    service_level_60m: float | None  # at the view's end minute
    service_level_15m: float | None
    providers: tuple[ProviderInputs, ...]

    @property
    def arrivals_per_minute(self) -> float:
        return sum(p.arrivals_per_minute for p in self.providers)

    @property
    def calls_waiting(self) -> int:
        return sum(p.calls_waiting for p in self.providers)


@dataclass(frozen=True, slots=True)
class Forecast:
    seconds: float  # until the breach: 0 already breached, +inf none within the horizon
    breach_minute: int | None  # start of the first breaching minute (epoch s), None if none
    inputs: Inputs | None  # None when the state cannot say (no events, or E far behind them)


NONE_COMING = Forecast(math.inf, None, None)


@dataclass(slots=True)
class _Minutes:
    """Counts per minute from `base` on, as float lists (one provider, or the region); a list
    holds the minutes that are read of it (see _minutes)."""

    base: int
    offered: list[float]
    answered: list[float]
    within: list[float]
    abandoned: list[float]
    wait_sum: list[float]

    @classmethod
    def zeros(cls, base: int, n: int) -> _Minutes:
        return cls(base, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n)

    def index(self, minute: int) -> int:
        return (minute - self.base) // MINUTE


def forecast(state: RegionState, config: WindowConfig, end_minute: int, params: Params) -> Forecast:
    """The breach forecast of a region at the closed minute `end_minute` (see the module doc)."""
    if end_minute % MINUTE:
        raise ValueError(f"end_minute {end_minute} must be a minute start")
    now = state.max_ts_s
    last = end_minute + math.ceil(params.horizon_seconds / MINUTE) * MINUTE
    if now is None or now >= last + MINUTE:
        return NONE_COMING
    now_minute = int(now // MINUTE) * MINUTE
    lookback = max(params.window_minutes, params.rate_minutes) + 1
    first = min(end_minute - (params.window_minutes - 1) * MINUTE, now_minute - lookback * MINUTE)
    n = (last - first) // MINUTE + 1
    # What _provider_inputs reads of a provider: from the minute before its rate minutes (and
    # the recent_minutes of its service level) to now's.
    own_from = now_minute - (1 + max(params.rate_minutes, params.recent_minutes - 1)) * MINUTE
    region, per_provider = _minutes(state, first, now_minute, n, own_from)
    queues = _queues(state, now - params.stale_call_seconds)
    e, k = region.index(end_minute), region.index(now_minute)
    lc = k - 1  # the last minute complete by event time
    patience = _patience(region, lc, params)
    providers = tuple(
        _provider_inputs(name, per_provider.get(name), queues.get(name, []), now=now, params=params)
        for name in sorted(set(per_provider) | set(queues))
    )
    inputs = Inputs(
        now_s=now,
        patience_seconds=patience,
        service_level_60m=_level(region, e, params.window_minutes),
        service_level_15m=_level(region, e, params.recent_minutes),
        providers=providers,
    )
    # The rule at E reads the minutes up to E only. When all of them are before now's minute (E
    # a closed minute), the simulation below leaves them as they are and E is checked in the
    # same pass as the horizon (a breach at E gives 0 s, E); otherwise E is checked first.
    lo = e
    if e >= k:
        if _breach_index(region, e, e, params) is not None:
            return Forecast(0.0, end_minute, inputs)
        lo = e + 1

    # Future minutes: what the state holds for them (minutes after E) plus each queue's answers.
    # Offered: the minutes after now's hold nothing (_minutes stops at now's), so each of them
    # holds the same sum of the providers' rates, added in the same order as to now's minute.
    offered, future = region.offered, 0.0
    for p in providers:
        _simulate(
            region,
            p,
            queues.get(p.provider, []),
            now=now,
            end_s=last + MINUTE,
            patience_s=patience,
            target_s=config.answer_target_seconds,
            params=params,
        )
        rate = p.arrivals_per_minute
        future += rate
        offered[k] += rate * (1 - (now - now_minute) / MINUTE)
    offered[k + 1 :] = [future] * (n - k - 1)
    hit = _breach_index(region, lo, n - 1, params)
    if hit is None:
        return Forecast(math.inf, None, inputs)
    return Forecast(float((hit - e) * MINUTE), region.base + hit * MINUTE, inputs)


def _minutes(
    state: RegionState, first: int, now_minute: int, n: int, own_from: int
) -> tuple[_Minutes, dict[str, _Minutes]]:
    """Counts of the minutes from `first`, region-wide and per provider, as floats.

    Only what is read is counted (this runs for every region every closed minute). Region-wide:
    the minutes up to now's (no bucket is after the newest event's minute: windows.apply moves
    max_ts_s up to each event) from windows.minute_sums (each minute's buckets added to 0.0 in
    sorted provider order, so the floats are the same for equal states), then offered, answered
    and within padded with zeros to n minutes for the simulation to add to. Per provider: the
    minutes from `own_from` to now's, without wait sums; an earlier bucket only names its
    provider (zeros)."""
    offered, answered, within, abandoned, wait_sum, names = minute_sums(state, first, now_minute)
    pad = [0.0] * (n - len(offered))
    offered += pad
    answered += pad
    within += pad
    region = _Minutes(first, offered, answered, within, abandoned, wait_sum)
    own_minutes = range(max(first, own_from), now_minute + MINUTE, MINUTE)
    buckets = state.buckets
    per_provider = {}
    for name in set().union(*names):
        own = [buckets.get((name, minute)) for minute in own_minutes]
        per_provider[name] = _Minutes(
            own_minutes.start,
            [0.0 if b is None else float(b.offered) for b in own],
            [0.0 if b is None else float(b.answered) for b in own],
            [0.0 if b is None else float(b.answered_within_target) for b in own],
            [0.0 if b is None else float(b.abandoned) for b in own],
            [],
        )
    return region, per_provider


def _queues(state: RegionState, stale_before_s: float) -> dict[str, list[float]]:
    """Offer times of each provider's waiting calls, oldest first, without the stale ones."""
    queues: dict[str, list[float]] = {}
    for provider, ts in state.open_calls.values():
        if ts >= stale_before_s:
            queues.setdefault(provider, []).append(ts)
    for q in queues.values():
        q.sort()
    return queues


def _provider_inputs(
    name: str, rows: _Minutes | None, queue: list[float], *, now: float, params: Params
) -> ProviderInputs:
    waiting = len(queue)
    oldest = max(0.0, now - queue[0]) if queue else 0.0
    if rows is None:
        return ProviderInputs(name, 0.0, None, waiting, oldest, None)
    lc = rows.index(int(now // MINUTE) * MINUTE) - 1  # the last minute complete by event time
    recent = range(lc - params.rate_minutes + 1, lc + 1)
    z = params.confidence_z
    offered, answered, abandoned = rows.offered, rows.answered, rows.abandoned
    lam, lam_se = _ewma(offered[recent.start : recent.stop], params.arrival_halflife_minutes)
    # Calls waiting at the start of each minute, back from now: the open calls now, minus what
    # each later minute added (offered - answered - abandoned). The answers of a minute that
    # began with calls queueing are what the handlers can do.
    queued = float(waiting)
    starts = {}
    for i in range(lc + 1, recent.start - 1, -1):
        queued = max(0.0, queued - (offered[i] - answered[i] - abandoned[i]))
        starts[i] = queued
    # Enough queued that the handlers cannot run out of calls within the minute (else they
    # answer fewer calls than they could and capacity reads low).
    floor = max(float(params.busy_queue_calls), params.busy_queue_minutes * lam)
    busy = [answered[i] for i in recent if starts[i] >= floor]
    capacity = None
    if len(busy) >= params.min_busy_minutes:
        cap, cap_se = _ewma(busy, params.capacity_halflife_minutes)
        capacity = cap + z * cap_se
    return ProviderInputs(
        name,
        max(0.0, lam - z * lam_se),
        capacity,
        waiting,
        oldest,
        _level(rows, lc, params.recent_minutes),
    )


def _ewma(values: list[float], halflife_minutes: float) -> tuple[float, float]:
    """Exponentially weighted mean of per-minute counts (oldest first) and its standard error
    if the counts are Poisson; (0, 0) for none."""
    if not values:
        return 0.0, 0.0
    decay = 0.5 ** (1.0 / halflife_minutes)
    weight_sum = square_sum = total = 0.0
    weight = 1.0
    for v in reversed(values):
        total += weight * v
        weight_sum += weight
        square_sum += weight * weight
        weight *= decay
    mean = total / weight_sum
    return mean, math.sqrt(mean * square_sum) / weight_sum


def _patience(rows: _Minutes, last: int, params: Params) -> float:
    """Mean patience from the last hour's abandoned share and mean answered wait (see module)."""
    hour = slice(last - params.window_minutes + 1, last + 1)
    answered = sum(rows.answered[hour])
    abandoned = sum(rows.abandoned[hour])
    wait_sum = sum(rows.wait_sum[hour])
    if answered < 1 or abandoned < 1 or wait_sum / answered < params.step_seconds:
        return params.default_patience_seconds
    share = abandoned / (answered + abandoned)
    estimate = -(wait_sum / answered) / math.log1p(-share) if share < 1 else 0.0
    return min(max(estimate, params.min_patience_seconds), params.max_patience_seconds)


def _level(rows: _Minutes, end: int, minutes: int) -> float | None:
    lo = max(0, end - minutes + 1)
    answered = sum(rows.answered[lo : end + 1])
    return None if answered <= 0 else sum(rows.within[lo : end + 1]) / answered


def _window_start(sums: FloatArray, lo: int, hi: int, minutes: int) -> FloatArray:
    """sums[:, max(0, j + 1 - minutes)] for j in [lo, hi]: the prefix before each j's window."""
    start = lo + 1 - minutes
    if start >= 0:
        return sums[:, start : hi + 2 - minutes]
    return sums[:, np.maximum(np.arange(start, hi + 2 - minutes), 0)]


def _breach_index(rows: _Minutes, lo: int, hi: int, params: Params) -> int | None:
    """First minute index in [lo, hi] where the warning rule's condition holds: the 60m service
    level below the threshold, the 15m one below or absent, enough calls offered in the hour.
    Every minute at once over prefix sums, each comparison the same float operation as a loop
    over the minutes would make; the prefix stops at hi, the last minute asked about."""
    if lo > hi:
        return None
    # Rows 0, 1, 2: offered, answered, within; column c: the sum of the minutes before c, added
    # left to right (np.cumsum adds in order: the floats a Python loop would give).
    sums = np.zeros((3, hi + 2))
    sums[:, 1:] = (rows.offered[: hi + 1], rows.answered[: hi + 1], rows.within[: hi + 1])
    np.cumsum(sums, axis=1, out=sums)
    ends = sums[:, lo + 1 :]
    offered, answered, within = ends - _window_start(sums, lo, hi, params.window_minutes)
    threshold = params.threshold
    # The loop's `continue` tests negated as they stand, not rewritten (`>=` for `not <`).
    hit = ~(offered < params.min_offered)
    hit &= ~(answered <= 0)
    hit &= ~(within >= threshold * answered)
    if not hit.any():  # the hour holds up everywhere (the usual case): no need of the quarter
        return None
    _, recent_answered, recent_within = ends - _window_start(sums, lo, hi, params.recent_minutes)
    hit &= (recent_answered <= 0) | (recent_within < threshold * recent_answered)
    first = int(hit.argmax())
    return lo + first if hit[first] else None


def _within_share(
    p: ProviderInputs, *, patience_s: float, target_s: float, params: Params
) -> float:
    """Of the answers the fluid counts within target, the share that is. Erlang A: the queue's
    randomness puts some callers past the target however short the mean wait. Persist: while
    the provider is overloaded, no better than its recent answers."""
    rate, capacity = p.arrivals_per_minute, p.capacity_per_minute
    share = 1.0
    if params.model == "erlang_a" and capacity is not None:
        share = erlang_a_service_level(
            rate,
            capacity * params.mean_handle_seconds / MINUTE,
            handle_seconds=params.mean_handle_seconds,
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
