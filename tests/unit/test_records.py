"""The event contract: what is accepted, and the dead-letter reason of what is not."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.contract.catalogue import default_catalogue
from streams.contract.records import (
    LONDON,
    CallEvent,
    DispatchEvent,
    InvalidEvent,
    format_ts,
    parse_call_event,
    parse_dispatch_event,
    parse_ts,
)

CAT = default_catalogue()
EARLIER = "2013-03-29T09:40:00Z"  # 20 minutes before BASE's ts
BASE: dict[str, object] = {
    "call_id": "nw00000001",
    "event": "offered",
    "ts": "2013-03-29T10:00:00Z",
    "region": "north-west",
    "provider": "nhs-direct",
}


def call(**changes: object) -> bytes:
    doc = {**BASE, **changes}
    return orjson.dumps({k: v for k, v in doc.items() if v is not ...})


def test_valid_offered_event_parses_to_utc_epoch_seconds() -> None:
    """An offered event with an ISO timestamp parses, its time as UTC epoch seconds."""
    ev = parse_call_event(call(), CAT)
    assert ev == CallEvent("nw00000001", "offered", 1364551200.0, "north-west", "nhs-direct")


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2013-03-29T10:00:00Z", 1364551200.0),
        ("2013-03-29T11:00:00+01:00", 1364551200.0),
        ("2013-03-29T10:00:00.250+00:00", 1364551200.25),
        (1364551200, 1364551200.0),
        (1364551200.5, 1364551200.5),
    ],
)
def test_timestamps_with_offset_or_epoch_seconds_are_accepted(ts: object, expected: float) -> None:
    """ISO-8601 with any offset and epoch seconds give the same instant."""
    assert parse_ts(ts) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"[1, 2]", "not_object"),
        (b"x" * 5000, "too_large"),
        (call(nhs_number="9434765919"), "unknown_field"),
        (call(patient_name="A Person"), "unknown_field"),
        (call(region="atlantis"), "unknown_region"),
        (call(region=7), "bad_type"),
        (call(provider="harmoni"), "unknown_provider"),
        (call(event="transferred"), "bad_event"),
        (call(call_id=...), "missing_field"),
        (call(call_id="has spaces in it"), "bad_id"),
        (call(event="answered"), "missing_wait"),
        (call(event="abandoned", wait_seconds=-1), "negative_wait"),
        (call(event="answered", wait_seconds="12"), "bad_type"),
        (call(event="answered", wait_seconds=True), "bad_type"),
        (call(event="answered", wait_seconds=10**9), "bad_wait"),
        (call(wait_seconds=3), "unexpected_field"),
        (call(event="disposition"), "missing_field"),
        (call(event="disposition", disposition="morgue"), "bad_disposition"),
        (call(disposition="ed"), "unexpected_field"),
        (call(ts="yesterday"), "bad_timestamp"),
        (call(ts="2013-03-29T10:00:00"), "bad_timestamp"),
        (call(ts="1970-01-01T00:00:00Z"), "bad_timestamp"),
        (call(ts="2100-06-01T00:00:00Z"), "bad_timestamp"),
        (call(ts=[2013]), "bad_timestamp"),
        (call(ts=False), "bad_timestamp"),
        (b'{"call_id": "a", "ts": NaN}', "bad_json"),
        (None, "empty"),
        (call(attempt=0), "bad_attempt"),
        (call(attempt=-2, first_attempt_ts=EARLIER), "bad_attempt"),
        (call(attempt="2", first_attempt_ts=EARLIER), "bad_type"),
        (call(attempt=2.0, first_attempt_ts=EARLIER), "bad_type"),
        (call(attempt=True), "bad_type"),
        (call(attempt=2), "missing_first_attempt"),
        (call(attempt=3, first_attempt_ts=None), "missing_first_attempt"),
        (call(event="answered", wait_seconds=5, attempt=2), "missing_first_attempt"),
        (call(first_attempt_ts=EARLIER), "unexpected_field"),
        (call(attempt=1, first_attempt_ts=EARLIER), "unexpected_field"),
        (call(attempt=2, first_attempt_ts="this morning"), "bad_first_attempt_ts"),
        (call(attempt=2, first_attempt_ts="2013-03-29T09:00:00"), "bad_first_attempt_ts"),
        (call(attempt=2, first_attempt_ts=[EARLIER]), "bad_first_attempt_ts"),
        (call(attempt=2, first_attempt_ts="1970-01-01T00:00:00Z"), "bad_first_attempt_ts"),
        (call(attempt=2, first_attempt_ts="2013-03-29T10:00:00.002Z"), "first_attempt_after_offer"),
        (call(attempt=2, first_attempt_ts="2013-03-28T23:59:59Z"), "first_attempt_not_today"),
        (  # answered 10:00 after 20 min: offered 09:40, so a first attempt at 09:50 is later
            call(
                event="answered",
                wait_seconds=1200,
                attempt=2,
                first_attempt_ts="2013-03-29T09:50:00Z",
            ),
            "first_attempt_after_offer",
        ),
        (  # abandoned at 00:10 after 20 min: offered at 23:50, before a "first" attempt at 00:05
            call(
                event="abandoned",
                ts="2013-03-29T00:10:00Z",
                wait_seconds=1200,
                attempt=2,
                first_attempt_ts="2013-03-29T00:05:00Z",
            ),
            "first_attempt_after_offer",
        ),
        (  # triage does not say when the attempt was offered; still not before the first
            call(
                event="disposition",
                disposition="ed",
                attempt=3,
                first_attempt_ts="2013-03-29T10:01Z",
            ),
            "first_attempt_after_offer",
        ),
    ],
)
def test_invalid_events_are_rejected_with_a_reason(payload: bytes | None, reason: str) -> None:
    """Each way of breaking the contract gives its own machine-readable reason."""
    with pytest.raises(InvalidEvent) as info:
        parse_call_event(payload, CAT)
    assert info.value.reason == reason
    assert info.value.detail


def test_answered_and_disposition_events_carry_their_fields() -> None:
    """wait_seconds and disposition are kept on the events that need them."""
    answered = parse_call_event(call(event="answered", wait_seconds=12.5), CAT)
    assert answered.wait_seconds == 12.5
    disp = parse_call_event(call(event="disposition", disposition="ambulance"), CAT)
    assert disp.disposition == "ambulance"


def test_dispatch_event_round_trips_and_rejects_unknown_source() -> None:
    """A dispatch parses from its JSON form and a bad source is dead-lettered."""
    ev = DispatchEvent("inc-1", 1364551200.0, "london", "111", "C2", "ldn00000001")
    assert parse_dispatch_event(orjson.dumps(ev.to_json()), CAT) == ev
    bad = {**ev.to_json(), "source": "pigeon"}
    with pytest.raises(InvalidEvent) as info:
        parse_dispatch_event(orjson.dumps(bad), CAT)
    assert info.value.reason == "bad_source"


@given(
    ms=st.integers(min_value=1_262_304_000_000, max_value=4_102_444_799_999),
    wait=st.one_of(st.none(), st.integers(min_value=0, max_value=86_400_000)),
)
def test_call_event_round_trips_through_its_json_form(ms: int, wait: int | None) -> None:
    """to_json then parse gives back the same event, to the millisecond."""
    kind = "offered" if wait is None else "answered"
    ev = CallEvent(
        "sw00000042",
        kind,
        ms / 1000,
        "south-west",
        "swast",
        wait_seconds=None if wait is None else wait / 1000,
    )
    assert parse_call_event(orjson.dumps(ev.to_json()), CAT) == ev


def test_format_ts_is_iso_utc_with_milliseconds() -> None:
    """Event times are written as ISO-8601 UTC with milliseconds."""
    assert format_ts(1364551200.25) == "2013-03-29T10:00:00.250Z"


def test_events_with_neither_attempt_field_are_first_attempts_as_before() -> None:
    """A producer that sends neither field keeps working: every call is a first attempt."""
    for raw in (call(), call(attempt=None), call(attempt=None, first_attempt_ts=None)):
        ev = parse_call_event(raw, CAT)
        assert ev.attempt is None and ev.first_attempt_ts_s is None and not ev.repeat
        assert "attempt" not in ev.to_json() and "first_attempt_ts" not in ev.to_json()
    answered = parse_call_event(call(event="answered", wait_seconds=3.0), CAT)
    assert (answered.attempt, answered.first_attempt_ts_s) == (None, None)


@pytest.mark.parametrize(
    ("changes", "attempt", "first_s", "repeat"),
    [
        ({"attempt": 1}, 1, None, False),
        ({"attempt": 2, "first_attempt_ts": EARLIER}, 2, 1364550000.0, True),
        ({"attempt": 4, "first_attempt_ts": "2013-03-29T10:00:00Z"}, 4, 1364551200.0, True),
        ({"attempt": 7, "first_attempt_ts": 1364515200}, 7, 1364515200.0, True),  # London midnight
        ({"attempt": 3, "first_attempt_ts": "2013-03-29T10:40:00+01:00"}, 3, 1364550000.0, True),
    ],
)
def test_attempt_and_first_attempt_ts_are_kept_and_round_trip(
    changes: dict[str, object], attempt: int, first_s: float | None, repeat: bool
) -> None:
    """A valid attempt (and first_attempt_ts from the second on) parses and survives to_json."""
    ev = parse_call_event(call(**changes), CAT)
    assert (ev.attempt, ev.first_attempt_ts_s, ev.repeat) == (attempt, first_s, repeat)
    assert parse_call_event(orjson.dumps(ev.to_json()), CAT) == ev


def test_first_attempt_today_follows_london_midnight_not_utc() -> None:
    """In summer time 23:30 UTC is already tomorrow in London: a first attempt then is today's."""
    summer = {**BASE, "ts": "2013-06-01T00:10:00+01:00"}  # 2013-05-31T23:10Z, London 1 June
    ok = {**summer, "attempt": 2, "first_attempt_ts": "2013-05-31T23:05:00Z"}  # London 00:05
    assert parse_call_event(orjson.dumps(ok), CAT).attempt == 2
    late = {**summer, "attempt": 2, "first_attempt_ts": "2013-05-31T22:55:00Z"}  # London 23:55
    with pytest.raises(InvalidEvent) as info:
        parse_call_event(orjson.dumps(late), CAT)
    assert info.value.reason == "first_attempt_not_today"
    assert "2013-05-31T22:55:00.000Z" in info.value.detail


def test_the_whole_25_hour_autumn_day_is_today() -> None:
    """On the day the clocks go back a first attempt 24.5 hours earlier is still today's."""
    ev = {**BASE, "ts": "2013-10-27T23:45:00Z", "attempt": 2,
          "first_attempt_ts": "2013-10-26T23:15:00Z"}  # fmt: skip  # London 00:15 BST, 23:45 GMT
    assert parse_call_event(orjson.dumps(ev), CAT).first_attempt_ts_s == parse_ts(
        "2013-10-26T23:15:00Z"
    )


@pytest.mark.parametrize(
    "changes",
    [  # the offer (ts - wait_seconds) was before midnight, with the first attempt
        {"event": "answered", "ts": "2013-03-29T00:00:05Z", "wait_seconds": 65.0},
        {"event": "abandoned", "ts": "2013-03-29T00:04:00Z", "wait_seconds": 300.0},
        # triage and callbacks do not say when the attempt was offered: hours later is fine
        {"event": "disposition", "ts": "2013-03-29T01:00:00Z", "disposition": "ed"},
        {"event": "callback_made", "ts": "2013-03-29T09:00:00Z"},
    ],
)
def test_the_day_of_an_attempt_is_the_day_it_was_offered(changes: dict[str, object]) -> None:
    """An attempt offered at 23:59 keeps its first attempt of that day on the events after
    midnight: the answer or abandonment (offer = ts - wait_seconds), triage and callbacks."""
    doc = {**BASE, **changes, "attempt": 2, "first_attempt_ts": "2013-03-28T23:40:00Z"}
    ev = parse_call_event(orjson.dumps(doc), CAT)
    assert (ev.attempt, ev.first_attempt_ts_s) == (2, parse_ts("2013-03-28T23:40:00Z"))
    offered = {**doc, "event": "offered", "ts": "2013-03-29T00:00:01Z"}
    for key in ("wait_seconds", "disposition"):
        offered.pop(key, None)
    with pytest.raises(InvalidEvent) as info:  # offered after midnight: a new day's attempt
        parse_call_event(orjson.dumps(offered), CAT)
    assert info.value.reason == "first_attempt_not_today"


@given(
    ms=st.integers(min_value=1_262_304_000_000, max_value=4_102_444_799_999),
    attempt=st.integers(min_value=2, max_value=50),
    back=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_repeat_attempt_round_trips_with_any_first_attempt_earlier_that_day(
    ms: int, attempt: int, back: float
) -> None:
    """Any first attempt from London midnight up to the offer is accepted and kept exactly."""
    ts_s = ms / 1000
    local = datetime.fromtimestamp(ts_s, tz=LONDON)
    midnight_ms = round(
        datetime(local.year, local.month, local.day, tzinfo=LONDON).timestamp() * 1000
    )
    first_ms = midnight_ms + round((ms - midnight_ms) * back)
    ev = CallEvent("sw1", "offered", ts_s, "south-west", "swast", attempt=attempt,
                   first_attempt_ts_s=first_ms / 1000)  # fmt: skip
    assert parse_call_event(orjson.dumps(ev.to_json()), CAT) == ev
