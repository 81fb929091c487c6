"""The rota of ../shared/DESIGN.md (Events, RotaInterval): the handlers each provider is
commissioned for and has rostered, per region, role and interval, as planned ahead.

Operators write it as CSV (`surge-monitor rota publish FILE.csv`, the columns are the field names)
and it travels as JSON on the compacted rota topic, keyed `region/provider/role/start`; the latest
record for a key wins, so re-publishing an interval corrects it.

`start` has one canonical form, used in the key and in the JSON alike: the instant in UTC to the
second with an explicit offset, `2013-03-29T08:00:00+00:00` (`datetime.isoformat`; an interval
starts on a whole minute, so milliseconds would only be noise). So the key of a decoded value is
the Kafka key, character for character. Input may use any offset (`08:00:00+01:00`, `...Z`): it
is read with `parse_ts`, as event times are.

The CSV is validated whole before anything is returned, and every problem of the file is reported
at once, each with its line number, so a bad file is fixed in one pass and nothing of it is
published.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import orjson

from streams.contract.catalogue import Catalogue
from streams.contract.csv_table import (
    PlanFileError,
    RowError,
    interval_minutes,
    read_table,
    region_provider,
    start_minute,
)
from streams.contract.records import (
    AGENT_ROLES,
    InvalidEvent,
    _check_fields,
    _choice,
    _kind,
    _provider,
    _region,
    decode_object,
    parse_ts,
)

ROTA_COLUMNS: Final = (
    "region",
    "provider",
    "role",
    "start",
    "minutes",
    "commissioned",
    "rostered",
)
ROTA_FIELDS: Final = frozenset(ROTA_COLUMNS)
INTERVAL_MINUTES: Final = (15, 30, 60)
ROLES: Final = tuple(sorted(AGENT_ROLES))  # clinician, health_adviser (as AgentStateEvent)
_WHOLE: Final = re.compile(r"[0-9]+")


class RotaFileError(PlanFileError):
    """A rota file that cannot be published; `problems` holds one line per problem, each
    naming the file and line number and what to fix."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("rota", source, problems, "nothing published")


@dataclass(frozen=True, slots=True)
class RotaInterval:
    """Handlers planned for [start_s, start_s + minutes * 60) of one region, provider and role."""

    region: str
    provider: str
    role: str  # health_adviser | clinician
    start_s: int  # interval start, UTC epoch seconds, a whole minute
    minutes: int  # 15 | 30 | 60
    commissioned: int  # handlers the contract requires on the phones
    rostered: int  # handlers the provider scheduled

    @property
    def end_s(self) -> int:
        return self.start_s + self.minutes * 60

    @property
    def key(self) -> str:
        """The Kafka key: `region/provider/role/start`, start in the canonical form."""
        return f"{self.region}/{self.provider}/{self.role}/{format_start(self.start_s)}"

    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "provider": self.provider,
            "role": self.role,
            "start": format_start(self.start_s),
            "minutes": self.minutes,
            "commissioned": self.commissioned,
            "rostered": self.rostered,
        }


def format_start(start_s: float) -> str:
    """The canonical start: UTC to the second with its offset, e.g. 2013-03-29T08:00:00+00:00."""
    return datetime.fromtimestamp(int(start_s), tz=UTC).isoformat()


def encode_rota(interval: RotaInterval) -> bytes:
    return orjson.dumps(interval.to_json())


def decode_rota(raw: bytes | None, catalogue: Catalogue) -> RotaInterval:
    """A RotaInterval from the topic; raises InvalidEvent (unknown fields too) as events do."""
    return validate_rota(decode_object(raw), catalogue)


def validate_rota(doc: dict[str, object], catalogue: Catalogue) -> RotaInterval:
    _check_fields(doc, ROTA_FIELDS, ROTA_COLUMNS)
    region = _region(doc, catalogue)
    provider = _provider(doc, region, catalogue)
    role = _choice(doc, "role", AGENT_ROLES)
    start_s = _start(parse_ts(_string(doc, "start")))
    minutes = _count(doc["minutes"], "minutes")
    if minutes not in INTERVAL_MINUTES:
        raise InvalidEvent("bad_minutes", f"minutes {minutes} not in {list(INTERVAL_MINUTES)}")
    commissioned = _count(doc["commissioned"], "commissioned")
    rostered = _count(doc["rostered"], "rostered")
    return RotaInterval(region, provider, role, start_s, minutes, commissioned, rostered)


def _string(doc: dict[str, object], name: str) -> str:
    value = doc[name]
    if not isinstance(value, str):
        raise InvalidEvent("bad_type", f"{name} must be an ISO-8601 string, not {_kind(value)}")
    return value


def _start(ts_s: float) -> int:
    if ts_s % 60:
        raise InvalidEvent("bad_start", f"start {ts_s} is not on a whole minute")
    return int(ts_s)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent("bad_type", f"{name} must be a whole number, not {_kind(value)}")
    if value < 0:
        raise InvalidEvent("bad_count", f"{name} {value} < 0")
    return value


# --- CSV ---------------------------------------------------------------------------------------


def parse_rota_csv(text: str, catalogue: Catalogue, source: str) -> list[RotaInterval]:
    """Every interval of a rota CSV in file order, or RotaFileError listing every problem
    (streams.contract.csv_table: the header names exactly ROTA_COLUMNS, in any order)."""
    parsed = read_table(
        text, source, ROTA_COLUMNS, lambda row: _row(row, catalogue),
        fail=lambda problems: RotaFileError(source, problems), noun="interval", clashes=_clashes,
    )  # fmt: skip
    return [interval for _, interval in parsed]


def _row(row: dict[str, str], catalogue: Catalogue) -> RotaInterval:
    region, provider = region_provider(row, catalogue)
    role = row["role"]
    if role not in AGENT_ROLES:
        raise RowError(f"unknown role {role[:40]!r}; use {' or '.join(ROLES)}")
    return RotaInterval(
        region=region,
        provider=provider,
        role=role,
        start_s=start_minute(row["start"]),
        minutes=interval_minutes(row["minutes"], INTERVAL_MINUTES),
        commissioned=_cell_count(row, "commissioned"),
        rostered=_cell_count(row, "rostered"),
    )


def _cell_count(row: dict[str, str], name: str) -> int:
    text = row[name]
    if text.startswith("-") and _WHOLE.fullmatch(text[1:]):
        raise RowError(f"{name} {text} is negative; write a whole number of handlers, 0 or more")
    if not _WHOLE.fullmatch(text):
        raise RowError(f"{name} {text[:40]!r} is not a whole number; write 0 or more handlers")
    return int(text)


def _clashes(parsed: list[tuple[int, RotaInterval]]) -> list[tuple[int, str]]:
    """Duplicate keys and overlapping intervals of one region, provider and role, reported on
    the later line of the two and naming the earlier one."""
    problems: list[tuple[int, str]] = []
    groups: dict[tuple[str, str, str], list[tuple[int, RotaInterval]]] = defaultdict(list)
    for line, interval in parsed:
        groups[(interval.region, interval.provider, interval.role)].append((line, interval))
    for (region, provider, role), rows in groups.items():
        rows.sort(key=lambda r: (r[1].start_s, r[0]))
        previous: tuple[int, RotaInterval] | None = None
        reach: tuple[int, RotaInterval] | None = None  # the row ending last so far
        for row in rows:
            if previous is not None and previous[1].start_s == row[1].start_s:
                (first, _), (second, interval) = sorted((previous, row), key=lambda r: r[0])
                problems.append(
                    (
                        second,
                        f"duplicate interval {interval.key} (also on line {first}); keep one "
                        "line per region, provider, role and start",
                    )
                )
            elif reach is not None and row[1].start_s < reach[1].end_s:
                (first, a), (second, b) = sorted((reach, row), key=lambda r: r[0])
                problems.append(
                    (
                        second,
                        f"interval {_span(b)} overlaps line {first} ({_span(a)}) for "
                        f"{region}/{provider}/{role}; intervals of one region, provider and "
                        "role must not overlap",
                    )
                )
            if reach is None or row[1].end_s > reach[1].end_s:
                reach = row
            previous = row
    return problems


def _span(interval: RotaInterval) -> str:
    return f"{format_start(interval.start_s)} +{interval.minutes} min"
