"""`surge-monitor overflow status | activate | deactivate | ack | serve`: the operators' side.

A request is validated and produced by streams.overflow.commands; the overflow agent turns it into
an OverflowCommand on `surge.overflow` and an override of the policy."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
import structlog

from streams.contract.settings import Settings
from streams.overflow.commands import format_table, read_status, submit
from streams.overflow.requests import DEFAULT_TTL_MINUTES

log = structlog.get_logger(__name__)


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
    from streams.overflow.api import serve

    serve(settings)
    return 0
