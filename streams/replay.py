"""Replay and backtest: the live path's detectors over an event file or a topic range, offline.

The replay does what a worker does to each region's events, with the same objects
(streams.answer_rates.AnswerRateOps, streams.dispatches.DispatchOps) and so the same detectors/
code: validation, event-time windows, the per-minute steps of the referral detector and of the
alert machines. Because the live path steps its detectors on each newly closed minute inside
`apply` (not once per batch), the alert episodes depend only on each region's event sequence, and
a replay of the same events gives the same episodes at the same event times, at any speed.

What it adds: each (region, provider, minute)'s final counts (`on_minute`, for the scorecard),
each closed minute's region figures (`on_view`), and a progress bar. Invalid events are counted by
reason, as the live path dead-letters them.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Never, TypeVar

import orjson
import structlog
from kafka import KafkaConsumer, TopicPartition
from tqdm import tqdm

from detectors.answer_rates import RegionView
from detectors.dispatches import DispatchState, DispatchView
from detectors.region_alerts import AlertEvent
from detectors.windows import Bucket
from streams.alert_rules import THRESHOLDS, Thresholds
from streams.alerting import alert_specs
from streams.answer_rates import AnswerRateOps, AnswerState, load_baselines
from streams.catalogue import Catalogue
from streams.config import Settings, window_config
from streams.dispatches import DispatchOps
from streams.kafka_security import client_kwargs
from streams.records import (
    MAX_EVENT_BYTES,
    InvalidEvent,
    parse_call_event,
    parse_dispatch_event,
    validate_call,
    validate_dispatch,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")
CALLS = "calls"
DISPATCHES = "dispatches"


@dataclass(frozen=True, slots=True)
class MinuteRow:
    """One provider's final counts for one minute of one region (late events included)."""

    region: str
    provider: str
    minute: int  # epoch seconds of the minute's start (UTC)
    bucket: Bucket


@dataclass(slots=True)
class ReplayResult:
    alerts: list[AlertEvent] = field(default_factory=list)  # in emission order
    views: dict[str, RegionView] = field(default_factory=dict)  # final view per region
    dispatches: dict[str, DispatchView] = field(default_factory=dict)
    # ok, late, duplicate, too_late (as the live path's results) and invalid:<reason>
    counts: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Replayer:
    """The replay's state: one AnswerState and DispatchState per region, fed one event at a time."""

    settings: Settings
    catalogue: Catalogue
    thresholds: Thresholds = THRESHOLDS
    on_minute: Callable[[MinuteRow], None] | None = None
    on_view: Callable[[str, RegionView], None] | None = None
    calls: dict[str, AnswerState] = field(default_factory=dict)
    dispatch_states: dict[str, DispatchState] = field(default_factory=dict)
    result: ReplayResult = field(default_factory=ReplayResult)
    ops: AnswerRateOps = field(init=False)
    dispatch_ops: DispatchOps = field(init=False)

    def __post_init__(self) -> None:
        self.ops = AnswerRateOps(
            window_config(self.settings),
            alert_specs(self.thresholds),
            load_baselines(self.settings),
            observe=self.on_view,
        )
        self.dispatch_ops = DispatchOps(
            self.settings.grace_seconds, self.settings.dedup_minutes * 60.0
        )

    def call(self, doc: object | bytes) -> None:
        """One call event: a decoded document (file) or raw bytes (topic)."""
        event = self._valid(doc, parse_call_event, validate_call)
        if event is None:
            return
        state = self.calls.get(event.region)
        if state is None:
            state = self.calls[event.region] = self.ops.initial(event.region)
            if self.on_minute is not None:
                state.windows.evicted = []
        self.result.counts[self.ops.apply(state, event)] += 1
        if state.pending:
            self.result.alerts.extend(self.ops.drain(state))
        evicted = state.windows.evicted
        if evicted:
            self._emit_minutes(event.region, evicted)
            evicted.clear()

    def dispatch(self, doc: object | bytes) -> None:
        event = self._valid(doc, parse_dispatch_event, validate_dispatch)
        if event is None:
            return
        state = self.dispatch_states.get(event.region)
        if state is None:
            state = self.dispatch_states[event.region] = self.dispatch_ops.initial(event.region)
        self.result.counts["dispatch:" + self.dispatch_ops.apply(state, event)] += 1

    def _valid(
        self,
        doc: object | bytes,
        parse: Callable[[bytes | None, Catalogue], T],
        validate: Callable[[dict[str, object], Catalogue], T],
    ) -> T | None:
        """The event, or None (counted by reason) if it breaks the contract, as live would."""
        try:
            if isinstance(doc, bytes):
                return parse(doc, self.catalogue)
            return validate(_object(doc), self.catalogue)
        except InvalidEvent as exc:
            self.result.counts[f"invalid:{exc.reason}"] += 1
            return None

    def line(self, raw: bytes) -> None:
        """One JSONL line: {"topic": "calls"|"dispatches", "key": ..., "value": {...}} as
        `surge-monitor simulate --out` writes, or a bare call or dispatch event."""
        if len(raw) > MAX_EVENT_BYTES + 256:
            self.result.counts["invalid:too_large"] += 1
            return
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.result.counts["invalid:bad_json"] += 1
            return
        if isinstance(doc, dict) and "value" in doc and "topic" in doc:
            topic, doc = doc["topic"], doc["value"]
        else:
            topic = DISPATCHES if isinstance(doc, dict) and "incident_id" in doc else CALLS
        if topic == DISPATCHES:
            self.dispatch(doc)
        else:
            self.call(doc)

    def finish(self) -> ReplayResult:
        """The final views, and the minutes still retained handed to `on_minute`."""
        for region, state in sorted(self.calls.items()):
            self.result.alerts.extend(self.ops.drain(state))
            self.result.views[region] = self.ops.view(state)
            if self.on_minute is not None:
                rest = sorted(state.windows.buckets.items(), key=lambda kv: (kv[0][1], kv[0][0]))
                self._emit_minutes(region, [(p, m, b) for (p, m), b in rest])
        for region, dstate in sorted(self.dispatch_states.items()):
            self.result.dispatches[region] = self.dispatch_ops.view(dstate)
        return self.result

    def _emit_minutes(self, region: str, rows: Iterable[tuple[str, int, Bucket]]) -> None:
        assert self.on_minute is not None
        for provider, minute, bucket in rows:
            self.on_minute(MinuteRow(region, provider, minute, bucket))


def _object(doc: object) -> dict[str, object]:
    if not isinstance(doc, dict):
        raise InvalidEvent("not_object", f"expected a JSON object, got {type(doc).__name__}")
    return doc


def replay_lines(
    lines: Iterable[bytes],
    settings: Settings,
    catalogue: Catalogue,
    *,
    thresholds: Thresholds = THRESHOLDS,
    on_minute: Callable[[MinuteRow], None] | None = None,
    on_view: Callable[[str, RegionView], None] | None = None,
) -> ReplayResult:
    replayer = Replayer(settings, catalogue, thresholds, on_minute, on_view)
    for raw in lines:
        if raw.strip():
            replayer.line(raw)
    return replayer.finish()


def replay_file(
    path: Path,
    settings: Settings,
    catalogue: Catalogue,
    *,
    thresholds: Thresholds = THRESHOLDS,
    on_minute: Callable[[MinuteRow], None] | None = None,
    on_view: Callable[[str, RegionView], None] | None = None,
    progress: bool = False,
) -> ReplayResult:
    size = path.stat().st_size
    with path.open("rb") as f, _bar(progress, size, "bytes") as bar:

        def lines() -> Iterator[bytes]:
            for raw in f:
                bar.update(len(raw))
                yield raw

        result = replay_lines(
            lines(),
            settings,
            catalogue,
            thresholds=thresholds,
            on_minute=on_minute,
            on_view=on_view,
        )
    log.info("replay_done", path=str(path), **dict(sorted(result.counts.items())))
    return result


def replay_topic(
    settings: Settings,
    catalogue: Catalogue,
    topic: str,
    start_s: float | None = None,
    end_s: float | None = None,
    *,
    thresholds: Thresholds = THRESHOLDS,
    on_minute: Callable[[MinuteRow], None] | None = None,
    on_view: Callable[[str, RegionView], None] | None = None,
    progress: bool = False,
) -> ReplayResult:
    """A topic's messages, partition by partition up to the end offsets seen at the start, with
    Kafka timestamps in [start_s, end_s) (the broker's index: the time each event was produced).
    A region lives in one partition, so its events replay in the order the worker saw them."""
    replayer = Replayer(settings, catalogue, thresholds, on_minute, on_view)
    is_dispatch = topic == settings.topic_dispatches
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
        **client_kwargs(settings),
    )
    try:
        parts = sorted(consumer.partitions_for_topic(topic) or ())
        if not parts:
            raise SystemExit(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in parts]
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        if start_s is not None:
            found = consumer.offsets_for_times({tp: int(start_s * 1000) for tp in tps})
            starts = {tp: (ends[tp] if found[tp] is None else found[tp].offset) for tp in tps}
        total = sum(ends[tp] - starts[tp] for tp in tps)
        with _bar(progress, total, "events") as bar:
            for tp in tps:
                consumer.assign([tp])
                consumer.seek(tp, starts[tp])
                position = starts[tp]
                while position < ends[tp]:
                    batch = consumer.poll(timeout_ms=1000).get(tp, [])
                    for msg in batch:
                        if msg.offset >= ends[tp]:
                            break
                        if end_s is None or msg.timestamp < end_s * 1000:
                            if is_dispatch:
                                replayer.dispatch(msg.value or b"")
                            else:
                                replayer.call(msg.value or b"")
                        position = msg.offset + 1
                    bar.update(len(batch))
    finally:
        consumer.close()
    result = replayer.finish()
    log.info("replay_done", topic=topic, **dict(sorted(result.counts.items())))
    return result


def _bar(enabled: bool, total: int, unit: str) -> tqdm[Never]:
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        disable=not enabled,
        file=sys.stderr,
        mininterval=0.5,
    )
