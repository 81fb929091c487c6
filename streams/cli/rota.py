"""`surge-monitor rota publish FILE.csv | show`: the staffing plan onto the compacted rota topic
and back (DESIGN.md, Events: RotaInterval).

`publish` validates the whole file before it connects to Kafka: a file with any problem is
refused with every problem listed (exit status 2) and nothing of it is produced."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
import structlog

from streams.contract.catalogue import Catalogue, load_catalogue
from streams.contract.errors import ConfigError
from streams.contract.kafka_io import publish_rota, read_rota
from streams.contract.rota import ROTA_COLUMNS, RotaInterval, parse_rota_csv
from streams.contract.settings import Settings

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT_SECONDS = 30.0


def add_commands(sub: Any) -> None:
    """Add `rota ...` to the `surge-monitor` parser."""
    r = sub.add_parser("rota", help="the staffing plan: publish a rota CSV | show the latest")
    actions = r.add_subparsers(required=True, metavar="ACTION")

    p = actions.add_parser(
        "publish",
        help="validate a rota CSV and produce each interval to the rota topic",
        description=f"CSV with a header row naming the columns {', '.join(ROTA_COLUMNS)}.",
    )
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.add_argument("--dry-run", action="store_true", help="only validate the file; send nothing")
    _timeout_arg(p)
    p.set_defaults(func=cmd_publish)

    s = actions.add_parser("show", help="the latest interval of each key on the rota topic")
    s.add_argument("--json", action="store_true", help="JSON instead of a table")
    _timeout_arg(s)
    s.set_defaults(func=cmd_show)


def _timeout_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout-seconds",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"how long to wait for Kafka (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )


def _catalogue(settings: Settings) -> Catalogue:
    return load_catalogue(Path(settings.catalogue) if settings.catalogue else None)


def read_rota_file(path: Path, catalogue: Catalogue) -> list[RotaInterval]:
    """The intervals of a rota CSV, validated whole (RotaFileError lists every problem)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets often write a BOM
    except OSError as exc:
        raise ConfigError(f"cannot read rota file {path}: {exc.strerror}; check the path") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"rota file {path} is not UTF-8 text; save the CSV as UTF-8") from None
    return parse_rota_csv(text, catalogue, str(path))


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    intervals = read_rota_file(args.file, _catalogue(settings))
    if args.dry_run:
        log.info("rota_validated", file=str(args.file), intervals=len(intervals), dry_run=True)
        return 0
    sent = publish_rota(settings, intervals, timeout_s=args.timeout_seconds)
    log.info("rota_published", file=str(args.file), topic=settings.topic_rota, intervals=sent)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    latest = read_rota(
        settings,
        _catalogue(settings),
        timeout_s=args.timeout_seconds,
        bootstrap_timeout_s=args.timeout_seconds,
    )
    intervals = sorted(latest.values(), key=lambda i: (i.region, i.provider, i.role, i.start_s))
    docs = [i.to_json() for i in intervals]
    if args.json:
        sys.stdout.write(orjson.dumps(docs, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(format_table(docs))
    return 0


def format_table(docs: list[dict[str, object]]) -> str:
    rows = [[str(d[c]) for c in ROTA_COLUMNS] for d in docs]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(ROTA_COLUMNS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(ROTA_COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if not rows:
        lines.append("(no rota published yet)")
    return "\n".join(lines) + "\n"
