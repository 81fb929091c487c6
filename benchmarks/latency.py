"""Latency benchmark: from producing an event to its effect on a worker's /metrics, and to the
stream alert it causes on the alerts topic, at 1x and 100x England's peak load.

Run: ``.venv/bin/python benchmarks/latency.py [--rates R ...] [--seconds 20]
[--alert-loads 1 100]`` (about 6 minutes on 2 cores).

National peak. The generator's busiest hour at its default 45,000 calls a day (a weekly average:
weekdays about 33,500 calls, weekend days 2.2x that, about 73,700) is a weekend evening, 19:00-20:00
London (``streams.simulate.HOUR_WEIGHTS`` peaks at 19:00 with 7.2 of 90.1, 8 % of the day's
calls). The script measures it rather than computing it: it generates Saturday 9 March 2024
16:00-22:00 and counts every event (call events and dispatches) in each whole hour after the
first (the queues' warm-up); the busiest hour's events / 3600 s is "1x national peak".

Then it starts a private local stack (``common.private_stack``) and runs the two measurements on
it, one real worker at a time: part 1, event -> /metrics (``latency_metrics.py``: marker call
events at each of ``--rates``, matched against the worker's ``/metrics``), and part 2, event ->
stream alert (``latency_alerts.py``: a launch day whose alert-causing events are found by a
replay, sent at each of ``--alert-loads``, the Alert records read back from the alerts topic).
Each module's docstring says how it measures. This script holds the flags, the national peak and
the report.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import structlog

from streams.contract.logs import configure_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SATURDAY, load_average, private_stack
from latency_alerts import FAILING, alert_events, alerts_table, causes, measure_alerts
from latency_metrics import metric_latencies, metrics_table

log = structlog.get_logger("benchmarks.latency")

DRAIN_SECONDS = 30.0


# ---- national peak -------------------------------------------------------------------------------


def national_peak(seed: int) -> tuple[float, str]:
    """Events per second (call events and dispatches) in the busiest whole hour of a generated
    Saturday evening at the generator's default 45,000 calls a day, and that hour."""
    from streams.contract.catalogue import default_catalogue
    from streams.simulate import generator, scenarios

    start = SATURDAY + timedelta(hours=16)
    scenario = scenarios.normal(start.timestamp(), 6 * 3600)
    events = generator.generate(scenario, default_catalogue(), seed)
    per_hour = collections.Counter(int((e.ts_s - start.timestamp()) // 3600) for e in events)
    # The first hour is left out: calls offered before the window start have no events in it.
    hour, count = max(((h, n) for h, n in per_hour.items() if h >= 1), key=lambda hn: hn[1])
    began, ended = start + timedelta(hours=hour), start + timedelta(hours=hour + 1)
    return count / 3600, f"{began:%a %d %b %Y %H:%M}-{ended:%H:%M} London"


# ---- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latency: produce -> visible on /metrics, and -> stream alert."
    )
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        help="markers/s for event -> /metrics (default: 1x and 100x national peak, and 1000)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="sending time per rate")
    parser.add_argument("--poll-ms", type=float, default=100.0, help="/metrics scrape interval")
    parser.add_argument(
        "--drain", type=float, default=DRAIN_SECONDS, help="wait (s) for stragglers"
    )
    parser.add_argument(
        "--alert-loads",
        type=float,
        nargs="*",
        default=[1.0, 100.0],
        help="multiples of national peak for event -> stream alert (none: skip)",
    )
    parser.add_argument(
        "--fast-load", type=float, default=100.0, help="load between causing events (x peak)"
    )
    parser.add_argument(
        "--lead", type=float, default=2.0, help="seconds at the load before a cause"
    )
    parser.add_argument(
        "--trail", type=float, default=1.0, help="seconds at the load after a cause"
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    args = parser.parse_args(argv)
    positive = [args.seconds, args.poll_ms, args.fast_load, *(args.rates or []), *args.alert_loads]
    if min(positive) <= 0 or args.lead < 0 or args.trail < 0:
        parser.error("--rates, --seconds, --poll-ms and the loads must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("info", "console")

    from streams.contract.config import load_settings
    from streams.stack import processes

    began = time.monotonic()
    load_before = load_average()
    peak, peak_hour = national_peak(args.seed)
    rates = args.rates or [peak, 100 * peak, 1000.0]
    log.info("national_peak", events_per_s=round(peak, 2), hour=peak_hour)
    events = alert_events(args.seed)
    found = causes(events, load_settings({}))
    if args.alert_loads and not found:
        raise RuntimeError("the alert scenario raised no alert: nothing to time")
    if found:  # nothing after the last causing event's trail is needed
        keep = found[-1].index + math.ceil(args.trail * peak * min(args.alert_loads or [1])) + 1
        events = events[:keep]
    log.info("alert_causes", events=len(events), alerts=len(found))
    with private_stack("surge-latency-", 1, uuid.uuid4().hex[:8]) as base:
        results, rss = metric_latencies(
            base, rates, seconds=args.seconds, poll_ms=args.poll_ms, drain_s=args.drain
        )
        alert_results = [
            measure_alerts(
                base,
                processes.stack_paths(base),
                events,
                found,
                load=load,
                fast_load=args.fast_load,
                peak=peak,
                lead_s=args.lead,
                trail_s=args.trail,
                drain_s=args.drain,
            )
            for load in args.alert_loads
        ]
    notes = [
        f"national peak = {peak:.2f} events/s (call events and dispatches): the busiest hour of "
        f"the generator at 45,000 calls a day, {peak_hour}, seed {args.seed}.",
        "event -> /metrics: middle of the first /metrics scrape showing the marker's "
        'surge_calls_total{outcome="offered"} increase - the time just before its send',
        f"(kafka-python, acks=all, linger_ms=0); /metrics scraped every {args.poll_ms:g} ms "
        f"(scrape ms = mean scrape duration); {args.seconds:g} s per rate; p95 1st/last 1/4 = "
        "p95 of the markers sent in the first and last quarter of the rate's time.",
        "worker CPU % = the worker's user + system CPU seconds / wall seconds while sending.",
    ]
    alert_notes = [
        "event -> stream alert: the Alert record's Kafka CreateTime (the worker's producer) - the "
        "causing event's send time (its record timestamp); causing event = the one",
        "after which streams.offline.replayer.Replayer emits that record, over the same "
        f"{len(events):,} events (launch day, {len(FAILING)} regions failing, seed {args.seed}; "
        f"{len({c.index for c in found})} distinct causing events).",
        f"At 1x the events from {args.lead:g} s before to {args.trail:g} s after each causing "
        f"event go at 1x peak, the others at {args.fast_load:g}x (in brackets).",
    ]
    context = [
        f"Default batch {base.batch_max_events} events / {base.batch_seconds:g} s; event loop "
        f"{base.event_loop}. Kafka, the worker, Prometheus and this script share "
        f"{os.cpu_count()} cores; load average before {load_before}, after {load_average()}; "
        f"total {time.monotonic() - began:.0f} s.",
    ]
    command = (
        "$ .venv/bin/python benchmarks/latency.py --rates "
        f"{' '.join(f'{r:.4g}' for r in rates)} --seconds {args.seconds:g} "
        f"--poll-ms {args.poll_ms:g} --alert-loads {' '.join(f'{x:g}' for x in args.alert_loads)} "
        f"--fast-load {args.fast_load:g} --lead {args.lead:g} --trail {args.trail:g} "
        f"--seed {args.seed}"
    )
    out = [metrics_table(results, rss, peak)]
    if alert_results:
        out += ["", alerts_table(alert_results)]
        notes += alert_notes
    sys.stdout.write("\n".join([*out, "", *notes, *context, "", command]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
