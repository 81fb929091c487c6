"""The bucket store: :func:`apply` counts one call event into the bucket of its own minute.

Why a module of its own: this is the per-event hot path of every replay and of the live worker.
Besides the buckets it keeps what an event changes at once: the cumulative counters, the answered
wait histogram, the pairing of a callback with its request. The rest of the package reads what
it counts (:mod:`detectors.windows.sums`), expires it (:mod:`detectors.windows.retention`) or
saves it (:mod:`detectors.windows.snapshot`).

The one exception to the house rule "state in, state out": :func:`apply` mutates the state in
place and returns a result code. Copying a region's buckets on every event would cost more than the
rest of the pipeline together; callers that need a snapshot take :func:`to_json`
(:mod:`detectors.windows.snapshot`).

Order independence: for events that arrive no more than ``grace_seconds`` behind the region's max,
the final state does not depend on arrival order (duplicates are exact redeliveries; an answer may
arrive before its offer). The one caveat is the float ``answered_wait_sum_seconds``, whose last bit
depends on summation order unless waits are whole (or binary-fraction) seconds, as telephony sends.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from heapq import heappush

from detectors.windows.open_calls import _callback_may_wait, _open
from detectors.windows.retention import _evict
from detectors.windows.state import (
    _OUTCOMES,
    ABANDONED,
    ANSWERED,
    CALLBACK_MADE,
    CALLBACK_REQUESTED,
    DISPOSITION,
    DUPLICATE,
    KINDS,
    LATE,
    OFFERED,
    OK,
    TOO_LATE,
    Bucket,
    CallObs,
    RegionState,
    WindowConfig,
    _Minute,
)
from detectors.windows.sums import _touched


def initial() -> RegionState:
    return RegionState()


def apply(state: RegionState, obs: CallObs, config: WindowConfig) -> str:
    """Count one event into its minute's bucket IN PLACE; return OK, LATE, DUPLICATE or TOO_LATE.

    Raises ValueError, before changing anything, for an unknown kind or a missing wait/disposition.
    """
    wait, label = _checked(obs)
    key = (obs.call_id, obs.kind)
    if key in state.seen:
        state.duplicates += 1
        return DUPLICATE
    ts = obs.ts_s
    minute = int(ts // 60) * 60
    max_ts = state.max_ts_s
    result = OK
    if max_ts is not None:
        mark = max_ts - config.grace_seconds
        if minute < int(mark // 60) * 60 - config.retention_minutes * 60:
            state.too_late += 1
            return TOO_LATE
        if minute + 60 <= mark:
            state.late += 1
            result = LATE

    state.seen[key] = minute
    slot = state._minutes.get(minute)
    if slot is None:
        slot = state._minutes[minute] = _Minute()
        heappush(state._minute_heap, minute)
    if not slot.keys:  # new, or its keys were forgotten by the dedup cutoff: track them again
        heappush(state._seen_heap, minute)
    slot.keys.append(key)
    bucket = state.buckets.get((obs.provider, minute))
    if bucket is None:
        bucket = state.buckets[(obs.provider, minute)] = Bucket()
        insort(slot.providers, obs.provider)
    _count(state, bucket, obs, wait, label, config=config)
    if state._rolling or state._sums is not None:
        _touched(state, minute)
    if max_ts is None or ts > max_ts:
        state.max_ts_s = ts
        _evict(state, config)
    return result


def _checked(obs: CallObs) -> tuple[float, str]:
    """(wait, disposition) of the event, "" and 0.0 where the kind has none; raises if invalid."""
    kind = obs.kind
    if kind in _OUTCOMES:
        if obs.wait_seconds is None:
            raise ValueError(f"{kind} event for call {obs.call_id!r} has no wait_seconds")
        return obs.wait_seconds, ""
    if kind == DISPOSITION:
        if obs.disposition is None:
            raise ValueError(f"disposition event for call {obs.call_id!r} has no disposition")
        return 0.0, obs.disposition
    if kind not in KINDS:
        raise ValueError(f"unknown call event kind {kind!r}; expected one of {sorted(KINDS)}")
    return 0.0, ""


def _count(
    state: RegionState,
    bucket: Bucket,
    obs: CallObs,
    wait: float,
    label: str,
    *,
    config: WindowConfig,
) -> None:
    kind = obs.kind
    _add_cumulative(state, obs.provider, kind if kind != DISPOSITION else "disposition:" + label)
    if kind == OFFERED:
        bucket.offered += 1
        # An answer may overtake its offer; the offer must then not open the call again.
        if (obs.call_id, ANSWERED) not in state.seen and (obs.call_id, ABANDONED) not in state.seen:
            _open(state, obs.call_id, obs.provider, obs.ts_s, config)
    elif kind == ANSWERED:
        bucket.answered += 1
        bucket.answered_wait_sum_seconds += wait
        if wait <= config.answer_target_seconds:
            bucket.answered_within_target += 1
            _add_cumulative(state, obs.provider, "answered_within_target")
        _observe_wait(state, wait, config)
        state.open_calls.pop(obs.call_id, None)
    elif kind == ABANDONED:
        bucket.abandoned += 1
        if wait > config.abandon_threshold_seconds:
            bucket.abandoned_after_threshold += 1
            _add_cumulative(state, obs.provider, "abandoned_after_threshold")
        state.open_calls.pop(obs.call_id, None)
    elif kind in (CALLBACK_REQUESTED, CALLBACK_MADE):
        _count_callback(state, bucket, obs, config)
    else:
        bucket.dispositions[label] = bucket.dispositions.get(label, 0) + 1


def _count_callback(state: RegionState, bucket: Bucket, obs: CallObs, config: WindowConfig) -> None:
    """Count a request or a made callback, and pair it with its other half if that came first."""
    if obs.kind == CALLBACK_REQUESTED:
        bucket.callbacks_requested += 1
        made = state.callbacks_made_early.pop(obs.call_id, None)
        if made is not None:  # the callback overtook its request: count it now, in its minute
            _callback_paired(state, made[0], made[1], obs.ts_s, config)
        elif _callback_may_wait(state, obs.call_id, obs.ts_s, config):
            state.callback_requests[obs.call_id] = obs.ts_s
        return
    bucket.callbacks_made += 1
    requested = state.callback_requests.pop(obs.call_id, None)
    if requested is not None:
        _callback_paired(state, obs.provider, obs.ts_s, requested, config)
    elif _callback_may_wait(state, obs.call_id, obs.ts_s, config):
        state.callbacks_made_early[obs.call_id] = (obs.provider, obs.ts_s)


def _callback_paired(
    state: RegionState, provider: str, made_ts: float, requested_ts: float, config: WindowConfig
) -> None:
    """Count a callback within target in the bucket of the made event, whichever came first."""
    if made_ts - requested_ts > config.callback_target_seconds:
        return
    bucket = state.buckets.get((provider, int(made_ts // 60) * 60))
    if bucket is not None:  # None only if made is behind retention while its request is not
        bucket.callbacks_within_target += 1
        _touched(state, int(made_ts // 60) * 60)
    _add_cumulative(state, provider, "callbacks_within_target")


def _add_cumulative(state: RegionState, provider: str, name: str) -> None:
    key = (provider, name)
    state.cumulative[key] = state.cumulative.get(key, 0) + 1


def _observe_wait(state: RegionState, wait: float, config: WindowConfig) -> None:
    counts = state.wait_counts
    bounds = config.wait_buckets_seconds
    if len(counts) != len(bounds) + 1:
        counts.extend([0] * (len(bounds) + 1 - len(counts)))
    counts[bisect_left(bounds, wait)] += 1
    state.wait_sum_seconds += wait


def providers(state: RegionState) -> set[str]:
    return {name for name, _ in state.buckets}
