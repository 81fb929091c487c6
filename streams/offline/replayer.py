"""The replay's core, in one process: each line routed to its topic and region, validated as the
live path does, and applied to the same AnswerRateOps and DispatchOps objects as a worker's."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Never, TypeVar

import orjson
import structlog
from tqdm import tqdm

from detectors import staff_hours
from detectors.answer_rates import RegionView
from detectors.dispatches import DispatchState, DispatchView
from detectors.region_alerts import AlertEvent
from detectors.staffing import StaffedAt, StaffingState, StaffingView
from detectors.windows import Bucket
from streams.contract.catalogue import Catalogue
from streams.contract.records import (
    MAX_EVENT_BYTES,
    InvalidEvent,
    parse_agent_event,
    parse_call_event,
    parse_dispatch_event,
    validate_agent,
    validate_call,
    validate_dispatch,
)
from streams.contract.settings import Settings, window_config
from streams.contract.thresholds import THRESHOLDS, Thresholds
from streams.engine.alerting import alert_specs
from streams.engine.answer_rates import AnswerRateOps, AnswerState, load_baselines
from streams.engine.dispatches import DispatchOps
from streams.engine.staffing import StaffingOps

log = structlog.get_logger(__name__)


T = TypeVar("T")


CALLS = "calls"


DISPATCHES = "dispatches"
AGENTS = "agent-states"


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
    staffing: dict[str, StaffingView] = field(default_factory=dict)
    # staffed seconds (ready, on_call, wrap_up) worked per (region, provider, role, UTC hour), for
    # the scorecard's staff-hours (detectors.staff_hours: each span added as it closes)
    staff_seconds: dict[staff_hours.HourKey, float] = field(default_factory=dict)
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
    agent_states: dict[str, StaffingState] = field(default_factory=dict)
    result: ReplayResult = field(default_factory=ReplayResult)
    ops: AnswerRateOps = field(init=False)
    dispatch_ops: DispatchOps = field(init=False)
    staffing_ops: StaffingOps = field(init=False)

    def __post_init__(self) -> None:
        self.staffing_ops = StaffingOps(
            self.settings.agent_stale_seconds,
            self.settings.retention_minutes,
            self.settings.dedup_minutes * 60.0,
        )
        self.ops = AnswerRateOps(
            window_config(self.settings),
            alert_specs(self.thresholds),
            load_baselines(self.settings),
            observe=self.on_view,
            staffing=self.staffed_at,
        )
        self.dispatch_ops = DispatchOps(
            self.settings.grace_seconds, self.settings.dedup_minutes * 60.0
        )

    def staffed_at(self, region: str, t_s: float) -> tuple[StaffedAt, ...] | None:
        """The region's handlers at `t_s` for its breach forecast, as the live worker reads them."""
        state = self.agent_states.get(region)
        return None if state is None else self.staffing_ops.at(state, t_s)

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

    def agent(self, doc: object | bytes) -> None:
        event = self._valid(doc, parse_agent_event, validate_agent)
        if event is None:
            return
        state = self.agent_states.get(event.region)
        if state is None:
            state = self.agent_states[event.region] = self.staffing_ops.initial(event.region)
        before = staff_hours.open_span(state, event.agent_id)
        self.result.counts["agent:" + self.staffing_ops.apply(state, event)] += 1
        staff_hours.add_closed(self.result.staff_seconds, event.region, state, before)

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
        """One JSONL line (see `route`)."""
        self.routed(route(raw, self.catalogue))

    def routed(self, line: Routed) -> None:
        """One decoded line: a call or dispatch event, or a line counted as invalid."""
        if line.topic == DISPATCHES:
            self.dispatch(line.doc)
        elif line.topic == AGENTS:
            self.agent(line.doc)
        elif line.topic == CALLS:
            self.call(line.doc)
        else:
            self.result.counts[line.topic] += 1

    def finish(self) -> ReplayResult:
        """The final views, and the minutes still retained handed to `on_minute`."""
        for region, state in sorted(self.calls.items()):
            self.result.alerts.extend(self.ops.drain(state))
            self.result.views[region] = self.ops.view(region, state)
            if self.on_minute is not None:
                rest = sorted(state.windows.buckets.items(), key=lambda kv: (kv[0][1], kv[0][0]))
                self._emit_minutes(region, [(p, m, b) for (p, m), b in rest])
        for region, dstate in sorted(self.dispatch_states.items()):
            self.result.dispatches[region] = self.dispatch_ops.view(region, dstate)
        for region, astate in sorted(self.agent_states.items()):
            self.result.staffing[region] = self.staffing_ops.view(region, astate)
            stale_s = self.staffing_ops.stale_seconds
            staff_hours.add_open(self.result.staff_seconds, region, astate, stale_s)
        return self.result

    def _emit_minutes(self, region: str, rows: Iterable[tuple[str, int, Bucket]]) -> None:
        assert self.on_minute is not None
        for provider, minute, bucket in rows:
            self.on_minute(MinuteRow(region, provider, minute, bucket))


class Routed(NamedTuple):
    """Where one JSONL line goes: its topic and document, and whose region it is. (A NamedTuple:
    one is made per line, at a quarter of a frozen dataclass's cost.)"""

    topic: str  # CALLS, DISPATCHES, or the count of a line that is not a document (invalid:...)
    doc: object
    # A catalogue region code; None when the line has no readable one (bad JSON, not an object,
    # no or an unknown region): such a line is invalid, and a parallel replay's worker 0 counts it.
    region: str | None


def route(raw: bytes, catalogue: Catalogue) -> Routed:
    """Decode one JSONL line: {"topic": "calls" | "dispatches" | "agent-states", "key": ...,
    "value": {...}} as `surge-monitor simulate --out` writes, or a bare call, dispatch or agent
    state event. The one place that
    says which topic and which region a line is, for the sequential and the parallel replay."""
    if len(raw) > MAX_EVENT_BYTES + 256:
        return Routed("invalid:too_large", None, None)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Routed("invalid:bad_json", None, None)
    if isinstance(doc, dict) and "value" in doc and "topic" in doc:
        topic, doc = doc["topic"], doc["value"]
    elif isinstance(doc, dict) and "incident_id" in doc:
        topic = DISPATCHES
    else:
        topic = AGENTS if isinstance(doc, dict) and "agent_id" in doc else CALLS
    region = doc.get("region") if isinstance(doc, dict) else None
    known = isinstance(region, str) and region in catalogue.by_code
    return Routed(topic if topic in (DISPATCHES, AGENTS) else CALLS, doc, region if known else None)


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


def progress_bar(enabled: bool, total: int, unit: str) -> tqdm[Never]:
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        disable=not enabled,
        file=sys.stderr,
        mininterval=0.5,
    )
