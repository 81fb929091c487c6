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
3. The actual breach: a minute at which the 60- and 15-minute service levels (from the final
   counts) are both below THRESHOLDS.service_level_warning with at least
   kpi_min_offered_per_hour calls offered in the hour: ServiceLevelBelowStandard's warning
   condition, without its ``for:``. Scored from the second hour of each series (the first fills
   the 60-minute window). A "caused" breach is a failing region's first breach minute after its
   capacity loss (not counted if the region is already in breach at the loss); every other
   breach episode (start after 30 minutes without the condition) is an "other" breach: the
   generator's small regions dip below the threshold now and then on their own.
4. The warning: the rule's condition, forecast < THRESHOLDS.breach_forecast_seconds, held at
   every minute evaluation for THRESHOLDS.breach_forecast_for_seconds (a ``for:`` of k minutes
   fires at the (k+1)th evaluation in a row: 31 for 30 minutes). The hold counts only scored
   minutes (the warm-up hour's forecasts are not carried over), so no warning fires in a
   series' first k minutes. A breach is warned if a warning is firing at its first minute; the
   lead is the breach minute - the warning's first firing minute. A warning episode is false if
   no breach minute falls between its start and 30 minutes after its end.
5. The page: ServiceLevelBelowStandard fires kpi_for_seconds after a breach's first minute if
   the breach holds that long (the same held-condition rule). For the caused breaches that
   page: the share warned strictly before the page and the median minutes from the warning's
   first firing to the page (0 if the warning did not come before it).

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
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from detectors import windows
from detectors.forecast import MODELS, Params, forecast
from detectors.windows import CallObs, WindowConfig, closed_minute
from streams.contract.catalogue import default_catalogue
from streams.contract.records import CallEvent
from streams.contract.thresholds import THRESHOLDS
from streams.simulate import generator, scenarios

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

LONDON = ZoneInfo("Europe/London")
FAILING = ("north-west", "west-midlands")
CAPACITIES = (0.3, 0.5, 0.7, 0.85)
FAILURE_HOURS = (9, 13, 19)  # London time
FAILURE_DAY = datetime(2024, 3, 6, tzinfo=LONDON)  # a Wednesday; scenario k uses day + k days
NORMAL_MONDAY = datetime(2024, 4, 8, tzinfo=LONDON)
BEFORE_S, AFTER_S = 2 * 3600, 3 * 3600
WARMUP_MIN = 60
# The rules' numbers: the breach is ServiceLevelBelowStandard's warning condition.
THRESHOLD = THRESHOLDS.service_level_warning
MIN_OFFERED = THRESHOLDS.kpi_min_offered_per_hour
WARN_BELOW_S = THRESHOLDS.breach_forecast_seconds
WARN_FOR_MIN = THRESHOLDS.breach_forecast_for_seconds // 60
SL_ALERT_FOR_MIN = THRESHOLDS.kpi_for_seconds // 60  # when ServiceLevelBelowStandard pages
EPISODE_GAP_MIN = 30
REGION_WEEK_MIN = 7 * 24 * 60
KINDS = frozenset({"offered", "answered", "abandoned"})


@dataclass(frozen=True)
class Job:
    family: str
    name: str
    scenario: scenarios.Scenario
    seed: int


@dataclass
class Series:
    """One region of one scenario: per scored minute the forecast and the breach condition."""

    family: str
    scenario: str
    region: str
    forecasts: dict[str, FloatArray]  # per model compared
    breach: BoolArray
    failure: int | None  # scored minute of the capacity loss, for a failing region
    seconds_spent: float = 0.0


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


def _rolling(x: FloatArray, n: int) -> FloatArray:
    c = np.concatenate(([0.0], np.cumsum(x)))
    lo = np.maximum(np.arange(1, x.size + 1) - n, 0)
    out: FloatArray = c[1:] - c[lo]
    return out


def breach_minutes(counts: FloatArray) -> BoolArray:
    """The warning rule's condition per minute, from exact final counts."""
    offered60 = _rolling(counts[0], 60)
    a60, w60 = _rolling(counts[1], 60), _rolling(counts[2], 60)
    a15, w15 = _rolling(counts[1], 15), _rolling(counts[2], 15)
    below60 = (a60 > 0) & (w60 < THRESHOLD * a60)
    below15 = (a15 == 0) | (w15 < THRESHOLD * a15)
    out: BoolArray = (offered60 >= MIN_OFFERED) & below60 & below15
    return out


def runs(flags: BoolArray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def held(flags: BoolArray, for_minutes: int) -> BoolArray:
    """Firing minutes of a rule with condition `flags` and a `for:` of `for_minutes`,
    evaluated every minute: the condition at this and the `for_minutes` previous evaluations."""
    n = for_minutes + 1
    c = np.concatenate(([0], np.cumsum(flags)))
    out = np.zeros(flags.size, dtype=np.bool_)
    out[n - 1 :] = (c[n:] - c[:-n]) == n
    return out


def warning_minutes(forecast_s: FloatArray) -> BoolArray:
    """Firing minutes of ServiceLevelBreachForecast: forecast below breach_forecast_seconds for
    breach_forecast_for_seconds."""
    return held(forecast_s < WARN_BELOW_S, WARN_FOR_MIN)


@dataclass
class Tally:
    """Breaches of one kind: per breach its lead in minutes (NaN if missed)."""

    leads: list[float] = field(default_factory=list)
    late: int = 0  # missed, but warned after the breach and before breach + SL_ALERT_FOR_MIN
    # Per breach that pages (holds SL_ALERT_FOR_MIN): minutes from the warning's first firing
    # to ServiceLevelBelowStandard's page, 0 if the warning did not come before the page.
    before_page: list[float] = field(default_factory=list)
    # Caused breaches only: minutes from the capacity loss to the breach, the longest lead a
    # forecast that cannot see the loss coming could give (minus the rule's `for:`).
    after_failure: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.leads += other.leads
        self.late += other.late
        self.before_page += other.before_page
        self.after_failure += other.after_failure

    def cells(self) -> list[str]:
        leads = np.array(self.leads)
        hit = leads[~np.isnan(leads)]
        n = leads.size
        ahead = np.array(self.before_page)
        return [
            str(n),
            f"{100.0 * hit.size / n:.0f}" if n else "-",
            f"{np.median(hit):.0f}" if hit.size else "-",
            f"{np.percentile(hit, 10):.0f}" if hit.size else "-",
            str(self.late),
            f"{100.0 * np.count_nonzero(ahead) / ahead.size:.0f}" if ahead.size else "-",
            f"{np.median(ahead):.0f}" if ahead.size else "-",
        ]


@dataclass
class Score:
    known: Tally = field(default_factory=Tally)  # the failing region's first breach after failure
    natural: Tally = field(default_factory=Tally)  # every other breach (noise of small queues)
    warnings: int = 0
    false: int = 0
    minutes: int = 0
    in_breach_at_failure: int = 0  # failing regions already in (natural) breach at the loss

    def add(self, other: Score) -> None:
        self.in_breach_at_failure += other.in_breach_at_failure
        self.known.add(other.known)
        self.natural.add(other.natural)
        self.warnings += other.warnings
        self.false += other.false
        self.minutes += other.minutes

    def cells(self) -> list[str]:
        weeks = self.minutes / REGION_WEEK_MIN
        ceiling = self.known.after_failure
        return [
            *self.known.cells(),
            f"{np.median(ceiling):.0f}" if ceiling else "-",
            *self.natural.cells()[:2],
            str(self.warnings),
            str(self.false),
            f"{weeks:.1f}",
            f"{self.false / weeks:.2f}" if weeks else "-",
        ]


def score(s: Series, model: str) -> Score:
    out = Score(minutes=s.breach.size)
    warn = warning_minutes(s.forecasts[model])
    paged = held(s.breach, SL_ALERT_FOR_MIN)
    episode_of = np.full(warn.size, -1)
    for a, b in runs(warn):
        episode_of[a : b + 1] = a
        out.warnings += 1
        if not s.breach[a : b + EPISODE_GAP_MIN + 1].any():
            out.false += 1

    def record(tally: Tally, a: int) -> None:
        w = int(episode_of[a])
        tally.leads.append(float(a - w) if w >= 0 else math.nan)
        page = a + SL_ALERT_FOR_MIN  # ServiceLevelBelowStandard fires here if the breach holds
        late = warn[a:page]  # a warning at the page's own evaluation is not before it
        if w < 0 and late.any():
            tally.late += 1
            w = a + int(np.argmax(late))
        if page < paged.size and paged[page]:
            tally.before_page.append(float(page - w) if w >= 0 else 0.0)

    caused = -1
    if s.failure is not None and 0 <= s.failure < s.breach.size:
        if s.breach[s.failure]:
            out.in_breach_at_failure += 1
        else:
            after = np.flatnonzero(s.breach[s.failure :])
            if after.size:
                caused = s.failure + int(after[0])
                record(out.known, caused)
                out.known.after_failure.append(float(caused - s.failure))
    last_end = -EPISODE_GAP_MIN - 1
    for a, b in runs(s.breach):
        first = a > 0 and a - last_end > EPISODE_GAP_MIN and a != caused
        last_end = b
        if first:  # not the series' start, nor the same episode as the last run
            record(out.natural, a)
    return out


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


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
