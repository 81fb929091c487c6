"""`surge-monitor overflow status | activate | deactivate | ack | serve`: the operators' side.

A request is validated here (so a typo fails at the terminal, not silently in the worker) and
produced to the requests topic; the overflow agent (streams.overflow) turns it into an
OverflowCommand on `surge.overflow` and an override of the policy. `status` reads `surge.overflow`
and shows each region's newest command. The HTTP API (streams.overflow_api) calls the same
`submit` and `read_status`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import structlog
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streams.catalogue import Catalogue, load_catalogue
from streams.config import Settings
from streams.errors import StackError
from streams.kafka_security import client_kwargs, explained
from streams.overflow import DEFAULT_TTL_MINUTES, latest_commands, parse_request, requests_topic

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


def read_commands(settings: Settings, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Every record of `surge.overflow`, partition by partition (a region's are in order)."""
    with explained(settings):
        consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            enable_auto_commit=False,
            **client_kwargs(settings),
        )
    out: list[dict[str, Any]] = []
    try:
        parts = consumer.partitions_for_topic(settings.topic_overflow) or set()
        tps = [TopicPartition(settings.topic_overflow, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise StackError(f"reading {settings.topic_overflow} took over {timeout_s} s")
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(orjson.loads(r.value) for r in records if r.value is not None)
    finally:
        consumer.close()
    return out


def read_status(settings: Settings) -> dict[str, Any]:
    """Each region's newest command, and which regions divert now (by the newest command)."""
    latest = latest_commands(read_commands(settings))
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


def add_commands(subparsers: Any) -> None:
    """Add `overflow ...` to the `surge-monitor` parser."""
    o = subparsers.add_parser("overflow", help="overflow routing: status | activate | ... | serve")
    sub = o.add_subparsers(required=True, metavar="ACTION")

    s = sub.add_parser("status", help="each region's newest overflow command")
    s.add_argument("--json", action="store_true", help="JSON instead of a table")
    s.set_defaults(func=cmd_status)

    a = sub.add_parser("activate", help="divert a share of a region's new calls (override)")
    a.add_argument("--region", required=True)
    a.add_argument("--target", required=True)
    a.add_argument("--share", type=float, default=0.3)
    a.add_argument("--ttl-minutes", type=float, default=DEFAULT_TTL_MINUTES)
    a.add_argument("--operator", required=True)
    a.add_argument("--reason", default="")
    a.set_defaults(func=cmd_request, action="activate")

    d = sub.add_parser("deactivate", help="stop (and hold off) a region's diversion (override)")
    d.add_argument("--region", required=True)
    d.add_argument("--ttl-minutes", type=float, default=DEFAULT_TTL_MINUTES)
    d.add_argument("--operator", required=True)
    d.add_argument("--reason", default="")
    d.set_defaults(func=cmd_request, action="deactivate")

    k = sub.add_parser("ack", help="acknowledge a region's current command")
    k.add_argument("--command-id", required=True)
    k.add_argument("--operator", required=True)
    k.set_defaults(func=cmd_request, action="ack")

    v = sub.add_parser("serve", help="the operators' HTTP API (SURGE_OVERFLOW_TOKEN required)")
    v.set_defaults(func=cmd_serve)


def request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    doc: dict[str, Any] = {"action": args.action, "operator": args.operator}
    if args.action == "ack":
        doc["command_id"] = args.command_id
        return doc
    doc.update(region=args.region, ttl_seconds=args.ttl_minutes * 60, reason=args.reason)
    if args.action == "activate":
        doc.update(target=args.target, share=args.share)
    return doc


def cmd_request(args: argparse.Namespace, settings: Settings) -> int:
    submit(settings, request_from_args(args))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    status = read_status(settings)
    if args.json:
        sys.stdout.write(orjson.dumps(status, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(format_table(status))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from streams.overflow_api import serve

    serve(settings)
    return 0
