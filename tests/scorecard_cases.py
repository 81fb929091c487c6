"""The launch-day scorecard that the unit and Chromium tests share (generated, replayed, scored)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import orjson

from detectors.answer_rates import RegionView, region_status
from streams.contract.catalogue import default_catalogue
from streams.contract.config import load_settings
from streams.offline import scorecard
from streams.offline.replay import replay_file
from streams.overflow.policy import Policy
from streams.simulate import generator, play, scenarios
from streams.simulate.truth import Emitted

GOOD_FRIDAY_2013_08Z = 1364544000.0
HOURS = 3
FAILING = frozenset({"north-west", "west-midlands"})


@cache
def launch_day_events() -> tuple[Emitted, ...]:
    """Good Friday 2013 from 08:00 UTC, 3 h, NW and WM losing capacity after 1 h (seed 2013)."""
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, HOURS * 3600, failure_after_s=3600)
    return tuple(generator.generate(scenario, default_catalogue(), seed=2013))


def launch_day_overflow(events: Path, out: Path) -> Path:
    """The OverflowCommands the overflow agent's core (streams.overflow.Policy) issues when fed
    each closed minute's region status of a replay of `events`, as JSON lines in `out`."""
    catalogue = default_catalogue()
    policy = Policy({r.code: r.neighbours for r in catalogue.regions})
    commands: list[dict[str, object]] = []

    def on_view(region: str, view: RegionView) -> None:
        commands.extend(policy.on_status({"region": region, **region_status(view)}))

    replay_file(events, load_settings({}), catalogue, on_view=on_view)
    out.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in commands))
    return out


def launch_day_scorecard(folder: Path) -> scorecard.Scorecard:
    """Write the events as `simulate --out` does, and score them by day as the CLI does, with
    the overflow commands the policy issued on them (`--overflow`)."""
    events = folder / "events.jsonl"
    play.write_jsonl(launch_day_events(), events)
    overflow = launch_day_overflow(events, folder / "overflow.jsonl")
    request = scorecard.Request(
        from_s=GOOD_FRIDAY_2013_08Z, to_s=GOOD_FRIDAY_2013_08Z + HOURS * 3600, period="day"
    )
    return scorecard.compute(
        request, load_settings({}), default_catalogue(), file=events, overflow_file=overflow
    )


@cache
def launch_day_staffed_events() -> tuple[Emitted, ...]:
    """The launch day of `launch_day_events` with the handlers' agent states as well."""
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, HOURS * 3600, failure_after_s=3600)
    staffed = replace(scenario, agent_states=True)
    return tuple(generator.generate(staffed, default_catalogue(), seed=2013))


def write_launch_day_staffed(folder: Path) -> tuple[Path, Path]:
    """The staffed launch day as `simulate --agent-states --out events.jsonl --rota rota.csv`
    writes it: the events and the rota the generator planned (commissioned = rostered)."""
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, HOURS * 3600, failure_after_s=3600)
    events, rota = folder / "staffed-events.jsonl", folder / "rota.csv"
    play.write_jsonl(launch_day_staffed_events(), events)
    play.write_rota(generator.rota(replace(scenario, agent_states=True), default_catalogue()), rota)
    return events, rota
