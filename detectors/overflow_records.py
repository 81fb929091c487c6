"""The overflow policy's plain data: what it reads (a region's signal, an operator's override),
how it is tuned (its parameters), what it keeps (a region's state, with its exact JSON round
trip for the agent's checkpoint) and what it writes (a command).

Apart from :mod:`detectors.overflow`, which holds the rules, so that the agent, the API and the
benchmark can build and check these records, and a saved state can be read back, without the
state machine; and so that the rules read as rules. Every record validates itself on
construction, with a message saying what to change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, TypeVar

Action = Literal["activate", "adjust", "deactivate"]
Status = Literal["idle", "pending", "active", "releasing"]
AUTO: Final = "auto"
DIVERTING: Final = ("active", "releasing")
STATE_VERSION: Final = 1
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RegionSignal:
    region: str
    service_level_60m: float | None  # None: nothing answered in the window
    service_level_15m: float | None
    calls_waiting: int
    capacity_spare: float  # 0..1 headroom estimate; see spare_capacity()
    # Seconds until the service level is forecast to breach (detectors.forecast): 0 breached
    # already, +inf none forecast (or no forecast yet).
    breach_forecast_seconds: float = math.inf
    arrivals_per_minute: float = 0.0  # calls offered per minute over the last 15 minutes


@dataclass(frozen=True, slots=True)
class Override:
    """An operator's command, binding until `expires_at_s` (event time)."""

    region: str
    action: Action
    target: str | None
    share: float
    expires_at_s: float
    issued_by: str  # "operator:<id>"

    def __post_init__(self) -> None:
        if self.action != "deactivate" and self.target is None:
            raise ValueError(f"an {self.action} override for {self.region} needs a target")
        if not 0 <= self.share <= 1:
            raise ValueError(f"override share {self.share} must be within 0..1")


@dataclass(frozen=True, slots=True)
class PolicyParams:
    on_below: float = 0.75  # THRESHOLDS.service_level_critical
    on_after_seconds: float = 900
    off_above: float = 0.92
    off_after_seconds: float = 900
    min_dwell_seconds: float = 1800
    target_min_service_level: float = 0.95  # THRESHOLDS.service_level_standard
    target_keep_service_level: float = 0.85  # THRESHOLDS.service_level_warning
    target_min_spare: float = 0.2
    max_sources_per_target: int = 1
    share: float = 0.3
    share_step: float = 0.1
    max_share: float = 0.5
    command_ttl_seconds: float = 3600
    refresh_before_seconds: float = 600
    # Rule 2b, the early start on a confident forecast (None: off), and the targets' forecast bar.
    forecast_on_seconds: float | None = 900
    forecast_below: float = 0.95  # THRESHOLDS.service_level_standard
    forecast_min_waiting: int = 3  # calls waiting, and minutes of arrivals waiting (both 0:
    forecast_queue_minutes: float = 1.0  # no queue condition, as benchmarks/overflow.py compares)

    def __post_init__(self) -> None:
        if not self.on_below < self.off_above:
            raise ValueError("on_below must be below off_above, or the policy would flap")
        if not self.target_keep_service_level <= self.target_min_service_level:
            raise ValueError("target_keep_service_level must not exceed target_min_service_level")
        if not 0 < self.share <= self.max_share <= 1 or self.share_step < 0:
            raise ValueError("need 0 < share <= max_share <= 1 and share_step >= 0")
        if not 0 <= self.refresh_before_seconds < self.command_ttl_seconds:
            raise ValueError("refresh_before_seconds must be >= 0 and below command_ttl_seconds")
        if self.max_sources_per_target < 1:
            raise ValueError("max_sources_per_target must be at least 1")
        if self.forecast_on_seconds is not None and self.forecast_on_seconds < 0:
            raise ValueError("forecast_on_seconds must be >= 0, or None to turn rule 2b off")
        if not 0 < self.forecast_below <= 1:
            raise ValueError("forecast_below must be a service level within (0, 1]")
        if self.forecast_min_waiting < 0 or self.forecast_queue_minutes < 0:
            raise ValueError("need forecast_min_waiting >= 0 and forecast_queue_minutes >= 0")


@dataclass(frozen=True, slots=True)
class PolicyState:
    """One region's routing state; plain data with an exact JSON round trip."""

    status: Status = "idle"
    target: str | None = None  # while diverting
    share: float = 0.0
    since_s: float | None = None  # start of the pending / releasing timer
    changed_at_s: float | None = None  # last change of the diversion (auto or operator): the dwell
    expires_at_s: float | None = None  # when the command in force lapses
    commands: int = 0  # auto commands issued so far: the n of the next command_id is commands + 1
    operator: str | None = None  # issued_by of the override the state follows, None under auto
    updated_at_s: float | None = None  # newest decide; an older now_s skips the region
    forecast_since_s: float | None = None  # pending: start of the confident forecast (rule 2b)


@dataclass(frozen=True, slots=True)
class Command:
    """An OverflowCommand without its I/O fields (DESIGN.md); times are event-time seconds."""

    command_id: str  # f"{region}:{n}", n counting the region's auto commands from 1
    region: str
    action: Action
    target: str | None  # on deactivate: the target that stops taking overflow
    share: float  # 0 on deactivate
    reason: str
    issued_at_s: float
    expires_at_s: float
    issued_by: str = AUTO


def spare_capacity(
    service_level_15m: float | None, calls_waiting: int, *, standard: float, waiting_limit: int
) -> float:
    """A simple headroom proxy from a region's own figures: how far its last 15 minutes are above
    the standard, scaled to 0..1 (1 = all answered within 60 s); 0 with nothing answered or more
    than `waiting_limit` callers queueing. Staffing data would be better; the policy only needs
    "clearly coping", which this says."""
    if service_level_15m is None or calls_waiting > waiting_limit or standard >= 1:
        return 0.0
    return min(1.0, max(0.0, (service_level_15m - standard) / (1 - standard)))


def to_json(state: PolicyState) -> dict[str, Any]:
    return {"version": STATE_VERSION, **asdict(state)}


def _opt(kind: Callable[[Any], _T], x: Any) -> _T | None:
    return None if x is None else kind(x)


def from_json(doc: Mapping[str, Any]) -> PolicyState:
    if doc.get("version") != STATE_VERSION:
        raise ValueError(
            f"overflow state has version {doc.get('version')!r}, this code reads {STATE_VERSION}; "
            "drop the overflow table: the policy re-arms from live data"
        )
    if doc["status"] not in ("idle", "pending", "active", "releasing"):
        raise ValueError(f"overflow state has unknown status {doc['status']!r}")
    return PolicyState(
        status=doc["status"],
        target=_opt(str, doc["target"]),
        share=float(doc["share"]),
        since_s=_opt(float, doc["since_s"]),
        changed_at_s=_opt(float, doc["changed_at_s"]),
        expires_at_s=_opt(float, doc["expires_at_s"]),
        commands=int(doc["commands"]),
        operator=_opt(str, doc["operator"]),
        updated_at_s=_opt(float, doc["updated_at_s"]),
        # Absent from states saved before rule 2b: no forecast timer running then.
        forecast_since_s=_opt(float, doc.get("forecast_since_s")),
    )
