"""Argument types shared by the command groups: one parser for instants, one for `--jobs`."""

from __future__ import annotations

import argparse
from datetime import datetime

import structlog

from streams.contract.errors import ConfigError

log = structlog.get_logger(__name__)


def jobs_arg(text: str) -> int:
    """--jobs: a whole number >= 1 (argparse turns the error into a usage message)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def instant(text: str, flag: str) -> float:
    """A command-line instant: ISO-8601 with its UTC offset (a bare local time is ambiguous)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not ISO-8601") from None
    if when.tzinfo is None:
        raise ConfigError(f"{flag} {text!r} needs a UTC offset, e.g. +00:00")
    return when.timestamp()
