"""The answer-rate agent: call events in, event-time windows and KPIs out (DESIGN.md, KPIs).

Exactness under restarts and rebalances rests on three things:
- each region's state (detectors.windows) is checkpointed to a Faust table, with the offset of the
  last event it applied, once per batch and before the batch is acked; Faust flushes those writes
  before it commits the batch's offsets, so a committed offset is never ahead of the checkpoint;
- a region's events all live in one partition (keyed by region) and the table is co-partitioned
  with the topic (`use_partitioner`: the same murmur2 of the same key), so a partition moving to
  another worker moves its regions' checkpoints with it;
- events re-delivered after a crash (offset <= the checkpoint's) are skipped, and redeliveries with
  new offsets are dropped by the (call_id, event) dedup of the state.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import faust
import structlog
from faust.types import StreamT

from detectors import windows
from detectors.answer_rates import region_view
from detectors.windows import CallObs, RegionState, WindowConfig
from streams.catalogue import Catalogue
from streams.config import Settings, window_config
from streams.dead_letter import dead_letter
from streams.metrics import Metrics
from streams.records import CallEvent, InvalidEvent, parse_call_event
from streams.topics import Topics, partition_for

log = structlog.get_logger(__name__)

STATE_TABLE = "answer-rates-state"
ADOPT_INTERVAL_SECONDS = 2.0
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

    def __init__(self, table: Any, config: WindowConfig, metrics: Metrics, partitions: int) -> None:
        self.table = table
        self.config = config
        self.metrics = metrics
        self.partitions = partitions
        self.slots: dict[str, RegionSlot] = {}

    def slot(self, region: str, partition: int) -> RegionSlot:
        slot = self.slots.get(region)
        if slot is None:
            slot = self.slots[region] = self._load(region, partition)
        return slot

    def _load(self, region: str, partition: int) -> RegionSlot:
        doc = self.table.get(region)
        if doc is None:
            return RegionSlot(windows.initial(), partition, -1)
        if doc["partition"] != partition:
            # The topic was repartitioned: offsets of the old partition mean nothing here.
            log.warning("checkpoint_partition_changed", region=region, was=doc["partition"])
            return RegionSlot(windows.from_json(doc["state"]), partition, -1)
        log.info("checkpoint_restored", region=region, partition=partition, offset=doc["offset"])
        return RegionSlot(windows.from_json(doc["state"]), partition, int(doc["offset"]))

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

    def checkpoint(self, region: str) -> None:
        slot = self.slots[region]
        self.table[region] = {
            "partition": slot.partition,
            "offset": slot.offset,
            "state": windows.to_json(slot.state),
        }
        self.publish(region)

    def publish(self, region: str) -> None:
        self.metrics.regions.publish(region, region_view(self.slots[region].state, self.config))

    def adopt(self, owned: set[int], regions: Iterable[str]) -> None:
        """Show every owned region, with no new event needed: after a restart or a rebalance the
        counters continue from the checkpoint, and a silent region shows as silent, not absent."""
        for region in regions:
            partition = partition_for(region, self.partitions)
            if partition in owned and region not in self.slots:
                self.slot(region, partition)
                self.publish(region)

    def drop(self, partitions: set[int]) -> None:
        gone = [r for r, s in self.slots.items() if s.partition in partitions]
        for region in gone:
            del self.slots[region]
        self.metrics.regions.forget(gone)
        if gone:
            log.info("regions_released", regions=sorted(gone))


def register(
    app: faust.App, topics: Topics, metrics: Metrics, catalogue: Catalogue, settings: Settings
) -> AnswerRates:
    topic_name = topics.calls.get_topic_name()
    partitions = topics.calls.partitions or 8
    table = app.Table(
        STATE_TABLE,
        partitions=partitions,
        key_type=str,
        use_partitioner=True,
    )
    engine = AnswerRates(table, window_config(settings), metrics, partitions)
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
                engine.checkpoint(region)

    @app.timer(interval=ADOPT_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]  # faust stub
    async def adopt_owned_regions() -> None:
        owned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic_name}
        engine.adopt(owned, regions)

    async def release_revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        engine.drop({tp.partition for tp in revoked if tp.topic == topic_name})

    # mode's Signal type wants (*args) receivers; Faust sends the revoked set as the one argument.
    app.on_partitions_revoked.connect(release_revoked)  # type: ignore[arg-type]

    return engine
