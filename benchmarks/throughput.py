"""Throughput benchmark: our Faust workers against a raw aiokafka consumer, same run, same events.

Run: ``.venv/bin/python benchmarks/throughput.py [--events N] [--workers 1 2] [--seed S]
[--event-loops asyncio uvloop]`` (defaults 200000, 1 2, 1, both loops; about 3 minutes on 2 cores).

1. Starts a private local stack (``common.private_stack``: Kafka 4.0 in KRaft mode, Prometheus,
   Alertmanager, the alert sink) on free loopback ports below 32000, in a temporary state
   directory, and always stops it at the end (``stack.down``); the directory is deleted after a
   successful run and kept (its path logged) after a failure.
2. Generates ``--events`` call events with the project's generator (``streams.simulate.normal``
   at England's default 45,000 calls a day, from Wednesday 6 March 2024 00:00 London time, as
   many whole hours as it takes; the first N call events in event-time order; dispatches are
   left out) and produces them with ``streams.simulate.play.produce`` (kafka-python, acks=all, keyed
   by region) to a fresh topic set of this run (8 partitions for the calls).
3. Reference: a raw ``aiokafka.AIOKafkaConsumer`` in a child process reads the calls topic from
   the beginning with ``getmany`` and decodes every value with ``orjson.loads``.
4. Ours: for each ``--workers`` count and each ``--event-loops`` loop (``SURGE_EVENT_LOOP``),
   that many real workers (``stack.start_worker``, the ``surge-monitor worker`` process of
   production) on a fresh app id, so they read the topic from the beginning, started together.
   Every 0.5 s the benchmark reads each worker's own ``/metrics``
   (``http://127.0.0.1:<metrics port + i>/metrics``) and sums
   ``surge_events_total{topic=<calls topic>}`` over the workers, until the results ok + late +
   invalid reach N (or ``--timeout``). A worker counts an event when it has applied it to its
   region's state (or dead-lettered it), before the batch's checkpoint is written. The generated
   events hold no duplicate (call_id, event), so every ``result="duplicate"`` is an event read
   again after a partition moved between workers (offset at or below the region's checkpoint):
   shown as "re-read", not counted towards N.

How events/s is measured. Workers: (n_last - n_first) / (t_last - t_first), where t_first is the
first poll at which every worker has counted an event (n_first counted by then: for several
workers the join and the rebalance that moves partitions to the later ones are over) and t_last
the first poll with all N counted; a poll's time is the middle of its scrapes, so the interval
is known to +-0.5 s. Reference: N / (t_last - t_ready), t_ready being the return of
``consumer.start()`` (connected, partitions assigned, nothing fetched yet), t_last the return of
the ``getmany`` that completes N. Start-up (process start, imports, group join, partition
assignment, first fetch) is left out of events/s and shown on its own: seconds from the spawn of
the workers (the reference's start) to t_first (t_ready). Peak RSS is each process's VmHWM from
/proc/<pid>/status, read just before it stops (summed over workers). Events per CPU second: the
same events over the user + system CPU time the workers (the reference) used in the same interval
(/proc/<pid>/stat, read at each poll; ``time.process_time()`` in the reference): on a machine
shared with other work it moves less than events/s, so it is the fairer comparison of two
configurations measured minutes apart (asyncio against uvloop).

Kafka, the workers, Prometheus' scrapes and this script share the machine's cores: the load
average before and after is printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import structlog

from streams.contract.logs import configure_logging
from streams.contract.settings import EVENT_LOOPS, Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    START,
    cpu_seconds,
    load_average,
    peak_rss_mb,
    private_stack,
    running,
    scrape,
    table,
)

if TYPE_CHECKING:
    from streams.simulate.truth import Emitted
    from streams.stack.processes import StackPaths

log = structlog.get_logger("benchmarks.throughput")

CALLS_PER_HOUR_GUESS = 4_400  # call events per hour at 45k calls a day, weekday average
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Row:
    label: str
    events: int  # counted by t_last (N when complete)
    seconds: float  # t_last - t_first
    rate: float  # events/s over that interval
    startup: float  # start to t_first
    rss_mb: float
    cpu_rate: float  # events per CPU second (user + system) over the same interval
    complete: bool = True
    reread: int | None = None  # counted as duplicate: re-read after a partition moved


# ---- events --------------------------------------------------------------------------------------


def call_events(n: int, seed: int) -> list[Emitted]:
    """The first `n` call events of normal traffic from START, in event-time order."""
    # Imported here, as the stack's modules are: the reference child process stays small.
    from streams.contract.catalogue import default_catalogue
    from streams.simulate import generator, scenarios

    hours = max(1, math.ceil(1.1 * n / CALLS_PER_HOUR_GUESS))
    while True:
        scenario = scenarios.normal(START.timestamp(), hours * 3600.0)
        generated = generator.generate(scenario, default_catalogue(), seed)
        events = [e for e in generated if e.topic == "calls"]
        if len(events) >= n:
            log.info("generated", call_events=len(events), hours=hours, kept=n)
            return events[:n]
        hours = math.ceil(hours * 1.2 * n / max(len(events), 1))


# ---- reference: raw aiokafka -------------------------------------------------------------------


async def consume_raw(bootstrap: str, topic: str, n: int, timeout_s: float) -> dict[str, float]:
    """Read `topic` from the beginning with getmany + orjson.loads until `n` values are decoded."""
    from aiokafka import AIOKafkaConsumer

    began = time.monotonic()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,  # no group: every partition, no join, no commits
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    # Connected and assigned, nothing read yet: the first fetch's round trip counts against it.
    t_ready = time.monotonic()
    cpu_ready = time.process_time()
    count = 0
    try:
        while count < n and time.monotonic() - began < timeout_s:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                count += len(records)
        t_last = time.monotonic()
        cpu_last = time.process_time()
    finally:
        await consumer.stop()
    return {
        "count": count,
        "startup": t_ready - began,
        "seconds": t_last - t_ready,
        "cpu_seconds": cpu_last - cpu_ready,
        "rss_mb": peak_rss_mb(os.getpid()),
    }


def reference_child(argv: Sequence[str]) -> int:
    """The child process's side: run the reference, print its figures as one JSON line."""
    bootstrap, topic, n, timeout_s = argv
    result = asyncio.run(consume_raw(bootstrap, topic, int(n), float(timeout_s)))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


def run_reference(settings: Settings, n: int, timeout_s: float) -> Row:
    """The reference in its own process (its own peak RSS, one core like a worker)."""
    log.info("reference_started", consumer="aiokafka getmany + orjson.loads")
    argv = [sys.executable, __file__, "--reference-child", settings.bootstrap_servers]
    argv += [settings.topic_calls, str(n), str(timeout_s)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout_s + 60)
    if done.returncode != 0:
        raise RuntimeError(f"reference consumer failed:\n{done.stderr[-3000:]}")
    r = orjson.loads(done.stdout.strip().splitlines()[-1])
    counted = int(r["count"])
    rate = counted / r["seconds"] if r["seconds"] > 0 else math.nan
    log.info("reference_done", events=counted, events_per_s=round(rate))
    return Row(
        "aiokafka getmany + orjson.loads (reference)",
        counted,
        r["seconds"],
        rate,
        r["startup"],
        r["rss_mb"],
        counted / r["cpu_seconds"] if r["cpu_seconds"] > 0 else math.nan,
        counted >= n,
    )


# ---- our workers -------------------------------------------------------------------------------


def counted_events(url: str, topic: str) -> dict[str, float] | None:
    """surge_events_total{topic} by result on one worker's /metrics; None if the endpoint does
    not answer (yet)."""
    samples = scrape(url, "surge_events_total")
    if samples is None:
        return None
    out = dict.fromkeys(RESULTS, 0.0)
    for labels, value in samples:
        result = labels.get("result", "")
        if labels.get("topic") == topic and result in out:
            out[result] += value
    return out


RESULTS = ("ok", "late", "invalid", "duplicate")
FIRST_READS = ("ok", "late", "invalid")  # the generated events hold no duplicate (call_id, event)


@dataclass(frozen=True)
class Observation:
    t: float  # monotonic, middle of the scrapes
    first: float  # events applied or rejected, summed over workers
    reread: float  # events counted as duplicates: re-delivered after a partition moved
    all_counting: bool  # every worker has counted at least one event
    cpu: float  # CPU seconds used so far, summed over workers


def watch(
    paths: StackPaths, names: list[str], urls: list[str], topic: str, *, n: int, deadline: float
) -> tuple[list[Observation], list[int]]:
    """Poll the workers' /metrics every POLL_SECONDS until they have applied or rejected `n`
    events or the deadline passes: the observations, and the workers' pids."""
    from streams.stack import processes

    pids = [processes.read_pid(paths, name) or -1 for name in names]
    samples: list[Observation] = []
    seen: set[int] = set()
    last_report = time.monotonic()
    while not samples or (samples[-1].first < n and samples[-1].t < deadline):
        t0 = time.monotonic()
        for name, pid in zip(names, pids, strict=True):
            if not running(pid):
                raise RuntimeError(
                    f"{name} exited; its log ends:\n{processes.tail(paths.log(name))}"
                )
        counts = [counted_events(url, topic) for url in urls]
        t1 = time.monotonic()
        if None in counts:  # a worker's /metrics is not up yet
            if t1 >= deadline:
                raise RuntimeError(f"workers' /metrics did not answer: {urls}")
        else:
            per_worker = [c or {} for c in counts]
            firsts = [sum(c.get(r, 0.0) for r in FIRST_READS) for c in per_worker]
            for i in set(range(len(names))) - seen:
                if firsts[i] > 0:
                    seen.add(i)
                    log.info("worker_counting", worker=i, events=int(firsts[i]))
            rereads = sum(c.get("duplicate", 0.0) for c in per_worker)
            cpu = sum(cpu_seconds(pid) for pid in pids)
            samples.append(
                Observation((t0 + t1) / 2, sum(firsts), rereads, len(seen) == len(names), cpu)
            )
        if t1 - last_report >= 10 and samples:
            last_report = t1
            log.info("workers_progress", counted=int(samples[-1].first), of=n)
        time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - t0)))
    return samples, pids


def run_workers(settings: Settings, count: int, n: int, timeout_s: float, loop: str) -> Row:
    """`count` workers on a fresh app id, on event loop `loop` (SURGE_EVENT_LOOP), polled until
    they have counted all `n` events."""
    from streams.stack import processes, services

    s = replace(
        settings,
        app_id=f"{settings.app_id}-w{count}-{loop}-{uuid.uuid4().hex[:6]}",
        event_loop=loop,
    )
    paths = processes.stack_paths(s)
    names = [services.worker_name(i) for i in range(count)]
    urls = [f"http://127.0.0.1:{s.metrics_port + i}/metrics" for i in range(count)]
    log.info("workers_starting", workers=count, app_id=s.app_id, event_loop=loop)
    began = time.monotonic()
    try:
        for i in range(count):  # started together, so they join the group in one round
            services.start_worker(s, paths, i, wait=False)
        samples, pids = watch(paths, names, urls, s.topic_calls, n=n, deadline=began + timeout_s)
        rss = sum(peak_rss_mb(pid) for pid in pids)  # before they stop
    finally:
        for name in names:
            processes.stop_service(paths, name)
    counting = [o for o in samples if o.all_counting]
    if len(counting) < 2:
        raise RuntimeError(f"{count} worker(s) counted {samples[-1:]} of {n} events in time")
    first, last = counting[0], counting[-1]
    rate = (last.first - first.first) / (last.t - first.t)
    cpu_rate = (last.first - first.first) / (last.cpu - first.cpu)
    if last.first < n:
        log.warning("workers_timeout", after_s=timeout_s, counted=int(last.first), of=n)
    elif last.first > n:  # a batch applied twice: revoked before its checkpoint was written
        log.warning("counted_more_than_produced", counted=int(last.first), produced=n)
    log.info(
        "workers_done", workers=count, loop=loop, events=int(last.first), events_per_s=round(rate)
    )
    return Row(
        f"surge-monitor worker x{count} (Faust, {loop})",
        int(last.first),
        last.t - first.t,
        rate,
        first.t - began,
        rss,
        cpu_rate,
        last.first >= n,
        int(last.reread),
    )


# ---- report ------------------------------------------------------------------------------------


def report(rows: list[Row], command: str, notes: list[str]) -> str:
    ref = rows[0].rate
    header = ["configuration", "events", "seconds", "events/s", "ratio to reference",
              "events per CPU s", "start-up s", "re-read", "peak RSS MB"]  # fmt: skip
    cells = [
        [
            r.label + ("" if r.complete else " INCOMPLETE"),
            f"{r.events:,}",
            f"{r.seconds:.1f}",
            f"{r.rate:,.0f}",
            f"{r.rate / ref:.3f}",
            f"{r.cpu_rate:,.0f}",
            f"{r.startup:.1f}",
            "-" if r.reread is None else f"{r.reread:,}",
            f"{r.rss_mb:.0f}",
        ]
        for r in rows
    ]
    return "\n".join([table(cells, header), "", *notes, "", command]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Throughput: our workers vs a raw consumer.")
    parser.add_argument("--events", type=int, default=200_000, help="call events (default 200k)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts")
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    parser.add_argument(
        "--event-loops",
        nargs="+",
        choices=EVENT_LOOPS,
        default=sorted(EVENT_LOOPS),
        help="the workers' SURGE_EVENT_LOOP, each measured in turn (default: asyncio uvloop)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds allowed per configuration"
    )
    parser.add_argument("--reference-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_child:
        return reference_child(args.reference_child)
    if args.events < 1000 or not all(1 <= w <= 8 for w in args.workers):
        parser.error("--events must be at least 1000 and each --workers 1 to 8 (8 partitions)")
    configure_logging("info", "console")

    from streams.simulate import play

    began = time.monotonic()
    load_before = load_average()
    t = time.monotonic()
    events = call_events(args.events, args.seed)
    generated_s = time.monotonic() - t
    mean_bytes = sum(len(play.encode(e)) for e in events[:10_000]) / min(len(events), 10_000)
    with private_stack("surge-bench-", max(args.workers), uuid.uuid4().hex[:8]) as settings:
        t = time.monotonic()
        play.produce(events, settings, 0.0)
        produced_s = time.monotonic() - t
        del events
        rows = [run_reference(settings, args.events, args.timeout)]
        rows += [
            run_workers(settings, w, args.events, args.timeout, loop)
            for w in args.workers
            for loop in args.event_loops
        ]
    notes = [
        f"{args.events:,} call events (mean {mean_bytes:.0f} B of JSON) of normal traffic from "
        f"{START:%a %d %b %Y %H:%M} London, seed {args.seed}; topic of 8 partitions; "
        f"generated in {generated_s:.1f} s, produced in {produced_s:.1f} s "
        f"({args.events / produced_s:,.0f}/s, kafka-python, acks=all).",
        "events/s: workers (n_last - n_first) / (t_last - t_first), t_first the first poll of "
        f"their /metrics (every {POLL_SECONDS} s) at which every",
        "worker has counted an event, t_last the first with all N applied or rejected "
        "(surge_events_total{topic=calls}, ok+late+invalid,",
        "summed over workers; re-read = result duplicate, events read again after a rebalance); "
        "reference N / (t_last - t_ready), t_ready = consumer.start() returned.",
        "events per CPU s: the same events / the user + system CPU seconds the process(es) used "
        "over the same interval (/proc/<pid>/stat; less",
        "sensitive than events/s to other work on the machine). start-up s = process start to "
        "t_first (t_ready); peak RSS = VmHWM, summed over workers.",
        f"Kafka, the consumers, Prometheus and this script share {os.cpu_count()} cores; load "
        f"average before {load_before}, after {load_average()}; total "
        f"{time.monotonic() - began:.0f} s.",
    ]
    command = (
        f"$ .venv/bin/python benchmarks/throughput.py --events {args.events} "
        f"--workers {' '.join(map(str, args.workers))} --seed {args.seed} "
        f"--event-loops {' '.join(args.event_loops)}"
    )
    sys.stdout.write(report(rows, command, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
