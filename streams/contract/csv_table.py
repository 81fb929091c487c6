"""Planning files as CSV (the rota, the demand forecast): one reader, so every such file is
validated the same way.

The header names exactly the given columns, in any order; cells are stripped of surrounding
spaces; blank lines and a leading byte-order mark (spreadsheets write one) are skipped. The
whole file is read before anything is returned, and every problem is reported at once, each
with the file's own line number (1 = the header), so a bad file is fixed in one pass and nothing
of it is used.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from streams.contract.catalogue import Catalogue
from streams.contract.errors import ConfigError
from streams.contract.records import InvalidEvent, parse_ts

MAX_PROBLEMS_SHOWN: Final = 50  # a file wrong on every line still gives a readable message
T = TypeVar("T")


class PlanFileError(ConfigError):
    """A planning file that cannot be used; `problems` holds one line per problem, each naming
    the file and line number and what to fix."""

    def __init__(self, kind: str, source: str, problems: list[str], outcome: str) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        lines = [f"{kind} {source}: {len(problems)} problem(s), {outcome}", *shown]
        if more:
            lines.append(f"... and {more} more")
        super().__init__("\n".join(lines))
        self.source = source
        self.problems = problems


class RowError(ValueError):
    """One cell of one line is wrong (the message says which and what to write)."""


def read_table(
    text: str,
    source: str,
    columns: Sequence[str],
    row: Callable[[dict[str, str]], T],
    *,
    fail: Callable[[list[str]], Exception],
    noun: str,
    clashes: Callable[[list[tuple[int, T]]], list[tuple[int, str]]] | None = None,
) -> list[tuple[int, T]]:
    """(line, row(cells)) for every line of the file, or `fail(problems)` raised with every
    problem; `row` raises RowError for a bad line, `clashes` names lines that conflict with
    others (duplicates, overlaps). `noun` names a line ("interval")."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise fail([f"{source} line 1: not CSV ({exc})"]) from None
    if header is None or not any(cell.strip() for cell in header):
        first = ",".join(columns)
        raise fail([f"{source} line 1: no header; the first line must be {first}"])
    names = [cell.strip() for cell in header]
    problems = header_problems(names, columns)
    if problems:
        raise fail(lines(source, problems))
    parsed: list[tuple[int, T]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                what = f"{len(cells)} cells, the header has {len(names)} columns"
                problems.append((line, f"{what}; give every column a value"))
                continue
            try:
                parsed.append(
                    (line, row(dict(zip(names, (c.strip() for c in cells), strict=True))))
                )
            except RowError as exc:
                problems.append((line, str(exc)))
    except csv.Error as exc:
        problems.append((reader.line_num, f"not CSV ({exc})"))
    if clashes is not None:
        problems += clashes(parsed)
    if problems:
        raise fail(lines(source, problems))
    if not parsed:
        raise fail([f"{source} line 1: a header and no {noun}s; add one line per {noun}"])
    return parsed


def lines(source: str, problems: list[tuple[int, str]]) -> list[str]:
    return [f"{source} line {line}: {what}" for line, what in sorted(problems, key=lambda p: p[0])]


def header_problems(names: list[str], columns: Sequence[str]) -> list[tuple[int, str]]:
    expected = ", ".join(columns)
    problems = [
        (1, f"unknown column {name!r}; the columns are {expected}")
        for name in names
        if name not in columns
    ]
    problems += [
        (1, f"column {name!r} appears twice; name each column once")
        for name in sorted({n for n in names if names.count(n) > 1})
    ]
    problems += [
        (1, f"missing column {name!r}; the columns are {expected}")
        for name in columns
        if name not in names
    ]
    return problems


def region_provider(row: dict[str, str], catalogue: Catalogue) -> tuple[str, str]:
    """The row's region and provider, both of the catalogue and the provider serving the region."""
    region = row["region"]
    if region not in catalogue.by_code:
        raise RowError(
            f"unknown region {region[:40]!r}; use a region code of the catalogue: "
            + ", ".join(catalogue.codes())
        )
    provider = row["provider"]
    if provider not in catalogue.provider_sets[region]:
        raise RowError(
            f"provider {provider[:40]!r} does not serve region {region!r} in the catalogue; "
            f"its providers are: {', '.join(catalogue.region(region).provider_ids())}"
        )
    return region, provider


def start_minute(text: str) -> int:
    """An interval start: ISO-8601 with an offset, on a whole minute; UTC epoch seconds."""
    try:
        ts_s = parse_ts(text)
    except InvalidEvent as exc:
        raise RowError(
            f"bad start time {text[:40]!r} ({exc.detail}); write ISO-8601 with a UTC "
            "offset, e.g. 2013-03-29T08:00:00+00:00"
        ) from None
    if ts_s % 60:
        raise RowError(f"start {text!r} is not on a whole minute; intervals start at 00 seconds")
    return int(ts_s)


def interval_minutes(text: str, allowed: Sequence[int]) -> int:
    if text not in {str(m) for m in allowed}:
        choices = ", ".join(str(m) for m in allowed[:-1]) + f" or {allowed[-1]}"
        raise RowError(f"minutes {text[:40]!r} must be {choices}")
    return int(text)
