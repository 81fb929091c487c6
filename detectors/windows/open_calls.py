"""What waits for its other half: open calls, and callbacks requested or made but not paired.

Why a module of its own: both wait in a dict with a heap by event time that expires them after
``open_call_limit_seconds``, and a late event older than that limit is not kept at all, so the
outcome does not depend on arrival order. Entries of calls since closed (or callbacks since paired)
stay in the heap until popped or compacted: O(1) amortised. The calls-waiting gauges read here.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from detectors.windows.state import RegionState, WindowConfig


def _open(state: RegionState, call_id: str, provider: str, ts: float, config: WindowConfig) -> None:
    """Open a call, or count it expired at once if it is already older than the limit (a late
    offer), so that the expired count is the same whichever order the events came in."""
    max_ts = state.max_ts_s
    if max_ts is not None and ts < max_ts - config.open_call_limit_seconds:
        state.expired_calls += 1
        return
    state.open_calls[call_id] = (provider, ts)
    heap = state._open_heap
    heappush(heap, (ts, call_id))
    if len(heap) > 2 * len(state.open_calls) + 64:  # mostly closed calls: compact, O(1) amortised
        _rebuild_open_heap(state)


def _callback_may_wait(state: RegionState, call_id: str, ts: float, config: WindowConfig) -> bool:
    """Whether a callback event may wait for its other half: not if already older than the
    open-call limit (as in _open, so the outcome is the same whichever order events came in)."""
    max_ts = state.max_ts_s
    if max_ts is not None and ts < max_ts - config.open_call_limit_seconds:
        return False
    waiting = len(state.callback_requests) + len(state.callbacks_made_early)
    if len(state._callback_heap) > 2 * waiting + 64:  # mostly paired: compact, O(1) amortised
        _rebuild_callback_heap(state)
    heappush(state._callback_heap, (ts, call_id))
    return True


def _forget_callbacks(state: RegionState, before_s: float) -> None:
    """Forget callback halves older than `before_s` whose other half never came."""
    heap = state._callback_heap
    while heap and heap[0][0] < before_s:
        ts, call_id = heappop(heap)
        if state.callback_requests.get(call_id) == ts:
            del state.callback_requests[call_id]
        made = state.callbacks_made_early.get(call_id)
        if made is not None and made[1] == ts:
            del state.callbacks_made_early[call_id]


def _rebuild_open_heap(state: RegionState) -> None:
    state._open_heap = [(ts, call_id) for call_id, (_, ts) in state.open_calls.items()]
    heapify(state._open_heap)


def _rebuild_callback_heap(state: RegionState) -> None:
    heap = [(ts, call_id) for call_id, ts in state.callback_requests.items()]
    heap += [(ts, call_id) for call_id, (_, ts) in state.callbacks_made_early.items()]
    heapify(heap)
    state._callback_heap = heap


def calls_waiting(state: RegionState, provider: str | None = None) -> int:
    if provider is None:
        return len(state.open_calls)
    return sum(1 for name, _ in state.open_calls.values() if name == provider)


def longest_wait_seconds(state: RegionState) -> float | None:
    """Age of the oldest open call at the region's max event time (event time, not the clock)."""
    if not state.open_calls or state.max_ts_s is None:
        return None
    return state.max_ts_s - min(ts for _, ts in state.open_calls.values())
