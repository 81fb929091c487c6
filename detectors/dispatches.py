"""Ambulance dispatches for one region: exact cumulative counts by source and category.

The referral spike itself is measured on the 111 side (dispositions, detectors.answer_rates);
dispatches are the downstream confirmation (DESIGN.md, KPIs), so here only counts are kept,
with redeliveries of the same incident dropped. State in, result out, JSON round trip exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK = "ok"
LATE = "late"
DUPLICATE = "duplicate"
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class DispatchObs:
    incident_id: str
    ts_s: float
    source: str  # 111 | 999 | hcp | other
    category: str  # C1..C4


@dataclass(slots=True)
class DispatchState:
    max_ts_s: float | None = None
    cumulative: dict[tuple[str, str], int] = field(default_factory=dict)  # (source, category)
    seen: dict[str, float] = field(default_factory=dict)  # incident_id -> event time
    duplicates: int = 0
    late: int = 0


@dataclass(frozen=True, slots=True)
class DispatchView:
    watermark_s: float | None
    cumulative: tuple[tuple[str, str, int], ...]  # (source, category, n), sorted


def initial() -> DispatchState:
    return DispatchState()


def apply(
    state: DispatchState, obs: DispatchObs, grace_seconds: float, dedup_seconds: float
) -> str:
    """Count one dispatch IN PLACE (as detectors.windows.apply); OK, LATE (counted) or DUPLICATE."""
    if obs.incident_id in state.seen:
        state.duplicates += 1
        return DUPLICATE
    result = OK
    max_ts = state.max_ts_s
    if max_ts is not None and obs.ts_s < max_ts - grace_seconds:
        state.late += 1
        result = LATE
    key = (obs.source, obs.category)
    state.cumulative[key] = state.cumulative.get(key, 0) + 1
    state.seen[obs.incident_id] = obs.ts_s
    if max_ts is None or obs.ts_s > max_ts:
        previous_minute = None if max_ts is None else int(max_ts // 60)
        state.max_ts_s = obs.ts_s
        if previous_minute != int(obs.ts_s // 60):  # forget old incidents once a minute
            cutoff = obs.ts_s - dedup_seconds
            state.seen = {i: ts for i, ts in state.seen.items() if ts >= cutoff}
    return result


def view(state: DispatchState, grace_seconds: float) -> DispatchView:
    mark = None if state.max_ts_s is None else state.max_ts_s - grace_seconds
    counts = tuple((s, c, n) for (s, c), n in sorted(state.cumulative.items()))
    return DispatchView(mark, counts)


def to_json(state: DispatchState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "max_ts_s": state.max_ts_s,
        "cumulative": [[s, c, n] for (s, c), n in sorted(state.cumulative.items())],
        "seen": sorted([i, ts] for i, ts in state.seen.items()),
        "duplicates": state.duplicates,
        "late": state.late,
    }


def from_json(doc: dict[str, Any]) -> DispatchState:
    if doc.get("version") != STATE_VERSION:
        raise ValueError(f"dispatch state version {doc.get('version')!r}, expected {STATE_VERSION}")
    max_ts = doc["max_ts_s"]
    return DispatchState(
        max_ts_s=None if max_ts is None else float(max_ts),
        cumulative={(str(s), str(c)): int(n) for s, c, n in doc["cumulative"]},
        seen={str(i): float(ts) for i, ts in doc["seen"]},
        duplicates=int(doc["duplicates"]),
        late=int(doc["late"]),
    )
