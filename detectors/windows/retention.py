"""The watermark and retention: which minutes are closed, and what falls behind.

Why a module of its own: the watermark (the region's max event time seen - grace) says which
minutes a reader may report (:func:`closed_minute`) and, with ``retention_minutes``,
``dedup_minutes`` and ``open_call_limit_seconds``, what :func:`_evict` drops each time the max
moves on: old buckets, remembered (call_id, kind) pairs, expired open calls and callback halves.
"""

from __future__ import annotations

from heapq import heappop

from detectors.windows.open_calls import _forget_callbacks
from detectors.windows.state import RegionState, WindowConfig
from detectors.windows.sums import _touched


def watermark(state: RegionState, config: WindowConfig) -> float | None:
    return None if state.max_ts_s is None else state.max_ts_s - config.grace_seconds


def closed_minute(state: RegionState, config: WindowConfig) -> int | None:
    """Start of the last minute whose end <= the watermark: the newest minute safe to report."""
    mark = watermark(state, config)
    return None if mark is None else int(mark // 60) * 60 - 60


def oldest_minute(state: RegionState) -> int | None:
    """The oldest retained minute (the top of the eviction heap: O(1))."""
    return state._minute_heap[0] if state._minute_heap else None


def _evict(state: RegionState, config: WindowConfig) -> None:
    """Drop minutes behind retention and expire open calls; each heap top check is O(1)."""
    max_ts = state.max_ts_s
    if max_ts is None:
        return
    mark_minute = int((max_ts - config.grace_seconds) // 60) * 60
    cutoff = mark_minute - config.retention_minutes * 60
    heap = state._minute_heap
    while heap and heap[0] < cutoff:
        minute = heappop(heap)
        slot = state._minutes.pop(minute)
        _touched(state, minute)
        for provider in slot.providers:
            bucket = state.buckets.pop((provider, minute))
            if state.evicted is not None:
                state.evicted.append((provider, minute, bucket))
        for key in slot.keys:
            state.seen.pop(key, None)
    seen_cutoff = mark_minute - config.dedup_minutes * 60
    seen_heap = state._seen_heap
    while seen_heap and seen_heap[0] < seen_cutoff:
        kept = state._minutes.get(heappop(seen_heap))
        if kept is not None:
            for key in kept.keys:
                state.seen.pop(key, None)
            kept.keys = []
    expire_before = max_ts - config.open_call_limit_seconds
    open_heap = state._open_heap
    while open_heap and open_heap[0][0] < expire_before:
        ts, call_id = heappop(open_heap)
        entry = state.open_calls.get(call_id)
        if entry is not None and entry[1] == ts:
            del state.open_calls[call_id]
            state.expired_calls += 1
    _forget_callbacks(state, expire_before)
