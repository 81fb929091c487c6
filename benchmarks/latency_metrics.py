"""Latency, part 1: event -> /metrics. How long a call event takes from its send to the worker's
``/metrics`` (``latency.py`` runs it, then part 2, ``latency_alerts.py``, on the same stack).

1. One real worker (``stack.start_worker``) on a fresh app id of the private stack
   (``common.private_stack``). Warm-up: one marker per region, waited on until
   all ten are visible, so the group join and the first checkpoint reads are over before anything
   is timed.
2. For each rate R (markers per second, all regions together; default 1x and 100x national peak
   and 1,000/s), for ``--seconds``: a producer thread sends marker call events (``offered``, a
   fresh ``call_id``, ``ts`` = the wall clock, one provider per region, regions in turn) at times
   t0 + k / R with kafka-python (``acks="all"``, ``linger_ms=0``), noting the monotonic time just
   before each ``send``. The markers are the only traffic, so R is also the load.
3. Meanwhile the main thread scrapes the worker's ``/metrics`` every ``--poll-ms`` and reads
   ``surge_calls_total{region, provider, outcome="offered"}``; an increase of k in a region
   matches that region's k oldest pending markers (one partition per region key, so Kafka keeps
   their order). A marker's latency = the middle of the first scrape that shows it - its send
   time. Each scrape takes the worker 5-20 ms of its one core (column "scrape ms"), so polling
   much faster than the default 100 ms slows what it measures. This is what an operator sees:
   the worker publishes a region's counters after each batch (``SURGE_BATCH_MAX_EVENTS``,
   ``SURGE_BATCH_SECONDS`` = 0.5 s by default), and Prometheus adds its own scrape interval on
   top (not measured here).
Latencies are known to about half a poll interval plus a scrape; markers not seen within
``--drain`` seconds after the last send are reported as lost.
"""

from __future__ import annotations

import collections
import math
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import orjson
import structlog

from streams.contract.kafka_security import client_kwargs
from streams.contract.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_seconds, peak_rss_mb, running, scrape, table

log = structlog.get_logger("benchmarks.latency")

HEADER = ["event -> /metrics", "markers", "lost", "p50 ms", "p95 ms", "p99 ms", "max ms",
          "p95 1st/last 1/4 ms", "worker CPU %", "scrape ms", "peak RSS MB"]  # fmt: skip


@dataclass(frozen=True)
class Result:
    rate: float
    sent: int
    latencies_ms: list[float]
    scrape_ms: float  # mean duration of one /metrics scrape
    cpu_share: float  # the worker's CPU seconds per wall second while the markers were sent
    first_last_p95_ms: tuple[float, float]  # p95 of the markers sent in the first, last quarter


def marker_targets() -> list[tuple[str, str]]:
    """(region, provider): every region with its first provider."""
    from streams.contract.catalogue import default_catalogue

    return [(r.code, r.providers[0].id) for r in default_catalogue().regions]


def offered_counts(url: str, targets: list[tuple[str, str]]) -> dict[str, float] | None:
    """surge_calls_total{outcome="offered"} of each marker (region, provider); None if the
    endpoint does not answer."""
    samples = scrape(url, "surge_calls_total")
    if samples is None:
        return None
    wanted = set(targets)
    out = {region: 0.0 for region, _ in targets}
    for labels, value in samples:
        key = (labels.get("region", ""), labels.get("provider", ""))
        if labels.get("outcome") == "offered" and key in wanted:
            out[key[0]] += value
    return out


def marker(region: str, provider: str) -> bytes:
    from streams.contract.records import format_ts

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
    pid: int,
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
    sent_at: list[float] = []  # the send time of each latency's marker
    scrape_s: list[float] = []
    cpu = None
    wall0, cpu0 = time.monotonic(), cpu_seconds(pid)
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
                            sent = pacer.pending[region].popleft()
                            sent_at.append(sent)
                            latencies.append(1000 * (seen_at - sent))
                    counts[region] = c
                outstanding = sum(len(q) for q in pacer.pending.values())
        if pacer.error is not None:
            raise RuntimeError(f"marker producer failed: {pacer.error!r}")
        if not pacer.is_alive():
            if cpu is None:
                cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
            deadline = deadline or time.monotonic() + drain_s
            if outstanding == 0 or time.monotonic() > deadline:
                break
        time.sleep(max(0.0, poll_s - (time.monotonic() - t0)))
    pacer.join()
    mean_scrape = 1000 * sum(scrape_s) / max(len(scrape_s), 1)
    order = np.argsort(sent_at)
    quarter = max(1, len(order) // 4)
    lat = np.array(latencies)[order]
    first_last = (
        (float(np.percentile(lat[:quarter], 95)), float(np.percentile(lat[-quarter:], 95)))
        if lat.size
        else (math.nan, math.nan)
    )
    log.info(
        "rate_done",
        markers_per_s=rate,
        sent=pacer.sent,
        sent_in_s=round(pacer.took, 2),
        seen=len(latencies),
        worker_cpu_share=round(cpu or math.nan, 2),
        p95_first_last_quarter_ms=[round(x) for x in first_last],
    )
    return Result(rate, pacer.sent, latencies, mean_scrape, cpu or math.nan, first_last)


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


def report(results: list[Result], rss_mb: float, peak: float) -> list[list[str]]:
    rows = []
    for r in results:
        lat = np.array(r.latencies_ms)
        p50, p95, p99 = np.percentile(lat, [50, 95, 99]) if lat.size else (np.nan,) * 3
        rows.append(
            [
                f"1 worker, {r.rate:.4g} markers/s ({r.rate / peak:.3g}x peak)",
                f"{r.sent:,}",
                f"{r.sent - lat.size:,}",
                f"{p50:.0f}",
                f"{p95:.0f}",
                f"{p99:.0f}",
                f"{lat.max() if lat.size else np.nan:.0f}",
                f"{r.first_last_p95_ms[0]:.0f} / {r.first_last_p95_ms[1]:.0f}",
                f"{100 * r.cpu_share:.0f}",
                f"{r.scrape_ms:.0f}",
                f"{rss_mb:.0f}",
            ]
        )
    return rows


def metrics_table(results: list[Result], rss_mb: float, peak: float) -> str:
    """The event -> /metrics table: a row per rate."""
    return table(report(results, rss_mb, peak), HEADER)


def metric_latencies(
    base: Settings, rates: Sequence[float], *, seconds: float, poll_ms: float, drain_s: float
) -> tuple[list[Result], float]:
    """Part 1 on its own worker (stopped at the end): a Result per rate, and its peak RSS."""
    from streams.stack import processes, services

    settings = replace(base, app_id=f"{base.app_id}-metrics")
    targets = marker_targets()
    url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
    paths = processes.stack_paths(settings)
    services.start_worker(settings, paths, 0)
    pid = processes.read_pid(paths, services.worker_name(0)) or -1
    try:
        warm_s = warm_up(settings, url, targets, timeout_s=90)
        log.info("warmed_up", seconds=round(warm_s, 1))
        results = []
        for rate in rates:
            if not running(pid):
                raise RuntimeError(f"the worker exited; log: {paths.log(services.worker_name(0))}")
            results.append(
                measure(
                    settings,
                    url,
                    targets,
                    rate,
                    pid=pid,
                    seconds=seconds,
                    poll_s=poll_ms / 1000,
                    drain_s=drain_s,
                )
            )
        return results, peak_rss_mb(pid)
    finally:
        processes.stop_service(paths, services.worker_name(0))
