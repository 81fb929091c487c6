"""`surge-monitor worker`: one Faust worker with every agent, live and overflow routing."""

from __future__ import annotations

import argparse
from typing import Any

from streams.contract.settings import Settings


def add_commands(sub: Any) -> None:
    """Add `worker` to the `surge-monitor` parser."""
    w = sub.add_parser("worker", help="run one Faust worker (settings from SURGE_*)")
    w.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    # Faust is heavy to import: only the worker needs it.
    from streams.live.worker import run_worker
    from streams.overflow import agent as overflow_agent

    run_worker(settings, prepare=(overflow_agent.prepare,), extra=(overflow_agent.register,))
    return 0
