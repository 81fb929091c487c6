"""The overflow agent's Faust side: its input, checkpoint and command topics, the one-owner
policy load, and `surge_overflow_active` (the policy, its durability: streams.overflow.policy)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, cast

import faust
import orjson
import structlog
from faust.types import StreamT
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detectors.overflow_records import PolicyParams
from streams.contract.catalogue import Catalogue
from streams.contract.kafka_io import ensure_topic, read_partition
from streams.contract.settings import Settings
from streams.contract.topics import checkpoint_topic, design_topics, status_topic
from streams.overflow.policy import Policy
from streams.overflow.requests import OverflowRequestError, parse_request, requests_topic

log = structlog.get_logger(__name__)


CHECKPOINT_NAME: Final = "overflow"


CHECKPOINT_KEY: Final = b"policy"


BATCH_MAX_RECORDS: Final = 500  # inputs per checkpoint


BATCH_SECONDS: Final = 0.5


class OverflowCollector(Collector):
    """surge_overflow_active{region,target}, exported only by the worker that owns the policy;
    the snapshot is replaced whole, so a scrape never sees half an update."""

    def __init__(self) -> None:
        self._active: dict[tuple[str, str], float] = {}

    def publish(self, active: dict[tuple[str, str], float]) -> None:
        self._active = dict(active)

    def forget(self) -> None:
        self._active = {}

    def describe(self) -> list[Metric]:
        return []  # the label sets follow ownership

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "surge_overflow_active",
            "1 while the region diverts a share of its new calls to the target, else 0.",
            labels=["region", "target"],
        )
        for (region, target), value in sorted(self._active.items()):
            family.add_metric([region, target], value)
        yield family


def prepare(settings: Settings) -> None:
    """Before the worker starts: the policy's inputs and its checkpoint topic exist."""
    ensure_topic(settings, status_topic(settings), 1)
    ensure_topic(settings, requests_topic(settings), 1)
    ensure_topic(settings, checkpoint_topic(settings, CHECKPOINT_NAME), 1)


def _raw_topic(app: faust.App, *names: str, partitions: int) -> faust.TopicT:
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


@dataclass(slots=True)
class _Owner:
    """The policy while this worker owns it: loaded from the checkpoint at first use."""

    policy: Policy | None = None
    loading: asyncio.Lock = field(default_factory=asyncio.Lock)


def register(
    app: faust.App,
    registry: CollectorRegistry,
    catalogue: Catalogue,
    settings: Settings,
    params: PolicyParams | None = None,
) -> OverflowCollector:
    """The overflow agent on the status and requests topics, and its gauge on `registry`."""
    status_name, requests_name = status_topic(settings), requests_topic(settings)
    source = _raw_topic(app, status_name, requests_name, partitions=1)
    checkpoints = _raw_topic(app, checkpoint_topic(settings, CHECKPOINT_NAME), partitions=1)
    overflow_partitions = next(
        t.partitions for t in design_topics(settings) if t.name == settings.topic_overflow
    )
    commands = _raw_topic(app, settings.topic_overflow, partitions=overflow_partitions)
    neighbours = {r.code: r.neighbours for r in catalogue.regions}
    collector = OverflowCollector()
    registry.register(collector)
    owner = _Owner()

    async def load() -> Policy:
        async with owner.loading:
            if owner.policy is None:
                topic = checkpoints.get_topic_name()
                docs = await asyncio.to_thread(read_partition, settings, topic, 0)
                loaded = Policy(neighbours, params or PolicyParams())
                doc = docs.get(CHECKPOINT_KEY.decode())
                if doc is not None:
                    loaded.restore(doc)
                    log.info("overflow_policy_restored", now_s=loaded.now_s, offsets=loaded.offsets)
                owner.policy = loaded
                collector.publish(loaded.active())
            return owner.policy

    @app.agent(source, name="overflow")
    async def overflow_agent(stream: StreamT[bytes]) -> None:
        batches = cast(faust.Stream[bytes], stream).take_events  # StreamT's stub lacks it
        async for batch in batches(BATCH_MAX_RECORDS, BATCH_SECONDS):
            pol = await load()
            for event in batch:
                msg = event.message
                if msg.offset <= pol.offsets.get(msg.topic, -1):
                    continue  # re-delivered after a restart: already in the checkpoint
                records = _apply(pol, msg.topic, event.value, requests_name, catalogue)
                pol.offsets[msg.topic] = msg.offset
                for record in records:
                    await commands.send(key=record["region"].encode(), value=orjson.dumps(record))
            # One checkpoint per batch, sent before the batch is acked (see Durability).
            await checkpoints.send(key=CHECKPOINT_KEY, value=orjson.dumps(pol.to_json()))
            collector.publish(pol.active())

    async def release_revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        if any(tp.topic == status_name for tp in revoked):
            owner.policy = None
            collector.forget()

    # mode's Signal type wants (*args) receivers; Faust sends the revoked set as the one argument.
    app.on_partitions_revoked.connect(release_revoked)  # type: ignore[arg-type]
    return collector


def _apply(
    pol: Policy, topic: str, raw: bytes | None, requests_name: str, catalogue: Catalogue
) -> list[dict[str, Any]]:
    """One input record; a malformed one is logged and skipped (it cannot be fixed by retrying)."""
    try:
        doc = orjson.loads(raw or b"null")
        if not isinstance(doc, dict):
            raise OverflowRequestError("record is not a JSON object")
        if topic == requests_name:
            return pol.on_request(parse_request(doc, catalogue))
        return pol.on_status(doc)
    except (orjson.JSONDecodeError, OverflowRequestError, KeyError, TypeError, ValueError) as exc:
        log.warning("overflow_input_rejected", topic=topic, error=str(exc))
        return []
