"""Detection benchmark: labelled surges injected into simulated normal weeks, every spike test.

Run: ``.venv/bin/python benchmarks/detection.py [--weeks N --train-weeks T --seed S --copies C]``
(defaults 4, 8, 1, 8; about 35 s on 2 cores, most of it generating the 12 weeks).

1. Generates ``--train-weeks`` baseline weeks and ``--weeks`` evaluation weeks with the project's
   generator (``streams.simulate.normal``, Monday 00:00 to Monday 00:00 Europe/London; the
   evaluation starts on Monday 25 March 2024, so the week with the 23-hour DST Sunday is scored)
   and counts every region's 111 ambulance and ED dispositions per 15-minute interval.
2. Learns the seasonal baseline (``detectors.baseline``, hour of week) per (region, kind) on the
   baseline weeks and freezes it; the evaluation weeks are scored against it.
3. Injects labelled surges into copies of the evaluation weeks: step or ramp (linear from x1 to
   the factor), factor x1.3, x1.5, x2 or x3, lasting 30 min, 1 h, 2 h or 6 h, starting at a
   random minute of the day, one per day and copy, at least 6 h apart. A surge of factor f adds
   Poisson((f - 1) * rate) referrals per minute, rate being that hour of the week's mean over
   all generated weeks: extra callers are independent, so the surge is Poisson like the rest.
   Every draw comes from numpy Generators seeded by (seed, kind, region, copy).
4. Runs every detector offline (``run``, which gives exactly the online path's numbers) and
   reports: sensitivity (surges with an alarm in an interval overlapping the surge), x2 steps
   detected within 30 min of their start, false alarms per region-week (alarm runs on the clean
   evaluation weeks; a run of consecutive alarmed intervals counts once) and the median minutes
   from a surge's start to the end of its first alarmed interval (when that count is complete).

Interval: 15 minutes, the stream's shorter window. A region sees from about 0.5 (north-east,
weekday night) to 25 (London, weekend evening) ambulance dispositions a quarter-hour. With
60-minute intervals no test can alarm within 30 minutes of a surge: the first complete count
arrives up to an hour after it starts.

Default detector: the Poisson CUSUM (``detectors.spikes.cusum``) designed for a x2 surge
(``ratio=2``) with decision interval ``h=5.5`` nats, thresholds chosen on seeds 2 and 3 and
reported on the default seed 1. It meets the false-alarm half of the issue's target (<= 1 per
region-week) and misses the other (>= 90 % of x2 steps detected within 30 minutes) by far, as
does every test here that meets the first half: 30 minutes of one region's referrals hold too
few events. Even with the true rate known, this CUSUM needs about 27 expected referrals a
quarter-hour (3.5 times London's ambulance mean; a constant-rate simulation gives 87 % at 25 and
94 % at 30) to catch 90 % of x2 steps within 30 minutes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from detectors import baseline
from detectors.spikes import DETECTORS, cusum, ears, ewma, poisson, threshold
from streams.contract.catalogue import default_catalogue
from streams.contract.records import CallEvent
from streams.simulate import generator, scenarios

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

LONDON = ZoneInfo("Europe/London")
# The evaluation starts on the Monday of the March 2024 DST change (Sunday 31 March has 23
# hours); the baseline weeks are the ones before it.
EVAL_MONDAY = datetime(2024, 3, 25, tzinfo=LONDON)
KINDS = ("ambulance", "ed")
INTERVAL_MIN = 15
FACTORS = (1.3, 1.5, 2.0, 3.0)
DURATIONS_MIN = (30, 60, 120, 360)
SHAPES = ("step", "ramp")
WARMUP_MIN = 4 * 60  # no surge in the first hours of the evaluation: EARS C3 warms up for 2.75 h
SLOT_MIN = 24 * 60  # one surge per day and copy, starting in the first half of its slot
TARGET_MIN = 30  # the "within 30 minutes"


@dataclass(frozen=True)
class Config:
    label: str
    name: str  # key in detectors.spikes.DETECTORS
    params: Any
    note: str
    # Score against the surge's reference rate (the hour of week's mean over every generated
    # week, evaluation weeks included) instead of the learned baseline: what a perfect baseline
    # would allow, to tell the data's limit from the baseline's.
    oracle: bool = False


CONFIGS: tuple[Config, ...] = (
    Config("threshold x2", "threshold", threshold.Params(), "count > 2 x expected (naive rule)"),
    Config("EARS C1", "ears", ears.Params("C1"), "published, on counts"),
    Config("EARS C2", "ears", ears.Params("C2"), "published, on counts"),
    Config("EARS C3", "ears", ears.Params("C3"), "published, on counts"),
    Config("EARS C3 seasonal", "ears", ears.Params("C3", seasonal=True), "on count - expected"),
    Config("EWMA 0.2/2.962", "ewma", ewma.Params(), "Lucas & Saccucci, ARL0 500"),
    Config("EWMA 0.5/4.0", "ewma", ewma.Params(lam=0.5, limit=4.0), "tuned on seeds 2, 3"),
    Config("Poisson a=0.001", "poisson", poisson.Params(), "exact test per 15 min"),
    Config("Poisson a=0.001 w=2", "poisson", poisson.Params(window=2), "exact test on 30 min"),
    Config("CUSUM x2 h=6", "cusum", cusum.Params(h=6.0), "ARL0 >= e^6 = 403"),
    Config("CUSUM x2 h=5.5 *", "cusum", cusum.Params(), "DEFAULT, tuned on seeds 2, 3"),
    Config("CUSUM x3 h=5", "cusum", cusum.Params(ratio=3.0, h=5.0), "tuned to x3"),
    Config("CUSUM x2 h=5.5 oracle", "cusum", cusum.Params(), "true rate as baseline", True),
)
DEFAULT = "CUSUM x2 h=5.5 *"


def week_bounds(train_weeks: int, weeks: int) -> list[tuple[float, float]]:
    """(start, end) UTC seconds of consecutive London weeks, Monday 00:00 to Monday 00:00: the
    baseline weeks, then the evaluation weeks from EVAL_MONDAY."""
    out = []
    for w in range(-train_weeks, weeks):
        # Aware datetimes add wall-clock time: a DST week is 167 or 169 hours long.
        start, end = EVAL_MONDAY + timedelta(weeks=w), EVAL_MONDAY + timedelta(weeks=w + 1)
        out.append((start.timestamp(), end.timestamp()))
    return out


def generate_week(args: tuple[int, float, float, int]) -> tuple[int, list[str], IntArray]:
    """Counts (kind, region, interval) of one normal week from the project's generator.

    Counts the generator's disposition events directly: the numbers of
    ``ground_truth(events).series(region, "disposition:<kind>")`` summed per interval, without
    building the per-minute oracle of every event type.
    """
    index, start_s, end_s, seed = args
    catalogue = default_catalogue()
    regions = list(catalogue.codes())
    n = round((end_s - start_s) / (INTERVAL_MIN * 60))
    counts = np.zeros((len(KINDS), len(regions), n), dtype=np.int64)
    row = {r: i for i, r in enumerate(regions)}
    kind_row = {k: i for i, k in enumerate(KINDS)}
    events = generator.generate(scenarios.normal(start_s, end_s - start_s), catalogue, seed)
    for e in events:
        ev = e.event
        if isinstance(ev, CallEvent) and ev.event == "disposition":
            k = kind_row.get(ev.disposition or "")
            if k is not None:
                counts[k, row[ev.region], int((e.ts_s - start_s) // (INTERVAL_MIN * 60))] += 1
    return index, regions, counts


@dataclass(frozen=True)
class Surge:
    start_min: int  # minutes from the start of the evaluation series
    duration_min: int
    factor: float
    shape: str


def plan_surges(rng: np.random.Generator, total_min: int) -> list[Surge]:
    """One surge per day-long slot, slots shifted by a random phase, combinations shuffled."""
    combos = [(f, d, s) for f in FACTORS for d in DURATIONS_MIN for s in SHAPES]
    order = rng.permutation(len(combos)).tolist()
    phase = int(rng.integers(0, SLOT_MIN))
    out: list[Surge] = []
    slot = 0
    while True:
        start = phase + slot * SLOT_MIN + int(rng.integers(0, SLOT_MIN // 2))
        f, d, s = combos[order[slot % len(combos)]]
        slot += 1
        if start + d > total_min:
            return out
        if start >= WARMUP_MIN:
            out.append(Surge(start, d, f, s))


def inject(
    rng: np.random.Generator, counts: FloatArray, rate: FloatArray, surges: list[Surge]
) -> FloatArray:
    """Counts plus Poisson((f(t) - 1) * rate) extra referrals over each surge's minutes."""
    excess = np.zeros(counts.size * INTERVAL_MIN)  # per minute, (f - 1)
    for s in surges:
        minutes = np.arange(s.duration_min)
        if s.shape == "step":
            lift = np.full(s.duration_min, s.factor - 1.0)
        else:  # ramp: linear from x1 at the start to the factor at the end
            lift = (s.factor - 1.0) * (minutes + 1) / s.duration_min
        excess[s.start_min : s.start_min + s.duration_min] = lift
    per_interval = excess.reshape(-1, INTERVAL_MIN).sum(axis=1) / INTERVAL_MIN
    injected: FloatArray = counts + rng.poisson(rate * per_interval)
    return injected


def alarm_runs(alarms: BoolArray) -> int:
    """Alarm runs: maximal stretches of consecutive alarmed intervals, each counted once."""
    return int(np.count_nonzero(alarms & ~np.concatenate(([False], alarms[:-1]))))


def detection_delay(alarms: BoolArray, s: Surge) -> float:
    """Minutes from the surge's start to the end of its first alarmed interval; NaN if none."""
    first = s.start_min // INTERVAL_MIN
    last = (s.start_min + s.duration_min - 1) // INTERVAL_MIN
    hits = np.flatnonzero(alarms[first : last + 1])
    if hits.size == 0:
        return math.nan
    return float((first + hits[0] + 1) * INTERVAL_MIN - s.start_min)


@dataclass
class Tally:
    """One config's results on one kind: per surge its delay (NaN if missed) and its region."""

    delays: list[float] = field(default_factory=list)
    surges: list[Surge] = field(default_factory=list)
    regions: list[int] = field(default_factory=list)
    false_runs: int = 0
    region_weeks: int = 0


def evaluate(
    counts: IntArray, hows: list[IntArray], train_weeks: int, *, copies: int, seed: int, kind: int
) -> dict[str, Tally]:
    """Every config on one kind's (region, interval) counts: baselines, injections, runs."""
    params = baseline.Params()
    tallies = {c.label: Tally() for c in CONFIGS}
    train_hows = np.concatenate(hows[:train_weeks])
    eval_hows = np.concatenate(hows[train_weeks:])
    all_hows = np.concatenate(hows)
    eval_weeks = len(hows) - train_weeks
    for r in range(counts.shape[0]):
        series = counts[r].astype(np.float64)
        n_train = train_hows.size
        state = baseline.learn(baseline.initial(), train_hows, series[:n_train], params)
        learned = baseline.expected_series(state, eval_hows, params)
        clean = series[n_train:]
        sums = np.bincount(all_hows, weights=series, minlength=baseline.HOURS_PER_WEEK)
        seen = np.bincount(all_hows, minlength=baseline.HOURS_PER_WEEK)
        rate = (sums / np.maximum(seen, 1))[eval_hows]
        injected: list[tuple[FloatArray, list[Surge]]] = []
        for c in range(copies):
            rng = np.random.default_rng([seed, kind, r, c])
            surges = plan_surges(rng, clean.size * INTERVAL_MIN)
            injected.append((inject(rng, clean, rate, surges), surges))
        for cfg in CONFIGS:
            detector = DETECTORS[cfg.name]
            expected = rate if cfg.oracle else learned
            tally = tallies[cfg.label]
            _, alarms = detector.run(clean, expected, cfg.params)
            tally.false_runs += alarm_runs(alarms)
            tally.region_weeks += eval_weeks
            for values, surges in injected:
                _, alarms = detector.run(values, expected, cfg.params)
                for s in surges:
                    tally.delays.append(detection_delay(alarms, s))
                    tally.surges.append(s)
                    tally.regions.append(r)
    return tallies


def is_x2_step(s: Surge) -> bool:
    return s.factor == 2.0 and s.shape == "step"


def summarise(t: Tally) -> list[str]:
    """Cells: sensitivity %, x2 steps within 30 min %, false alarms per region-week, median
    minutes to detection (of the detected surges)."""
    delays = np.array(t.delays)
    detected = ~np.isnan(delays)
    x2 = np.array([is_x2_step(s) for s in t.surges])
    fast = np.nan_to_num(delays, nan=math.inf) <= TARGET_MIN
    median = float(np.median(delays[detected])) if detected.any() else math.nan
    return [
        f"{100.0 * detected.mean():.1f}",
        f"{100.0 * fast[x2].mean():.1f}",
        f"{t.false_runs / t.region_weeks:.2f}",
        f"{median:.0f}",
    ]


def rates(t: Tally, picked: list[bool]) -> str:
    """ "detected % / within 30 min %" of the picked surges."""
    delays = np.array(t.delays)[np.array(picked, dtype=np.bool_)]
    if delays.size == 0:
        return "-"
    hit = 100.0 * (~np.isnan(delays)).mean()
    fast = 100.0 * (np.nan_to_num(delays, nan=math.inf) <= TARGET_MIN).mean()
    return f"{hit:.0f} / {fast:.0f}"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in {0, len(cells) - 1} else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def report(kind: str, t: dict[str, Tally], counts: IntArray, regions: list[str]) -> None:
    """Print one kind's table, the default detector's breakdowns and its verdict."""
    default = t[DEFAULT]
    print(
        f"\n{kind} dispositions (mean {counts.mean():.1f} per region and interval): "
        f"{len(default.surges)} surges ({sum(map(is_x2_step, default.surges))} x2 steps), "
        f"{default.region_weeks} clean region-weeks"
    )
    header = ["detector", "sensitivity %", "x2 step <=30 min %", "false alarms/region-wk",
              "median min to detect", "note"]  # fmt: skip
    print(table([[c.label, *summarise(t[c.label]), c.note] for c in CONFIGS], header))

    pairs = list(zip(default.surges, default.regions, strict=True))

    def step_cell(factor: float, minutes: int) -> str:
        key = (factor, minutes, "step")
        return rates(default, [(s.factor, s.duration_min, s.shape) == key for s, _ in pairs])

    def region_cell(region: int) -> str:
        return rates(default, [is_x2_step(s) and r == region for s, r in pairs])

    name = DEFAULT.rstrip(" *")
    print(f"\n{name}, steps by factor and duration: detected % / within 30 min %")
    rows = [[f"x{f:g}", *(step_cell(f, d) for d in DURATIONS_MIN)] for f in FACTORS]
    print(table(rows, ["factor", *(f"{d} min" for d in DURATIONS_MIN)]))
    print(f"\n{name}, x2 steps by region: detected % / within 30 min %")
    rows = [[c, f"{counts[r].mean():.1f}", region_cell(r)] for r, c in enumerate(regions)]
    print(table(rows, ["region", "mean count", "x2 step"]))
    _, fast, fa, _ = summarise(default)
    print(
        f"\ntarget (issue 4): <= 1 false alarm per region-week: {fa} -> "
        f"{'met' if float(fa) <= 1 else 'NOT met'}; >= 90 % of x2 steps within {TARGET_MIN} min: "
        f"{fast} % -> {'met' if float(fast) >= 90 else 'NOT met'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Detection benchmark: injected surges.")
    parser.add_argument("--weeks", type=int, default=4, help="evaluation weeks (default 4)")
    parser.add_argument("--train-weeks", type=int, default=8, help="baseline weeks (default 8)")
    parser.add_argument("--seed", type=int, default=1, help="generator and injection seed")
    parser.add_argument("--copies", type=int, default=8, help="injected copies per region-week")
    parser.add_argument("--jobs", type=int, default=2, help="processes generating weeks")
    args = parser.parse_args(argv)
    if min(args.weeks, args.train_weeks, args.copies, args.jobs) < 1:
        parser.error("--weeks, --train-weeks, --copies and --jobs must be at least 1")

    began = time.monotonic()
    bounds = week_bounds(args.train_weeks, args.weeks)
    # Each calendar week has its own seed, so --train-weeks changes no evaluation week.
    jobs = [
        (i, s, e, args.seed * 1000 + i - args.train_weeks + 100) for i, (s, e) in enumerate(bounds)
    ]
    weeks: dict[int, IntArray] = {}
    regions: list[str] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for i, codes, week in pool.map(generate_week, jobs):
            weeks[i], regions = week, codes
    generated = time.monotonic() - began
    counts = np.concatenate([weeks[i] for i in range(len(bounds))], axis=2)
    hows = [
        baseline.hours_of_week(
            start + INTERVAL_MIN * 60.0 * np.arange(weeks[i].shape[2], dtype=np.float64)
        )
        for i, (start, _) in enumerate(bounds)
    ]
    n_eval = sum(h.size for h in hows[args.train_weeks :])

    print(
        "$ .venv/bin/python benchmarks/detection.py "
        f"--weeks {args.weeks} --train-weeks {args.train_weeks} --seed {args.seed} "
        f"--copies {args.copies}"
    )
    print(
        f"{len(regions)} regions; {args.train_weeks} baseline + {args.weeks} evaluation weeks "
        f"(evaluation from Monday {EVAL_MONDAY:%Y-%m-%d}, London time); "
        f"{INTERVAL_MIN}-minute intervals; "
        f"weeks generated in {generated:.0f} s"
    )
    for k, kind in enumerate(KINDS):
        tallies = evaluate(
            counts[k], hows, args.train_weeks, copies=args.copies, seed=args.seed, kind=k
        )
        report(kind, tallies, counts[k][:, -n_eval:], regions)
    print(f"\ntotal {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
