"""The breach search, and :func:`forecast`, which runs the estimate, the projection and the search.

Why a module of its own: the breach is the ServiceLevelBelowStandard warning's condition (see
:mod:`detectors.forecast`), judged for every minute of the horizon at once over prefix sums;
:func:`forecast` is the one entry point, the order of its steps and what it returns.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from detectors.forecast.estimate import _level, _minutes, _patience, _provider_inputs, _queues
from detectors.forecast.params import MINUTE, NONE_COMING, Forecast, Inputs, Params, _Minutes
from detectors.forecast.projection import _simulate
from detectors.staffing import StaffedAt
from detectors.windows import RegionState, WindowConfig

FloatArray = npt.NDArray[np.float64]


def forecast(
    state: RegionState,
    config: WindowConfig,
    end_minute: int,
    params: Params,
    staffed: tuple[StaffedAt, ...] | None = None,
) -> Forecast:
    """The breach forecast of a region at the closed minute `end_minute` (see the module doc),
    with each provider's handlers as of the region's newest event time where `staffed` has them
    (detectors.staffing.at at state.max_ts_s; ignored unless ``params.use_staffing``)."""
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
    staff = {s.provider: s for s in staffed or ()} if params.use_staffing else {}
    providers = tuple(
        _provider_inputs(
            name,
            per_provider.get(name),
            queues.get(name, []),
            now=now,
            params=params,
            staffed=staff.get(name),
        )
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
