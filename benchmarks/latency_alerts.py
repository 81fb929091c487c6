"""Latency, part 2: event -> stream alert. How long an alert-causing event takes from its send to
the Alert record on the alerts topic (``latency.py`` runs it after part 1, ``latency_metrics.py``,
on the same stack).

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

import math
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson
import structlog

from streams.contract.kafka_security import client_kwargs
from streams.contract.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SATURDAY, cpu_seconds, fresh_run, peak_rss_mb, running, scrape, table

if TYPE_CHECKING:
    from kafka import KafkaProducer

    from detectors.region_alerts import AlertEvent
    from streams.simulate.truth import Emitted
    from streams.stack.processes import StackPaths

log = structlog.get_logger("benchmarks.latency")

FAILING = ("north-west", "west-midlands", "yorkshire", "london", "south-west", "east-of-england")
ALERT_START = SATURDAY + timedelta(hours=8)
FAILURE_AFTER = timedelta(minutes=70)  # after the alerts' hour of warm-up
RECOVERY_AFTER = timedelta(minutes=130)
ALERT_HOURS = 5  # generated; the list is cut after the last causing event

HEADER = ["event -> stream alert", "events/s", "events", "sent in s", "alerts", "missing",
          "extra", "p50 ms", "p95 ms", "p99 ms", "max ms", "worker CPU %",
          "peak RSS MB"]  # fmt: skip


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


def alerts_table(results: list[AlertResult]) -> str:
    """The event -> stream alert table: a row per load."""
    return table(alert_report(results), HEADER)
