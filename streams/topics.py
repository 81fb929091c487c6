"""The topics of the design with their partition counts, for Faust and for the admin."""

from __future__ import annotations

from dataclasses import dataclass

import faust
from kafka.partitioner.default import murmur2

from streams.config import Settings


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int


def design_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of ../shared/DESIGN.md (section Topics), named as configured."""
    return [
        TopicSpec(settings.topic_calls, 8),
        TopicSpec(settings.topic_dispatches, 8),
        TopicSpec(settings.topic_alerts, 4),
        TopicSpec(settings.topic_overflow, 4),
        TopicSpec(settings.topic_dead_letter, 4),
    ]


@dataclass(frozen=True, slots=True)
class Topics:
    calls: faust.TopicT
    dispatches: faust.TopicT
    dead_letter: faust.TopicT
    alerts: faust.TopicT


def faust_topics(app: faust.App, settings: Settings) -> Topics:
    """Input topics as raw bytes: validation (records.py) must see the original payload."""
    partitions = {t.name: t.partitions for t in design_topics(settings)}

    def raw(name: str) -> faust.TopicT:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions[name],
        )

    return Topics(
        calls=raw(settings.topic_calls),
        dispatches=raw(settings.topic_dispatches),
        dead_letter=raw(settings.topic_dead_letter),
        alerts=raw(settings.topic_alerts),
    )


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as in aiokafka, kafka-python and the
    Java client) gives a key: where a region's events, and so its state, live."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions
