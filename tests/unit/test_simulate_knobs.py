"""The generator's scenario knobs: how capacity is lost, longer triage, a demand surge, breaks."""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest

from streams.cli import simulate as cli
from streams.contract.catalogue import default_catalogue
from streams.contract.errors import ConfigError
from streams.contract.records import (
    AgentStateEvent,
    CallEvent,
    DispatchEvent,
    parse_ts,
    validate_agent,
)
from streams.simulate import agents, generator, scenarios, shifts, window
from streams.simulate.truth import Emitted

CATALOGUE = default_catalogue()
START = 1364544000.0  # Good Friday 2013, 08:00 UTC (and London time)
FAILURE = START + 3600
REGION = "west-midlands"
HOUR = 3600.0


def failing_day(hours: float, **knobs: object) -> scenarios.Scenario:
    """West Midlands fails an hour in; its handlers' agent states on."""
    day = scenarios.Scenario("knobs", START, hours * HOUR, (REGION,), FAILURE, agent_states=True)
    return replace(day, **knobs)  # type: ignore[arg-type]  # the knobs under test, by name


def logged_in(events: list[Emitted], region: str, at_s: float) -> int:
    """Handlers of `region` whose latest state at `at_s` is not logged_out."""
    state: dict[str, str] = {}
    for e in events:
        if e.ts_s > at_s:
            break
        if isinstance(e.event, AgentStateEvent) and e.event.region == region:
            state[e.event.agent_id] = e.event.state
    return sum(s != "logged_out" for s in state.values())


def rostered(rota: list[dict[str, object]], region: str, at_s: float) -> int:
    return sum(
        int(str(row["rostered"]))
        for row in rota
        if row["region"] == region
        and parse_ts(row["start"]) <= at_s < parse_ts(row["start"]) + 60 * int(str(row["minutes"]))
    )


def staffed_share(day: scenarios.Scenario, events: list[Emitted], at_s: float) -> float:
    return logged_in(events, REGION, at_s) / rostered(generator.rota(day, CATALOGUE), REGION, at_s)


def of_region(events: list[Emitted], region: str, topic: str = "calls") -> list[Emitted]:
    return [e for e in events if e.key == region and e.topic == topic]


def handle_times(events: list[Emitted], since_s: float, until_s: float) -> list[float]:
    """Answer to disposition of each call answered in [since_s, until_s): its handle time."""
    answered: dict[str, float] = {}
    out = []
    for e in of_region(events, REGION):
        ev = e.event
        assert isinstance(ev, CallEvent)
        if ev.event == "answered" and since_s <= ev.ts_s < until_s:
            answered[ev.call_id] = ev.ts_s
        elif ev.event == "disposition" and ev.call_id in answered:
            out.append(ev.ts_s - answered[ev.call_id])
    return out


def offered(events: list[Emitted], since_s: float, until_s: float) -> int:
    return sum(
        isinstance(e.event, CallEvent)
        and e.event.event == "offered"
        and since_s <= e.ts_s < until_s
        for e in of_region(events, REGION)
    )


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"loss": "quit"}, "loss must be one of leave, no_login"),
        ({"handle_factor": 0.0}, "handle_factor must be > 0"),
        ({"handle_factor": float("nan")}, "handle_factor must be > 0"),
        ({"demand_factor": -1.5}, "demand_factor must be > 0"),
        ({"shift_hours": 0.5}, "shift_hours must be at least 1"),
    ],
)
def test_a_bad_knob_is_refused_naming_the_field(knobs: dict[str, object], field: str) -> None:
    """An unknown loss or a factor that is not positive is a ConfigError naming the field."""
    with pytest.raises(ConfigError, match=field):
        generator.generate(failing_day(2, **knobs), CATALOGUE, 1)
    with pytest.raises(ConfigError, match=field):
        generator.rota(failing_day(2, **knobs), CATALOGUE)


def test_leave_cuts_the_staffed_handlers_in_the_failure_minute() -> None:
    """With "leave" the failing region is fully staffed before the failure and at about
    capacity_left once the calls in progress are over, while the rota stays as planned."""
    day = failing_day(3, loss="leave", shift_hours=8.0)
    events = generator.generate(day, CATALOGUE, 7)
    assert 0.95 <= staffed_share(day, events, FAILURE - 60) <= 1.05
    assert 0.2 <= staffed_share(day, events, FAILURE + 20 * 60) <= 0.4
    assert generator.rota(day, CATALOGUE) == generator.rota(
        replace(day, failing_regions=()), CATALOGUE
    )


def test_no_login_lets_the_staffed_handlers_fall_gradually_as_shifts_turn_over() -> None:
    """With "no_login" nobody leaves at the failure; the staffed share sinks hour by hour as
    new shifts go unfilled, while the rota shows every handler."""
    day = failing_day(8, loss="no_login", shift_hours=8.0)
    events = generator.generate(day, CATALOGUE, 7)
    assert staffed_share(day, events, FAILURE + 20 * 60) >= 0.85
    later = [staffed_share(day, events, FAILURE + h * HOUR) for h in (1, 3, 5, 6.9)]
    assert later == sorted(later, reverse=True) and len(set(later)) == len(later), later
    assert later[-1] < 0.6
    assert generator.rota(day, CATALOGUE) == generator.rota(
        replace(day, failing_regions=()), CATALOGUE
    )
    healthy = replace(day, failing_regions=())
    assert of_region(events, "london", "agent-states") == of_region(
        generator.generate(healthy, CATALOGUE, 7), "london", "agent-states"
    )


def test_no_login_logs_the_missing_shifts_in_at_the_recovery() -> None:
    """After a recovery the shifts nobody took are logged in: staffed is back to the rota."""
    recovery = FAILURE + 4 * HOUR
    day = failing_day(6, loss="no_login", shift_hours=8.0, recovery_start_s=recovery)
    events = generator.generate(day, CATALOGUE, 7)
    assert staffed_share(day, events, recovery - 60) < 0.8
    assert 0.95 <= staffed_share(day, events, recovery + 60) <= 1.05


def test_handle_factor_lengthens_the_calls_answered_during_the_failure_only() -> None:
    """handle_factor 1.5 makes the calls answered after the failure ~1.5x longer to triage,
    leaves those answered before it as they were, and leaves other regions alone."""
    base = failing_day(4, capacity_left=1.0, agent_states=False)
    slow = replace(base, handle_factor=1.5)
    before, after = generator.generate(base, CATALOGUE, 5), generator.generate(slow, CATALOGUE, 5)
    assert handle_times(after, START, FAILURE) == handle_times(before, START, FAILURE)
    end = START + 4 * HOUR
    ratio = np.mean(handle_times(after, FAILURE, end)) / np.mean(handle_times(before, FAILURE, end))
    assert ratio == pytest.approx(1.5, abs=0.06)
    assert of_region(after, "london") == of_region(before, "london")


def test_handle_factor_stops_at_the_recovery() -> None:
    """Calls answered after the recovery take their normal handle time again."""
    base = failing_day(4, capacity_left=1.0, agent_states=False, recovery_start_s=FAILURE + HOUR)
    slow = replace(base, handle_factor=1.5)
    since, end = FAILURE + 2 * HOUR, START + 4 * HOUR  # the backlog has cleared by then
    ratio = np.mean(handle_times(generator.generate(slow, CATALOGUE, 5), since, end)) / np.mean(
        handle_times(generator.generate(base, CATALOGUE, 5), since, end)
    )
    assert ratio == pytest.approx(1.0, abs=0.06)


def test_demand_factor_raises_the_calls_offered_after_the_failure_on_an_unchanged_rota() -> None:
    """demand_factor 1.5 offers ~1.5x the calls after the failure, as many before it, and the
    same rota and shifts (the handlers log in and out as planned)."""
    base = failing_day(4, capacity_left=1.0)
    surge = replace(base, demand_factor=1.5)
    normal, busy = generator.generate(base, CATALOGUE, 5), generator.generate(surge, CATALOGUE, 5)
    end = START + 4 * HOUR
    assert offered(busy, START, FAILURE) / offered(normal, START, FAILURE) == pytest.approx(
        1, abs=0.06
    )
    assert offered(busy, FAILURE, end) / offered(normal, FAILURE, end) == pytest.approx(
        1.5, abs=0.06
    )
    assert generator.rota(surge, CATALOGUE) == generator.rota(base, CATALOGUE)

    def logins(events: list[Emitted]) -> dict[str, float]:
        """Each handler's first state: its log in, where its shift starts."""
        first: dict[str, float] = {}
        for e in of_region(events, REGION, "agent-states"):
            assert isinstance(e.event, AgentStateEvent)
            first.setdefault(e.event.agent_id, e.ts_s)
        return first

    assert logins(busy) == logins(normal)
    assert len(logins(busy)) > 20


@pytest.fixture(scope="module")
def breaks_day() -> list[Emitted]:
    day = replace(scenarios.normal(START - 8 * HOUR, 24 * HOUR), breaks=True, agent_states=True)
    return generator.generate(day, CATALOGUE, 7)


def planned_shifts(day: scenarios.Scenario) -> dict[str, tuple[int, int]]:
    """Each agent id's planned shift (on_ms, off_ms, NEVER_MS when still on at the end)."""
    w = window.window(day)  # the generator's own minute grid
    prefixes = generator._prefixes(CATALOGUE)
    out = {}
    for region in CATALOGUE.regions:
        for p in region.providers:
            rate = day.daily_calls * region.population_share * p.share * w.day_share
            team = shifts.staff(rate, p.staffing, np.zeros_like(w.failed), day, w.start_ms)
            for k, shift in enumerate(team.shifts):
                out[f"{prefixes[region.code].lower()}.{p.id}.{k:04d}"] = shift
    return out


def test_every_shift_over_4_hours_has_one_break_mid_shift_with_no_call(
    breaks_day: list[Emitted],
) -> None:
    """Each shift longer than 4 h goes not_ready (reason "break") once, in the middle half of
    the shift (late by at most the call in progress), for 30 minutes; shorter shifts never."""
    day = replace(scenarios.normal(START - 8 * HOUR, 24 * HOUR), breaks=True)
    plan = planned_shifts(day)
    w = window.window(day)
    end_ms = w.start_ms + 60_000 * w.day_share.size  # the rota grid's end (past the window's)
    states: dict[str, list[AgentStateEvent]] = defaultdict(list)
    for e in breaks_day:
        if isinstance(e.event, AgentStateEvent):
            states[e.event.agent_id].append(e.event)
    assert set(states) <= set(plan)
    long_shifts = 0
    for agent, seq in states.items():
        on, off = plan[agent]
        last = min(off, end_ms)
        rests = [i for i, ev in enumerate(seq) if ev.state == "not_ready"]
        if last - on <= 4 * HOUR * 1000:
            assert rests == [], agent
            continue
        long_shifts += 1
        assert len(rests) == 1, agent
        rest = seq[rests[0]]
        assert rest.reason == "break"
        assert on + (last - on) / 4 <= rest.ts_s * 1000 <= last - (last - on) / 4 + 3600_000
        after = seq[rests[0] + 1]
        if after.state == "ready":
            assert after.ts_s - rest.ts_s == pytest.approx(30 * 60, abs=1e-3)
        else:
            assert after.state == "logged_out"
    assert long_shifts > 100


def test_break_states_are_valid_and_answers_follow_the_handlers(breaks_day: list[Emitted]) -> None:
    """Break events pass the contract; each answer is its handler going on_call at that instant,
    never while it is on a break; the calls and dispatches are those of a day without states."""
    state: dict[str, str] = {}
    on_call: set[tuple[str, str, float]] = set()
    for e in breaks_day:
        if isinstance(e.event, AgentStateEvent):
            if e.event.reason is not None:
                assert validate_agent(e.event.to_json(), CATALOGUE).reason == "break"
            if e.event.state == "on_call":
                assert state.get(e.event.agent_id) in ("ready", "wrap_up"), e.event
                on_call.add((e.event.region, e.event.provider, e.ts_s))
            state[e.event.agent_id] = e.event.state
    answers = [
        (e.event.region, e.event.provider, e.ts_s)
        for e in breaks_day
        if isinstance(e.event, CallEvent) and e.event.event == "answered"
    ]
    assert answers and set(answers) <= on_call
    day = replace(scenarios.normal(START - 8 * HOUR, 24 * HOUR), breaks=True)
    without = generator.generate(day, CATALOGUE, 7)
    assert [e for e in breaks_day if e.topic != "agent-states"] == without
    assert any(isinstance(e.event, DispatchEvent) for e in without)


def test_the_rota_plans_enough_handlers_off_break_for_the_erlang_plan() -> None:
    """In every minute the rostered handlers not on a planned break are at least those the
    rota without breaks plans."""
    day = replace(scenarios.normal(START - 8 * HOUR, 24 * HOUR), breaks=True, shift_hours=8.0)
    w = window.window(day)
    for region in CATALOGUE.regions[:3]:
        for p in region.providers:
            rate = day.daily_calls * region.population_share * p.share * w.day_share
            zeros = np.zeros_like(w.failed)
            team = shifts.staff(rate, p.staffing, zeros, day, w.start_ms)
            plain = shifts.staff(rate, p.staffing, zeros, replace(day, breaks=False), w.start_ms)
            away = np.zeros(team.rostered.size, dtype=np.int64)
            for b in team.break_at:
                if b != agents.NEVER_MS:
                    first = (b - w.start_ms) // 60_000
                    away[first : first + 30] += 1
            assert away.sum() > 0
            assert (team.rostered - away >= plain.rostered).all(), (region.code, p.id)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli._simulate_args(parser)
    return parser.parse_args(argv)


def test_simulate_flags_set_the_knobs_and_the_defaults_keep_the_launch_day() -> None:
    """`simulate --loss no_login --breaks ...` builds that scenario; no flag keeps launch_day's."""
    knobs = ["--loss", "no_login", "--capacity-left", "0.6", "--handle-factor", "1.4"]
    knobs += ["--demand-factor", "1.2", "--breaks", "--shift-hours", "8"]
    day = cli.scenario(parse(knobs))
    assert (day.loss, day.capacity_left, day.handle_factor) == ("no_login", 0.6, 1.4)
    assert (day.demand_factor, day.breaks, day.shift_hours) == (1.2, True, 8.0)
    plain = cli.scenario(parse([]))
    assert plain == scenarios.launch_day(plain.start_s, 6 * HOUR, HOUR)
    assert plain.handle_factor == scenarios.LAUNCH_DAY_HANDLE_FACTOR == 1.25
