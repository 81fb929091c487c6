"""Replay benchmark: `surge-monitor replay`'s path against orjson.loads of the same file.

Run: ``.venv/bin/python benchmarks/replay.py [--days 1] [--seed 1] [--daily-calls 45000]``
(about 40 s for a day).

1. Generates ``--days`` of normal England traffic with ``streams.simulate.normal``
   (``--daily-calls``: 45,000 calls a day by default, 75,000 for the issue's 80 M events a year;
   from Wednesday 6 March 2024 00:00 London time; call events and dispatches) and writes
   them as JSON lines with ``streams.simulate.play.write_jsonl``, as ``surge-monitor simulate
   --out`` does.
2. Reference: read the file line by line and ``orjson.loads`` every line (the floor of any
   replay that looks at each event).
3. Ours: ``streams.offline.replay.replay_file`` over the same file (validation, event-time
   windows, the referral detector and the alert machines stepped on every closed minute of every
   region, exactly the live path's code), with and without the per-minute scorecard rows, and with
   ``jobs=2`` (``--jobs 2``: the regions split over two forked processes, the same result).
4. The signals file (``streams.offline.signals``, ``replay --signals`` then ``backtest --signals``):
   a replay that records it, then ``signals.read`` + ``signals.backtest`` of it with the shipped
   thresholds, which replaces a replay per thresholds file. That row's events/s is the day's events
   over the seconds of that read and backtest (no event is read there): what a backtest of the
   file's events costs, not a rate at which events are processed.
Each configuration runs in a fresh child process (``multiprocessing`` spawn), so peak RSS
(``ru_maxrss``) is its own (with ``--jobs 2``: the largest of it and its two workers).
events/s = lines / wall seconds of the read loop, file in page cache.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import orjson

DAY_S = 86400
SELF, CHILDREN = resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN
WEDNESDAY_2024_03_06 = 1709683200.0


def reference(path: str) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            orjson.loads(line)
            n += 1
    return n, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(path: str, rows: bool, jobs: int = 1) -> tuple[int, float, float]:
    from streams.contract.catalogue import default_catalogue
    from streams.contract.config import load_settings
    from streams.contract.logs import configure_logging
    from streams.offline import replay, replayer

    configure_logging("warning", "console")
    kept = [0]

    def on_minute(row: replayer.MinuteRow) -> None:
        kept[0] += 1

    t0 = time.perf_counter()
    result = replay.replay_file(
        Path(path),
        load_settings({}),
        default_catalogue(),
        on_minute=on_minute if rows else None,
        jobs=jobs,
    )
    elapsed = time.perf_counter() - t0
    n = sum(result.counts.values())
    rss = max(resource.getrusage(who).ru_maxrss for who in (SELF, CHILDREN))  # workers joined
    return n, elapsed, rss / 1024


def record(path: str, out: str) -> tuple[int, float, float]:
    """The replay with a SignalRecorder as on_view, and the file written (`replay --signals`)."""
    from streams.contract.catalogue import default_catalogue
    from streams.contract.config import load_settings
    from streams.contract.logs import configure_logging
    from streams.offline import replay, signals

    configure_logging("warning", "console")
    recorder = signals.SignalRecorder()
    t0 = time.perf_counter()
    result = replay.replay_file(
        Path(path), load_settings({}), default_catalogue(), on_view=recorder
    )
    recorder.write(Path(out))
    elapsed = time.perf_counter() - t0
    return sum(result.counts.values()), elapsed, resource.getrusage(SELF).ru_maxrss / 1024


def from_signals(out: str, events: int) -> tuple[int, float, float]:
    """`backtest --signals`: the file read and the shipped thresholds' machines run over it."""
    from streams.contract.logs import configure_logging
    from streams.offline import signals

    configure_logging("warning", "console")
    t0 = time.perf_counter()
    signals.backtest(signals.read(Path(out)))
    elapsed = time.perf_counter() - t0
    return events, elapsed, resource.getrusage(SELF).ru_maxrss / 1024


def call(conn: Connection, target: Callable[..., tuple[int, float, float]], *args: object) -> None:
    conn.send(target(*args))


def run(target: Callable[..., tuple[int, float, float]], *args: object) -> tuple[int, float, float]:
    """`target(*args)` in a fresh process; not a Pool's, whose daemonic workers cannot fork."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=call, args=(send, target, *args))
    child.start()
    send.close()
    out: tuple[int, float, float] = receive.recv()
    child.join()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--daily-calls",
        type=float,
        default=45_000.0,
        help="calls a day (45,000: England today; 75,000 makes the issue's 80 M events a year)",
    )
    args = p.parse_args()

    from streams.contract.catalogue import default_catalogue
    from streams.simulate import generator, play, scenarios

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        events = generator.generate(
            scenarios.normal(WEDNESDAY_2024_03_06, args.days * DAY_S, args.daily_calls),
            default_catalogue(),
            args.seed,
        )
        play.write_jsonl(events, path)
        size_mb = path.stat().st_size / 1e6
        del events
        npz = str(Path(tmp) / "signals.npz")
        results = [
            ("orjson.loads per line (reference)", run(reference, str(path))),
            ("replay: windows + detectors + alerts", run(ours, str(path), False)),
            ("replay + per-minute scorecard rows", run(ours, str(path), True)),
            ("replay --jobs 2", run(ours, str(path), False, 2)),
            ("replay --signals (records the file)", run(record, str(path), npz)),
        ]
        results.append(
            ("backtest from signals file (4.)", run(from_signals, npz, results[0][1][0]))
        )
        signals_mb = Path(npz).stat().st_size / 1e6
    ref_rate = results[0][1][0] / results[0][1][1]
    head = f"{'configuration':38}  {'events':>9}  {'seconds':>7}  {'events/s':>9}  "
    sys.stdout.write(f"{head}{'ratio to ref':>12}  {'peak RSS MB':>11}\n")
    for name, (n, seconds, rss) in results:
        rate = n / seconds
        ratio = rate / ref_rate
        sys.stdout.write(
            f"{name:38}  {n:9,}  {seconds:7.1f}  {rate:9,.0f}  {ratio:12.3f}  {rss:11.0f}\n"
        )
    sys.stdout.write(
        f"file: {size_mb:.1f} MB, {args.days:g} day(s) of England at {args.daily_calls:,.0f} "
        f"calls a day; signals file {signals_mb:.2f} MB\n"
        f"a year at this rate: {365 * results[0][1][0] / args.days / 1e6:.1f} M events, "
        f"{365 / args.days * results[1][1][1] / 60:.0f} min at row 2's rate, "
        f"{365 / args.days * results[3][1][1] / 60:.0f} min at row 4's (--jobs 2)\n"
        "(4.) backtest from signals file: no replay; events/s = the day's events / seconds of "
        "signals.read + signals.backtest\n"
        "reproduce: .venv/bin/python benchmarks/replay.py "
        f"--days {args.days:g} --seed {args.seed} --daily-calls {args.daily_calls:g}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
