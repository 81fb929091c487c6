"""The demand forecast file: parsed in file order, every problem reported with its line."""

from __future__ import annotations

import pytest

from streams.contract.catalogue import default_catalogue
from streams.contract.demand import (
    DEMAND_COLUMNS,
    DemandFileError,
    DemandInterval,
    parse_demand_csv,
)
from streams.contract.errors import ConfigError

CAT = default_catalogue()
SOURCE = "demand.csv"
HEADER = ",".join(DEMAND_COLUMNS)
T0 = 1364544000  # 2013-03-29T08:00:00+00:00
NW = "north-west,nhs-direct"


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def row(start: str = "2013-03-29T08:00:00+00:00", minutes: str = "30", calls: str = "88.4",
        handle: str = "480", who: str = NW) -> str:  # fmt: skip
    return f"{who},{start},{minutes},{calls},{handle}"


def test_a_valid_file_parses_in_file_order() -> None:
    """One interval per line, starts in UTC epoch seconds, fractional callers kept."""
    text = csv_text(
        row(),
        row(start="2013-03-29T09:30:00+01:00", calls="0"),
        "london,lcw,2013-03-29T08:00:00Z,60,301,525.5",
    )
    assert parse_demand_csv(text, CAT, SOURCE) == [
        DemandInterval("north-west", "nhs-direct", T0, 30, 88.4, 480.0),
        DemandInterval("north-west", "nhs-direct", T0 + 1800, 30, 0.0, 480.0),
        DemandInterval("london", "lcw", T0, 60, 301.0, 525.5),
    ]


def test_columns_may_come_in_any_order_with_a_bom_and_spaces() -> None:
    """Spreadsheet habits are accepted: a byte-order mark, reordered columns, padded cells."""
    header = "calls, handle_seconds ,region,provider,start,minutes"
    text = "\ufeff" + csv_text(" 12 ,300,north-west,nhs-direct,2013-03-29T08:00:00+00:00,15",
                               header=header)  # fmt: skip
    assert parse_demand_csv(text, CAT, SOURCE) == [
        DemandInterval("north-west", "nhs-direct", T0, 15, 12.0, 300.0)
    ]


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (csv_text(), 1, "a header and no intervals"),
        ("", 1, "no header"),
        (csv_text(row(), header=HEADER + ",site"), 1, "unknown column 'site'"),
        (csv_text(row(), header=HEADER.replace(",calls", "")), 1, "missing column 'calls'"),
        (csv_text(row(), row(who="atlantis,nhs-direct")), 3, "unknown region 'atlantis'"),
        (csv_text(row(who="north-west,lcw")), 2, "provider 'lcw' does not serve region"),
        (csv_text(row(start="tomorrow")), 2, "bad start time 'tomorrow'"),
        (csv_text(row(start="2013-03-29T08:00:30+00:00")), 2, "not on a whole minute"),
        (csv_text(row(minutes="20")), 2, "minutes '20' must be 15, 30 or 60"),
        (csv_text(row(calls="-3")), 2, "calls -3 must be a finite number, 0 or more"),
        (csv_text(row(calls="many")), 2, "calls 'many' is not a number"),
        (csv_text(row(calls="nan")), 2, "calls nan must be a finite number"),
        (csv_text(row(handle="0")), 2, "handle_seconds 0 must be a finite number, more than 0"),
        (csv_text(row(), "north-west,nhs-direct,x"), 3, "3 cells, the header has 6 columns"),
        (csv_text(row(), row()), 3, "duplicate interval north-west/nhs-direct"),
        (csv_text(row(minutes="60"), row(start="2013-03-29T08:30:00+00:00")), 3,
         "overlapping interval north-west/nhs-direct 2013-03-29T08:30:00+00:00 +30 min (line 2)"),
    ],
)  # fmt: skip
def test_a_bad_file_names_the_line_and_what_to_fix(text: str, line: int, expected: str) -> None:
    """Each kind of problem is reported as `demand.csv line N: ...` and the file is refused."""
    with pytest.raises(DemandFileError) as info:
        parse_demand_csv(text, CAT, SOURCE)
    assert isinstance(info.value, ConfigError)  # the CLI's exit status 2
    assert any(p.startswith(f"{SOURCE} line {line}: ") and expected in p
               for p in info.value.problems), info.value.problems  # fmt: skip
    assert str(info.value).startswith(f"demand {SOURCE}: ")
    assert "nothing written" in str(info.value).splitlines()[0]


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    """Three bad lines among good ones: three problems, in line order."""
    text = csv_text(row(calls="x"), row(start="2013-03-29T08:30:00+00:00"), row(minutes="7"),
                    row(who="narnia,x"))  # fmt: skip
    with pytest.raises(DemandFileError) as info:
        parse_demand_csv(text, CAT, SOURCE)
    assert [p.split(":")[0] for p in info.value.problems] == [
        f"{SOURCE} line 2", f"{SOURCE} line 4", f"{SOURCE} line 5",
    ]  # fmt: skip
