"""The rota as an index: at instant ts, for (region, provider, role), what handlers were
commissioned and rostered (DESIGN.md, KPIs: staffing)?

Built from rota intervals in the order they were published: a later interval with the same
(region, provider, role, start) replaces the earlier one (the compacted topic's rule). Intervals
of different starts may still overlap when two files disagree; then the covering interval that
starts last answers (the more specific, later plan). An instant no interval covers has no plan:
None, not zero (a missing rota is not a rota of zero handlers).

A lookup is a bisection on the sorted starts of its (region, provider, role), then a short walk
back over the intervals that could still reach ts (starts are whole minutes, so at most
`longest / 60` of them; one in a rota without overlaps). Immutable: `updated` returns a new index,
so a worker swaps its index whole when it re-reads the topic, and a reader never sees half of it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class RotaEntry(Protocol):
    """What the index needs of an interval (streams.contract.rota.RotaInterval has it)."""

    @property
    def region(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def start_s(self) -> float: ...
    @property
    def minutes(self) -> int: ...
    @property
    def commissioned(self) -> int: ...
    @property
    def rostered(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Planned:
    """The plan of the interval [start_s, end_s) that covers the instant asked about."""

    commissioned: int
    rostered: int
    start_s: float
    end_s: float


Group = tuple[str, str, str]  # region, provider, role
EntryKey = tuple[str, str, str, float]  # region, provider, role, start_s


@dataclass(frozen=True, slots=True)
class _Column:
    """One (region, provider, role): its intervals sorted by start."""

    starts: tuple[float, ...]
    plans: tuple[Planned, ...]
    longest_s: float


class RotaIndex:
    """Commissioned and rostered handlers by instant; see the module docstring."""

    __slots__ = ("_columns", "_latest")

    def __init__(self, entries: Iterable[RotaEntry] = ()) -> None:
        latest: dict[EntryKey, Planned] = {}
        for e in entries:
            end_s = e.start_s + e.minutes * 60
            latest[(e.region, e.provider, e.role, e.start_s)] = Planned(
                e.commissioned, e.rostered, e.start_s, end_s
            )
        self._latest = latest
        self._columns = _columns(latest)

    def updated(self, entries: Iterable[RotaEntry]) -> RotaIndex:
        """A new index: this one's intervals, then `entries` (replacing those of equal key)."""
        out = RotaIndex()
        merged = dict(self._latest)
        merged.update(RotaIndex(entries)._latest)
        out._latest = merged
        out._columns = _columns(merged)
        return out

    def __len__(self) -> int:
        return len(self._latest)

    def lookup(self, region: str, provider: str, role: str, ts_s: float) -> Planned | None:
        """The plan of the interval covering `ts_s` (start inclusive, end exclusive), or None."""
        column = self._columns.get((region, provider, role))
        if column is None:
            return None
        i = bisect_right(column.starts, ts_s) - 1
        reach_from = ts_s - column.longest_s  # an interval starting at or before this has ended
        while i >= 0 and column.starts[i] > reach_from:
            plan = column.plans[i]
            if ts_s < plan.end_s:
                return plan
            i -= 1
        return None


def _columns(latest: dict[EntryKey, Planned]) -> dict[Group, _Column]:
    grouped: dict[Group, list[Planned]] = {}
    for (region, provider, role, _), plan in latest.items():
        grouped.setdefault((region, provider, role), []).append(plan)
    columns: dict[Group, _Column] = {}
    for group, plans in grouped.items():
        plans.sort(key=lambda p: p.start_s)
        columns[group] = _Column(
            starts=tuple(p.start_s for p in plans),
            plans=tuple(plans),
            longest_s=max(p.end_s - p.start_s for p in plans),
        )
    return columns
