"""The live app's Faust handles on the design topics (names, partitions: contract.topics)."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.contract.settings import Settings
from streams.contract.topics import design_topics


@dataclass(frozen=True, slots=True)
class Topics:
    calls: faust.TopicT
    dispatches: faust.TopicT
    agent_states: faust.TopicT
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
        agent_states=raw(settings.topic_agent_states),
        dead_letter=raw(settings.topic_dead_letter),
        alerts=raw(settings.topic_alerts),
    )
