"""`surge-monitor replay` and `surge-monitor backtest`: the live detectors over recorded events.

replay writes what the live path would have shown: each closed minute's region figures (CSV) and
the alert records it would have put on surge.alerts (JSONL, byte-equal to the live ones).
backtest answers "which alerts would have fired, and when, with these thresholds?" for a
thresholds file (TOML, keys of streams.contract.thresholds.Thresholds), as a table of episodes.
`replay --signals OUT.npz` records what the alert machines read (streams.offline.signals), and
`backtest --signals OUT.npz` runs the machines of a thresholds file over it without replaying.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import IO, Any

import structlog

from detectors.answer_rates import RegionView
from streams.cli.args import instant, jobs_arg
from streams.contract.catalogue import Catalogue, load_catalogue
from streams.contract.errors import ConfigError
from streams.contract.records import format_ts
from streams.contract.settings import Settings
from streams.contract.thresholds import THRESHOLDS, Thresholds, load_thresholds
from streams.engine.alerting import encode_alert
from streams.offline import replay, replayer, signals
from streams.offline.tables import FIGURE_COLUMNS, episodes, figure_rows, render_table

log = structlog.get_logger(__name__)


def add_commands(sub: Any) -> None:
    r = sub.add_parser("replay", help="the live detectors over an event file or a topic range")
    _source_args(r)
    r.add_argument("--figures", type=Path, help="CSV: each closed minute's region figures")
    r.add_argument("--alerts", type=Path, help="JSONL: the alert records of surge.alerts")
    r.add_argument(
        "--signals",
        type=Path,
        metavar="OUT.npz",
        help="numpy: what the alert machines read at each closed minute, for `backtest "
        "--signals` (thresholds change the machines only, so one replay serves every file)",
    )
    r.set_defaults(func=cmd_replay)
    b = sub.add_parser(
        "backtest", help="which alerts would have fired, when, for a thresholds file"
    )
    _source_args(b)
    b.add_argument(
        "--signals",
        type=Path,
        metavar="S.npz",
        help="instead of FILE or --topic: the machines over a `replay --signals` file (seconds "
        "a day, not a replay; the same episodes: the breach forecast and referral detector "
        "take no thresholds)",
    )
    b.add_argument(
        "--thresholds", type=Path, help="TOML of alert thresholds (default: the shipped ones)"
    )
    b.add_argument("--out", type=Path, help="CSV of the episodes (the table goes to stdout)")
    b.set_defaults(func=cmd_backtest)


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", type=Path, help="JSONL events (surge-monitor simulate --out)")
    p.add_argument("--topic", help="replay this topic instead of a file")
    p.add_argument("--from", dest="from_", help="topic: first Kafka timestamp (ISO-8601)")
    p.add_argument("--to", help="topic: Kafka timestamps before this (ISO-8601)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--jobs",
        type=jobs_arg,
        default=1,
        metavar="N",
        help="file: replay the regions in N processes (default 1): the same results, faster "
        "with N free cores; the figures are written at the end",
    )


def _run(
    args: argparse.Namespace,
    settings: Settings,
    thresholds: Thresholds,
    on_view: Any = None,
) -> replayer.ReplayResult:
    catalogue: Catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    progress = not args.no_progress
    if (args.file is None) == (args.topic is None):
        raise ConfigError("give an event FILE or --topic TOPIC (one of them)")
    if args.file is not None:
        if args.from_ or args.to:
            raise ConfigError("--from/--to select a topic range; a file is replayed whole")
        if not args.file.is_file():
            raise ConfigError(f"event file {str(args.file)!r} does not exist")
        return replay.replay_file(
            args.file, settings, catalogue, thresholds=thresholds, on_view=on_view,
            progress=progress, jobs=args.jobs,
        )  # fmt: skip
    if args.jobs != 1:
        raise ConfigError("--jobs splits a file's replay; a topic is replayed in one process")
    return replay.replay_topic(
        settings,
        catalogue,
        args.topic,
        None if args.from_ is None else instant(args.from_, "--from"),
        None if args.to is None else instant(args.to, "--to"),
        thresholds=thresholds,
        on_view=on_view,
        progress=progress,
    )


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    if args.signals and not args.signals.parent.is_dir():  # fail now, not after the replay
        raise ConfigError(f"--signals {str(args.signals)!r}: no such directory")
    writer: Any = None
    out: IO[str] | None = None
    if args.figures:
        out = args.figures.open("w", newline="")
        writer = csv.DictWriter(out, FIGURE_COLUMNS)
        writer.writeheader()

    recorder = signals.SignalRecorder() if args.signals else None

    def on_view(region: str, view: RegionView) -> None:
        if writer is not None:
            writer.writerows(figure_rows(region, view))
        if recorder is not None:
            recorder(region, view)

    try:
        wanted = writer is not None or recorder is not None
        result = _run(args, settings, THRESHOLDS, on_view if wanted else None)
    finally:
        if out is not None:
            out.close()
    if recorder is not None:
        recorder.write(args.signals)
    if args.alerts:
        with args.alerts.open("wb") as f:
            for alert in result.alerts:
                f.write(encode_alert(alert) + b"\n")
    log.info(
        "replay_summary",
        regions=len(result.views),
        alerts=len(result.alerts),
        figures=str(args.figures) if args.figures else None,
        alert_file=str(args.alerts) if args.alerts else None,
        signals=str(args.signals) if args.signals else None,
        **dict(sorted(result.counts.items())),
    )
    return 0


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> int:
    thresholds = load_thresholds(args.thresholds)
    if sum(x is not None for x in (args.file, args.topic, args.signals)) != 1:
        raise ConfigError("give an event FILE, --topic TOPIC or --signals S.npz (one of them)")
    if args.signals is None:
        alerts = _run(args, settings, thresholds).alerts
    else:
        if args.from_ or args.to or args.jobs != 1:
            raise ConfigError("--from/--to/--jobs are for a replay; a signals file is not replayed")
        alerts = signals.backtest(signals.read(args.signals), thresholds)
    found = episodes(alerts)
    rows = [
        {
            "alert": e.alert,
            "severity": e.severity,
            "region": e.region,
            "fired_at": format_ts(e.fired_s),
            "resolved_at": "" if e.resolved_s is None else format_ts(e.resolved_s),
            "minutes": "" if e.minutes is None else f"{e.minutes:.0f}",
            "value": f"{e.value:.4g}",
            "threshold": f"{e.threshold:g}",
        }
        for e in found
    ]
    if args.out:
        with args.out.open("w", newline="") as f:
            w = csv.DictWriter(f, list(rows[0]) if rows else ["alert"])
            w.writeheader()
            w.writerows(rows)
    sys.stdout.write(render_table(rows))
    log.info(
        "backtest_summary",
        episodes=len(found),
        thresholds=str(args.thresholds) if args.thresholds else "shipped",
        signals=str(args.signals) if args.signals else None,
        out=str(args.out) if args.out else None,
    )
    return 0
