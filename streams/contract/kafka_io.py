"""Kafka I/O shared by the features: topic creation, checkpoints, whole-topic reads and the rota.

Region checkpoints live in a compacted Kafka topic, co-partitioned with the call-events topic.

Why not a Faust table: a region's checkpoint must land in the partition of its events and be read
back whole when that partition is assigned; here both are explicit (the producer names the
partition; the reader reads the partition to its end) instead of resting on the table store's
rebalance bookkeeping. Durability comes from Kafka and ordering from Faust: a checkpoint is sent
through the app's producer before the batch it covers is acked, and Faust flushes the producer
before it commits offsets, so a committed offset is never ahead of the checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
import structlog
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from streams.contract.catalogue import Catalogue
from streams.contract.errors import ConfigError, StackError
from streams.contract.kafka_security import client_kwargs, explained
from streams.contract.records import InvalidEvent
from streams.contract.rota import RotaInterval, decode_rota, encode_rota
from streams.contract.settings import Settings

log = structlog.get_logger(__name__)

READ_TIMEOUT_SECONDS = 60.0


def ensure_topic(settings: Settings, topic: str, partitions: int) -> None:
    """Create the compacted checkpoint topic if missing; refuse one with the wrong partitions."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **client_kwargs(settings)
    )
    try:
        if topic not in admin.list_topics():
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            topic,
                            partitions,
                            1,
                            topic_configs={
                                "cleanup.policy": "compact",
                                "segment.ms": "600000",  # let compaction reach old snapshots
                            },
                        )
                    ]
                )
                log.info("checkpoint_topic_created", topic=topic, partitions=partitions)
            except TopicAlreadyExistsError:
                pass  # another worker created it first
        # A new topic's metadata reaches every broker a moment after creation.
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        existing = admin.describe_topics([topic])[0]["partitions"]
        while not existing and time.monotonic() < deadline:
            time.sleep(0.1)
            existing = admin.describe_topics([topic])[0]["partitions"]
    finally:
        admin.close()
    if len(existing) != partitions:
        raise ConfigError(
            f"checkpoint topic {topic} has {len(existing)} partitions, the call-events topic has "
            f"{partitions}; they must match (delete it to rebuild from a replay)"
        )


def read_partition(settings: Settings, topic: str, partition: int) -> dict[str, dict[str, object]]:
    """The newest checkpoint of each region in one partition, reading it to its current end."""
    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
        **client_kwargs(settings),
    )
    latest: dict[str, dict[str, object]] = {}
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading checkpoints {topic}[{partition}] took too long")
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.key is not None and record.value is not None:
                        latest[record.key.decode()] = orjson.loads(record.value)
    finally:
        consumer.close()
    return latest


def read_topic(settings: Settings, topic: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Every JSON record of `topic` from its start, partition by partition (a region's records
    are in order): the overflow commands for `overflow status` and the scorecard."""
    records = read_records(settings, topic, timeout_s)
    return [orjson.loads(r.value) for r in records if r.value is not None]


def read_records(
    settings: Settings,
    topic: str,
    timeout_s: float = 10.0,
    bootstrap_timeout_s: float | None = None,
) -> list[ConsumerRecord]:
    """Every record of `topic` (key, value and offset; tombstones included) from its start to its
    current end, partition by partition. An absent topic has no records.
    `bootstrap_timeout_s`: how long to wait for the broker (None: kafka-python's 30 s)."""
    extra: dict[str, Any] = {}
    if bootstrap_timeout_s is not None:
        extra["bootstrap_timeout_ms"] = int(bootstrap_timeout_s * 1000)
    with explained(settings):
        consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            enable_auto_commit=False,
            **extra,
            **client_kwargs(settings),
        )
    out: list[ConsumerRecord] = []
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise StackError(f"reading {topic} took over {timeout_s} s")
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
    finally:
        consumer.close()
    return out


def read_rota(
    settings: Settings,
    catalogue: Catalogue,
    timeout_s: float = 10.0,
    bootstrap_timeout_s: float | None = None,
) -> dict[str, RotaInterval]:
    """The latest RotaInterval per key of the whole compacted rota topic (DESIGN.md, Topics), in
    the order the keys were first seen; workers call it at start-up and then now and then.

    A tombstone (a key with no value) deletes its key. A record that does not decode, or whose
    value belongs to another key than its Kafka key, is skipped with a `rota_record_skipped`
    warning naming the key: the key keeps its previous valid interval, if it had one, and one
    bad record never stops a worker from reading the rest of the plan.
    """
    latest: dict[str, RotaInterval] = {}
    topic = settings.topic_rota
    for record in read_records(settings, topic, timeout_s, bootstrap_timeout_s):
        where = {"topic": topic, "partition": record.partition, "offset": record.offset}
        if record.key is None:
            log.warning("rota_record_skipped", key=None, reason="no_key", **where)
            continue
        key = bytes(record.key).decode("utf-8", errors="replace")
        if record.value is None:
            latest.pop(key, None)
            continue
        try:
            interval = decode_rota(record.value, catalogue)
        except InvalidEvent as exc:
            log.warning(
                "rota_record_skipped", key=key, reason=exc.reason, detail=exc.detail, **where
            )
            continue
        if interval.key != key:
            log.warning(
                "rota_record_skipped",
                key=key,
                reason="key_mismatch",
                detail=f"the value is the interval {interval.key}",
                **where,
            )
            continue
        latest[key] = interval
    return latest


def publish_rota(
    settings: Settings, intervals: Sequence[RotaInterval], timeout_s: float = 30.0
) -> int:
    """Produce each interval keyed by its key to the rota topic (acks=all) and wait for every
    acknowledgement; returns how many were sent. `timeout_s` bounds the wait for the broker, for
    the topic's metadata and for the acknowledgements, each.

    Raises StackError when the broker or the topic is missing or a send fails; re-running is
    harmless then, since the topic is compacted by key and a re-sent interval replaces itself.
    """
    topic = settings.topic_rota
    timeout_ms = int(timeout_s * 1000)
    try:
        with explained(settings):
            producer = KafkaProducer(
                bootstrap_servers=settings.bootstrap_servers,
                acks="all",
                bootstrap_timeout_ms=timeout_ms,
                max_block_ms=timeout_ms,
                **client_kwargs(settings),
            )
    except StackError:
        raise  # already says why
    except Exception as exc:  # kafka-python raises several kinds when the broker is absent
        raise StackError(
            f"cannot reach Kafka at {settings.bootstrap_servers} ({exc}); is the stack up?"
        ) from exc
    try:
        try:
            producer.partitions_for(topic)
        except KafkaTimeoutError:
            raise StackError(
                f"topic {topic} not found on {settings.bootstrap_servers} within {timeout_s} s: "
                "create it compacted with one partition (`surge-monitor stack up` creates the "
                "design's topics; in production the deploy manifests do), or check "
                "SURGE_TOPIC_ROTA"
            ) from None
        futures = [
            producer.send(topic, key=i.key.encode(), value=encode_rota(i)) for i in intervals
        ]
        producer.flush(timeout=timeout_s)
        for future in futures:
            future.get(timeout=timeout_s)
    except KafkaError as exc:
        raise StackError(
            f"publishing the rota to {topic} failed ({exc}); publish the file again once Kafka "
            "is back (intervals are keyed, so those already sent are replaced, not doubled)"
        ) from exc
    finally:
        producer.close()
    return len(futures)
