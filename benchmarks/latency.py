"""Latency benchmark: from producing a call event to its effect on a worker's /metrics.

Run: ``.venv/bin/python benchmarks/latency.py [--rates 10 100 1000] [--seconds 20]``
(about 75 s on 2 cores).

1. Starts a private local stack on free loopback ports in a temporary state directory, as
   ``benchmarks/throughput.py`` does (and always stops it), creates a fresh topic set and starts
   one real worker (``stack.start_worker``) on a fresh app id. Warm-up: one marker per region,
   waited on until all ten are visible, so the group join and the first checkpoint reads are
   over before anything is timed.
2. For each rate R (markers per second, all regions together), for ``--seconds``: a producer
   thread sends marker call events (``offered``, a fresh ``call_id``, ``ts`` = the wall clock,
   one provider per region, regions in turn) at times t0 + k / R with kafka-python
   (``acks="all"``, ``linger_ms=0``), noting the monotonic time just before each ``send``. The
   markers are the only traffic, so R is also the load.
3. Meanwhile the main thread scrapes the worker's ``/metrics`` every ``--poll-ms`` and reads
   ``surge_calls_total{region, provider, outcome="offered"}``; an increase of k in a region
   matches that region's k oldest pending markers (one partition per region key, so Kafka keeps
   their order). A marker's latency = the middle of the first scrape that shows it - its send
   time. This is what an operator sees: the worker publishes a region's counters after each
   batch (``SURGE_BATCH_MAX_EVENTS``, ``SURGE_BATCH_SECONDS`` = 0.5 s by default), and
   Prometheus adds its own scrape interval on top (not measured here).

Latencies are known to about half a poll interval plus a scrape; markers not seen within
``--drain`` seconds after the last send are reported as lost.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import orjson
import structlog

from streams.config import Settings
from streams.kafka_security import client_kwargs
from streams.logs import configure_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import bench_settings, load_average, peak_rss_mb, running, table

log = structlog.get_logger("benchmarks.latency")


@dataclass(frozen=True)
class Result:
    rate: float
    sent: int
    latencies_ms: list[float]
    scrape_ms: float  # mean duration of one /metrics scrape


def marker_targets() -> list[tuple[str, str]]:
    """(region, provider): every region with its first provider."""
    from streams.catalogue import default_catalogue

    return [(r.code, r.providers[0].id) for r in default_catalogue().regions]


def offered_counts(url: str, targets: list[tuple[str, str]]) -> dict[str, float] | None:
    """surge_calls_total{outcome="offered"} of each marker (region, provider); None if the
    endpoint does not answer."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback URL we build)
            text = resp.read().decode()
    except OSError:
        return None
    wanted = set(targets)
    lines = "\n".join(x for x in text.splitlines() if x.startswith("surge_calls_total{"))
    out = {region: 0.0 for region, _ in targets}
    for family in text_string_to_metric_families(lines + "\n"):
        for s in family.samples:
            key = (s.labels.get("region", ""), s.labels.get("provider", ""))
            if s.labels.get("outcome") == "offered" and key in wanted:
                out[key[0]] += s.value
    return out


def marker(region: str, provider: str) -> bytes:
    from streams.records import format_ts

    doc = {
        "call_id": f"lat-{uuid.uuid4().hex}",
        "event": "offered",
        "ts": format_ts(time.time()),
        "region": region,
        "provider": provider,
    }
    return orjson.dumps(doc)


class Pacer(threading.Thread):
    """Sends markers at a fixed rate for a fixed time; records each one's send time by region."""

    def __init__(
        self, settings: Settings, targets: list[tuple[str, str]], rate: float, seconds: float
    ) -> None:
        super().__init__(daemon=True)
        self.settings, self.targets, self.rate, self.seconds = settings, targets, rate, seconds
        self.pending: dict[str, collections.deque[float]] = {
            r: collections.deque() for r, _ in targets
        }
        self.lock = threading.Lock()
        self.sent = 0
        self.took = 0.0  # seconds from the first send to the flush after the last
        self.error: BaseException | None = None

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            acks="all",
            linger_ms=0,
            **client_kwargs(self.settings),
        )
        try:
            total = int(self.rate * self.seconds)
            t0 = time.monotonic()
            for k in range(total):
                delay = t0 + k / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                region, provider = self.targets[k % len(self.targets)]
                value = marker(region, provider)
                with self.lock:
                    self.pending[region].append(time.monotonic())
                    self.sent += 1
                producer.send(self.settings.topic_calls, key=region.encode(), value=value)
            producer.flush()
            self.took = time.monotonic() - t0
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            producer.close()


def measure(
    settings: Settings,
    url: str,
    targets: list[tuple[str, str]],
    rate: float,
    *,
    seconds: float,
    poll_s: float,
    drain_s: float,
) -> Result:
    """One rate: send markers for `seconds`, match them against /metrics until all are seen."""
    counts = offered_counts(url, targets)
    if counts is None:
        raise RuntimeError(f"{url} does not answer")
    pacer = Pacer(settings, targets, rate, seconds)
    latencies: list[float] = []
    scrape_s: list[float] = []
    pacer.start()
    log.info("rate_started", markers_per_s=rate, seconds=seconds)
    deadline = None
    outstanding = int(rate * seconds)
    while True:
        t0 = time.monotonic()
        now_counts = offered_counts(url, targets)
        t1 = time.monotonic()
        if now_counts is not None:
            scrape_s.append(t1 - t0)
            seen_at = (t0 + t1) / 2
            with pacer.lock:
                for region, c in now_counts.items():
                    for _ in range(int(c - counts[region])):
                        if pacer.pending[region]:
                            latencies.append(1000 * (seen_at - pacer.pending[region].popleft()))
                    counts[region] = c
                outstanding = sum(len(q) for q in pacer.pending.values())
        if pacer.error is not None:
            raise RuntimeError(f"marker producer failed: {pacer.error!r}")
        if not pacer.is_alive():
            deadline = deadline or time.monotonic() + drain_s
            if outstanding == 0 or time.monotonic() > deadline:
                break
        time.sleep(max(0.0, poll_s - (time.monotonic() - t0)))
    pacer.join()
    mean_scrape = 1000 * sum(scrape_s) / max(len(scrape_s), 1)
    log.info(
        "rate_done",
        markers_per_s=rate,
        sent=pacer.sent,
        sent_in_s=round(pacer.took, 2),
        seen=len(latencies),
    )
    return Result(rate, pacer.sent, latencies, mean_scrape)


def warm_up(
    settings: Settings, url: str, targets: list[tuple[str, str]], timeout_s: float
) -> float:
    """One marker per region, waited on until the worker shows every region: seconds taken."""
    from kafka import KafkaProducer

    began = time.monotonic()
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", **client_kwargs(settings)
    )
    try:
        for region, provider in targets:
            producer.send(settings.topic_calls, key=region.encode(), value=marker(region, provider))
        producer.flush()
    finally:
        producer.close()
    while time.monotonic() - began < timeout_s:
        counts = offered_counts(url, targets)
        if counts is not None and all(c >= 1 for c in counts.values()):
            return time.monotonic() - began
        time.sleep(0.25)
    raise RuntimeError(f"warm-up markers not all visible on {url} within {timeout_s:.0f} s")


def report(results: list[Result], rss_mb: float) -> list[list[str]]:
    rows = []
    for r in results:
        lat = np.array(r.latencies_ms)
        p50, p95, p99 = np.percentile(lat, [50, 95, 99]) if lat.size else (np.nan,) * 3
        rows.append(
            [
                f"1 worker, {r.rate:g} markers/s",
                f"{r.sent:,}",
                f"{r.sent - lat.size:,}",
                f"{p50:.0f}",
                f"{p95:.0f}",
                f"{p99:.0f}",
                f"{lat.max() if lat.size else np.nan:.0f}",
                f"{r.scrape_ms:.0f}",
                f"{rss_mb:.0f}",
            ]
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Latency: produce -> visible on /metrics.")
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 100.0, 1000.0])
    parser.add_argument("--seconds", type=float, default=20.0, help="sending time per rate")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="/metrics scrape interval")
    parser.add_argument("--drain", type=float, default=30.0, help="wait for stragglers (s)")
    args = parser.parse_args(argv)
    if min(args.rates) <= 0 or args.seconds <= 0 or args.poll_ms <= 0:
        parser.error("--rates, --seconds and --poll-ms must be positive")
    configure_logging("info", "console")

    from streams import stack

    began = time.monotonic()
    load_before = load_average()
    tag = uuid.uuid4().hex[:8]
    state = Path(tempfile.mkdtemp(prefix="surge-latency-"))
    settings = replace(bench_settings(state, 1, tag), app_id=f"latency-{tag}")
    targets = marker_targets()
    url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
    ok = False
    try:
        stack.up(settings, with_workers=False)
        stack.create_topics(settings)
        paths = stack.stack_paths(settings)
        stack.start_worker(settings, paths, 0)
        pid = stack.read_pid(paths, stack.worker_name(0)) or -1
        warm_s = warm_up(settings, url, targets, timeout_s=90)
        log.info("warmed_up", seconds=round(warm_s, 1))
        results = []
        for rate in args.rates:
            if not running(pid):
                raise RuntimeError(f"the worker exited; log: {paths.log(stack.worker_name(0))}")
            results.append(
                measure(
                    settings,
                    url,
                    targets,
                    rate,
                    seconds=args.seconds,
                    poll_s=args.poll_ms / 1000,
                    drain_s=args.drain,
                )
            )
        rss = peak_rss_mb(pid)
        ok = True
    finally:
        with contextlib.suppress(Exception):
            stack.down(settings)
        if ok:
            shutil.rmtree(state, ignore_errors=True)
        else:
            log.warning("state_kept", state_dir=str(state), hint="logs in <state_dir>/logs")
    header = ["configuration", "markers", "lost", "p50 ms", "p95 ms", "p99 ms", "max ms",
              "scrape ms", "peak RSS MB"]  # fmt: skip
    notes = [
        "latency = middle of the first /metrics scrape showing the marker's "
        'surge_calls_total{outcome="offered"} increase - the time just before its send',
        f"(kafka-python, acks=all, linger_ms=0); /metrics scraped every {args.poll_ms:g} ms "
        f"(scrape ms = mean scrape duration); {args.seconds:g} s per rate; default batch "
        f"{settings.batch_max_events} events / {settings.batch_seconds:g} s.",
        f"Kafka, the worker, Prometheus and this script share {os.cpu_count()} cores; load "
        f"average before {load_before}, after {load_average()}; total "
        f"{time.monotonic() - began:.0f} s.",
    ]
    command = (
        "$ .venv/bin/python benchmarks/latency.py --rates "
        f"{' '.join(f'{r:g}' for r in args.rates)} --seconds {args.seconds:g} "
        f"--poll-ms {args.poll_ms:g}"
    )
    out = table(report(results, rss), header)
    sys.stdout.write("\n".join([out, "", *notes, "", command]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
