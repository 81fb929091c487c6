"""The event contract of ../shared/DESIGN.md: decoding and validating CallEvent, DispatchEvent,
AgentStateEvent.

Validation is hand-written rather than a faust.Record because it must say *why* an event is bad
(the dead-letter `reason`), reject unknown fields (no patient identifiers can ride along), and cost
little on the per-event hot path. A rejected event raises `InvalidEvent`; the agent dead-letters it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

import orjson

from streams.contract.catalogue import Catalogue

CALL_EVENT_TYPES: Final = frozenset(
    {"offered", "answered", "abandoned", "callback_requested", "callback_made", "disposition"}
)
DISPOSITIONS: Final = frozenset(
    {"ambulance", "ed", "primary_care", "pharmacy", "dental", "self_care", "other"}
)
DISPATCH_SOURCES: Final = frozenset({"111", "999", "hcp", "other"})
DISPATCH_CATEGORIES: Final = frozenset({"C1", "C2", "C3", "C4"})

CALL_FIELDS: Final = frozenset(
    {"call_id", "event", "ts", "region", "provider", "site", "wait_seconds", "disposition"}
    | {"attempt", "first_attempt_ts"}
)
DISPATCH_FIELDS: Final = frozenset({"incident_id", "ts", "region", "source", "category", "call_id"})
AGENT_ROLES: Final = frozenset({"health_adviser", "clinician"})
AGENT_STATES: Final = frozenset({"logged_out", "ready", "on_call", "wrap_up", "not_ready"})
NOT_READY_REASONS: Final = frozenset({"break", "training", "meeting", "system", "other"})
AGENT_FIELDS: Final = frozenset(
    {"agent_id", "ts", "region", "provider", "site", "role", "state", "reason"}
)

MAX_EVENT_BYTES: Final = 4096
MAX_WAIT_SECONDS: Final = 86_400.0
# Events outside these instants are rejected: 1970 or 2100 timestamps are clock faults, not history.
MIN_TS_S: Final = datetime.fromisoformat("2010-01-01T00:00:00+00:00").timestamp()
MAX_TS_S: Final = datetime.fromisoformat("2100-01-01T00:00:00+00:00").timestamp()
# A caller's attempts are counted per day on the wall clock (DESIGN.md: "the caller's attempt number
# today"; "today" follows Europe/London, as every daily figure does).
LONDON: Final = ZoneInfo("Europe/London")
OFFER_TOLERANCE_S: Final = 0.001  # ts - wait_seconds is the offer to the millisecond
# Identifiers are opaque operational ids: short, no spaces, nothing like a name or an address.
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class InvalidEvent(ValueError):
    """An event that breaks the contract; `reason` is the machine-readable dead-letter code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class CallEvent:
    call_id: str
    event: str
    ts_s: float
    region: str
    provider: str
    site: str | None = None
    wait_seconds: float | None = None
    disposition: str | None = None
    # The caller's attempt number today (None: not sent, a first attempt) and, from the second
    # attempt on, when the first was offered (DESIGN.md, retrials).
    attempt: int | None = None
    first_attempt_ts_s: float | None = None

    @property
    def repeat(self) -> bool:
        """A repeat attempt: a caller who got no answer before and tries again."""
        return self.attempt is not None and self.attempt > 1

    def to_json(self) -> dict[str, object]:
        """The wire form; `ts` as ISO-8601 UTC so files stay readable."""
        out: dict[str, object] = {
            "call_id": self.call_id,
            "event": self.event,
            "ts": format_ts(self.ts_s),
            "region": self.region,
            "provider": self.provider,
        }
        if self.site is not None:
            out["site"] = self.site
        if self.wait_seconds is not None:
            out["wait_seconds"] = self.wait_seconds
        if self.disposition is not None:
            out["disposition"] = self.disposition
        if self.attempt is not None:
            out["attempt"] = self.attempt
        if self.first_attempt_ts_s is not None:
            out["first_attempt_ts"] = format_ts(self.first_attempt_ts_s)
        return out


@dataclass(frozen=True, slots=True)
class DispatchEvent:
    incident_id: str
    ts_s: float
    region: str
    source: str
    category: str
    call_id: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "incident_id": self.incident_id,
            "ts": format_ts(self.ts_s),
            "region": self.region,
            "source": self.source,
            "category": self.category,
        }
        if self.call_id is not None:
            out["call_id"] = self.call_id
        return out


def format_ts(ts_s: float) -> str:
    """ISO-8601 in UTC with millisecond precision, e.g. 2013-03-29T10:00:00.250Z."""
    ms = round(ts_s * 1000)
    whole, frac = divmod(ms, 1000)
    base = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:03d}Z"


def decode_object(raw: bytes | None) -> dict[str, object]:
    if raw is None:
        raise InvalidEvent("empty", "message has no value")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent("too_large", f"{len(raw)} bytes, limit {MAX_EVENT_BYTES}")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("bad_json", str(exc)[:200]) from None
    if not isinstance(doc, dict):
        raise InvalidEvent("not_object", f"expected a JSON object, got {type(doc).__name__}")
    return doc


def parse_call_event(raw: bytes | None, catalogue: Catalogue) -> CallEvent:
    return validate_call(decode_object(raw), catalogue)


def validate_call(doc: dict[str, object], catalogue: Catalogue) -> CallEvent:
    """A decoded CallEvent document checked against the contract (replay decodes in bulk)."""
    _check_fields(doc, CALL_FIELDS, ("call_id", "event", "ts", "region", "provider"))
    call_id = _ident(doc, "call_id")
    event = _choice(doc, "event", CALL_EVENT_TYPES)
    ts_s = parse_ts(doc["ts"])
    region = _region(doc, catalogue)
    provider = _provider(doc, region, catalogue)
    site = _ident(doc, "site") if doc.get("site") is not None else None
    wait: float | None = None
    if event in ("answered", "abandoned"):
        if "wait_seconds" not in doc:
            raise InvalidEvent("missing_wait", f"'{event}' events need wait_seconds")
        wait = _number(doc["wait_seconds"], "wait_seconds")
        if wait < 0:
            raise InvalidEvent("negative_wait", f"wait_seconds {wait} < 0")
        if wait > MAX_WAIT_SECONDS:
            raise InvalidEvent("bad_wait", f"wait_seconds {wait} > {MAX_WAIT_SECONDS}")
    elif "wait_seconds" in doc:
        raise InvalidEvent("unexpected_field", f"wait_seconds is not allowed on '{event}'")
    disposition: str | None = None
    if event == "disposition":
        if "disposition" not in doc:
            raise InvalidEvent("missing_field", "'disposition' events need disposition")
        disposition = _choice(doc, "disposition", DISPOSITIONS)
    elif "disposition" in doc:
        raise InvalidEvent("unexpected_field", f"disposition is not allowed on '{event}'")
    if doc.get("attempt") is None and doc.get("first_attempt_ts") is None:
        return CallEvent(call_id, event, ts_s, region, provider, site, wait, disposition)
    offer_s = ts_s if event == "offered" else None if wait is None else ts_s - wait
    attempt, first_s = _attempt(doc, ts_s, offer_s)
    return CallEvent(
        call_id, event, ts_s, region, provider, site, wait, disposition, attempt, first_s
    )


def _attempt(
    doc: dict[str, object], ts_s: float, offer_s: float | None
) -> tuple[int | None, float | None]:
    """`attempt` (an integer >= 1; absent or null: unknown, a first attempt) and, required above
    1 and refused otherwise, `first_attempt_ts` (DESIGN.md: "when that caller's first attempt
    today was offered"): no later than this attempt's offer and on the offer's Europe/London day.

    The offer is `ts` on `offered` and `ts - wait_seconds` on `answered` and `abandoned`, which
    may come after midnight; the triage and callback events, hours later perhaps, do not say when
    the attempt was offered, so there first_attempt_ts need only be no later than `ts`."""
    value = doc.get("attempt")
    attempt: int | None = None
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidEvent("bad_type", f"attempt must be a whole number, not {_kind(value)}")
        if value < 1:
            raise InvalidEvent("bad_attempt", f"attempt {value} < 1 (1 = the first attempt)")
        attempt = value
    raw_first = doc.get("first_attempt_ts")
    if attempt is None or attempt == 1:
        if raw_first is not None:
            raise InvalidEvent(
                "unexpected_field", "first_attempt_ts is only allowed with attempt > 1"
            )
        return attempt, None
    if raw_first is None:
        raise InvalidEvent(
            "missing_first_attempt", f"attempt {attempt} needs first_attempt_ts (the first offer)"
        )
    try:
        first_s = parse_ts(raw_first)
    except InvalidEvent as exc:
        raise InvalidEvent("bad_first_attempt_ts", f"first_attempt_ts: {exc.detail}") from None
    latest_s, what = (ts_s, "ts") if offer_s is None else (offer_s, "this attempt's offer")
    if first_s > latest_s + OFFER_TOLERANCE_S:
        raise InvalidEvent(
            "first_attempt_after_offer",
            f"first_attempt_ts {format_ts(first_s)} is later than {what} {format_ts(latest_s)}",
        )
    if offer_s is not None and _london_day(first_s) != _london_day(offer_s):
        raise InvalidEvent(
            "first_attempt_not_today",
            f"first_attempt_ts {format_ts(first_s)} is on an earlier Europe/London day than "
            f"this attempt's offer {format_ts(offer_s)}: attempts are counted per day, a new "
            "day starts again at attempt 1",
        )
    return attempt, first_s


def _london_day(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=LONDON).date().isoformat()


def parse_dispatch_event(raw: bytes | None, catalogue: Catalogue) -> DispatchEvent:
    return validate_dispatch(decode_object(raw), catalogue)


def validate_dispatch(doc: dict[str, object], catalogue: Catalogue) -> DispatchEvent:
    _check_fields(doc, DISPATCH_FIELDS, ("incident_id", "ts", "region", "source", "category"))
    incident_id = _ident(doc, "incident_id")
    ts_s = parse_ts(doc["ts"])
    region = _region(doc, catalogue)
    source = _choice(doc, "source", DISPATCH_SOURCES)
    category = _choice(doc, "category", DISPATCH_CATEGORIES)
    call_id = _ident(doc, "call_id") if doc.get("call_id") is not None else None
    return DispatchEvent(incident_id, ts_s, region, source, category, call_id)


@dataclass(frozen=True, slots=True)
class AgentStateEvent:
    """A handler's state from the ACD; it holds until the agent's next event (DESIGN.md)."""

    agent_id: str  # an opaque staff handle, never a name
    ts_s: float
    region: str
    provider: str
    role: str
    state: str
    site: str | None = None
    reason: str | None = None  # on not_ready only

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "agent_id": self.agent_id,
            "ts": format_ts(self.ts_s),
            "region": self.region,
            "provider": self.provider,
            "role": self.role,
            "state": self.state,
        }
        if self.site is not None:
            out["site"] = self.site
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def parse_agent_event(raw: bytes | None, catalogue: Catalogue) -> AgentStateEvent:
    return validate_agent(decode_object(raw), catalogue)


def validate_agent(doc: dict[str, object], catalogue: Catalogue) -> AgentStateEvent:
    _check_fields(doc, AGENT_FIELDS, ("agent_id", "ts", "region", "provider", "role", "state"))
    agent_id = _ident(doc, "agent_id")
    ts_s = parse_ts(doc["ts"])
    region = _region(doc, catalogue)
    provider = _provider(doc, region, catalogue)
    role = _choice(doc, "role", AGENT_ROLES)
    state = _choice(doc, "state", AGENT_STATES)
    site = _ident(doc, "site") if doc.get("site") is not None else None
    reason: str | None = None
    if doc.get("reason") is not None:
        if state != "not_ready":
            raise InvalidEvent(
                "unexpected_field", f"reason is only allowed on not_ready, not {state}"
            )
        reason = _choice(doc, "reason", NOT_READY_REASONS)
    return AgentStateEvent(agent_id, ts_s, region, provider, role, state, site, reason)


def parse_ts(value: object) -> float:
    """Event time as UTC epoch seconds, from ISO-8601 with an offset or from epoch seconds."""
    if isinstance(value, str):
        if len(value) > 40:
            raise InvalidEvent("bad_timestamp", "timestamp string too long")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidEvent("bad_timestamp", f"not ISO-8601: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            raise InvalidEvent("bad_timestamp", f"no UTC offset in {value!r}")
        ts_s = parsed.timestamp()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        ts_s = float(value)
        if not math.isfinite(ts_s):
            raise InvalidEvent("bad_timestamp", "timestamp is not finite")
    else:
        raise InvalidEvent("bad_timestamp", f"ts must be a string or number, not {_kind(value)}")
    if not MIN_TS_S <= ts_s < MAX_TS_S:
        raise InvalidEvent("bad_timestamp", f"ts {value!r} outside 2010-01-01..2100-01-01")
    return ts_s


def _check_fields(
    doc: dict[str, object], allowed: frozenset[str], required: tuple[str, ...]
) -> None:
    unknown = doc.keys() - allowed
    if unknown:
        names = sorted(str(k)[:40] for k in unknown)[:5]
        raise InvalidEvent("unknown_field", f"fields not in the contract: {names}")
    for name in required:
        if doc.get(name) is None:
            raise InvalidEvent("missing_field", f"{name} is required")


def _ident(doc: dict[str, object], name: str) -> str:
    value = doc[name]
    if not isinstance(value, str):
        raise InvalidEvent("bad_type", f"{name} must be a string, not {_kind(value)}")
    if not _ID_RE.fullmatch(value):
        raise InvalidEvent("bad_id", f"{name} must be 1-64 of [A-Za-z0-9._:-]: {value[:40]!r}")
    return value


def _choice(doc: dict[str, object], name: str, allowed: frozenset[str]) -> str:
    value = doc[name]
    if not isinstance(value, str):
        raise InvalidEvent("bad_type", f"{name} must be a string, not {_kind(value)}")
    if value not in allowed:
        raise InvalidEvent(f"bad_{name}", f"{name} {value[:40]!r} not in {sorted(allowed)}")
    return value


def _region(doc: dict[str, object], catalogue: Catalogue) -> str:
    value = doc["region"]
    if not isinstance(value, str):
        raise InvalidEvent("bad_type", f"region must be a string, not {_kind(value)}")
    if value not in catalogue.by_code:
        raise InvalidEvent("unknown_region", f"region {value[:40]!r} is not in the catalogue")
    return value


def _provider(doc: dict[str, object], region: str, catalogue: Catalogue) -> str:
    provider = _ident(doc, "provider")
    if provider not in catalogue.provider_sets[region]:
        raise InvalidEvent(
            "unknown_provider", f"provider {provider!r} does not serve region {region!r}"
        )
    return provider


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent("bad_type", f"{name} must be a number, not {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidEvent("bad_type", f"{name} must be finite")
    return number


def _kind(value: object) -> str:
    return type(value).__name__
