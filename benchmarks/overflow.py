"""Overflow policy benchmark: when the policy activates on the launch day, and how often on normal
weeks, with the early start on a confident breach forecast (rule 2b of detectors/overflow.py)
and without it (the sustained-breach rule alone).

Run: ``.venv/bin/python benchmarks/overflow.py [--seed 1 --normal-weeks 1 --batch 0 --jobs 2]``
(about 2 minutes on 2 cores for one normal week).

1. Generates with the project's generator (``streams.simulate``): the launch day of
   tests/integration/test_overflow.py (Good Friday 2013 from 08:00 UTC, North West and West
   Midlands keep 30 % of their rota from 09:00, all of it back from 10:30, 5 hours, seed 13),
   the launch day of ``make demo`` (6 hours, no recovery, seed 2013) and of seeds 1-3, and
   ``--normal-weeks`` normal weeks (every region; one job per day from two hours before London
   midnight, so that each day's windows are full when it starts; activations in those two
   hours are not counted).
2. Replays each through the live path's code (``streams.offline.replayer.Replayer``:
   validation, event-time windows, the breach forecast) and takes each region's status record
   (``detectors.answer_rates.region_status``, what the answer-rate agent publishes to
   ``<app id>-region-status``): at every closed minute (``--batch 0``, what ``on_view`` hands
   out), or as a worker's ``settle`` does, once per batch of N events for each region the batch
   touched (``--batch N``; the integration test runs its workers with 200).
3. Feeds the records, in order, to the overflow agent's core (``streams.overflow.Policy``, which
   decides each region on its own event clock with the others as they were) three times: with
   the default ``PolicyParams`` ("2b on"), with ``forecast_on_seconds=None`` ("breach only"), and
   with rule 2b but no standing-queue condition ("2b, no queue": the forecast within 15 minutes
   and the hour under 95 %, held 15 minutes), to show what that condition is for.

Reported: per launch day and failing region, the first activate of each policy (London time,
minutes after the loss), how many minutes earlier rule 2b starts, the target and its rule; the
activations of healthy regions; and over the normal weeks the activations of each policy per
region-week, with each one listed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from detectors.answer_rates import RegionView, region_status, region_view
from detectors.overflow_records import PolicyParams
from streams.contract.catalogue import default_catalogue
from streams.contract.config import load_settings
from streams.contract.logs import configure_logging
from streams.offline.replayer import Replayer
from streams.overflow.policy import Policy
from streams.simulate import generator, scenarios

LONDON = ZoneInfo("Europe/London")
GOOD_FRIDAY_2013_08Z = 1364544000.0
FAILING = ("north-west", "west-midlands")
NORMAL_MONDAY = datetime(2024, 4, 8, tzinfo=LONDON)
WARMUP_S = 2 * 3600
POLICIES = {
    "breach only": PolicyParams(forecast_on_seconds=None),
    # Rule 2b without its standing-queue condition: the forecast and the hour alone.
    "2b, no queue": PolicyParams(forecast_min_waiting=0, forecast_queue_minutes=0),
    "2b on": PolicyParams(),
}
FORECAST_REASON = "forecast to breach"  # in the reason of a rule 2b activate


@dataclass(frozen=True)
class Job:
    family: str  # "launch" or "normal"
    name: str
    scenario: scenarios.Scenario
    seed: int
    count_from_s: float  # activations before this are warm-up


@dataclass(frozen=True)
class Activation:
    policy: str
    job: str
    family: str
    region: str
    at_s: float
    target: str
    forecast: bool  # rule 2b, not the sustained breach


def jobs(seed: int, normal_weeks: int) -> list[Job]:
    start = GOOD_FRIDAY_2013_08Z
    test_day = replace(
        scenarios.launch_day(start, 5 * 3600, failure_after_s=3600),
        recovery_start_s=start + 2.5 * 3600,
    )
    out = [Job("launch", "test_overflow (seed 13)", test_day, 13, start)]
    for s in (2013, 1, 2, 3):
        day = scenarios.launch_day(start, 6 * 3600, failure_after_s=3600)
        out.append(Job("launch", f"launch day seed {s}", day, s, start))
    for d in range(7 * normal_weeks):
        midnight = NORMAL_MONDAY + timedelta(days=d)
        begin = midnight.timestamp() - WARMUP_S
        end = (midnight + timedelta(days=1)).timestamp()
        scenario = scenarios.normal(begin, end - begin)
        name = f"normal {midnight:%a %d %b}"
        out.append(Job("normal", name, scenario, seed * 1000 + 500 + d, midnight.timestamp()))
    return out


def status_records(job: Job, batch: int) -> list[dict[str, object]]:
    """The region status records a worker would publish for the job's events, in order."""
    catalogue = default_catalogue()
    records: list[dict[str, object]] = []

    def on_view(region: str, view: RegionView) -> None:
        records.append({"region": region, **region_status(view)})

    replayer = Replayer(load_settings({}), catalogue, on_view=on_view if batch == 0 else None)
    touched: set[str] = set()
    events = generator.generate(job.scenario, catalogue, job.seed)
    for i, e in enumerate(events, 1):
        replayer.line(orjson.dumps({"topic": e.topic, "key": e.key, "value": e.event.to_json()}))
        if batch and e.topic == "calls":
            touched.add(e.key)
        if batch and (i % batch == 0 or i == len(events)):
            for region in sorted(touched):  # settle: the region-wide view after the batch
                state = replayer.calls[region].windows
                view = region_view(state, replayer.ops.config, per_provider=False)
                records.append({"region": region, **region_status(view)})
            touched.clear()
    return records


def run(args: tuple[Job, int]) -> list[Activation]:
    job, batch = args
    records = status_records(job, batch)
    neighbours = {r.code: r.neighbours for r in default_catalogue().regions}
    out = []
    for name, params in POLICIES.items():
        policy = Policy(neighbours, params)
        for doc in records:
            for cmd in policy.on_status(doc):
                at = float(doc["watermark_s"])  # type: ignore[arg-type]  # a float in JSON
                if cmd["action"] == "activate" and at >= job.count_from_s:
                    forecast = FORECAST_REASON in cmd["reason"]
                    region, target = cmd["region"], cmd["target"]
                    out.append(Activation(name, job.name, job.family, region, at, target, forecast))
    return out


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _local(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=LONDON).strftime("%H:%M")


def launch_rows(todo: list[Job], acts: list[Activation]) -> list[list[str]]:
    rows = []
    for job in (j for j in todo if j.family == "launch"):
        loss = job.scenario.failure_start_s or job.scenario.start_s
        for region in FAILING:
            first = {}
            for name in POLICIES:
                mine = [a for a in acts if (a.policy, a.job, a.region) == (name, job.name, region)]
                first[name] = min(mine, key=lambda a: a.at_s) if mine else None
            base, early = first["breach only"], first["2b on"]
            cells = [job.name, region]
            for a in (base, early):
                cells.append(
                    "-" if a is None else f"{_local(a.at_s)} (+{(a.at_s - loss) / 60:.0f})"
                )
            gain = "-" if base is None or early is None else f"{(base.at_s - early.at_s) / 60:.0f}"
            rule = "-" if early is None else ("2b" if early.forecast else "breach")
            cells += [gain, rule, "-" if early is None else early.target]
            rows.append(cells)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Overflow policy benchmark.")
    parser.add_argument("--seed", type=int, default=1, help="normal weeks' seed (default 1)")
    parser.add_argument("--normal-weeks", type=int, default=1, help="normal weeks (default 1)")
    parser.add_argument(
        "--batch", type=int, default=0, help="events per status batch; 0: every closed minute"
    )
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args(argv)
    if args.normal_weeks < 0 or args.jobs < 1 or args.batch < 0:
        parser.error("--normal-weeks and --batch must be >= 0, --jobs >= 1")
    configure_logging("warning", "console")  # every command is logged at info: too many here
    began = time.monotonic()
    todo = jobs(args.seed, args.normal_weeks)
    acts: list[Activation] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for result in pool.map(run, [(j, args.batch) for j in todo]):
            acts.extend(result)
    print(
        f"$ .venv/bin/python benchmarks/overflow.py --seed {args.seed} "
        f"--normal-weeks {args.normal_weeks} --batch {args.batch} --jobs {args.jobs}"
    )
    print("\nlaunch days: first activate of each failing region, London time (+minutes after loss)")
    header = ["scenario", "region", "breach only", "2b on", "earlier min", "rule", "target"]
    print(table(launch_rows(todo, acts), header))
    healthy = [a for a in acts if a.family == "launch" and a.region not in FAILING]
    print(f"activations of healthy regions on the launch days: {len(healthy)}")
    for a in healthy:
        print(f"  {a.policy:12s} {a.job:24s} {a.region:16s} {_local(a.at_s)} -> {a.target}")
    region_weeks = args.normal_weeks * len(default_catalogue().regions)
    print(f"\nnormal weeks: {region_weeks} region-weeks (seed {args.seed})")
    rows = []
    for name in POLICIES:
        mine = [a for a in acts if a.family == "normal" and a.policy == name]
        per = f"{len(mine) / region_weeks:.2f}" if region_weeks else "-"
        by_2b = str(sum(a.forecast for a in mine)) if name != "breach only" else "-"
        rows.append([name, "", str(len(mine)), per, by_2b])
    print(table(rows, ["policy", "", "activations", "per region-week", "by rule 2b"]))
    for a in (a for a in acts if a.family == "normal" and a.policy != "2b, no queue"):
        rule = "2b" if a.forecast else "breach"
        print(
            f"  {a.policy:12s} {a.job:18s} {a.region:16s} {_local(a.at_s)} -> {a.target} ({rule})"
        )
    print(f"\n{len(todo)} jobs; {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
