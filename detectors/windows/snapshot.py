"""The exact JSON round trip of a region's state, for a Faust table and its changelog.

Why a module of its own: the document's layout is versioned (``STATE_VERSION``): a change here must
bump it, so that an old changelog fails loudly. :func:`from_json` rebuilds the derived indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.windows.open_calls import _rebuild_callback_heap, _rebuild_open_heap
from detectors.windows.state import _COUNTS, STATE_VERSION, Bucket, RegionState, _Minute


def to_json(state: RegionState) -> dict[str, Any]:
    """A JSON-able snapshot, sorted so equal states give equal documents (and changelog bytes)."""
    buckets = []
    for provider, minute in sorted(state.buckets):
        b = state.buckets[(provider, minute)]
        doc: dict[str, Any] = {"provider": provider, "minute": minute}
        doc.update((name, getattr(b, name)) for name in _COUNTS)
        doc["answered_wait_sum_seconds"] = b.answered_wait_sum_seconds
        doc["dispositions"] = dict(sorted(b.dispositions.items()))
        buckets.append(doc)
    return {
        "version": STATE_VERSION,
        "max_ts_s": state.max_ts_s,
        "buckets": buckets,
        "open_calls": [[cid, *state.open_calls[cid]] for cid in sorted(state.open_calls)],
        "seen": [[cid, kind, state.seen[(cid, kind)]] for cid, kind in sorted(state.seen)],
        "late": state.late,
        "duplicates": state.duplicates,
        "too_late": state.too_late,
        "expired_calls": state.expired_calls,
        "cumulative": [
            [p, name, state.cumulative[(p, name)]] for p, name in sorted(state.cumulative)
        ],
        "wait_counts": list(state.wait_counts),
        "wait_sum_seconds": state.wait_sum_seconds,
        "callback_requests": [
            [c, state.callback_requests[c]] for c in sorted(state.callback_requests)
        ],
        "callbacks_made_early": [
            [c, *state.callbacks_made_early[c]] for c in sorted(state.callbacks_made_early)
        ],
    }


def from_json(doc: Mapping[str, Any]) -> RegionState:
    """Restore a :func:`to_json` snapshot exactly, rebuilding the derived indexes."""
    version = doc.get("version")
    if version != STATE_VERSION:
        raise ValueError(
            f"region state has version {version!r}, this code reads {STATE_VERSION}; "
            "rebuild the table by replaying the call-events topic"
        )
    buckets: dict[tuple[str, int], Bucket] = {}
    for d in doc["buckets"]:
        bucket = Bucket()
        for name in _COUNTS:
            setattr(bucket, name, int(d[name]))
        bucket.answered_wait_sum_seconds = float(d["answered_wait_sum_seconds"])
        bucket.dispositions = {str(k): int(n) for k, n in d["dispositions"].items()}
        buckets[(str(d["provider"]), int(d["minute"]))] = bucket
    max_ts = doc["max_ts_s"]
    state = RegionState(
        max_ts_s=None if max_ts is None else float(max_ts),
        buckets=buckets,
        open_calls={str(c): (str(p), float(ts)) for c, p, ts in doc["open_calls"]},
        seen={(str(c), str(k)): int(m) for c, k, m in doc["seen"]},
        late=int(doc["late"]),
        duplicates=int(doc["duplicates"]),
        too_late=int(doc["too_late"]),
        expired_calls=int(doc["expired_calls"]),
        cumulative={(str(p), str(name)): int(n) for p, name, n in doc["cumulative"]},
        wait_counts=[int(n) for n in doc["wait_counts"]],
        wait_sum_seconds=float(doc["wait_sum_seconds"]),
        callback_requests={str(c): float(ts) for c, ts in doc["callback_requests"]},
        callbacks_made_early={
            str(c): (str(p), float(ts)) for c, p, ts in doc["callbacks_made_early"]
        },
    )
    _reindex(state)
    return state


def _reindex(state: RegionState) -> None:
    """Rebuild the derived indexes from the serialised fields (after from_json)."""
    minutes: dict[int, _Minute] = {}
    for provider, minute in sorted(state.buckets):
        minutes.setdefault(minute, _Minute()).providers.append(provider)
    for key, minute in state.seen.items():
        minutes.setdefault(minute, _Minute()).keys.append(key)
    state._minutes = minutes
    state._minute_heap = sorted(minutes)
    state._seen_heap = sorted({m for m, slot in minutes.items() if slot.keys})
    _rebuild_open_heap(state)
    _rebuild_callback_heap(state)
