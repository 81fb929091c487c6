"""The demand forecast a readiness check is run on (issue 19): callers expected per region,
provider and interval, and their mean handle time.

A CSV with a header row naming exactly DEMAND_COLUMNS, in any order, read and validated whole
like the rota (streams.contract.csv_table): an unknown or missing column, region or provider, a
bad time, other minutes, a negative or non-numeric count, a handle time that is not positive, a
duplicate or two overlapping intervals of one region and provider are all reported at once,
each with its line number, and nothing of the file is used.

| column | value |
|---|---|
| region, provider | codes of the region catalogue; the provider must serve the region |
| start | interval start, ISO-8601 with a UTC offset, on a whole minute |
| minutes | 15, 30 or 60 |
| calls | callers expected in the interval, a number >= 0 (a forecast may be fractional) |
| handle_seconds | their mean handle time (on a call + wrap-up), a number > 0 |
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from streams.contract.catalogue import Catalogue
from streams.contract.csv_table import (
    PlanFileError,
    RowError,
    interval_minutes,
    read_table,
    region_provider,
    start_minute,
)
from streams.contract.rota import INTERVAL_MINUTES, format_start

DEMAND_COLUMNS: Final = ("region", "provider", "start", "minutes", "calls", "handle_seconds")


class DemandFileError(PlanFileError):
    """A demand file that cannot be used; `problems` names each line and what to fix."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("demand", source, problems, "nothing written")


@dataclass(frozen=True, slots=True)
class DemandInterval:
    """Callers expected in [start_s, start_s + minutes * 60) of one region and provider."""

    region: str
    provider: str
    start_s: int  # UTC epoch seconds, a whole minute
    minutes: int  # 15 | 30 | 60
    calls: float
    handle_seconds: float

    @property
    def end_s(self) -> int:
        return self.start_s + 60 * self.minutes

    def to_row(self) -> dict[str, object]:
        """The CSV row (DEMAND_COLUMNS), start in the rota's canonical form."""
        return {
            "region": self.region,
            "provider": self.provider,
            "start": format_start(self.start_s),
            "minutes": self.minutes,
            "calls": round(self.calls, 3),
            "handle_seconds": round(self.handle_seconds, 1),
        }


def parse_demand_csv(text: str, catalogue: Catalogue, source: str) -> list[DemandInterval]:
    """Every interval of a demand CSV in file order, or DemandFileError listing every problem."""
    parsed = read_table(
        text, source, DEMAND_COLUMNS, lambda row: _row(row, catalogue),
        fail=lambda problems: DemandFileError(source, problems), noun="interval",
        clashes=_clashes,
    )  # fmt: skip
    return [interval for _, interval in parsed]


def _row(row: dict[str, str], catalogue: Catalogue) -> DemandInterval:
    region, provider = region_provider(row, catalogue)
    return DemandInterval(
        region=region,
        provider=provider,
        start_s=start_minute(row["start"]),
        minutes=interval_minutes(row["minutes"], INTERVAL_MINUTES),
        calls=_number(row, "calls", "callers expected, 0 or more", zero_ok=True),
        handle_seconds=_number(row, "handle_seconds", "seconds per handled call", zero_ok=False),
    )


def _number(row: dict[str, str], name: str, what: str, *, zero_ok: bool) -> float:
    text = row[name]
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"{name} {text[:40]!r} is not a number; write {what}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        bound = "0 or more" if zero_ok else "more than 0"
        raise RowError(f"{name} {text[:40]} must be a finite number, {bound}; write {what}")
    return value


def _clashes(parsed: list[tuple[int, DemandInterval]]) -> list[tuple[int, str]]:
    """Duplicate and overlapping intervals of one region and provider, on the later line."""
    problems: list[tuple[int, str]] = []
    groups: dict[tuple[str, str], list[tuple[int, DemandInterval]]] = defaultdict(list)
    for line, interval in parsed:
        groups[(interval.region, interval.provider)].append((line, interval))
    for (region, provider), rows in groups.items():
        rows.sort(key=lambda r: (r[1].start_s, r[0]))
        reach: tuple[int, DemandInterval] | None = None  # the row ending last so far
        for row in rows:
            if reach is not None and row[1].start_s < reach[1].end_s:
                (first, _), (second, b) = sorted((reach, row), key=lambda r: r[0])
                same = reach[1].start_s == row[1].start_s
                what = "duplicate interval" if same else "overlapping interval"
                problems.append(
                    (
                        second,
                        f"{what} {region}/{provider} {format_start(b.start_s)} +{b.minutes} min "
                        f"(line {first}); keep one line per region, provider and minute",
                    )
                )
            if reach is None or row[1].end_s > reach[1].end_s:
                reach = row
    return problems
