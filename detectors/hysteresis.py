"""In-stream alerts: a hysteresis state machine that turns a score into firing and resolved events.

Scoring is apart from deciding (river's ThresholdFilter): a detector or a window gives a value, and
this module alone decides whether it is an alert. One machine runs per (region, alert, severity),
with the thresholds of `streams.contract.thresholds.THRESHOLDS`, so an event on `surge.alerts` and a
page from Prometheus mean the same thing. One FIRING and one RESOLVED per episode, never a storm:

- Two thresholds. The value is *bad* beyond `raise_at` (strictly, as the rules' `<` and `>`) and
  *clear* at or inside `clear_at`; in between (the band) the status holds. With `clear_at ==
  raise_at` there is no band and the machine matches the Prometheus rule exactly.
- Two timers. Bad must hold `raise_after_seconds` (the rule's `for:`) before FIRING; clear must hold
  `clear_after_seconds` before RESOLVED. A step in the band or on the other side resets the timer.
- A dwell. Two transitions are never closer than `min_dwell_seconds`; a due transition waits for it.
- No data. A value of None (a ratio with no denominator) or NaN neither raises nor clears: the state
  and its timers are kept and the step emits nothing, so a quiet hour does not resolve an alert and
  the next real value is judged against the timer started by the last real one.
- Event time only. A step older than the last one is ignored (state unchanged, no transition).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

Direction = Literal["high_is_bad", "low_is_bad"]
Status = Literal["ok", "pending", "firing", "clearing"]
Kind = Literal["firing", "resolved"]

HIGH_IS_BAD: Final = "high_is_bad"  # abandonment, longest wait, referral spike score
LOW_IS_BAD: Final = "low_is_bad"  # service level, seconds until a forecast breach
FIRING: Final = "firing"  # the Alert record's `state` values
RESOLVED: Final = "resolved"
STATE_VERSION: Final = 1  # bump when the to_json layout changes


@dataclass(frozen=True, slots=True)
class HysteresisParams:
    """Thresholds and timers of one alert; build with :meth:`high_is_bad` or :meth:`low_is_bad`."""

    raise_at: float
    clear_at: float
    direction: Direction
    raise_after_seconds: float = 0.0
    clear_after_seconds: float = 0.0
    min_dwell_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.raise_at) and math.isfinite(self.clear_at)):
            raise ValueError("raise_at and clear_at must be finite numbers")
        if self.direction not in (HIGH_IS_BAD, LOW_IS_BAD):
            raise ValueError(f"direction {self.direction!r}; use {HIGH_IS_BAD!r} or {LOW_IS_BAD!r}")
        high = self.direction == HIGH_IS_BAD
        if (self.clear_at > self.raise_at) if high else (self.clear_at < self.raise_at):
            raise ValueError(
                f"clear_at {self.clear_at:g} is on the bad side of raise_at {self.raise_at:g} "
                f"({self.direction}); the alert would never resolve"
            )
        times = (self.raise_after_seconds, self.clear_after_seconds, self.min_dwell_seconds)
        if min(times) < 0 or not all(math.isfinite(t) for t in times):
            raise ValueError("raise_after, clear_after and min_dwell seconds must be finite, >= 0")

    @classmethod
    def high_is_bad(
        cls,
        *,
        raise_above: float,
        clear_below: float | None = None,
        raise_after_seconds: float = 0.0,
        clear_after_seconds: float = 0.0,
        min_dwell_seconds: float = 0.0,
    ) -> HysteresisParams:
        """Bad when value > raise_above, clear when value <= clear_below (default raise_above)."""
        return cls(
            raise_above,
            raise_above if clear_below is None else clear_below,
            HIGH_IS_BAD,
            raise_after_seconds,
            clear_after_seconds,
            min_dwell_seconds,
        )

    @classmethod
    def low_is_bad(
        cls,
        *,
        raise_below: float,
        clear_above: float | None = None,
        raise_after_seconds: float = 0.0,
        clear_after_seconds: float = 0.0,
        min_dwell_seconds: float = 0.0,
    ) -> HysteresisParams:
        """Bad when value < raise_below, clear when value >= clear_above (default raise_below)."""
        return cls(
            raise_below,
            raise_below if clear_above is None else clear_above,
            LOW_IS_BAD,
            raise_after_seconds,
            clear_after_seconds,
            min_dwell_seconds,
        )

    def is_bad(self, value: float) -> bool:
        return value > self.raise_at if self.direction == HIGH_IS_BAD else value < self.raise_at

    def is_clear(self, value: float) -> bool:
        return value <= self.clear_at if self.direction == HIGH_IS_BAD else value >= self.clear_at


@dataclass(frozen=True, slots=True)
class AlertState:
    """One alert's state; plain data with an exact JSON round trip (a Faust table holds it)."""

    status: Status = "ok"
    since_s: float | None = None  # when the current status began (the pending/clearing timer)
    started_at_s: float | None = None  # when the current (or last) episode fired
    episode: int = 0  # episodes fired so far: the current episode's number while firing/clearing
    changed_at_s: float | None = None  # time of the last transition, for the dwell
    last_ts_s: float | None = None  # newest step; older steps are ignored
    last_value: float | None = None  # newest value that was not None/NaN


@dataclass(frozen=True, slots=True)
class Transition:
    """An event for `surge.alerts`: FIRING or RESOLVED of one episode."""

    kind: Kind
    episode: int
    started_at_s: float  # when the episode fired; the same on its RESOLVED
    ts_s: float  # the step that made the transition
    value: float  # the value at that step


def initial() -> AlertState:
    return AlertState()


def _since(state: AlertState, status: Status, ts_s: float) -> float:
    """The timer start of `status`: kept if the state is already in it, else now."""
    if state.status == status and state.since_s is not None:
        return state.since_s
    return ts_s


def _moved(
    state: AlertState, status: Status, since_s: float | None, ts_s: float, value: float
) -> AlertState:
    """`state` in `status` since `since_s` after a step at `ts_s` with `value`, the rest kept.
    One plain constructor call per step, not dataclasses.replace: this runs for every alert of
    every region every closed minute."""
    return AlertState(
        status,
        since_s,
        state.started_at_s,
        state.episode,
        state.changed_at_s,
        ts_s,
        value,
    )


def step(
    state: AlertState, value: float | None, ts_s: float, params: HysteresisParams
) -> tuple[AlertState, Transition | None]:
    """Advance one alert by one observation at event time `ts_s`; see the module docstring."""
    if not math.isfinite(ts_s):
        raise ValueError(f"ts_s must be a finite event time, got {ts_s!r}")
    if state.last_ts_s is not None and ts_s < state.last_ts_s:
        return state, None
    if value is None or math.isnan(value):  # no data: only the step's time is kept
        kept = AlertState(
            state.status,
            state.since_s,
            state.started_at_s,
            state.episode,
            state.changed_at_s,
            ts_s,
            state.last_value,
        )
        return kept, None
    changed = state.changed_at_s
    dwell_ok = changed is None or ts_s - changed >= params.min_dwell_seconds
    if state.status in ("ok", "pending"):
        return _towards_firing(state, value, ts_s, params, dwell_ok=dwell_ok)
    return _towards_ok(state, value, ts_s, params, dwell_ok=dwell_ok)


def _towards_firing(
    state: AlertState, value: float, ts_s: float, params: HysteresisParams, *, dwell_ok: bool
) -> tuple[AlertState, Transition | None]:
    """ok/pending: anything but a bad value resets the timer (the band too)."""
    if not params.is_bad(value):
        return _moved(state, "ok", _since(state, "ok", ts_s), ts_s, value), None
    since = _since(state, "pending", ts_s)
    if ts_s - since < params.raise_after_seconds or not dwell_ok:
        return _moved(state, "pending", since, ts_s, value), None
    episode = state.episode + 1
    fired = AlertState("firing", ts_s, ts_s, episode, ts_s, ts_s, value)
    return fired, Transition(FIRING, episode, ts_s, ts_s, value)


def _towards_ok(
    state: AlertState, value: float, ts_s: float, params: HysteresisParams, *, dwell_ok: bool
) -> tuple[AlertState, Transition | None]:
    """firing/clearing: anything but a clear value resets the timer (the band too)."""
    if not params.is_clear(value):
        return _moved(state, "firing", _since(state, "firing", ts_s), ts_s, value), None
    since = _since(state, "clearing", ts_s)
    if ts_s - since < params.clear_after_seconds or not dwell_ok:
        return _moved(state, "clearing", since, ts_s, value), None
    started = ts_s if state.started_at_s is None else state.started_at_s
    resolved = AlertState("ok", ts_s, state.started_at_s, state.episode, ts_s, ts_s, value)
    return resolved, Transition(RESOLVED, state.episode, started, ts_s, value)


def alert_id(region: str, alert: str, episode: int, severity: str | None = None) -> str:
    """The Alert record's `alert_id`: the same on an episode's FIRING and RESOLVED, and across
    restarts because the episode counter is checkpointed with the state. Pass `severity` when one
    alert name runs at two severities (their episode counters are separate)."""
    name = alert if severity is None else f"{alert}:{severity}"
    return f"{name}:{region}:{episode}"


def _encode(x: float | None) -> float | str | None:
    """Infinities as "inf"/"-inf": strict JSON (and orjson) have no Infinity."""
    return x if x is None or math.isfinite(x) else repr(x)


def _decode(x: float | str | None) -> float | None:
    return None if x is None else float(x)


def to_json(state: AlertState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "status": state.status,
        "since_s": state.since_s,
        "started_at_s": state.started_at_s,
        "episode": state.episode,
        "changed_at_s": state.changed_at_s,
        "last_ts_s": state.last_ts_s,
        "last_value": _encode(state.last_value),
    }


def from_json(doc: Mapping[str, Any]) -> AlertState:
    if doc.get("version") != STATE_VERSION:
        raise ValueError(
            f"alert state has version {doc.get('version')!r}, this code reads {STATE_VERSION}; "
            "drop the alert table and let the alerts re-arm from live data"
        )
    status = doc["status"]
    if status not in ("ok", "pending", "firing", "clearing"):
        raise ValueError(f"alert state has unknown status {status!r}")
    return AlertState(
        status=status,
        since_s=_decode(doc["since_s"]),
        started_at_s=_decode(doc["started_at_s"]),
        episode=int(doc["episode"]),
        changed_at_s=_decode(doc["changed_at_s"]),
        last_ts_s=_decode(doc["last_ts_s"]),
        last_value=_decode(doc["last_value"]),
    )
