"""The topics of the design with their partition counts, for Faust and for the admin."""

from __future__ import annotations

from dataclasses import dataclass

from kafka.partitioner.default import murmur2

from streams.contract.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False  # cleanup.policy=compact: the latest record per key is what counts


def design_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of ../shared/DESIGN.md (section Topics), named as configured."""
    return [
        TopicSpec(settings.topic_calls, 8),
        TopicSpec(settings.topic_dispatches, 8),
        TopicSpec(settings.topic_alerts, 4),
        TopicSpec(settings.topic_overflow, 4),
        TopicSpec(settings.topic_dead_letter, 4),
        # Co-partitioned with the call events: a region's agents and calls on the same worker.
        TopicSpec(settings.topic_agent_states, 8),
        TopicSpec(settings.topic_rota, 1, compacted=True),
    ]


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as in aiokafka, kafka-python and the
    Java client) gives a key: where a region's events, and so its state, live."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def checkpoint_topic(settings: Settings, name: str) -> str:
    return f"{settings.app_id}-{name}-checkpoints"


def status_topic(settings: Settings) -> str:
    """Compacted, one partition: the latest figures of every region in one place, whichever
    worker owns the region, for the overflow policy that decides across regions."""
    return f"{settings.app_id}-region-status"
