"""The operators' side of overflow routing, for the CLI and the HTTP API alike.

A request is validated here (so a typo fails at the terminal, not silently in the worker) and
produced to the requests topic; the overflow agent (streams.overflow.agent) turns it into an
OverflowCommand on `surge.overflow` and an override of the policy. `status` reads `surge.overflow`
and shows each region's newest command. The HTTP API (streams.overflow.api) calls the same
`submit` and `read_status`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import structlog
from kafka import KafkaProducer

from streams.contract.catalogue import Catalogue, load_catalogue
from streams.contract.errors import StackError
from streams.contract.kafka_io import read_topic
from streams.contract.kafka_security import client_kwargs, explained
from streams.contract.settings import Settings
from streams.overflow.policy import latest_commands
from streams.overflow.requests import parse_request, requests_topic

log = structlog.get_logger(__name__)

SEND_TIMEOUT_SECONDS = 30.0
STATUS_COLUMNS = ("region", "action", "target", "share", "issued_at", "expires_at", "issued_by")


def _catalogue(settings: Settings) -> Catalogue:
    return load_catalogue(Path(settings.catalogue) if settings.catalogue else None)


def submit(settings: Settings, doc: dict[str, Any]) -> dict[str, Any]:
    """Validate an operator request and produce it to the requests topic; returns what was sent
    (with its `request_id`). Raises OverflowRequestError on a bad request."""
    request = parse_request(doc, _catalogue(settings))
    try:
        with explained(settings):
            producer = KafkaProducer(
                bootstrap_servers=settings.bootstrap_servers, acks="all", **client_kwargs(settings)
            )
    except StackError:
        raise  # already says why
    except Exception as exc:  # kafka-python raises several kinds when the broker is absent
        raise StackError(
            f"cannot reach Kafka at {settings.bootstrap_servers} ({exc}); is the stack up?"
        ) from exc
    try:
        key = (request.region or request.command_id or "").encode()
        producer.send(requests_topic(settings), key=key, value=request.to_json()).get(
            timeout=SEND_TIMEOUT_SECONDS
        )
    finally:
        producer.close()
    sent: dict[str, Any] = orjson.loads(request.to_json())
    log.info(
        "overflow_request_sent",
        request_id=request.request_id,
        action=request.action,
        region=request.region,
        target=request.target,
        operator=request.operator,
        command_id=request.command_id,
    )
    return sent


def read_status(settings: Settings) -> dict[str, Any]:
    """Each region's newest command, and which regions divert now (by the newest command)."""
    latest = latest_commands(read_topic(settings, settings.topic_overflow))
    diverting = sorted(r for r, c in latest.items() if c["action"] != "deactivate")
    return {"diverting": diverting, "latest": [latest[r] for r in sorted(latest)]}


def format_table(status: dict[str, Any]) -> str:
    rows = [[str(c.get(k) if c.get(k) is not None else "-") for k in STATUS_COLUMNS]
            for c in status["latest"]]  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(STATUS_COLUMNS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(STATUS_COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if not rows:
        lines.append("(no overflow command yet)")
    return "\n".join(lines) + "\n"
