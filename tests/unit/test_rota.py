"""The rota contract: CSV validation with line numbers, the key, and the JSON wire form."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.contract.catalogue import default_catalogue
from streams.contract.errors import ConfigError
from streams.contract.records import InvalidEvent
from streams.contract.rota import (
    ROTA_COLUMNS,
    RotaFileError,
    RotaInterval,
    decode_rota,
    encode_rota,
    format_start,
    parse_rota_csv,
)

CAT = default_catalogue()
SOURCE = "rota.csv"
HEADER = ",".join(ROTA_COLUMNS)
T0 = 1364544000  # 2013-03-29T08:00:00+00:00
NW_HA = "north-west,nhs-direct,health_adviser"
NW_CL = "north-west,nhs-direct,clinician"


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def row(
    start: str = "2013-03-29T08:00:00+00:00",
    minutes: str = "30",
    commissioned: str = "10",
    rostered: str = "9",
    who: str = NW_HA,
) -> str:
    return f"{who},{start},{minutes},{commissioned},{rostered}"


def test_a_valid_file_parses_in_file_order() -> None:
    """A valid file gives one interval per line, in file order, starts as UTC epoch seconds."""
    text = csv_text(
        row(),
        row(start="2013-03-29T08:30:00+00:00", commissioned="12", rostered="12"),
        row(who=NW_CL, minutes="60", commissioned="3", rostered="2"),
        "london,lcw,clinician,2013-03-29T09:15:00+01:00,15,0,0",
    )
    assert parse_rota_csv(text, CAT, SOURCE) == [
        RotaInterval("north-west", "nhs-direct", "health_adviser", T0, 30, 10, 9),
        RotaInterval("north-west", "nhs-direct", "health_adviser", T0 + 1800, 30, 12, 12),
        RotaInterval("north-west", "nhs-direct", "clinician", T0, 60, 3, 2),
        RotaInterval("london", "lcw", "clinician", T0 + 900, 15, 0, 0),
    ]


def test_columns_in_any_order_spaces_blank_lines_and_a_bom_are_accepted() -> None:
    """Column order, spaces around cells, blank lines and a byte-order mark do not matter."""
    header = "rostered, commissioned,minutes,start,role,provider,region"
    text = "\ufeff" + csv_text(
        "", " 9 , 10,30,2013-03-29T08:00:00Z,health_adviser,nhs-direct,north-west", header=header
    )
    assert parse_rota_csv(text, CAT, SOURCE) == [
        RotaInterval("north-west", "nhs-direct", "health_adviser", T0, 30, 10, 9)
    ]


def test_the_key_has_the_start_in_utc_whatever_the_offset_written() -> None:
    """The key is region/provider/role/start with start as ISO-8601 UTC to the second."""
    (interval,) = parse_rota_csv(csv_text(row(start="2013-03-29T09:00:00+01:00")), CAT, SOURCE)
    assert interval.key == "north-west/nhs-direct/health_adviser/2013-03-29T08:00:00+00:00"
    assert format_start(T0) == "2013-03-29T08:00:00+00:00"
    assert interval.end_s == T0 + 1800


# (file text, line number, what the message says)
BAD_FILES: list[tuple[str, str, int, str]] = [
    ("unknown column", csv_text(row() + ",x", header=HEADER + ",site"), 1, "unknown column 'site'"),
    (
        "missing column",
        csv_text("north-west,nhs-direct,clinician,2013-03-29T08:00:00Z,30,3", header=HEADER[:-9]),
        1,
        "missing column 'rostered'",
    ),
    ("column twice", csv_text(row() + ",1", header=HEADER + ",rostered"), 1, "appears twice"),
    ("no header", "", 1, "no header; the first line must be region,provider,role"),
    ("header only", csv_text(), 1, "a header and no intervals"),
    ("too few cells", csv_text(row(), "north-west,nhs-direct"), 3, "2 cells, the header has 7"),
    ("unknown region", csv_text(row(who="atlantis,nhs-direct,clinician")), 2, "unknown region"),
    (
        "provider not in region",
        csv_text(row(), row(who="north-west,ic24,clinician")),
        3,
        "provider 'ic24' does not serve region 'north-west' in the catalogue; its providers are: "
        "nhs-direct",
    ),
    ("unknown role", csv_text(row(who="north-west,nhs-direct,nurse")), 2, "unknown role 'nurse'"),
    ("time without offset", csv_text(row(start="2013-03-29T08:00:00")), 2, "bad start time"),
    ("time not ISO", csv_text(row(start="29/03/2013 08:00")), 2, "write ISO-8601 with a UTC"),
    ("time a date", csv_text(row(start="2013-03-29")), 2, "no UTC offset"),
    ("time epoch", csv_text(row(start="1364544000")), 2, "bad start time"),
    (
        "start not on a minute",
        csv_text(row(start="2013-03-29T08:00:30+00:00")),
        2,
        "is not on a whole minute",
    ),
    ("minutes 45", csv_text(row(minutes="45")), 2, "minutes '45' must be 15, 30 or 60"),
    ("minutes empty", csv_text(row(minutes="")), 2, "minutes '' must be 15, 30 or 60"),
    ("negative commissioned", csv_text(row(commissioned="-1")), 2, "commissioned -1 is negative"),
    ("negative rostered", csv_text(row(rostered="-3")), 2, "rostered -3 is negative"),
    ("fractional rostered", csv_text(row(rostered="2.5")), 2, "rostered '2.5' is not a whole"),
    ("word commissioned", csv_text(row(commissioned="ten")), 2, "commissioned 'ten' is not a"),
    (
        "duplicate key",
        csv_text(row(), row(start="2013-03-29T08:30:00Z"), row(start="2013-03-29T09:00:00+01:00")),
        4,
        "duplicate interval north-west/nhs-direct/health_adviser/2013-03-29T08:00:00+00:00 "
        "(also on line 2)",
    ),
    (
        "overlap",
        csv_text(row(minutes="60"), row(start="2013-03-29T08:30:00Z")),
        3,
        "interval 2013-03-29T08:30:00+00:00 +30 min overlaps line 2 "
        "(2013-03-29T08:00:00+00:00 +60 min) for north-west/nhs-direct/health_adviser",
    ),
    (
        "overlap written later first",
        csv_text(row(start="2013-03-29T08:45:00Z", minutes="15"), row(minutes="60")),
        3,
        "interval 2013-03-29T08:00:00+00:00 +60 min overlaps line 2 "
        "(2013-03-29T08:45:00+00:00 +15 min)",
    ),
    (
        "overlap past the next interval",
        csv_text(
            row(minutes="60"),
            row(start="2013-03-29T08:15:00Z", minutes="15"),
            row(start="2013-03-29T08:45:00Z", minutes="15"),  # line 3 ended at 08:30
        ),
        4,
        "interval 2013-03-29T08:45:00+00:00 +15 min overlaps line 2 ",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [pytest.param(text, line, reason, id=name) for name, text, line, reason in BAD_FILES],
)
def test_each_problem_names_the_file_the_line_and_what_to_fix(
    text: str, line: int, reason: str
) -> None:
    """Every validation error names the file, the line number and the reason."""
    with pytest.raises(RotaFileError) as info:
        parse_rota_csv(text, CAT, SOURCE)
    message = str(info.value)
    assert f"{SOURCE} line {line}: " in message
    assert reason in message
    assert isinstance(info.value, ConfigError)  # the CLI turns it into exit status 2


def test_every_problem_of_the_file_is_reported_at_once() -> None:
    """A file is validated whole: each bad line is reported, even after a good one."""
    text = csv_text(
        row(who="atlantis,nhs-direct,clinician"),
        row(),
        row(start="2013-03-29T08:30:00Z", minutes="45"),
        row(start="2013-03-29T09:00:00Z"),
        row(start="2013-03-29T08:00:00Z", rostered="1"),
    )
    with pytest.raises(RotaFileError) as info:
        parse_rota_csv(text, CAT, SOURCE)
    assert [p.split(":")[0] for p in info.value.problems] == [
        f"{SOURCE} line 2",
        f"{SOURCE} line 4",
        f"{SOURCE} line 6",
    ]
    assert str(info.value).startswith(f"rota {SOURCE}: 3 problem(s), nothing published")


def test_a_file_wrong_on_every_line_gives_a_readable_message() -> None:
    """Past 50 problems the message says how many more there are instead of listing them."""
    text = csv_text(*(row(who="atlantis,x,clinician") for _ in range(80)))
    with pytest.raises(RotaFileError) as info:
        parse_rota_csv(text, CAT, SOURCE)
    assert len(info.value.problems) == 80
    assert str(info.value).endswith("... and 30 more")


def test_the_same_start_for_another_role_or_provider_is_no_clash() -> None:
    """Overlap and duplicates are per region, provider and role."""
    text = csv_text(
        row(minutes="60"),
        row(who=NW_CL, minutes="60"),
        "london,lcw,health_adviser,2013-03-29T08:00:00Z,60,5,5",
        "london,care-uk,health_adviser,2013-03-29T08:00:00Z,60,5,5",
        row(start="2013-03-29T09:00:00Z"),  # adjacent: [08:00, 09:00) then [09:00, 09:30)
    )
    assert len(parse_rota_csv(text, CAT, SOURCE)) == 5


# --- the wire form -------------------------------------------------------------------------


def test_csv_to_record_to_json_to_record_round_trips() -> None:
    """An interval read from CSV survives JSON encoding and decoding, key included."""
    (interval,) = parse_rota_csv(csv_text(row(start="2013-03-29T10:00:00+02:00")), CAT, SOURCE)
    raw = encode_rota(interval)
    assert orjson.loads(raw) == {
        "region": "north-west",
        "provider": "nhs-direct",
        "role": "health_adviser",
        "start": "2013-03-29T08:00:00+00:00",
        "minutes": 30,
        "commissioned": 10,
        "rostered": 9,
    }
    back = decode_rota(raw, CAT)
    assert back == interval
    assert back.key == interval.key


intervals = st.builds(
    RotaInterval,
    region=st.just("london"),
    provider=st.sampled_from(["lcw", "care-uk", "harmoni"]),
    role=st.sampled_from(["health_adviser", "clinician"]),
    start_s=st.integers(T0 - 10**7, T0 + 10**8).map(lambda s: s - s % 60),
    minutes=st.sampled_from([15, 30, 60]),
    commissioned=st.integers(0, 500),
    rostered=st.integers(0, 500),
)


@given(intervals)
def test_any_valid_interval_round_trips_through_csv_and_json(interval: RotaInterval) -> None:
    """Written as a CSV line and read back, then through JSON: the same interval and key."""
    doc = interval.to_json()
    (parsed,) = parse_rota_csv(csv_text(",".join(str(doc[c]) for c in ROTA_COLUMNS)), CAT, "x")
    assert parsed == interval
    assert decode_rota(encode_rota(parsed), CAT) == interval


GOOD: dict[str, object] = {
    "region": "north-west",
    "provider": "nhs-direct",
    "role": "clinician",
    "start": "2013-03-29T08:00:00+00:00",
    "minutes": 30,
    "commissioned": 3,
    "rostered": 2,
}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"site": "manchester"}, "unknown_field"),
        ({"minutes": 45}, "bad_minutes"),
        ({"minutes": "30"}, "bad_type"),
        ({"commissioned": -1}, "bad_count"),
        ({"rostered": 1.5}, "bad_type"),
        ({"rostered": True}, "bad_type"),
        ({"rostered": None}, "missing_field"),
        ({"role": "nurse"}, "bad_role"),
        ({"region": "atlantis"}, "unknown_region"),
        ({"provider": "ic24"}, "unknown_provider"),
        ({"start": "2013-03-29T08:00:00"}, "bad_timestamp"),
        ({"start": T0}, "bad_type"),
        ({"start": "2013-03-29T08:00:01+00:00"}, "bad_start"),
    ],
)
def test_a_bad_record_on_the_wire_is_rejected_with_its_reason(
    changes: dict[str, object], reason: str
) -> None:
    """Decoding rejects unknown fields and bad values with a machine-readable reason."""
    with pytest.raises(InvalidEvent) as info:
        decode_rota(orjson.dumps({**GOOD, **changes}), CAT)
    assert info.value.reason == reason


@pytest.mark.parametrize(("raw", "reason"), [(None, "empty"), (b"[1]", "not_object")])
def test_a_value_that_is_no_json_object_is_rejected(raw: bytes | None, reason: str) -> None:
    """A tombstone or a JSON array is not an interval."""
    with pytest.raises(InvalidEvent) as info:
        decode_rota(raw, CAT)
    assert info.value.reason == reason
