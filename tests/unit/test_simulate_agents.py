"""The generator's handlers: agent states consistent with the calls they answer, and the rota."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.contract.catalogue import default_catalogue
from streams.contract.records import AgentStateEvent, CallEvent, parse_ts, validate_agent
from streams.contract.settings import Settings
from streams.offline.replayer import Replayer
from streams.simulate import generator, scenarios
from streams.simulate.truth import Emitted

START = 1364544000.0  # Good Friday 2013, 08:00 UTC
CATALOGUE = default_catalogue()


@pytest.fixture(scope="module")
def launch_day() -> list[Emitted]:
    day = scenarios.launch_day(START, 3 * 3600, failure_after_s=3600)
    return generator.generate(replace(day, agent_states=True), CATALOGUE, 7)


def test_agent_states_leave_the_calls_and_dispatches_unchanged(launch_day: list[Emitted]) -> None:
    """Turning agent states on adds events and changes none of the others."""
    day = scenarios.launch_day(START, 3 * 3600, failure_after_s=3600)
    without = generator.generate(day, CATALOGUE, 7)
    assert [e for e in launch_day if e.topic != "agent-states"] == without
    assert sum(e.topic == "agent-states" for e in launch_day) > len(without) // 2


def test_every_generated_agent_event_is_valid(launch_day: list[Emitted]) -> None:
    """The agent events pass the contract's own validation."""
    for e in launch_day:
        if isinstance(e.event, AgentStateEvent):
            valid = validate_agent(e.event.to_json(), CATALOGUE)
            assert replace(valid, ts_s=0.0) == replace(e.event, ts_s=0.0)
            assert abs(valid.ts_s - e.event.ts_s) < 1e-3


def test_each_answer_has_its_handler_going_on_call_at_that_instant(
    launch_day: list[Emitted],
) -> None:
    """An answered event at t has an agent of that provider going on_call at t."""
    on_call = {
        (e.event.region, e.event.provider, e.ts_s)
        for e in launch_day
        if isinstance(e.event, AgentStateEvent) and e.event.state == "on_call"
    }
    answered = [
        e.event
        for e in launch_day
        if isinstance(e.event, CallEvent) and e.event.event == "answered"
    ]
    assert answered
    assert all((c.region, c.provider, c.ts_s) in on_call for c in answered)


def test_replayed_staffing_shows_the_failing_regions_below_their_rota(
    launch_day: list[Emitted],
) -> None:
    """Two hours after the failure north-west and west-midlands have about 30 % of the rota
    logged in, healthy regions about all of it (rota as `simulate --rota` writes it)."""
    replayer = Replayer(Settings(), CATALOGUE)
    for e in launch_day:
        if isinstance(e.event, AgentStateEvent):
            replayer.agent(e.event.to_json())
    result = replayer.finish()
    now = max(v.now_s or 0 for v in result.staffing.values())
    rota = generator.rota(scenarios.launch_day(START, 3 * 3600, failure_after_s=3600), CATALOGUE)
    rostered: dict[str, int] = {}
    for row in rota:
        start_s = parse_ts(row["start"])
        if start_s <= now < start_s + 60 * int(str(row["minutes"])):
            region = str(row["region"])
            rostered[region] = rostered.get(region, 0) + int(str(row["rostered"]))
    ratio = {r: result.staffing[r].staffed() / rostered[r] for r in rostered}
    for region, value in ratio.items():
        if region in ("north-west", "west-midlands"):
            assert 0.2 <= value <= 0.45, (region, value)
        else:
            assert 0.9 <= value <= 1.1, (region, value)
