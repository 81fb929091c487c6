"""`surge-monitor readiness`: the planned day's rota against its demand forecast, per region a
verdict (go, at risk, no-go) against the alert thresholds (issue 19; streams.offline.readiness).

Both files are read and validated whole before anything is written: a bad line exits 2 naming
it, with nothing written. Exit status 0 only when every region is go, 1 otherwise.
`--scenario launch-2013` writes the generator's Good Friday 2013 rota and demand as CSV (also
shipped as deploy/readiness/launch-2013-*.csv) and runs on them.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any, Final

import orjson
import structlog

from streams.cli.args import instant
from streams.cli.rota import read_rota_file
from streams.contract.catalogue import Catalogue, load_catalogue
from streams.contract.demand import DEMAND_COLUMNS, DemandInterval, parse_demand_csv
from streams.contract.errors import ConfigError
from streams.contract.rota import ROTA_COLUMNS, RotaInterval, parse_rota_csv
from streams.contract.settings import Settings
from streams.contract.thresholds import load_thresholds

log = structlog.get_logger(__name__)

SCENARIOS: Final = ("launch-2013",)
EXAMPLES: Final = Path(__file__).resolve().parents[2] / "deploy" / "readiness"
DEFAULT_SHRINKAGE: Final = 0.0
DEFAULT_REPLICATIONS: Final = 20


def add_commands(sub: Any) -> None:
    """Add `readiness` to the `surge-monitor` parser."""
    c = sub.add_parser(
        "readiness",
        help="a rota against its demand forecast: per region go, at risk or no-go",
        description=__doc__,
    )
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument("--rota", type=Path, metavar="ROTA.csv", help="as for `rota publish`")
    source.add_argument(
        "--scenario", choices=SCENARIOS, help="the generator's launch day: its rota and demand"
    )
    c.add_argument(
        "--demand",
        type=Path,
        metavar="DEMAND.csv",
        help=f"callers expected: columns {', '.join(DEMAND_COLUMNS)} (with --rota)",
    )
    c.add_argument("--from", dest="from_", help="first interval start, ISO-8601 with offset")
    c.add_argument("--to", help="intervals starting before this instant (ISO-8601 with offset)")
    c.add_argument("--out", type=Path, help="folder for readiness.csv, .json and .html")
    c.add_argument("--json", action="store_true", help="one JSON object of verdicts on stdout")
    c.add_argument(
        "--shrinkage",
        type=float,
        default=DEFAULT_SHRINKAGE,
        help="share of the rostered health advisers not on the phones (breaks, training); "
        f"default {DEFAULT_SHRINKAGE:g}: the rota's numbers are handlers on the phones "
        "(DESIGN.md, RotaInterval), as the generator's rota is",
    )
    c.add_argument(
        "--replications",
        type=int,
        default=DEFAULT_REPLICATIONS,
        help=f"simulation runs per interval (default {DEFAULT_REPLICATIONS}; at least 2)",
    )
    c.add_argument("--seed", type=int, default=2013, help="the simulation's seed")
    c.add_argument(
        "--patience-seconds",
        type=float,
        help="callers' mean patience (default SURGE_CALLER_PATIENCE_SECONDS)",
    )
    c.add_argument("--thresholds", type=Path, help="TOML of alert thresholds (as for backtest)")
    c.set_defaults(func=cmd_readiness)


def scenario_files(name: str, catalogue: Catalogue) -> tuple[str, str]:
    """(rota CSV text, demand CSV text) of a named scenario."""
    from streams.simulate.readiness_day import launch_2013_plan

    if name != "launch-2013":
        raise ConfigError(f"unknown scenario {name!r}; use one of {', '.join(SCENARIOS)}")
    rota, demand = launch_2013_plan(catalogue)
    return _csv(ROTA_COLUMNS, rota), _csv(DEMAND_COLUMNS, demand)


def _csv(columns: tuple[str, ...], rows: list[dict[str, object]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _inputs(
    args: argparse.Namespace, catalogue: Catalogue
) -> tuple[list[RotaInterval], list[DemandInterval], tuple[str, str], dict[Path, str]]:
    """The validated rota and demand, their names, and the files the scenario adds to --out."""
    if args.scenario:
        if args.demand is not None:
            raise ConfigError("--scenario brings its own demand; drop --demand or use --rota")
        rota_text, demand_text = scenario_files(args.scenario, catalogue)
        names = (f"{args.scenario}-rota.csv", f"{args.scenario}-demand.csv")
        rota = parse_rota_csv(rota_text, catalogue, names[0])
        demand = parse_demand_csv(demand_text, catalogue, names[1])
        extra = {Path(names[0]): rota_text, Path(names[1]): demand_text}
        return rota, demand, names, extra
    if args.demand is None:
        raise ConfigError("--rota needs --demand DEMAND.csv (the callers expected)")
    rota = read_rota_file(args.rota, catalogue)
    try:
        text = args.demand.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read demand file {args.demand}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"demand file {args.demand} is not UTF-8 text") from None
    demand = parse_demand_csv(text, catalogue, str(args.demand))
    return rota, demand, (str(args.rota), str(args.demand)), {}


def cmd_readiness(args: argparse.Namespace, settings: Settings) -> int:
    from detectors.readiness import Model
    from streams.offline import readiness
    from streams.offline.replayer import progress_bar

    if args.replications < 2:
        raise ConfigError(f"--replications {args.replications}: at least 2 for an interval")
    if not 0 <= args.shrinkage < 1:
        raise ConfigError(f"--shrinkage {args.shrinkage}: a share of the rostered, 0 to < 1")
    given = args.patience_seconds
    patience = settings.caller_patience_seconds if given is None else given
    if not patience > 0:
        raise ConfigError("Erlang A needs the callers' mean patience: give --patience-seconds")
    from_s = instant(args.from_, "--from") if args.from_ else None
    to_s = instant(args.to, "--to") if args.to else None
    catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    thresholds = load_thresholds(args.thresholds)
    rota, demand, sources, extra = _inputs(args, catalogue)
    intervals = readiness.join(rota, demand, from_s, to_s)
    if not intervals:
        raise ConfigError("no demand interval starts in the --from/--to range; widen it")
    model = Model(
        target_seconds=settings.answer_target_seconds,
        patience_seconds=patience,
        service_level_standard=thresholds.service_level_standard,
        shrinkage=args.shrinkage,
        replications=args.replications,
        seed=args.seed,
    )
    with progress_bar(sys.stderr.isatty(), len(intervals), "interval") as bar:
        result = readiness.assess(
            intervals, model, readiness.rules_of(thresholds), sources, lambda _: bar.update()
        )
    if args.out is not None:
        from streams.offline import readiness_report

        readiness_report.write(result, _names(catalogue), args.out)
        for name, text in extra.items():
            (args.out / name).write_text(text, encoding="utf-8")
    doc = readiness.verdicts_json(result)
    if args.json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(_table(result))
    return 0 if result.all_go else 1


def _names(catalogue: Catalogue) -> dict[str, str]:
    return {r.code: r.name for r in catalogue.regions}


def _table(result: Any) -> str:
    from streams.offline.readiness import local_hour

    lines = []
    for v in result.verdicts:
        hours = ", ".join(local_hour(h)[11:16] for h in v.no_go_hours)
        lines.append(f"{v.region:<16} {v.verdict:<8} {hours}".rstrip())
    return "\n".join(lines) + "\n"
