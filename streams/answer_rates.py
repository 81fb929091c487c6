"""The answer-rate agent: call events in, event-time windows and KPIs out (DESIGN.md, KPIs).

Exactness under restarts and rebalances rests on three things:
- each region's state (detectors.windows) is checkpointed (streams.checkpoints), with the offset
  of the last event it applied, once per batch and before the batch is acked; Faust flushes those
  writes before it commits the batch's offsets, so a committed offset is never ahead of the
  checkpoint;
- a region's events all live in one partition (keyed by region) and its checkpoints are written to
  the same partition of the checkpoint topic, which a worker reads when it is given the partition,
  so a partition moving to another worker moves its regions' checkpoints with it;
- events re-delivered after a crash (offset <= the checkpoint's) are skipped, and redeliveries with
  new offsets are dropped by the (call_id, event) dedup of the state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import faust
import orjson
import structlog
from faust.types import StreamT

from detectors import windows
from detectors.answer_rates import region_view
from detectors.windows import CallObs, RegionState
from streams.catalogue import Catalogue
from streams.checkpoints import checkpoint_topic, ensure_topic, read_partition
from streams.config import Settings, window_config
from streams.dead_letter import dead_letter
from streams.metrics import Metrics
from streams.records import CallEvent, InvalidEvent, parse_call_event
from streams.topics import Topics, design_topics, partition_for

log = structlog.get_logger(__name__)

RECONCILE_INTERVAL_SECONDS = 2.0
CHECKPOINT_NAME = "answer-rates"
# windows result -> surge_events_total result (DESIGN.md: ok | invalid | late | duplicate)
_RESULT_LABEL = {
    windows.OK: "ok",
    windows.LATE: "late",
    windows.DUPLICATE: "duplicate",
    windows.TOO_LATE: "late",
}


@dataclass(slots=True)
class RegionSlot:
    state: RegionState
    partition: int
    offset: int  # last offset of `partition` applied to `state`; -1 before the first


class AnswerRates:
    """The regions this worker owns: their state, checkpoints and published views."""

    def __init__(
        self, settings: Settings, checkpoints: faust.TopicT, metrics: Metrics, partitions: int
    ) -> None:
        self.settings = settings
        self.checkpoints = checkpoints
        self.config = window_config(settings)
        self.metrics = metrics
        self.partitions = partitions
        self.slots: dict[str, RegionSlot] = {}
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
                state = windows.from_json(cast(dict[str, Any], doc["state"]))
                self.slots[region] = RegionSlot(state, partition, int(cast(int, doc["offset"])))
                self.publish(region)
                log.info(
                    "checkpoint_restored", region=region, partition=partition, offset=doc["offset"]
                )
            self.loaded.add(partition)

    def slot(self, region: str, partition: int) -> RegionSlot:
        slot = self.slots.get(region)
        if slot is None:  # no checkpoint in the partition: the region starts here
            slot = self.slots[region] = RegionSlot(windows.initial(), partition, -1)
        return slot

    def apply(self, call: CallEvent, partition: int, offset: int) -> str:
        slot = self.slot(call.region, partition)
        if offset <= slot.offset:
            return windows.DUPLICATE  # re-delivered after a restart: already in the checkpoint
        obs = CallObs(
            call.call_id, call.event, call.ts_s, call.provider, call.wait_seconds, call.disposition
        )
        result = windows.apply(slot.state, obs, self.config)
        slot.offset = offset
        return result

    async def checkpoint(self, region: str) -> None:
        slot = self.slots[region]
        doc = {
            "partition": slot.partition,
            "offset": slot.offset,
            "state": windows.to_json(slot.state),
        }
        await self.checkpoints.send(
            key=region.encode(), value=orjson.dumps(doc), partition=slot.partition
        )
        self.publish(region)

    def publish(self, region: str) -> None:
        self.metrics.regions.publish(region, region_view(self.slots[region].state, self.config))

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
        self.metrics.regions.forget(gone)
        if gone:
            log.info("regions_released", regions=sorted(gone))


def prepare(settings: Settings) -> None:
    """Before the worker starts: the checkpoint topic exists, co-partitioned with call events."""
    partitions = next(
        t.partitions for t in design_topics(settings) if t.name == settings.topic_calls
    )
    ensure_topic(settings, checkpoint_topic(settings, CHECKPOINT_NAME), partitions)


def register(
    app: faust.App, topics: Topics, metrics: Metrics, catalogue: Catalogue, settings: Settings
) -> AnswerRates:
    topic_name = topics.calls.get_topic_name()
    partitions = topics.calls.partitions or 8
    checkpoints = app.topic(
        checkpoint_topic(settings, CHECKPOINT_NAME),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=False,
    )
    engine = AnswerRates(settings, checkpoints, metrics, partitions)

    regions = catalogue.codes()

    @app.agent(topics.calls, name="answer-rates")
    async def answer_rates(stream: StreamT[bytes]) -> None:
        batches = cast(faust.Stream[bytes], stream).take_events  # StreamT's stub lacks it
        async for batch in batches(settings.batch_max_events, settings.batch_seconds):
            now = time.time()
            touched: set[str] = set()
            for event in batch:
                msg = event.message
                try:
                    call = parse_call_event(event.value, catalogue)
                except InvalidEvent as exc:
                    await dead_letter(topics, metrics, event, exc)
                    continue
                await engine.load_partition(msg.partition)
                result = engine.apply(call, msg.partition, msg.offset)
                metrics.count_event(topic_name, _RESULT_LABEL[result])
                if result == windows.TOO_LATE:
                    reason = InvalidEvent("too_late", "event time is behind the retained windows")
                    await dead_letter(topics, metrics, event, reason, count=False)
                else:
                    metrics.observe_lag(topic_name, now - call.ts_s)
                touched.add(call.region)
            # One checkpoint per touched region per batch, written before the batch is acked.
            for region in touched:
                await engine.checkpoint(region)

    @app.timer(interval=RECONCILE_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]  # stub
    async def reconcile_owned_regions() -> None:
        if app.rebalancing:  # the assignment is in flux; the next tick sees the new one
            return
        owned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic_name}
        await engine.reconcile(owned, regions)

    async def release_revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        engine.drop({tp.partition for tp in revoked if tp.topic == topic_name})

    # mode's Signal type wants (*args) receivers; Faust sends the revoked set as the one argument.
    app.on_partitions_revoked.connect(release_revoked)  # type: ignore[arg-type]

    return engine
