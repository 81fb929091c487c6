"""Playing generated events: into Kafka at a chosen speed, to a JSON-lines file, and the truth CSV.

The clock and the sleep are injected so pacing is testable; speed 0 sends as fast as it can.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import orjson
import structlog
from kafka import KafkaProducer

from streams.contract.kafka_security import client_kwargs, explained
from streams.contract.rota import ROTA_COLUMNS
from streams.contract.settings import Settings
from streams.simulate.truth import Emitted, GroundTruth

log = structlog.get_logger(__name__)

PROGRESS_EVERY_SECONDS = 5.0


def topic_for(settings: Settings, logical: str) -> str:
    return {
        "calls": settings.topic_calls,
        "dispatches": settings.topic_dispatches,
        "agent-states": settings.topic_agent_states,
    }[logical]


def encode(event: Emitted) -> bytes:
    return orjson.dumps(event.event.to_json())


def produce(
    events: Sequence[Emitted],
    settings: Settings,
    speed: float = 0.0,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send `events` keyed by region; with speed > 0 event time runs `speed` x the wall clock."""
    with explained(settings):
        producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            acks="all",
            linger_ms=20,
            retries=10,
            **client_kwargs(settings),
        )
    sent = 0
    try:
        if not events:
            return 0
        wall0, ts0 = now(), events[0].ts_s
        last_report = wall0
        for event in events:
            if speed > 0:
                delay = wall0 + (event.ts_s - ts0) / speed - now()
                if delay > 0:
                    sleep(delay)
            producer.send(
                topic_for(settings, event.topic), key=event.key.encode(), value=encode(event)
            )
            sent += 1
            if now() - last_report >= PROGRESS_EVERY_SECONDS:
                last_report = now()
                log.info("simulate_progress", sent=sent, of=len(events), event_ts=event.ts_s)
        producer.flush()
    finally:
        producer.close()
    log.info("simulate_done", sent=sent)
    return sent


def write_jsonl(events: Iterable[Emitted], path: Path) -> int:
    """One line per event: {"topic": "calls"|..., "key": region, "value": {...}}."""
    n = 0
    with path.open("wb") as f:
        for e in events:
            f.write(orjson.dumps({"topic": e.topic, "key": e.key, "value": e.event.to_json()}))
            f.write(b"\n")
            n += 1
    return n


def write_rota(rows: Sequence[dict[str, object]], path: Path) -> None:
    """RotaInterval rows as the CSV `surge-monitor rota publish` reads."""
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, list(ROTA_COLUMNS))
        w.writeheader()
        w.writerows(rows)


def write_truth(truth: GroundTruth, path: Path) -> None:
    rows = truth.to_rows()
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["region", "provider", "minute", "name", "count"])
        writer.writeheader()
        writer.writerows(rows)
