"""The forecast's inputs, estimated from a region's state: arrivals, capacity, queue, patience.

Why a module of its own: everything the forecast reads of the past is here, apart from what it
assumes of the future: :mod:`detectors.forecast.projection` runs these inputs forward and
:mod:`detectors.forecast.breach` judges the result.

The model: per provider (each answers its own queue), a fluid FIFO queue of impatient callers run
forward from the region's newest event time (``state.max_ts_s``, "now"), from:

- Arrival rate: offered calls per minute, an EWMA over the last ``rate_minutes`` minutes complete
  by event time (half-life ``arrival_halflife_minutes``), held constant over the horizon. No
  hour-of-week correction: the rota follows the same demand profile (it is staffed to the
  forecast), so lifting arrivals for the evening peak without lifting capacity would warn every
  evening; a breach comes from demand or capacity leaving the plan, which recent rates show.
- Capacity, where the provider's agent states are streamed (``staffed``,
  :func:`detectors.staffing.at`): its staffed call handlers x 60 / their mean handle time, as of
  now. This is the capacity the queue will meet, known the minute a handler logs out or a
  handle time lengthens, before any caller has waited for it (issue 17). No Poisson margin: the
  head count is a count, not a sample. Handlers on a break (``count_breaks``) count as staffed:
  a break is planned cover in the rota and over within half an hour, so the queue it makes is
  the rota's slack to absorb, not a coming breach (a provider short of handlers on the phones
  is StaffingBelowCommissioned's to say).
- Capacity otherwise: answers per minute while calls wait. The calls waiting at the start of
  each past minute follow from the open calls now and each later minute's offered - answered -
  abandoned. A minute that starts with at least ``busy_queue_calls`` and ``busy_queue_minutes``
  of arrivals waiting keeps every handler busy, so its answers measure what the handlers can do;
  capacity is the EWMA of those minutes' answers once there are ``min_busy_minutes`` of them.
  Until then capacity was not the limit and is not observed: every caller is answered on
  arrival.
- Noise: a region has 1-10 calls a minute, so 15 minutes of counts cannot tell 3.3 arrivals from
  2.8 answers a minute. Both rates are taken ``confidence_z`` Poisson standard errors towards "no
  breach" (arrivals lower, capacity higher): the forecast acts on the overload the counts show.
- Calls waiting: the open calls with their own offer times (stale ones, older than
  ``stale_call_seconds``, are lost events, not callers), so the next answered caller's wait is
  known, not guessed.
- Patience: callers hang up at a constant hazard (exponential patience). With a queue wait w a
  share 1 - exp(-w / patience) hang up first, so patience = -(mean answered wait) / ln(1 -
  abandoned share) over the last hour; ``default_patience_seconds`` when the hour cannot say.
"""

from __future__ import annotations

import math

from detectors.forecast.params import MINUTE, Params, ProviderInputs, _Minutes
from detectors.staffing import StaffedAt
from detectors.windows import RegionState, minute_sums


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
    name: str,
    rows: _Minutes | None,
    queue: list[float],
    *,
    now: float,
    params: Params,
    staffed: StaffedAt | None = None,
) -> ProviderInputs:
    waiting = len(queue)
    oldest = max(0.0, now - queue[0]) if queue else 0.0
    handlers = handle = staffed_capacity = None
    if staffed is not None:
        handlers = staffed.handlers + (staffed.on_break if params.count_breaks else 0)
        handle = params.mean_handle_seconds
        if staffed.handle_seconds is not None and staffed.handled_calls >= params.min_handled_calls:
            handle = staffed.handle_seconds
        staffed_capacity = handlers * MINUTE / handle
    if rows is None:
        return ProviderInputs(name, 0.0, staffed_capacity, waiting, oldest, None, handlers, handle)
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
    capacity = staffed_capacity
    if capacity is None and len(busy) >= params.min_busy_minutes:
        cap, cap_se = _ewma(busy, params.capacity_halflife_minutes)
        capacity = cap + z * cap_se
    return ProviderInputs(
        name,
        max(0.0, lam - z * lam_se),
        capacity,
        waiting,
        oldest,
        _level(rows, lc, params.recent_minutes),
        handlers,
        handle,
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
