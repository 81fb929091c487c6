"""Per-region state for an input topic keyed by region: applied in batches, checkpointed, exact.

Exactness under restarts and rebalances rests on three things:
- each region's state is checkpointed (streams.contract.kafka_io), with the offset of the last event
  it applied, once per batch and before the batch is acked; Faust flushes those writes before it
  commits the batch's offsets, so a committed offset is never ahead of the checkpoint;
- a region's events all live in one partition (keyed by region) and its checkpoints are written to
  the same partition of the checkpoint topic, which a worker reads when it is given the partition,
  so a partition moving to another worker moves its regions' checkpoints with it;
- events re-delivered after a crash (offset <= the checkpoint's) are skipped, and redeliveries with
  new offsets are dropped by the state's own dedup (detectors).

The arithmetic is the detectors'; this module only holds, stores and publishes their state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast

import faust
import orjson
import structlog
from faust.types import StreamT

from streams.contract.kafka_io import ensure_topic, read_partition
from streams.contract.records import InvalidEvent
from streams.contract.settings import Settings
from streams.contract.topics import checkpoint_topic, design_topics, partition_for
from streams.live.dead_letter import dead_letter
from streams.live.faust_topics import Topics
from streams.live.metrics import Metrics

log = structlog.get_logger(__name__)

RECONCILE_INTERVAL_SECONDS = 2.0
# detectors' result codes -> surge_events_total result (DESIGN.md: ok | invalid | late | duplicate)
RESULT_LABEL = {"ok": "ok", "late": "late", "duplicate": "duplicate", "too_late": "late"}

S = TypeVar("S")
V = TypeVar("V")
E = TypeVar("E")
E_contra = TypeVar("E_contra", contravariant=True)
V_co = TypeVar("V_co", covariant=True)
V_contra = TypeVar("V_contra", contravariant=True)


class StateOps(Protocol[S, E_contra, V_co]):
    """What a detector offers the engine: pure functions over one region's state."""

    def initial(self, region: str) -> S: ...
    def apply(self, state: S, event: E_contra) -> str: ...  # ok | late | duplicate | too_late
    def to_json(self, state: S) -> dict[str, Any]: ...
    def from_json(self, doc: dict[str, Any]) -> S: ...
    def view(self, region: str, state: S) -> V_co: ...
    # Once per batch per touched region: (output name, record) pairs to publish.
    def settle(self, region: str, state: S) -> list[tuple[str, bytes]]: ...
    def event_time(self, event: E_contra) -> float: ...
    def region(self, event: E_contra) -> str: ...


class Publisher(Protocol[V_contra]):
    def publish(self, region: str, view: V_contra) -> None: ...
    def forget(self, regions: Iterable[str]) -> None: ...


@dataclass(slots=True)
class RegionSlot(Generic[S]):
    state: S
    partition: int
    offset: int  # last offset of `partition` applied to `state`; -1 before the first


class RegionEngine(Generic[S, E, V]):
    """The regions this worker owns for one input topic: state, checkpoints, published views."""

    def __init__(
        self,
        settings: Settings,
        ops: StateOps[S, E, V],
        checkpoints: faust.TopicT,
        publisher: Publisher[V],
        partitions: int,
    ) -> None:
        self.settings = settings
        self.ops = ops
        self.checkpoints = checkpoints
        self.publisher = publisher
        self.partitions = partitions
        self.slots: dict[str, RegionSlot[S]] = {}
        self.loaded: set[int] = set()  # partitions whose checkpoints were read since assignment
        self._loading = asyncio.Lock()

    async def load_partition(self, partition: int) -> None:
        """Read a newly owned partition's checkpoints once; its regions resume from them."""
        if partition in self.loaded:
            return
        async with self._loading:  # the agent and the reconcile timer may both ask at once
            if partition in self.loaded:
                return
            topic = self.checkpoints.get_topic_name()
            docs = await asyncio.to_thread(read_partition, self.settings, topic, partition)
            for region, doc in docs.items():
                state = self.ops.from_json(cast(dict[str, Any], doc["state"]))
                self.slots[region] = RegionSlot(state, partition, int(cast(int, doc["offset"])))
                self.publish(region)
                log.info("checkpoint_restored", topic=topic, region=region, offset=doc["offset"])
            self.loaded.add(partition)

    def slot(self, region: str, partition: int) -> RegionSlot[S]:
        slot = self.slots.get(region)
        if slot is None:  # no checkpoint in the partition: the region starts here
            slot = self.slots[region] = RegionSlot(self.ops.initial(region), partition, -1)
        return slot

    def apply(self, event: E, partition: int, offset: int) -> str:
        slot = self.slot(self.ops.region(event), partition)
        if offset <= slot.offset:
            return "duplicate"  # re-delivered after a restart: already in the checkpoint
        result = self.ops.apply(slot.state, event)
        slot.offset = offset
        return result

    async def checkpoint(self, region: str) -> None:
        slot = self.slots[region]
        doc = {
            "partition": slot.partition,
            "offset": slot.offset,
            "state": self.ops.to_json(slot.state),
        }
        await self.checkpoints.send(
            key=region.encode(), value=orjson.dumps(doc), partition=slot.partition
        )
        self.publish(region)

    def publish(self, region: str) -> None:
        self.publisher.publish(region, self.ops.view(region, self.slots[region].state))

    async def reconcile(self, owned: set[int], regions: Iterable[str]) -> None:
        """Export exactly the regions of the owned partitions, with no new event needed: after a
        restart or a rebalance the counters continue from the checkpoint, a silent region shows as
        silent (not absent), and a region another worker took is no longer shown here."""
        self.drop(self.loaded - owned)
        for region in regions:
            partition = partition_for(region, self.partitions)
            if partition in owned:
                await self.load_partition(partition)
                if region not in self.slots:
                    self.slot(region, partition)
                    self.publish(region)

    def drop(self, partitions: set[int]) -> None:
        gone = [r for r, s in self.slots.items() if s.partition in partitions]
        for region in gone:
            del self.slots[region]
        self.loaded -= partitions
        self.publisher.forget(gone)
        if gone:
            log.info("regions_released", topic=self.checkpoints.get_topic_name(), regions=gone)


def prepare_checkpoints(settings: Settings, name: str, source_topic: str) -> None:
    """Before the worker starts: the checkpoint topic exists, co-partitioned with its source."""
    partitions = next(t.partitions for t in design_topics(settings) if t.name == source_topic)
    ensure_topic(settings, checkpoint_topic(settings, name), partitions)


def register_region_agent(
    app: faust.App,
    *,
    name: str,
    source: faust.TopicT,
    settings: Settings,
    ops: StateOps[S, E, V],
    publisher: Publisher[V],
    parse: Callable[[bytes | None], E],
    topics: Topics,
    metrics: Metrics,
    regions: Iterable[str],
    outputs: Mapping[str, faust.TopicT] | None = None,
) -> RegionEngine[S, E, V]:
    """An agent on `source` that applies each valid event to its region's state, dead-letters the
    invalid and the too-late, and checkpoints once per batch; plus ownership bookkeeping."""
    topic_name = source.get_topic_name()
    partitions = source.partitions or 8
    checkpoints = app.topic(
        checkpoint_topic(settings, name),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    engine = RegionEngine(settings, ops, checkpoints, publisher, partitions)
    codes = tuple(regions)

    @app.agent(source, name=name)
    async def region_agent(stream: StreamT[bytes]) -> None:
        batches = cast(faust.Stream[bytes], stream).take_events  # StreamT's stub lacks it
        async for batch in batches(settings.batch_max_events, settings.batch_seconds):
            now = time.time()
            touched: set[str] = set()
            for event in batch:
                msg = event.message
                try:
                    parsed = parse(event.value)
                except InvalidEvent as exc:
                    await dead_letter(topics, metrics, event, exc)
                    continue
                await engine.load_partition(msg.partition)
                result = engine.apply(parsed, msg.partition, msg.offset)
                metrics.count_event(topic_name, RESULT_LABEL[result])
                if result == "too_late":
                    reason = InvalidEvent("too_late", "event time is behind the retained windows")
                    await dead_letter(topics, metrics, event, reason, count=False)
                else:
                    metrics.observe_lag(topic_name, now - ops.event_time(parsed))
                touched.add(ops.region(parsed))
            # Per touched region: its outputs (in-stream alerts), then one checkpoint, both sent
            # before the batch is acked; a crash in between re-sends outputs with the same ids.
            for region in touched:
                for output, record in ops.settle(region, engine.slots[region].state):
                    await (outputs or {})[output].send(key=region.encode(), value=record)
                await engine.checkpoint(region)

    @app.timer(interval=RECONCILE_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]  # stub
    async def reconcile_owned_regions() -> None:
        if app.rebalancing:  # the assignment is in flux; the next tick sees the new one
            return
        owned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic_name}
        await engine.reconcile(owned, codes)

    async def release_revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        engine.drop({tp.partition for tp in revoked if tp.topic == topic_name})

    # mode's Signal type wants (*args) receivers; Faust sends the revoked set as the one argument.
    app.on_partitions_revoked.connect(release_revoked)  # type: ignore[arg-type]
    return engine
