"""Kafka I/O shared by the features: topic creation, checkpoints and whole-topic reads.

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
from typing import Any

import orjson
import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.contract.errors import ConfigError, StackError
from streams.contract.kafka_security import client_kwargs, explained
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
    with explained(settings):
        consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            enable_auto_commit=False,
            **client_kwargs(settings),
        )
    out: list[dict[str, Any]] = []
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
                out.extend(orjson.loads(r.value) for r in records if r.value is not None)
    finally:
        consumer.close()
    return out
