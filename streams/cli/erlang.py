"""`surge-monitor erlang`: the planner's queueing calculator (detectors.erlang), one JSON object.

With `--agents K` it predicts the service of K handlers; with `--service-level X` it finds the
fewest handlers meeting X and predicts theirs. `--patience-seconds` switches Erlang C to Erlang A
(callers hang up) and adds `abandon_ratio`. Bad arguments exit with status 2 and say which.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import orjson

from detectors import erlang
from streams.contract.errors import ConfigError
from streams.contract.settings import Settings


def add_commands(sub: Any) -> None:
    """Add `erlang` to the `surge-monitor` parser."""
    e = sub.add_parser("erlang", help="Erlang C/A: service of N handlers, or handlers for a level")
    e.add_argument("--calls", type=float, required=True, help="calls offered in the interval")
    e.add_argument("--interval-minutes", type=float, required=True)
    e.add_argument("--aht-seconds", type=float, required=True, help="mean handle time")
    e.add_argument("--target-seconds", type=float, default=60.0, help="answer within (60)")
    size = e.add_mutually_exclusive_group(required=True)
    size.add_argument("--agents", type=int, help="handlers on the phones")
    size.add_argument("--service-level", type=float, help="answered within target / answered")
    e.add_argument("--patience-seconds", type=float, help="callers' mean patience: Erlang A")
    e.set_defaults(func=cmd_erlang)


def cmd_erlang(args: argparse.Namespace, settings: Settings) -> int:
    sizing = {
        "calls": args.calls,
        "interval_seconds": args.interval_minutes * 60,
        "aht_seconds": args.aht_seconds,
        "target_seconds": args.target_seconds,
    }
    try:
        agents = args.agents
        if agents is None:
            agents = erlang.required_agents(
                **sizing,
                service_level_target=args.service_level,
                patience_seconds=args.patience_seconds,
            )
        if args.agents is None and agents == 0:  # no calls: nobody needed, nothing to predict
            result: dict[str, object] = {"agents": 0, "service_level": None, "p_wait": None,
                                         "asa_seconds": None, "occupancy": None}  # fmt: skip
        else:
            p = erlang.performance(**sizing, agents=agents, patience_seconds=args.patience_seconds)
            result = {
                "agents": p.agents,
                "service_level": p.service_level,
                "p_wait": p.p_wait,
                "asa_seconds": None if math.isinf(p.asa_seconds) else p.asa_seconds,
                "occupancy": p.occupancy,
            }
            if args.patience_seconds is not None:
                result["abandon_ratio"] = p.abandon_ratio
    except ValueError as exc:
        raise ConfigError(f"erlang: {exc}") from None
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0
