"""Memory soak: one real worker's resident memory over a day of event time played at high speed,
with the default catalogue and with a larger generated one.

Run: ``.venv/bin/python benchmarks/memory.py [--hours 24] [--speed 1000] [--copies 3] [--seed 1]``
(about 7 minutes on 2 cores).

1. Starts a private local stack (``common.private_stack``) and, in a child process, an idle
   Python that imports what a worker imports (``streams.cli``, ``streams.live.worker`` and with them
   Faust, aiokafka, kafka-python, prometheus-client, numpy, orjson, structlog; uvloop): its RSS
   is the floor any worker starts from, measured in the same run.
2. For each catalogue, the default one (10 regions, 15 providers) and one of ``--copies`` renamed
   copies of every region (``north-west``, ``north-west-2``, ...; each copy with the population
   share of its original, so each region carries the same traffic and England's total is
   ``--copies`` times larger), written to a temporary TOML file and handed to the worker as
   ``SURGE_CATALOGUE``, one soak (``memory_soak.py``):
   - generates ``--hours`` of normal traffic for that catalogue (``streams.simulate.normal`` at
     45,000 calls a day per copy, from Wednesday 6 March 2024 00:00 London; call events and
     dispatches);
   - starts one real worker (``stack.start_worker``: the ``surge-monitor worker`` process of
     production, default settings) on a fresh app id and topic set, and plays the events into Kafka
     at ``--speed`` x event time (``streams.simulate.play.produce``, as ``surge-monitor simulate
     --speed`` does), the larger catalogue at ``--speed / --copies``: the worker gets the same
     events per second from both and keeps up with both (a backlog in Kafka is not state, but a
     worker that falls behind works in full batches, and the allocator keeps the high-water mark:
     at 1000x the 30-region worker fell hours of event time behind and ended 35 MB higher);
   - every ``--sample-seconds`` reads the worker's VmRSS (``/proc/<pid>/status``) and, from its
     ``/metrics``, the newest ``surge_watermark_seconds`` over regions (+ the grace: the event
     time the worker has reached) and ``surge_events_total``, until every event is counted;
     peak RSS is VmHWM just before the worker stops. Lag: how far (in wall seconds) the worker's
     event time is behind the player's (START + seconds since the first send x speed).
3. Prints RSS at every 2 h of event time (the sample nearest each mark; hour 0 is the first
   sample, when the worker's /metrics first answers, before its first event), then per
   catalogue: RSS at the start, half-way and at the end, the peak, and the slope of a least-squares
   line through RSS against event time over the second half of the soak (MB per event-hour; run
   ``--hours 48`` to see a whole day's cycle in each half), and the growth per region and per
   provider between the two catalogues (difference of the final RSS / difference of regions or
   providers). Traffic follows the day (quiet 01-07,
   peak 19:00), and the state that scales with it (open calls, 30 minutes of call ids for the
   dedup, 90 minutes of buckets) with it: within one day RSS rises to the evening peak and the
   allocator keeps it; that is why the second half of a 24-hour soak slopes up a little.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson
import structlog

from streams.contract.logs import configure_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import START, load_average, peak_rss_mb, private_stack, rss_mb, table
from memory_soak import Soak, soak

log = structlog.get_logger("benchmarks.memory")

MARK_HOURS = 2  # table rows every 2 h of event time


# ---- reference: an idle process with the worker's imports --------------------------------------


def reference_child() -> int:
    """The child's side: import what the worker imports, then print VmRSS and VmHWM as JSON."""
    import streams.cli.main
    import streams.live.worker
    import streams.overflow.agent
    from streams.contract.config import load_settings

    if load_settings({}).event_loop == "uvloop":
        import uvloop  # noqa: F401  (its memory is part of the worker's)
    del streams
    pid = os.getpid()
    sys.stdout.write(orjson.dumps({"rss": rss_mb(pid), "hwm": peak_rss_mb(pid)}).decode() + "\n")
    return 0


def idle_reference_mb() -> float:
    done = subprocess.run(
        [sys.executable, __file__, "--reference-child"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reference process failed:\n{done.stderr[-3000:]}")
    return float(orjson.loads(done.stdout.strip().splitlines()[-1])["rss"])


# ---- catalogues ----------------------------------------------------------------------------------


def _toml_str(text: str) -> str:
    return orjson.dumps(text).decode()  # a JSON string is a valid TOML basic string here


def copied_catalogue_toml(copies: int) -> str:
    """The default catalogue's regions `copies` times: copy k > 1 renamed `<code>-k`, its
    neighbours the same copy's, providers and shares unchanged."""
    from streams.contract.catalogue import default_catalogue

    lines: list[str] = []
    for k in range(1, copies + 1):
        suffix = "" if k == 1 else f"-{k}"
        for r in default_catalogue().regions:
            neighbours = ", ".join(_toml_str(n + suffix) for n in r.neighbours)
            providers = ", ".join(
                f"{{ id = {_toml_str(p.id)}, name = {_toml_str(p.name)}, share = {p.share!r}, "
                f"staffing = {p.staffing!r} }}"
                for p in r.providers
            )
            lines += [
                f"[regions.{r.code}{suffix}]",
                f"name = {_toml_str(r.name + ('' if k == 1 else f' {k}'))}",
                f"ambulance_service = {_toml_str(r.ambulance_service)}",
                f"population_share = {r.population_share!r}",
                f"neighbours = [{neighbours}]",
                f"providers = [{providers}]",
                "",
            ]
    return "\n".join(lines)


# ---- report --------------------------------------------------------------------------------------


def report(soaks: list[Soak], hours: float, idle_mb: float) -> list[str]:
    marks = [float(h) for h in range(0, math.floor(hours) + 1, MARK_HOURS)]
    if marks[-1] != hours:
        marks.append(hours)
    by_hour = table(
        [
            [f"{h:g}", *(f"{x.start_mb if h == 0 else x.rss_at(h):.0f}" for x in soaks)]
            for h in marks
        ],
        ["event hour", *(f"RSS MB, {x.label}" for x in soaks)],
    )
    half = hours / 2
    header = ["catalogue", "events", "speed", "played in s", "max lag s", "RSS start MB",
              f"RSS {half:g} h MB", "RSS end MB", "peak RSS MB", "slope 2nd half MB/event-h",
              "end - idle MB"]  # fmt: skip
    summary = table(
        [
            [
                x.label,
                f"{x.events:,}",
                f"{x.speed:.4g}x",
                f"{x.play_s:.0f}",
                f"{x.max_lag_s:.1f}",
                f"{x.start_mb:.0f}",
                f"{x.rss_at(half):.0f}",
                f"{x.end_mb:.0f}",
                f"{x.peak_mb:.0f}",
                f"{x.slope_mb_per_hour(half):+.2f}",
                f"{x.end_mb - idle_mb:.0f}",
            ]
            for x in soaks
        ],
        header,
    )
    lines = [by_hour, "", summary, ""]
    if len(soaks) >= 2:
        small, big = soaks[0], soaks[-1]
        d_mb = big.end_mb - small.end_mb
        lines.append(
            f"growth with the catalogue: {d_mb:+.0f} MB for {big.regions - small.regions:+d} "
            f"regions = {d_mb / (big.regions - small.regions):+.2f} MB per region "
            f"({d_mb / (big.providers - small.providers):+.2f} MB per provider), each region "
            "with its own traffic; peak "
            f"{(big.peak_mb - small.peak_mb) / (big.regions - small.regions):+.2f} MB per region."
        )
    lines.append(
        f"reference: an idle Python importing the worker's modules (no app, no Kafka): "
        f"{idle_mb:.0f} MB RSS."
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Memory soak: worker RSS over event time.")
    parser.add_argument("--hours", type=float, default=24.0, help="hours of event time")
    parser.add_argument("--speed", type=float, default=1000.0, help="event time per wall time")
    parser.add_argument("--copies", type=int, default=3, help="copies of the catalogue (>= 2)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    parser.add_argument("--sample-seconds", type=float, default=1.0, help="RSS sampling interval")
    parser.add_argument("--reference-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_child:
        return reference_child()
    if args.hours <= 0 or args.speed <= 0 or args.copies < 2 or args.sample_seconds <= 0:
        parser.error("--hours, --speed and --sample-seconds must be positive, --copies >= 2")
    configure_logging("info", "console")

    from streams.contract.catalogue import default_catalogue, parse_catalogue
    from streams.stack import processes

    began = time.monotonic()
    load_before = load_average()
    idle_mb = idle_reference_mb()
    log.info("idle_reference", rss_mb=round(idle_mb))
    with private_stack("surge-memory-", 1, uuid.uuid4().hex[:8]) as base:
        paths = processes.stack_paths(base)
        copied = paths.root / "catalogue-copies.toml"
        copied.write_text(copied_catalogue_toml(args.copies), encoding="utf-8")
        catalogues = [
            (default_catalogue(), ""),
            (parse_catalogue(copied.read_text(encoding="utf-8"), str(copied)), str(copied)),
        ]
        soaks = [
            soak(
                base,
                paths,
                catalogue,
                file,
                hours=args.hours,
                speed=speed,
                seed=args.seed,
                sample_s=args.sample_seconds,
            )
            for (catalogue, file), speed in zip(
                catalogues, [args.speed, args.speed / args.copies], strict=True
            )
        ]
        event_loop = base.event_loop
    notes = [
        f"{args.hours:g} h of normal traffic from {START:%a %d %b %Y %H:%M} London (45,000 calls a "
        f"day per copy of the catalogue, call events and dispatches, seed {args.seed}), played at "
        f"{args.speed:g}x event time ({args.speed / args.copies:.4g}x for {args.copies} copies: "
        "the same events/s);",
        "one worker (default settings, event loop "
        f"{event_loop}); RSS = VmRSS sampled every {args.sample_seconds:g} s, event hour from the "
        "newest surge_watermark_seconds + grace; peak = VmHWM.",
        f"Kafka, the worker, Prometheus and this script share {os.cpu_count()} cores; load "
        f"average before {load_before}, after {load_average()}; total "
        f"{time.monotonic() - began:.0f} s.",
    ]
    command = (
        f"$ .venv/bin/python benchmarks/memory.py --hours {args.hours:g} --speed {args.speed:g} "
        f"--copies {args.copies} --seed {args.seed} --sample-seconds {args.sample_seconds:g}"
    )
    out = [*report(soaks, args.hours, idle_mb), "", *notes, "", command]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
