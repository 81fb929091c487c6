"""The call-events agent: validate, dead-letter what breaks the contract, count call outcomes."""

from __future__ import annotations

import faust
from faust.types import StreamT

from streams.catalogue import Catalogue
from streams.dead_letter import dead_letter
from streams.metrics import Metrics
from streams.records import InvalidEvent, parse_call_event
from streams.topics import Topics


def register(app: faust.App, topics: Topics, metrics: Metrics, catalogue: Catalogue) -> None:
    topic_name = topics.calls.get_topic_name()

    @app.agent(topics.calls, name="answer-rates")
    async def answer_rates(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                call = parse_call_event(event.value, catalogue)
            except InvalidEvent as exc:
                await dead_letter(topics, metrics, event, exc)
                continue
            metrics.count_event(topic_name, "ok")
            metrics.count_call(call.region, call.provider, call.event)
