"""The days the generator can make: a normal day, and the 2013 launch day on which North West and
West Midlands lose most of their answering capacity.

A failing region can fail in the ways 2013 did, so that a forecast or an alert can be benchmarked
on each cause alone or on a mix (the defaults are the first one, a sudden cut):

- `loss="leave"`: handlers on duty walk off at the failure; the head count drops in one minute.
- `loss="no_login"`: nobody leaves, but shifts starting from the failure are only partly filled
  (`capacity_left` of them), so the staffed count sinks as shifts turn over while the rota still
  shows everyone. It needs shift turnover to show: give `shift_hours` (8-12 h shifts), otherwise a
  seat is held as long as the head count keeps it and a flat afternoon has almost no new shifts.
- `handle_factor`: longer triage (the other cause reported in 2013: NHS Pathways run by new,
  stressed call handlers), on a rota planned for the normal handle time.
- `demand_factor`: more callers than the forecast on a rota planned for the forecast; with
  `capacity_left=1.0` it is a pure demand surge.
- `breaks`: a 30-minute break in each shift over 4 hours, planned for (the rota has the extra
  handlers), so a normal day still meets the standard and the staffed count dips for real.
- `retrials`: callers who abandon try again (streams.simulate.retrials), in every region, so
  repeat attempts add load where callers give up. Off by default: no scenario has it unless
  asked, so the launch day's figures (and the alerts calibrated on them) are unchanged.

Whatever the knobs, calls answered in a failing region's failure are triaged as by overwhelmed
staff (more ambulance and ED referrals, slower callbacks when capacity_left is under 1).

The launch day takes `handle_factor=1.25` on top of the default cut: an assumption (no published
figure) that overwhelmed, newly trained staff triaged a quarter slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from streams.contract.errors import ConfigError

LOSSES: Final = ("leave", "no_login")
LAUNCH_DAY_HANDLE_FACTOR: Final = 1.25  # assumed: no published figure for 2013 triage times


@dataclass(frozen=True)
class Scenario:
    """A day to generate. Times are UTC epoch seconds; the rota is cut at the first whole minute
    at or after `failure_start_s`, and triage changes for calls answered from that instant."""

    name: str
    start_s: float
    duration_s: float
    failing_regions: tuple[str, ...] = ()
    failure_start_s: float | None = None
    capacity_left: float = 0.3
    daily_calls: float = 45_000.0
    # Capacity back to normal from the first whole minute at or after this (None: never).
    recovery_start_s: float | None = None
    # Also emit the handlers' ACD states (streams.simulate.agents), on the agent-states topic.
    agent_states: bool = False
    # How failing regions lose capacity: "leave" (on-duty handlers go at the failure) or
    # "no_login" (shifts starting from the failure are filled at capacity_left).
    loss: str = "leave"
    # Failing regions: handle time x this for calls answered in [failure, recovery).
    handle_factor: float = 1.0
    # Failing regions: arrival rate x this in [failure, recovery); the rota keeps the forecast.
    demand_factor: float = 1.0
    # A 30-minute break (not_ready, reason "break") mid-shift in each shift over 4 h, rostered for.
    breaks: bool = False
    # Longest shift: a handler on this long hands over to a new one (None: no limit).
    shift_hours: float | None = None
    # Callers who abandon try again (streams.simulate.retrials): every call carries `attempt`,
    # repeats `first_attempt_ts`, and the retries join the same queue. Off: no attempt fields.
    retrials: bool = False


def validate(s: Scenario) -> None:
    """Refuse a scenario the generator cannot make, naming the field and what it accepts."""
    if s.start_s % 60 or s.duration_s <= 0 or not 0 <= s.capacity_left <= 1:
        raise ConfigError(
            f"scenario {s.name!r}: start_s must be a whole minute, duration_s > 0 and "
            f"capacity_left in 0..1 (got {s.start_s}, {s.duration_s}, {s.capacity_left})"
        )
    if s.loss not in LOSSES:
        raise ConfigError(
            f"scenario {s.name!r}: loss must be one of {', '.join(LOSSES)} (got {s.loss!r})"
        )
    for field, value in (("handle_factor", s.handle_factor), ("demand_factor", s.demand_factor)):
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"scenario {s.name!r}: {field} must be > 0 (got {value})")
    if s.shift_hours is not None and not (math.isfinite(s.shift_hours) and s.shift_hours >= 1):
        raise ConfigError(
            f"scenario {s.name!r}: shift_hours must be at least 1 or None (got {s.shift_hours})"
        )


def launch_day(
    start_s: float, duration_s: float, failure_after_s: float, daily_calls: float = 45_000.0
) -> Scenario:
    """Good Friday 2013: North West and West Midlands lose most of their capacity, and the
    handlers left triage more slowly."""
    return Scenario(
        "launch-day",
        start_s,
        duration_s,
        failing_regions=("north-west", "west-midlands"),
        failure_start_s=start_s + failure_after_s,
        daily_calls=daily_calls,
        handle_factor=LAUNCH_DAY_HANDLE_FACTOR,
    )


def normal(start_s: float, duration_s: float, daily_calls: float = 45_000.0) -> Scenario:
    return Scenario("normal", start_s, duration_s, daily_calls=daily_calls)
