"""The `surge-monitor` command: one parser, each command group added by its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from streams.cli import (
    demo,
    erlang,
    overflow,
    readiness,
    replay,
    rota,
    scorecard,
    simulate,
    stack,
    watch,
    worker,
)
from streams.contract.config import load_settings
from streams.contract.errors import SurgeError
from streams.contract.logs import configure_logging

log = structlog.get_logger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "workers", None) is not None:
            overrides["workers"] = args.workers
        settings = load_settings(**overrides)
        configure_logging(settings.log_level, settings.log_format)
        result: int = args.func(args, settings)
        return result
    except SurgeError as exc:
        configure_logging("error", "console" if sys.stderr.isatty() else "json")
        log.error(type(exc).__name__, message=str(exc))
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="surge-monitor", description=__doc__)
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    commands = [worker, stack, demo, watch, simulate, scorecard, readiness, overflow, replay]
    for group in [*commands, rota, erlang]:
        group.add_commands(sub)
    return p


if __name__ == "__main__":
    sys.exit(main())
