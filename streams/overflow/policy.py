"""The overflow policy's state: region figures and operator requests in, OverflowCommands out.

DESIGN.md, Overflow routing. The policy is `detectors.overflow.decide`; this module holds its
inputs (the latest figures of every region, the operator overrides), its state, and the I/O.

Inputs, both one partition, so one worker owns the policy (Faust's assignor gives partition 0 of
every co-subscribed one-partition topic to the same worker):
- `<app id>-region-status` (streams.live.answer_rates): each region's latest figures (service
  levels, calls waiting, calls offered and the breach forecast, null when none is coming);
- `<app id>-overflow-requests`: operator requests from `surge-monitor overflow ...` and the HTTP
  API (streams.overflow.api), JSON `OperatorRequest`s.

Time. The policy runs on event time, and each region on its own clock: a status record decides its
region at that region's watermark (`decide` for that region alone), with the other regions' figures
as they were at that event time (a short per-minute history, `HISTORY_SECONDS`; a region that lags
is seen as it last reported) deciding who is fit to take overflow. One clock for all, the newest
watermark of any region, was tried and fails in a replay: workers, and partitions within a worker,
run hours of event time apart at full speed, so a lagging region's stale figures would be judged at
a clock far ahead of them (a breach "sustained" for hours it has not yet lived). Per-region clocks
make a replay at any speed decide each region as its live day did, given the same status records (a
region's figures arrive once per answer-rate batch, so very large batches coarsen the policy's view:
`SURGE_BATCH_MAX_EVENTS`). Operator TTLs are measured on the region's clock too: an override issued
when the region's event time is T expires at T + ttl, whatever the wall clock says (live, the two
agree to within the pipeline's lag; in a replay of 2013 they do not). A request for a region that
has not reported yet is rejected (logged): there is no clock to expire it on.

Durability: the whole policy (states, clocks, overrides, the figures' history, the latest command
per region, and the offset of the last input applied from each topic) is checkpointed once per batch
of inputs to a compacted one-partition topic (`<app id>-overflow-checkpoints`), through the app's
producer before the batch is acked, as streams.live.region_engine does for the windows. A worker
given the partition reads it back before its first input; inputs at or below the checkpointed
offsets are skipped. So a restart or a rebalance resumes mid-timer: a pending breach, a releasing
recovery and the dwell clock carry on instead of restarting (rebuilding from the commands on
`surge.overflow` alone would lose the pending timers and the figures, and delay or repeat decisions;
tested by killing both workers mid-day in tests/integration/test_overflow.py). A crash between a
command and its checkpoint re-issues the same decision with the same `command_id`, so consumers
de-duplicate on it.

Acknowledgements: `ack` republishes the region's current command unchanged but for
`acknowledged_by` = "operator:<id>" (same `command_id`). Only the region's latest command can be
acknowledged: republishing a superseded one would make it the region's latest record again.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, cast

import structlog

from detectors import overflow as policy
from detectors import overflow_records
from detectors.overflow_records import (
    DIVERTING,
    Command,
    Override,
    PolicyParams,
    PolicyState,
    RegionSignal,
    spare_capacity,
)
from streams.contract.errors import SurgeError
from streams.contract.records import format_ts
from streams.contract.thresholds import THRESHOLDS
from streams.overflow.requests import OperatorRequest

log = structlog.get_logger(__name__)

# More callers than this queueing means a region has no spare capacity, however well it answered
# in the last 15 minutes (a normal hour of the largest region queues a handful at once).
WAITING_LIMIT: Final = 20
# Context kept per region: other regions' figures as of a decided region's own clock (see Time).
HISTORY_SECONDS: Final = 7200.0
HISTORY_STEP_SECONDS: Final = 60.0


def command_json(command: Command, acknowledged_by: str | None = None) -> dict[str, Any]:
    """An OverflowCommand record of DESIGN.md."""
    return {
        "command_id": command.command_id,
        "region": command.region,
        "action": command.action,
        "target": command.target,
        "share": command.share,
        "reason": command.reason,
        "issued_at": format_ts(command.issued_at_s),
        "expires_at": format_ts(command.expires_at_s),
        "issued_by": command.issued_by,
        "acknowledged_by": acknowledged_by,
    }


# (watermark_s, service_level_60m, service_level_15m, calls_waiting, breach_forecast_seconds
# (None: none forecast), offered_15m) of one status record
Snapshot = tuple[float, float | None, float | None, int, float | None, int]
RECENT_MINUTES: Final = 15  # the status record's short window (offered_15m)


def _signal(region: str, snap: Snapshot) -> RegionSignal:
    _, sl60, sl15, waiting, forecast_s, offered_15m = snap
    spare = spare_capacity(
        sl15, waiting, standard=THRESHOLDS.service_level_standard, waiting_limit=WAITING_LIMIT
    )
    return RegionSignal(
        region,
        sl60,
        sl15,
        waiting,
        spare,
        math.inf if forecast_s is None else forecast_s,
        offered_15m / RECENT_MINUTES,
    )


def _snapshot(doc: list[Any]) -> Snapshot:
    """A checkpointed snapshot; those saved before the forecast was read have 4 fields."""
    wm, sl60, sl15, waiting, forecast_s, offered_15m = [*doc, None, 0][:6]
    return (
        float(wm),
        _opt_float(sl60),
        _opt_float(sl15),
        int(waiting),
        _opt_float(forecast_s),
        int(offered_15m),
    )


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


@dataclass(slots=True)
class Policy:
    """The agent's state and its pure steps; no Kafka here, so it is unit-tested directly.

    Each step returns the OverflowCommand records to publish, in order."""

    neighbours: Mapping[str, tuple[str, ...]]
    params: PolicyParams = field(default_factory=PolicyParams)
    clocks: dict[str, float] = field(default_factory=dict)  # region -> newest watermark
    states: dict[str, PolicyState] = field(default_factory=dict)
    history: dict[str, list[Snapshot]] = field(default_factory=dict)  # region -> by watermark
    overrides: list[Override] = field(default_factory=list)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # region -> last record
    offsets: dict[str, int] = field(default_factory=dict)  # input topic -> last offset applied

    def on_status(self, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
        region, watermark = str(doc["region"]), doc.get("watermark_s")
        if watermark is None:
            return []  # nothing seen in the region yet: no clock to decide on
        now = float(watermark)
        if now < self.clocks.get(region, -math.inf):
            return []  # older than what the region reported already: its figures are stale
        snap: Snapshot = (
            now,
            doc.get("service_level_60m"),
            doc.get("service_level_15m"),
            int(doc.get("calls_waiting") or 0),
            _opt_float(doc.get("breach_forecast_seconds")),  # null: none forecast (+inf)
            int(doc.get(f"offered_{RECENT_MINUTES}m") or 0),
        )
        kept = self.history.setdefault(region, [])
        if kept and kept[-1][0] // HISTORY_STEP_SECONDS == now // HISTORY_STEP_SECONDS:
            kept[-1] = snap  # one snapshot per minute of event time is enough context
        else:
            kept.append(snap)
        while len(kept) > 1 and kept[1][0] <= now - HISTORY_SECONDS:
            del kept[0]
        self.clocks[region] = now
        return self._decide(region)

    def signals_at(self, t_s: float) -> dict[str, RegionSignal]:
        """Every region's figures as they were at event time `t_s`: its newest snapshot at or
        before `t_s` (a region that is ahead is seen as it was then), else its oldest kept."""
        out: dict[str, RegionSignal] = {}
        for region, kept in self.history.items():
            i = bisect_right([s[0] for s in kept], t_s)
            out[region] = _signal(region, kept[i - 1] if i else kept[0])
        return out

    @property
    def now_s(self) -> float | None:
        """The newest event time of any region (for logs)."""
        return max(self.clocks.values(), default=None)

    def on_request(self, req: OperatorRequest) -> list[dict[str, Any]]:
        if req.action == "ack":
            return self._ack(req)
        region = cast(str, req.region)
        now = self.clocks.get(region)
        if now is None:
            log.warning(
                "overflow_request_rejected",
                request_id=req.request_id,
                region=region,
                why="the region has not reported yet: no event time to measure the TTL on",
            )
            return []
        state = self.states.get(region, PolicyState())
        on = req.action == "activate"
        issued_by = f"operator:{req.operator}"
        expires = now + req.ttl_seconds
        override = Override(
            region,
            "activate" if on else "deactivate",
            req.target if on else None,
            req.share if on else 0.0,
            expires,
            issued_by,
        )
        action: overflow_records.Action = (
            ("adjust" if state.status in DIVERTING else "activate") if on else "deactivate"
        )
        why = req.reason or f"operator {req.operator}: {req.action}"
        command = Command(
            f"{region}:operator:{req.request_id}",
            region,
            action,
            req.target if on else state.target,
            req.share if on else 0.0,
            why,
            now,
            expires,
            issued_by,
        )
        self.overrides.append(override)
        record = command_json(command)
        self._record(record)
        return [record, *self._decide(region)]

    def _ack(self, req: OperatorRequest) -> list[dict[str, Any]]:
        for region, record in self.latest.items():
            if record["command_id"] == req.command_id:
                acked = {**record, "acknowledged_by": f"operator:{req.operator}"}
                self.latest[region] = acked
                log.info("overflow_command", **acked)
                return [acked]
        log.warning(
            "overflow_request_rejected",
            request_id=req.request_id,
            command_id=req.command_id,
            why="not the current command of any region (unknown, or superseded)",
        )
        return []

    def _decide(self, region: str) -> list[dict[str, Any]]:
        """Decide `region` alone at its own clock: every other region is shown to `decide` as
        already decided later (updated_at_s = inf), which it skips, and keeps its state."""
        now = self.clocks[region]
        self.overrides = [o for o in self.overrides if o.region != region or now < o.expires_at_s]
        mine = [o for o in self.overrides if o.region == region]
        view = {r: replace(s, updated_at_s=math.inf) for r, s in self.states.items()}
        view.update({r: PolicyState(updated_at_s=math.inf) for r in self.history if r not in view})
        view[region] = self.states.get(region, PolicyState())
        signals = self.signals_at(now)
        decided, commands = policy.decide(view, signals, self.neighbours, mine, now, self.params)
        self.states[region] = decided[region]
        out = []
        for command in commands:
            record = command_json(command)
            self._record(record)
            out.append(record)
        return out

    def _record(self, record: dict[str, Any]) -> None:
        self.latest[record["region"]] = record
        log.info("overflow_command", **record)

    def active(self) -> dict[tuple[str, str], float]:
        """surge_overflow_active: every (region, neighbour) pair 0, the diverting pairs 1."""
        pairs = {(r, t): 0.0 for r, targets in self.neighbours.items() for t in targets}
        for region, state in self.states.items():
            if state.status in DIVERTING and state.target is not None:
                pairs[(region, state.target)] = 1.0
        return pairs

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "clocks": self.clocks,
            "states": {r: overflow_records.to_json(s) for r, s in sorted(self.states.items())},
            "history": {r: [list(s) for s in h] for r, h in sorted(self.history.items())},
            "overrides": [asdict(ov) for ov in self.overrides],
            "latest": self.latest,
            "offsets": self.offsets,
        }

    def restore(self, doc: Mapping[str, Any]) -> None:
        if doc.get("version") != CHECKPOINT_VERSION:
            raise SurgeError(
                f"overflow checkpoint has version {doc.get('version')!r}, this code reads "
                f"{CHECKPOINT_VERSION}; delete the overflow checkpoint topic to re-arm the policy"
            )
        self.clocks = {r: float(c) for r, c in doc["clocks"].items()}
        self.states = {r: overflow_records.from_json(s) for r, s in doc["states"].items()}
        self.history = {r: [_snapshot(s) for s in h] for r, h in doc["history"].items()}
        self.overrides = [Override(**ov) for ov in doc["overrides"]]
        self.latest = dict(doc["latest"])
        self.offsets = {t: int(o) for t, o in doc["offsets"].items()}


def latest_commands(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest command per region, in topic order (for `overflow status`)."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        out[str(record["region"])] = dict(record)
    return out


CHECKPOINT_VERSION: Final = 1
