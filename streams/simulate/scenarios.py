"""The days the generator can make: a normal day, and the 2013 launch day on which North West and
West Midlands lose most of their answering capacity."""

from __future__ import annotations

from dataclasses import dataclass


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


def launch_day(
    start_s: float, duration_s: float, failure_after_s: float, daily_calls: float = 45_000.0
) -> Scenario:
    """Good Friday 2013: North West and West Midlands lose most of their capacity."""
    return Scenario(
        "launch-day",
        start_s,
        duration_s,
        failing_regions=("north-west", "west-midlands"),
        failure_start_s=start_s + failure_after_s,
        daily_calls=daily_calls,
    )


def normal(start_s: float, duration_s: float, daily_calls: float = 45_000.0) -> Scenario:
    return Scenario("normal", start_s, duration_s, daily_calls=daily_calls)
