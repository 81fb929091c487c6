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

Part 1, event -> /metrics.
1. Starts a private local stack (``common.private_stack``) and one real worker
   (``stack.start_worker``) on a fresh app id. Warm-up: one marker per region, waited on until
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

Part 2, event -> stream alert.
1. The events: a launch day with six failing regions (Saturday 9 March 2024 from 08:00 London,
   the generator's national traffic, call events and dispatches; north-west, west-midlands,
   yorkshire, london, south-west and east-of-england keep 30 % of their answering capacity from
   09:10 to 10:10), up to the last alert-causing event. Each failing region fires and resolves
   its service level, abandonment and breach-forecast alerts (and a healthy region may too).
2. Which event causes which alert: the workers step the alert machines on each closed minute
   inside ``AnswerRateOps.apply``, when an event moves its region's watermark (newest event time
   - grace) past a minute, and send the Alert records at the end of the batch. The script feeds
   the same event list, in the same order, to ``streams.offline.replayer.Replayer`` (the same code
   as the live path) and notes, for each Alert record (alert_id, state), the event after which it
   appeared: the causing event.
3. For each load in ``--alert-loads`` (multiples of national peak), a fresh worker (new app id
   and topic set, so it starts from nothing) reads the events as a producer thread sends them
   (kafka-python, ``acks="all"``, ``linger_ms=0``, keyed by region), each with its record
   timestamp set to the wall clock just before its ``send``. At 100x the events go at a constant
   100x national peak. At 1x, the load that matters is the one around the causing event, and
   the whole list at 1x would take hours: the events from ``--lead`` seconds (at 1x) before each
   causing event to ``--trail`` seconds after it go at 1x national peak, the others at 100x
   (at which the worker keeps up: the 100x row), so the worker has no backlog and small batches
   when a causing event arrives.
4. The script reads the alerts topic back: latency = the Alert record's Kafka CreateTime (set by
   the worker's producer when it sends the record) - the causing event's send time. Both clocks
   are this machine's wall clock (milliseconds). An alert of the replay not on the topic within
   ``--drain`` s of the last send is "missing"; a record the replay does not predict, "extra".
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import structlog

from streams.contract.kafka_security import client_kwargs
from streams.contract.logs import configure_logging
from streams.contract.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    cpu_seconds,
    fresh_run,
    load_average,
    peak_rss_mb,
    private_stack,
    running,
    scrape,
    table,
)

if TYPE_CHECKING:
    from kafka import KafkaProducer

    from detectors.region_alerts import AlertEvent
    from streams.simulate.truth import Emitted
    from streams.stack.processes import StackPaths

log = structlog.get_logger("benchmarks.latency")

LONDON = ZoneInfo("Europe/London")
SATURDAY = datetime(2024, 3, 9, tzinfo=LONDON)  # the weekend after common.START, no DST change
FAILING = ("north-west", "west-midlands", "yorkshire", "london", "south-west", "east-of-england")
ALERT_START = SATURDAY + timedelta(hours=8)
FAILURE_AFTER = timedelta(minutes=70)  # after the alerts' hour of warm-up
RECOVERY_AFTER = timedelta(minutes=130)
ALERT_HOURS = 5  # generated; the list is cut after the last causing event
DRAIN_SECONDS = 30.0


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


# ---- event -> stream alert -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cause:
    index: int  # the event after which the replay emitted the alert
    alert: AlertEvent

    @property
    def key(self) -> tuple[str, str]:
        return self.alert.alert_id, self.alert.state


@dataclass(frozen=True)
class AlertResult:
    load: float  # multiple of national peak around the causing events
    rate: float  # events/s around the causing events
    fast_rate: float  # events/s between them
    events: int
    send_s: float
    expected: int
    latencies_ms: list[float]
    extra: int  # records on the topic the replay does not predict
    rss_mb: float
    cpu_share: float  # the worker's CPU seconds per wall second while the events were sent


def alert_events(seed: int) -> list[Emitted]:
    """Six regions collapse for an hour on a Saturday morning: many alert episodes."""
    from streams.contract.catalogue import default_catalogue
    from streams.simulate import generator, scenarios

    start = ALERT_START.timestamp()
    scenario = scenarios.Scenario(
        "latency-alerts",
        start,
        ALERT_HOURS * 3600,
        failing_regions=FAILING,
        failure_start_s=start + FAILURE_AFTER.total_seconds(),
        recovery_start_s=start + RECOVERY_AFTER.total_seconds(),
    )
    return generator.generate(scenario, default_catalogue(), seed)


def causes(events: Sequence[Emitted], settings: Settings) -> list[Cause]:
    """Each Alert record the live path makes of `events` (in this order), with the event after
    which it appears: the replay runs the workers' own code (AnswerRateOps) one event at a time."""
    from streams.contract.catalogue import default_catalogue
    from streams.offline.replayer import Replayer

    replayer = Replayer(settings, default_catalogue())
    out: list[Cause] = []
    for i, e in enumerate(events):
        before = len(replayer.result.alerts)
        if e.topic == "calls":
            replayer.call(e.event.to_json())
        else:
            replayer.dispatch(e.event.to_json())
        out.extend(Cause(i, a) for a in replayer.result.alerts[before:])
    return out


def send_offsets(
    n: int, causing: Sequence[int], *, rate: float, fast_rate: float, lead_s: float, trail_s: float
) -> np.ndarray:
    """Seconds after the first send at which each of `n` events goes: 1 / fast_rate apart, but
    1 / rate apart from `lead_s` (at `rate`) before each causing event to `trail_s` after it."""
    slow = np.zeros(n, dtype=bool)
    lead, trail = math.ceil(lead_s * rate), math.ceil(trail_s * rate)
    for c in causing:
        slow[max(0, c - lead) : c + trail + 1] = True
    gaps = np.where(slow, 1 / rate, 1 / fast_rate)
    gaps[0] = 0.0
    return np.cumsum(gaps)


class Sender(threading.Thread):
    """Sends the events at their offsets, each with its record timestamp = the wall clock (ms)
    just before its send, noted in `sent_ms`. The first event goes alone and is waited on
    (`ready`) so the worker's group join is over before the clock starts."""

    def __init__(
        self,
        settings: Settings,
        events: Sequence[Emitted],
        offsets: np.ndarray,
        ready: Callable[[], bool],
    ) -> None:
        super().__init__(daemon=True)
        self.settings, self.events, self.offsets, self.ready = settings, events, offsets, ready
        self.sent_ms = np.zeros(len(events), dtype=np.int64)
        self.sent = 0
        self.took = 0.0  # seconds from the second send to the flush after the last
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
            self._send(producer, 0)
            producer.flush()
            deadline = time.monotonic() + 90
            while not self.ready():
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not count the first event within 90 s")
                time.sleep(0.1)
            t0 = time.monotonic() - float(self.offsets[1])
            for i in range(1, len(self.events)):
                delay = t0 + float(self.offsets[i]) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._send(producer, i)
            producer.flush()
            self.took = time.monotonic() - t0 - float(self.offsets[1])
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            producer.close()

    def _send(self, producer: KafkaProducer, i: int) -> None:
        from streams.simulate.play import encode, topic_for

        e = self.events[i]
        now_ms = int(time.time() * 1000)
        self.sent_ms[i] = now_ms
        producer.send(
            topic_for(self.settings, e.topic),
            key=e.key.encode(),
            value=encode(e),
            timestamp_ms=now_ms,
        )
        self.sent = i + 1


def read_alerts(
    settings: Settings, expected: set[tuple[str, str]], deadline: float
) -> dict[tuple[str, str], int]:
    """(alert_id, state) -> Kafka CreateTime (ms) of its first record on the alerts topic, read
    from the beginning until every expected record is there or the deadline passes."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        **client_kwargs(settings),
    )
    seen: dict[tuple[str, str], int] = {}
    try:
        parts = consumer.partitions_for_topic(settings.topic_alerts) or set()
        tps = [TopicPartition(settings.topic_alerts, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while time.monotonic() < deadline and not expected <= seen.keys():
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    if r.timestamp_type != 0:
                        raise RuntimeError("the alerts topic must keep the producers' CreateTime")
                    doc = orjson.loads(r.value)
                    seen.setdefault((doc["alert_id"], doc["state"]), r.timestamp)
    finally:
        consumer.close()
    return seen


def events_counted(url: str) -> float:
    samples = scrape(url, "surge_events_total")
    return sum(v for _, v in samples or ())


def measure_alerts(
    base: Settings,
    paths: StackPaths,
    events: Sequence[Emitted],
    found: Sequence[Cause],
    *,
    load: float,
    fast_load: float,
    peak: float,
    lead_s: float,
    trail_s: float,
    drain_s: float,
) -> AlertResult:
    """One load: a fresh worker reads the events as they are sent; the alerts topic read back."""
    from streams.stack import processes, services

    s = fresh_run(base, f"alerts-{load:g}x-{uuid.uuid4().hex[:6]}")
    rate, fast_rate = load * peak, max(load, fast_load) * peak
    offsets = send_offsets(
        len(events),
        [c.index for c in found],
        rate=rate,
        fast_rate=fast_rate,
        lead_s=lead_s,
        trail_s=trail_s,
    )
    log.info("alert_run_started", load=load, events=len(events), planned_s=round(offsets[-1]))
    name = services.worker_name(0)
    services.start_worker(s, paths, 0)
    pid = processes.read_pid(paths, name) or -1
    url = f"http://127.0.0.1:{s.metrics_port}/metrics"
    try:
        sender = Sender(s, events, offsets, ready=lambda: events_counted(url) >= 1)
        wall0, cpu0 = time.monotonic(), cpu_seconds(pid)
        sender.start()
        last_report = time.monotonic()
        while sender.is_alive():
            sender.join(timeout=1.0)
            if not running(pid):
                raise RuntimeError(
                    f"the worker exited; its log ends:\n{processes.tail(paths.log(name))}"
                )
            if time.monotonic() - last_report >= 15:
                last_report = time.monotonic()
                log.info("alert_run_progress", sent=sender.sent, of=len(events))
        if sender.error is not None:
            raise RuntimeError(f"event producer failed: {sender.error!r}")
        cpu_share = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
        expected = {c.key for c in found}
        seen = read_alerts(s, expected, time.monotonic() + drain_s)
        rss = peak_rss_mb(pid)
    finally:
        processes.stop_service(paths, name)
    latencies = [float(seen[c.key] - sender.sent_ms[c.index]) for c in found if c.key in seen]
    log.info("alert_run_done", load=load, alerts=len(found), seen=len(latencies))
    return AlertResult(
        load,
        rate,
        fast_rate,
        len(events),
        sender.took,
        len(found),
        latencies,
        len(seen.keys() - expected),
        rss,
        cpu_share,
    )


def alert_report(results: list[AlertResult]) -> list[list[str]]:
    rows = []
    for r in results:
        lat = np.array(r.latencies_ms)
        p50, p95, p99 = np.percentile(lat, [50, 95, 99]) if lat.size else (np.nan,) * 3
        rate = f"{r.rate:.3g}" + ("" if r.fast_rate == r.rate else f" ({r.fast_rate:.3g})")
        rows.append(
            [
                f"1 worker, {r.load:g}x national peak",
                rate,
                f"{r.events:,}",
                f"{r.send_s:.0f}",
                f"{r.expected}",
                f"{r.expected - lat.size}",
                f"{r.extra}",
                f"{p50:.0f}",
                f"{p95:.0f}",
                f"{p99:.0f}",
                f"{lat.max() if lat.size else np.nan:.0f}",
                f"{100 * r.cpu_share:.0f}",
                f"{r.rss_mb:.0f}",
            ]
        )
    return rows


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


def metric_latencies(
    base: Settings, rates: Sequence[float], args: argparse.Namespace
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
                    seconds=args.seconds,
                    poll_s=args.poll_ms / 1000,
                    drain_s=args.drain,
                )
            )
        return results, peak_rss_mb(pid)
    finally:
        processes.stop_service(paths, services.worker_name(0))


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
        results, rss = metric_latencies(base, rates, args)
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
    header = ["event -> /metrics", "markers", "lost", "p50 ms", "p95 ms", "p99 ms", "max ms",
              "p95 1st/last 1/4 ms", "worker CPU %", "scrape ms", "peak RSS MB"]  # fmt: skip
    alert_header = ["event -> stream alert", "events/s", "events", "sent in s", "alerts",
                    "missing", "extra", "p50 ms", "p95 ms", "p99 ms", "max ms",
                    "worker CPU %", "peak RSS MB"]  # fmt: skip
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
    out = [table(report(results, rss, peak), header)]
    if alert_results:
        out += ["", table(alert_report(alert_results), alert_header)]
        notes += alert_notes
    sys.stdout.write("\n".join([*out, "", *notes, *context, "", command]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
