"""Invalid events go to the dead-letter topic with the reason: bad input never stops an agent."""

from __future__ import annotations

import structlog
from faust.types import EventT

from streams.contract.records import InvalidEvent
from streams.live.faust_topics import Topics
from streams.live.metrics import Metrics

log = structlog.get_logger(__name__)


async def dead_letter(
    topics: Topics, metrics: Metrics, event: EventT[bytes], error: InvalidEvent, count: bool = True
) -> None:
    """Publish the original key and bytes with `reason`/`detail` headers and count it as invalid.

    The send is awaited before the agent moves on, so the source offset is not committed ahead of
    the dead-letter write: a crash in between re-delivers the event rather than losing it.
    """
    msg = event.message
    await topics.dead_letter.send(
        key=event.key,
        value=event.value,
        headers=[
            ("reason", error.reason.encode()),
            ("detail", error.detail.encode("utf-8", "replace")[:500]),
            ("source_topic", msg.topic.encode()),
            ("source_partition", str(msg.partition).encode()),
            ("source_offset", str(msg.offset).encode()),
        ],
    )
    if count:  # too-late events are counted as `late` by the agent, not as invalid
        metrics.count_event(msg.topic, "invalid")
    log.warning(
        "event_dead_lettered",
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        reason=error.reason,
        detail=error.detail,
    )
