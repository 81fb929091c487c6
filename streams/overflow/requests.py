"""Operator requests (`overflow activate | deactivate | ack`, the HTTP API): validated here, so a
typo fails at the terminal or with a 400, not silently in the worker."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import orjson
import structlog

from detectors.overflow_records import PolicyParams
from streams.contract.catalogue import Catalogue
from streams.contract.errors import SurgeError
from streams.contract.settings import Settings

log = structlog.get_logger(__name__)


DEFAULT_TTL_MINUTES: Final = 60.0


RequestAction = Literal["activate", "deactivate", "ack"]


REQUEST_ACTIONS: Final = ("activate", "deactivate", "ack")


class OverflowRequestError(SurgeError):
    """An operator request that cannot be carried out; the message says what to change."""


def requests_topic(settings: Settings) -> str:
    return f"{settings.app_id}-overflow-requests"


@dataclass(frozen=True, slots=True)
class OperatorRequest:
    """What an operator asks for; the agent turns it into an OverflowCommand and an Override."""

    request_id: str
    action: RequestAction
    operator: str
    region: str | None = None  # activate, deactivate
    target: str | None = None  # activate
    share: float = 0.0  # activate
    ttl_seconds: float = DEFAULT_TTL_MINUTES * 60  # activate, deactivate (event time)
    reason: str = ""
    command_id: str | None = None  # ack

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))


def _number(doc: Mapping[str, Any], key: str, default: float) -> float:
    raw = doc.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise OverflowRequestError(f"{key} must be a number (got {raw!r})")
    return float(raw)


def _text(doc: Mapping[str, Any], key: str) -> str:
    raw = doc.get(key)
    if not isinstance(raw, str) or not raw.strip():
        raise OverflowRequestError(f"{key} is required (a non-empty string)")
    return raw.strip()


def parse_request(doc: Mapping[str, Any], catalogue: Catalogue) -> OperatorRequest:
    """Validate a request (from the CLI, the HTTP API or the requests topic)."""
    known = {f for f in OperatorRequest.__dataclass_fields__}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise OverflowRequestError(f"unknown fields {unknown}; known: {sorted(known)}")
    action = doc.get("action")
    if action not in REQUEST_ACTIONS:
        raise OverflowRequestError(f"action must be one of {REQUEST_ACTIONS} (got {action!r})")
    request_id = doc.get("request_id") or uuid.uuid4().hex
    operator = _text(doc, "operator")
    reason = doc.get("reason") or ""
    if not isinstance(reason, str):
        raise OverflowRequestError("reason must be a string")
    if action == "ack":
        return OperatorRequest(
            str(request_id), "ack", operator, command_id=_text(doc, "command_id"), reason=reason
        )
    codes = catalogue.codes()
    region = _text(doc, "region")
    if region not in codes:
        raise OverflowRequestError(f"region {region!r} is not in the catalogue: {list(codes)}")
    ttl = _number(doc, "ttl_seconds", DEFAULT_TTL_MINUTES * 60)
    if ttl <= 0:
        raise OverflowRequestError(f"ttl_seconds must be > 0 (got {ttl})")
    if action == "deactivate":
        return OperatorRequest(
            str(request_id), "deactivate", operator, region, ttl_seconds=ttl, reason=reason
        )
    target = _text(doc, "target")
    if target not in codes or target == region:
        raise OverflowRequestError(f"target {target!r} must be another region of the catalogue")
    share = _number(doc, "share", PolicyParams().share)
    if not 0 < share <= 1:
        raise OverflowRequestError(f"share must be within 0..1 and above 0 (got {share})")
    return OperatorRequest(
        str(request_id), "activate", operator, region, target, share, ttl, reason
    )
