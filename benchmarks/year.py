"""A year of England end to end: `replay --jobs --signals` and `backtest --signals` over it.

Run: ``.venv/bin/python benchmarks/year.py --dir DIR [--daily-calls 60000] [--jobs 2]``
(about 40 minutes on 2 cores; DIR needs about 17 GB free: the event file, 15 GB, and the
replay's spill, 2 GB). ``--file F`` replays an event file made before instead of generating one.

Issue 7 asks for a year of England (about 80 M events) in under 10 minutes on 2 cores. The day
benchmark (replay.py) extrapolates; this one measures the whole year, in the commands a control
room would run:

1. Generates ``--months`` chunks of 730 hours of normal England traffic (``streams.simulate``,
   ``--daily-calls`` a day, weekly and daily shape included; 60,000 gives about 80 M events a
   year) from Wednesday 6 March 2024, seed ``--seed`` + chunk, each written as
   ``surge-monitor simulate --out`` writes and appended to ``DIR/year.jsonl``.
2. Reference: reads the file and ``orjson.loads`` every line (the floor of any replay).
3. ``surge-monitor replay year.jsonl --jobs N --signals year.npz --alerts alerts.jsonl``, with
   ``TMPDIR=DIR`` (its workers' spill files). Sampled every ``--sample-seconds``: the RSS of the
   main process and of each worker, and the spill's size. "Workers" is the time until the last
   worker exits; the rest is the merge of their rows and the signals file's writing.
4. ``surge-monitor backtest --signals year.npz --out episodes.csv`` with the shipped thresholds,
   and a check that its episodes (alert, severity, region, fired and resolved at) are those of
   the replay's alert records.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_average, rss_mb, table

START_S = 1709683200.0  # Wednesday 6 March 2024 00:00 UTC
CHUNK_HOURS = 730  # 12 of them make a year (8,760 hours)
CLI = [sys.executable, "-m", "streams.cli"]
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Run:
    """One measured command: wall seconds, seconds until its workers were gone, peak RSS (MB)
    of the main process and of the largest worker, peak spill MB."""

    seconds: float
    workers_seconds: float
    main_mb: float
    worker_mb: float
    spill_mb: float


def generate(path: Path, months: int, daily_calls: float, seed: int) -> int:
    from streams.contract.catalogue import default_catalogue
    from streams.simulate import generator, play, scenarios

    n = 0
    with path.open("wb") as out:
        for i in range(months):
            chunk = path.with_suffix(f".{i}.jsonl")
            events = generator.generate(
                scenarios.normal(START_S + i * CHUNK_HOURS * 3600, CHUNK_HOURS * 3600, daily_calls),
                default_catalogue(),
                seed + i,
            )
            n += play.write_jsonl(events, chunk)
            del events
            with chunk.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)
            chunk.unlink()
            sys.stderr.write(f"generated chunk {i + 1}/{months}: {n:,} events so far\n")
    return n


def reference(path: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = 0
    with path.open("rb") as f:
        for line in f:
            orjson.loads(line)
            n += 1
    return n, time.perf_counter() - t0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _mb(pid: int) -> float:
    """RSS now, 0 for a process already gone."""
    mb = rss_mb(pid)
    return 0.0 if math.isnan(mb) else mb


def spill_mb(tmp: Path) -> float:
    return sum(f.stat().st_size for f in tmp.glob("surge-replay-*/*")) / 1e6


def measure(argv: list[str], tmp: Path, sample_s: float) -> Run:
    """Run a CLI command with TMPDIR=tmp (and warnings only in its log), sampling its processes
    until it exits."""
    env = {**os.environ, "TMPDIR": str(tmp), "SURGE_LOG_LEVEL": "warning"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    main_mb = worker_mb = spill = 0.0
    workers_done = math.nan
    seen_workers = False
    while proc.poll() is None:
        main_mb = max(main_mb, _mb(proc.pid))
        kids = children(proc.pid)
        for kid in kids:
            worker_mb = max(worker_mb, _mb(kid))
        if kids:
            seen_workers = True
        elif seen_workers and math.isnan(workers_done):
            workers_done = time.perf_counter() - t0
        spill = max(spill, spill_mb(tmp))
        time.sleep(sample_s)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}")
    return Run(seconds, workers_done, main_mb, worker_mb, spill)


def episodes_of_alerts(path: Path) -> list[tuple[str, ...]]:
    alerts = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    resolved = {a["alert_id"]: a["ts"] for a in alerts if a["state"] == "resolved"}
    return sorted(
        (a["alert"], a["severity"], a["region"], a["ts"], resolved.get(a["alert_id"], ""))
        for a in alerts
        if a["state"] == "firing"
    )


def episodes_of_table(path: Path) -> list[tuple[str, ...]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return sorted(
        (r["alert"], r["severity"], r["region"], r["fired_at"], r["resolved_at"]) for r in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, required=True, help="work directory (about 17 GB)")
    p.add_argument("--file", type=Path, help="an event file to replay instead of generating")
    p.add_argument("--months", type=int, default=12, help="730-hour chunks to generate")
    p.add_argument("--daily-calls", type=float, default=60_000.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--sample-seconds", type=float, default=2.0)
    args = p.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.file or args.dir / "year.jsonl"
    if args.file is None:
        generate(path, args.months, args.daily_calls, args.seed)
    load_before = load_average()
    lines, ref_s = reference(path)
    tmp = Path(tempfile.mkdtemp(prefix="year-", dir=args.dir))
    npz, alerts, table_csv = tmp / "year.npz", tmp / "alerts.jsonl", tmp / "episodes.csv"
    replay_argv = ["replay", str(path), "--jobs", str(args.jobs), "--signals", str(npz)]
    replay_argv += ["--alerts", str(alerts), "--no-progress"]
    replayed = measure([*CLI, *replay_argv], tmp, args.sample_seconds)
    backtest_argv = ["backtest", "--signals", str(npz), "--out", str(table_csv)]
    backtested = measure([*CLI, *backtest_argv], tmp, args.sample_seconds)
    want, got = episodes_of_alerts(alerts), episodes_of_table(table_csv)
    reference_rate = f"{lines / ref_s:,.0f}"
    rows = [["orjson.loads per line (reference)", f"{ref_s / 60:.1f}", "-", reference_rate]]
    rows[0] += ["-", "-", "-"]
    for name, run in ((f"replay --jobs {args.jobs} --signals", replayed), ("backtest", backtested)):
        rows.append(
            [
                name,
                f"{run.seconds / 60:.1f}",
                "-" if math.isnan(run.workers_seconds) else f"{run.workers_seconds / 60:.1f}",
                f"{lines / run.seconds:,.0f}",
                f"{run.main_mb:,.0f}",
                "-" if not run.worker_mb else f"{run.worker_mb:,.0f}",
                f"{run.spill_mb:,.0f}",
            ]
        )
    header = ["command", "minutes", "workers min", "events/s", "main MB", "worker MB", "spill MB"]
    sys.stdout.write(table(rows, header) + "\n")
    sys.stdout.write(
        f"file: {path.stat().st_size / 1e9:.1f} GB, {lines:,} lines; signals file "
        f"{npz.stat().st_size / 1e6:.0f} MB; {len(want):,} episodes in the replay's alerts, "
        f"backtest from signals the same: {'yes' if want == got else 'NO'}\n"
        f"load average {load_before} before, {load_average()} after; "
        f"{os.cpu_count()} cores\n"
        "reproduce: .venv/bin/python benchmarks/year.py --dir DIR "
        f"--daily-calls {args.daily_calls:g} --months {args.months} --seed {args.seed} "
        f"--jobs {args.jobs}\n"
    )
    shutil.rmtree(tmp)
    return 0 if want == got else 1


if __name__ == "__main__":
    raise SystemExit(main())
