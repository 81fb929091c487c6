"""Breach forecast benchmark: generated scenarios with known breach times, the forecast replayed.

Run: ``.venv/bin/python benchmarks/forecast.py [--seed S --normal-weeks N --jobs J]
[--params NAME=VALUE ...]`` (defaults 1, 1, 2; about 75 s on 2 cores). ``--params`` overrides
fields of ``detectors.forecast.Params`` (how the defaults were tuned, on seeds 2 and 3).

1. Generates scenarios with the project's generator (``streams.simulate``): capacity losses in
   North West and West Midlands (``capacity_left`` 0.3, 0.5, 0.7 and 0.85 of the rota from a
   failure at 09:00, 13:00 or 19:00 London time, one weekday each, starting two hours before
   the failure and ending three hours after), and ``--normal-weeks`` normal weeks (every region,
   one job per day, each day with its own warm-up hour). The generator has no demand-surge or
   gradual-loss knob (``Scenario`` cuts the rota in one step at the failure; demand follows the
   rota's own forecast), so demand surges and slow capacity losses are not covered.
2. Replays each region's call events (offered, answered, abandoned: the other kinds do not touch
   the forecast) in event-time order through ``detectors.windows.apply`` and, each time a minute
   closes, computes ``detectors.forecast.forecast`` at that minute, as the live path does, for
   both models (the fluid queue and the fluid queue with Erlang A) on the same replay.
3. Scores each region's series (``forecast_scoring.py``, whose docstring defines the three): the
   actual breach (ServiceLevelBelowStandard's warning condition without its ``for:``), the
   warning (ServiceLevelBreachForecast's condition held for its ``for:``) and the page (the
   breach held for kpi_for_seconds).

Reported per scenario family and overall, then per model: breaches, warned %, median and
10th-percentile lead (minutes), "late" (missed, but firing at an evaluation after the breach
minute and before ServiceLevelBelowStandard's: within kpi_for_seconds of the breach, not at
it), warned before the page % and the median minutes before the page (caused breaches that
page), the median minutes from the loss to the breach (the longest lead a forecast that cannot
foresee the loss itself could give, before the rule's ``for:``), false warnings and false
warnings per region-week (all replayed region-time).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from detectors import windows
from detectors.forecast import MODELS, Params, forecast
from detectors.windows import CallObs, WindowConfig, closed_minute
from streams.contract.catalogue import default_catalogue
from streams.contract.records import CallEvent
from streams.simulate import generator, scenarios

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table
from forecast_scoring import (
    MIN_OFFERED,
    SL_ALERT_FOR_MIN,
    THRESHOLD,
    WARN_BELOW_S,
    WARN_FOR_MIN,
    Score,
    Series,
    breach_minutes,
    score,
)

LONDON = ZoneInfo("Europe/London")
FAILING = ("north-west", "west-midlands")
CAPACITIES = (0.3, 0.5, 0.7, 0.85)
FAILURE_HOURS = (9, 13, 19)  # London time
FAILURE_DAY = datetime(2024, 3, 6, tzinfo=LONDON)  # a Wednesday; scenario k uses day + k days
NORMAL_MONDAY = datetime(2024, 4, 8, tzinfo=LONDON)
BEFORE_S, AFTER_S = 2 * 3600, 3 * 3600
WARMUP_MIN = 60
KINDS = frozenset({"offered", "answered", "abandoned"})


@dataclass(frozen=True)
class Job:
    family: str
    name: str
    scenario: scenarios.Scenario
    seed: int


def jobs(seed: int, normal_weeks: int) -> list[Job]:
    out = []
    k = 0
    for hour in FAILURE_HOURS:
        for cap in CAPACITIES:
            day = FAILURE_DAY + timedelta(days=k)
            failure = day.replace(hour=hour).timestamp()
            start = failure - BEFORE_S
            scenario = scenarios.Scenario(
                f"loss-{cap:g}-{hour:02d}h",
                start,
                BEFORE_S + AFTER_S,
                failing_regions=FAILING,
                failure_start_s=failure,
                capacity_left=cap,
            )
            out.append(Job(f"capacity {cap:g}", scenario.name, scenario, seed * 1000 + k))
            k += 1
    for d in range(7 * normal_weeks):
        # One job per day (each with its own warm-up hour before midnight), so that the days
        # spread over the processes; aware datetimes keep a DST day 23 or 25 hours long.
        day = NORMAL_MONDAY + timedelta(days=d)
        start = day.timestamp() - WARMUP_MIN * 60
        end = (day + timedelta(days=1)).timestamp()
        scenario = scenarios.normal(start, end - start)
        name = f"normal-{day:%a-%d-%b}"
        out.append(Job("normal weeks", name, scenario, seed * 1000 + 500 + d))
    return out


def replay(job: Job, models: dict[str, Params]) -> list[Series]:
    """Every region of the job: each model's forecast at each closed minute, breach flags from
    the final counts."""
    config = WindowConfig()
    events = generator.generate(job.scenario, default_catalogue(), job.seed)
    start = int(job.scenario.start_s)
    n_min = math.ceil(job.scenario.duration_s / 60)
    by_region: dict[str, list[CallObs]] = {}
    for e in events:
        ev = e.event
        if isinstance(ev, CallEvent) and ev.event in KINDS:
            by_region.setdefault(ev.region, []).append(
                CallObs(ev.call_id, ev.event, ev.ts_s, ev.provider, ev.wait_seconds)
            )
    out = []
    for region, obs in sorted(by_region.items()):
        began = time.process_time()
        counts = np.zeros((3, n_min))  # offered, answered, answered within target
        fc = {name: np.full(n_min, math.inf) for name in models}
        state = windows.initial()
        done = start - 60  # last minute forecast
        for o in obs:
            windows.apply(state, o, config)
            m = int((o.ts_s - start) // 60)
            if o.kind == "offered":
                counts[0, m] += 1
            elif o.kind == "answered":
                counts[1, m] += 1
                counts[2, m] += (o.wait_seconds or 0.0) <= config.answer_target_seconds
            closed = closed_minute(state, config)
            while closed is not None and done < closed:
                done += 60
                i = (done - start) // 60
                if 0 <= i < n_min:
                    for name, params in models.items():
                        fc[name][i] = forecast(state, config, done, params).seconds
        spent = time.process_time() - began
        breach = breach_minutes(counts)
        failure = None
        sc = job.scenario
        if region in sc.failing_regions and sc.failure_start_s is not None:
            failure = math.ceil((sc.failure_start_s - start) / 60) - WARMUP_MIN
        scored = {name: f[WARMUP_MIN:] for name, f in fc.items()}
        out.append(
            Series(job.family, job.name, region, scored, breach[WARMUP_MIN:], failure, spent)
        )
    return out


def _override(text: str) -> tuple[str, Any]:
    """NAME=VALUE of a Params field, VALUE parsed as the field's default type."""
    name, _, value = text.partition("=")
    default = getattr(Params(), name)
    if isinstance(default, bool):
        return name, value.lower() in {"1", "true", "yes"}
    return name, type(default)(value)


def _run(args: tuple[Job, dict[str, Params]]) -> list[Series]:
    return replay(*args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Breach forecast benchmark.")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--normal-weeks", type=int, default=1, help="normal weeks (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument(
        "--params", nargs="*", default=[], help="forecast Params overrides, e.g. confidence_z=0.5"
    )
    args = parser.parse_args(argv)
    if args.normal_weeks < 0 or args.jobs < 1:
        parser.error("--normal-weeks must be >= 0 and --jobs >= 1")
    began = time.monotonic()
    rule = Params(threshold=THRESHOLD, min_offered=MIN_OFFERED)
    params = replace(rule, **dict(_override(kv) for kv in args.params))
    # The configured model first, then the other one on the same replays (issue 8: measure
    # the fluid approximation and Erlang A both).
    models = {params.model: params}
    models.update({m: replace(params, model=m) for m in MODELS if m != params.model})
    todo = jobs(args.seed, args.normal_weeks)
    series: list[Series] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for result in pool.map(_run, [(j, models) for j in todo]):
            series.extend(result)

    print(
        "$ .venv/bin/python benchmarks/forecast.py "
        f"--seed {args.seed} --normal-weeks {args.normal_weeks} --jobs {args.jobs}"
        + (" --params " + " ".join(args.params) if args.params else "")
    )
    print(
        f"breach: 60m and 15m service level < {THRESHOLD:g} with >= {MIN_OFFERED} offered/h; "
        f"warning: forecast < {WARN_BELOW_S:g} s for {WARN_FOR_MIN} min; "
        f"page: breach for {SL_ALERT_FOR_MIN} min; "
        f"model {params.model} ({', '.join(f'{k}={v}' for k, v in _changed(params).items())})"
    )
    header = ["scenarios", "caused breaches", "warned %", "median lead min", "p10 lead min",
              "late", "before page %", "min before page", "loss to breach min",
              "other breaches", "warned %", "warnings", "false",
              "region-weeks", "false/region-wk"]  # fmt: skip
    totals: dict[str, Score] = {}
    for model in models:
        families: dict[str, Score] = {}
        total = Score()
        for s in series:
            sc = score(s, model)
            families.setdefault(s.family, Score()).add(sc)
            total.add(sc)
        totals[model] = total
        if model == params.model:
            rows = [[name, *sc.cells()] for name, sc in families.items()]
            print(table([*rows, ["all", *total.cells()]], header))
    print("\nthe same replays, each model (all scenarios):")
    rows = [[model, *sc.cells()] for model, sc in totals.items()]
    print(table(rows, ["model", *header[1:]]))
    print(f"\ncaused breaches ({params.model}), lead minutes (- missed):")
    for s in series:
        sc = score(s, params.model)
        if s.failure is not None:
            leads = ", ".join("-" if math.isnan(x) else f"{x:.0f}" for x in sc.known.leads)
            what = "in breach at the loss" if sc.in_breach_at_failure else "no breach"
            ceiling = ", ".join(f"{x:.0f}" for x in sc.known.after_failure)
            ceiling = ceiling or "-"
            print(
                f"  {s.scenario:14s} {s.region:14s} {leads or what:6s} (loss to breach {ceiling})"
            )
    n_fc = sum(s.breach.size for s in series)
    cpu = sum(s.seconds_spent for s in series)
    print(
        f"\n{len(todo)} scenarios, {len(series)} region series, {n_fc} scored minutes, "
        f"{len(models)} models; replay and forecasts {cpu:.0f} s CPU; "
        f"total {time.monotonic() - began:.0f} s"
    )
    return 0


def _changed(params: Params) -> dict[str, object]:
    """The fields of `params` that differ from the defaults."""
    default = Params()
    return {
        f.name: getattr(params, f.name)
        for f in fields(params)
        if getattr(params, f.name) != getattr(default, f.name)
    } or {"defaults": True}


if __name__ == "__main__":
    sys.exit(main())
