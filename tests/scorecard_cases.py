"""The launch-day scorecard that the unit and Chromium tests share (generated, replayed, scored)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from streams import play, scorecard, simulate
from streams.catalogue import default_catalogue
from streams.config import load_settings

GOOD_FRIDAY_2013_08Z = 1364544000.0
HOURS = 3
FAILING = frozenset({"north-west", "west-midlands"})


@cache
def launch_day_events() -> tuple[simulate.Emitted, ...]:
    """Good Friday 2013 from 08:00 UTC, 3 h, NW and WM losing capacity after 1 h (seed 2013)."""
    scenario = simulate.launch_day(GOOD_FRIDAY_2013_08Z, HOURS * 3600, failure_after_s=3600)
    return tuple(simulate.generate(scenario, default_catalogue(), seed=2013))


def launch_day_scorecard(folder: Path) -> scorecard.Scorecard:
    """Write the events as `simulate --out` does, and score them by day as the CLI does."""
    events = folder / "events.jsonl"
    play.write_jsonl(launch_day_events(), events)
    request = scorecard.Request(
        from_s=GOOD_FRIDAY_2013_08Z, to_s=GOOD_FRIDAY_2013_08Z + HOURS * 3600, period="day"
    )
    return scorecard.compute(request, load_settings({}), default_catalogue(), file=events)
