"""`surge-monitor scorecard`: each provider against its standards per day, week or month, and
with `--rota FILE.csv` its staff-hours delivered against rostered and commissioned."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import structlog

from streams.cli.args import instant, jobs_arg
from streams.contract.catalogue import Catalogue, load_catalogue
from streams.contract.errors import ConfigError
from streams.contract.rota import RotaFileError, RotaInterval
from streams.contract.settings import Settings

log = structlog.get_logger(__name__)


def add_commands(sub: Any) -> None:
    """Add `scorecard` to the `surge-monitor` parser."""
    c = sub.add_parser(
        "scorecard", help="each provider against its standards per day/week/month: CSV and HTML"
    )
    _scorecard_args(c)
    c.set_defaults(func=cmd_scorecard)


def _scorecard_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("--from", dest="from_", required=True, help="ISO-8601 instant with offset")
    c.add_argument("--to", required=True, help="ISO-8601 instant with offset (exclusive)")
    c.add_argument("--provider", help="one provider id (default: every provider)")
    c.add_argument("--period", choices=["day", "week", "month"], default="day",
                   help="Europe/London days, Monday-Sunday weeks or calendar months")  # fmt: skip
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="events as JSON lines (simulate --out)")
    source.add_argument("--topic", help="a call-events topic, read from its start")
    c.add_argument(
        "--baseline",
        type=Path,
        help="referral baselines (surge-monitor baseline); default SURGE_REFERRAL_BASELINE",
    )
    c.add_argument(
        "--callback-standard",
        type=float,
        help="share of clinical callbacks the contract wants made within 10 min, e.g. 0.9 "
        "(no national figure exists; without it the share is shown, not judged)",
    )
    c.add_argument("--out", type=Path, required=True, help="folder for scorecard.csv and .html")
    c.add_argument("--progress", action="store_true", help="show a progress bar")
    c.add_argument(
        "--jobs",
        type=jobs_arg,
        default=1,
        metavar="N",
        help="--file: replay the regions in N processes (default 1): the same scorecard, faster "
        "with N free cores",
    )
    c.add_argument(
        "--rota",
        type=Path,
        metavar="FILE.csv",
        help="the rota CSV (as for `rota publish`; validated whole, a bad line is an error): "
        "scorecard.csv gains per role (health_adviser_, clinician_) staff_hours (delivered: "
        "agents ready, on a call or in wrap-up, from the file's agent states), rostered_hours, "
        "commissioned_hours, delivered_ratio (delivered / commissioned) and "
        "delivered_rostered_ratio; empty where unknown (no agent states, no rota)",
    )
    overflow = c.add_mutually_exclusive_group()
    overflow.add_argument(
        "--overflow", type=Path, help="OverflowCommand records as JSON lines: adds overflow figures"
    )
    overflow.add_argument(
        "--overflow-topic",
        nargs="?",
        const="",
        metavar="TOPIC",
        help="read the OverflowCommands from the overflow topic (default SURGE_TOPIC_OVERFLOW)",
    )


def _rota(path: Path, catalogue: Catalogue) -> list[RotaInterval]:
    """The --rota file's intervals, validated whole before the replay: every bad line named."""
    from streams.cli.rota import read_rota_file

    try:
        return read_rota_file(path, catalogue)
    except RotaFileError as exc:
        problems = str(exc).split("\n", 1)[1]  # the lines naming each problem (and how many more)
        header = f"--rota {path}: {len(exc.problems)} problem(s), no scorecard written"
        raise ConfigError(f"{header}\n{problems}") from None


def cmd_scorecard(args: argparse.Namespace, settings: Settings) -> int:
    from streams.offline import scorecard, scorecard_report, staff_hours_report

    try:
        standards = scorecard.commissioned_standards(args.callback_standard)
    except ValueError as exc:
        raise ConfigError(f"--callback-standard: {exc}") from None
    baseline = args.baseline or (
        Path(settings.referral_baseline) if settings.referral_baseline else None
    )
    request = scorecard.Request(
        from_s=instant(args.from_, "--from"),
        to_s=instant(args.to, "--to"),
        period=args.period,
        provider=args.provider,
        standards=standards,
        baseline_path=baseline,
    )
    catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    rota = None if args.rota is None else _rota(args.rota, catalogue)
    overflow_topic = args.overflow_topic
    if overflow_topic == "":  # --overflow-topic without a name
        overflow_topic = settings.topic_overflow
    result = scorecard.compute(
        request,
        settings,
        catalogue,
        file=args.file,
        topic=args.topic,
        progress=args.progress,
        overflow_file=args.overflow,
        overflow_topic=overflow_topic,
        jobs=args.jobs,
        rota=rota,
        rota_source=None if args.rota is None else str(args.rota),
    )
    scorecard_report.write(result, catalogue, args.out)
    failing = sorted({f"{r.region}/{r.provider}" for r in result.rows if r.result == "fail"})
    below = sorted({f"{r.region}/{r.provider}" for r in result.rows if r.result == "warning"})
    short = sorted(
        {
            f"{s.region}/{s.provider}"
            for s in result.staff_hours
            if s.delivered_ratio is not None
            and s.delivered_ratio < staff_hours_report.WARNING_RATIO
        }
    )
    log.info(
        "scorecard_done",
        rows=len(result.rows),
        failing=failing,
        below_standard=below,
        staff_hours_short=short,
    )
    return 0
