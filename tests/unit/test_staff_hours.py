"""Scorecard staff-hours: staffed spans split at clock hours and midnights, rota hours per period,
unknown kept apart from zero, and the launch day's failing providers short of commissioned."""

from __future__ import annotations

import base64
import csv
import io
import random
import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from detectors import staff_hours, staffing
from detectors.staff_hours import StaffHours
from detectors.staffing import AgentObs
from streams.cli.main import main
from streams.contract.catalogue import default_catalogue
from streams.contract.config import load_settings
from streams.contract.records import AgentStateEvent
from streams.contract.rota import RotaInterval
from streams.offline import scorecard, scorecard_report, staff_hours_report
from streams.offline.replayer import Replayer
from streams.simulate import play
from tests.scorecard_cases import (
    FAILING,
    GOOD_FRIDAY_2013_08Z,
    HOURS,
    launch_day_events,
    write_launch_day_staffed,
)

STALE_S = 7200.0
HA = "health_adviser"
GROUP = ("london", "lcw", HA)


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def replay_states(
    events: list[AgentObs], stale_s: float = STALE_S
) -> tuple[staffing.StaffingState, dict[staff_hours.HourKey, float]]:
    """Apply the events as the replayer does, taking each staffed span as it closes."""
    state = staffing.initial()
    hours: dict[staff_hours.HourKey, float] = {}
    for obs in events:
        before = staff_hours.open_span(state, obs.agent_id)
        staffing.apply(state, obs, stale_s, 90, 1800.0)
        staff_hours.add_closed(hours, "london", state, before)
    staff_hours.add_open(hours, "london", state, stale_s)
    return state, hours


def obs(agent: str, when: str, state: str) -> AgentObs:
    return AgentObs(agent, float(utc(when)), "lcw", HA, state)


def by_period(rows: list[StaffHours]) -> dict[str, tuple[float | None, ...]]:
    """Each period's (delivered, rostered, commissioned, rota-covered) hours, to 1e-9 h."""
    figures = ("delivered_hours", "rostered_hours", "commissioned_hours", "rota_hours")
    return {
        r.period: tuple(None if (x := getattr(r, f)) is None else round(x, 9) for f in figures)
        for r in rows
    }


# --- spans --------------------------------------------------------------------------------------


def test_a_span_over_midnight_counts_on_both_days_and_not_ready_is_not_delivered() -> None:
    """Staffed time is split at the hour and at local midnight; a not-ready span is left out."""
    _, hours = replay_states(
        [
            obs("a", "2013-03-29T23:30:00+00:00", "ready"),
            obs("b", "2013-03-29T23:50:00+00:00", "ready"),
            obs("b", "2013-03-29T23:55:00+00:00", "not_ready"),
            obs("b", "2013-03-30T00:05:00+00:00", "ready"),
            obs("a", "2013-03-30T00:10:00+00:00", "on_call"),
            obs("b", "2013-03-30T00:15:00+00:00", "logged_out"),
            obs("a", "2013-03-30T00:20:00+00:00", "wrap_up"),
            obs("a", "2013-03-30T00:25:00+00:00", "ready"),
            obs("a", "2013-03-30T00:40:00+00:00", "logged_out"),
        ]
    )
    assert hours == pytest.approx(
        {
            (*GROUP, utc("2013-03-29T23:00:00+00:00")): 30 * 60 + 5 * 60,
            (*GROUP, utc("2013-03-30T00:00:00+00:00")): 40 * 60 + 10 * 60,
        }
    )
    rows = staff_hours.build(
        hours,
        reporting={GROUP},
        rota=None,
        from_s=utc("2013-03-29T00:00:00+00:00"),
        to_s=utc("2013-03-31T00:00:00+00:00"),
        period="day",
    )
    assert by_period(rows) == {
        "2013-03-29": (round(35 / 60, 9), None, None, None),
        "2013-03-30": (round(50 / 60, 9), None, None, None),
    }


def test_a_silent_agent_stops_delivering_when_it_goes_stale() -> None:
    """An agent silent for the stale time counts until then, closed or still open at the end."""
    _, hours = replay_states(
        [
            obs("a", "2013-03-29T08:00:00+00:00", "ready"),
            obs("b", "2013-03-29T08:00:00+00:00", "ready"),
            obs("a", "2013-03-29T10:30:00+00:00", "logged_out"),  # silent since 08:00
            obs("c", "2013-03-29T11:00:00+00:00", "logged_out"),  # moves "now" on
        ],
        stale_s=3600.0,
    )
    assert hours == {(*GROUP, utc("2013-03-29T08:00:00+00:00")): 2 * 3600.0}


def test_duplicates_and_refreshes_add_nothing() -> None:
    """A re-delivered event and a repeated state do not close a span twice."""
    events = [
        obs("a", "2013-03-29T08:00:00+00:00", "ready"),
        obs("a", "2013-03-29T08:20:00+00:00", "ready"),  # a refresh
        obs("a", "2013-03-29T08:30:00+00:00", "on_call"),
        obs("a", "2013-03-29T08:30:00+00:00", "on_call"),  # a duplicate
        obs("a", "2013-03-29T08:45:00+00:00", "logged_out"),
    ]
    _, hours = replay_states(events)
    assert hours == {(*GROUP, utc("2013-03-29T08:00:00+00:00")): 45 * 60.0}


def test_the_replayer_keeps_staffed_seconds_per_hour() -> None:
    """Agent-state lines through the Replayer give the same hours as the detector steps."""
    catalogue = default_catalogue()
    replayer = Replayer(load_settings({}), catalogue)
    times = [("2013-03-29T08:50:00+00:00", "ready"), ("2013-03-29T09:20:00+00:00", "logged_out")]
    for when, state in times:
        event = AgentStateEvent("lo.lcw.1", utc(when), "london", "lcw", HA, state)
        replayer.agent(event.to_json())
    result = replayer.finish()
    assert result.staff_seconds == {
        (*GROUP, utc("2013-03-29T08:00:00+00:00")): 600.0,
        (*GROUP, utc("2013-03-29T09:00:00+00:00")): 1200.0,
    }


# Each agent: a run of (seconds since its previous event, state).
RUNS = st.lists(
    st.lists(
        st.tuples(st.integers(1, 5400), st.sampled_from(staffing.STATES)), min_size=1, max_size=12
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(RUNS, st.integers(0, 2**32 - 1))
def test_periods_sum_to_the_replays_staffed_seconds_in_any_interleaving(
    runs: list[list[tuple[int, str]]], seed: int
) -> None:
    """The days' (and weeks') delivered hours sum to the staffing view's staffed seconds / 3600,
    and the hours are the same whichever way the agents' events interleave."""
    start = utc("2013-03-29T20:00:00+00:00")
    per_agent: list[list[AgentObs]] = []
    for k, run in enumerate(runs):
        t, mine = start + 97 * k, []
        for gap, name in run:
            t += gap
            mine.append(AgentObs(f"a{k}", float(t), "lcw", HA, name))
        per_agent.append(mine)
    ordered = sorted((e for mine in per_agent for e in mine), key=lambda e: e.ts_s)
    rng, queues, shuffled = random.Random(seed), [list(m) for m in per_agent], []
    while any(queues):
        shuffled.append(rng.choice([q for q in queues if q]).pop(0))  # each agent's own order
    state, hours = replay_states(ordered)
    _, hours_shuffled = replay_states(shuffled)
    assert set(hours_shuffled) == set(hours)
    assert hours_shuffled == pytest.approx(hours)
    view = staffing.view(state, STALE_S)
    staffed_s = sum(x for _, _, s, x in view.seconds if s in staffing.STAFFED)
    for period in ("day", "week"):
        rows = staff_hours.build(
            hours,
            reporting={GROUP},
            rota=None,
            from_s=start - 86400,
            to_s=start + 10 * 86400,
            period=period,
        )
        assert sum(r.delivered_hours or 0.0 for r in rows) == pytest.approx(staffed_s / 3600)


# --- periods and the rota -----------------------------------------------------------------------


def interval(start: str, minutes: int, commissioned: int, rostered: int) -> RotaInterval:
    return RotaInterval("london", "lcw", HA, utc(start), minutes, commissioned, rostered)


ROTA = [
    interval("2013-03-29T23:00:00+00:00", 30, 10, 8),  # 5 h commissioned, 4 rostered
    interval("2013-03-29T23:30:00+00:00", 60, 6, 6),  # over midnight: 3 h + 3 h
    interval("2013-03-30T00:30:00+00:00", 15, 4, 2),  # 1 h, 0.5 h
]


def test_rota_hours_are_handlers_times_length_split_at_midnight() -> None:
    """Each interval gives handlers x minutes / 60, split at local midnight; delivered is set
    against it per day, and a week sums the days."""
    hours = {
        (*GROUP, utc("2013-03-29T23:00:00+00:00")): 4 * 3600.0,  # 4 agents all hour
        (*GROUP, utc("2013-03-30T00:00:00+00:00")): 3 * 3600.0,
    }
    span = {"from_s": utc("2013-03-29T00:00:00+00:00"), "to_s": utc("2013-03-31T00:00:00+00:00")}
    rows = staff_hours.build(hours, reporting={GROUP}, rota=ROTA, period="day", **span)
    assert by_period(rows) == {
        "2013-03-29": (4.0, 7.0, 8.0, 1.0),
        "2013-03-30": (3.0, 3.5, 4.0, 0.75),
    }
    assert [r.delivered_ratio for r in rows] == pytest.approx([0.5, 0.75])
    assert [r.delivered_rostered_ratio for r in rows] == pytest.approx([4 / 7, 3 / 3.5])
    (week,) = staff_hours.build(hours, reporting={GROUP}, rota=ROTA, period="week", **span)
    assert (week.period, week.delivered_hours, week.commissioned_hours) == ("2013-W13", 7.0, 12.0)


def test_periods_follow_london_days_across_the_clock_change() -> None:
    """An agent on all the time delivers 24, 23 (spring change) and 24 hours on the three days."""
    hours: dict[staff_hours.HourKey, float] = {}
    first, end = utc("2013-03-30T00:00:00+00:00"), utc("2013-04-02T00:00:00+01:00")
    staff_hours.add_span(hours, GROUP, first, end)
    rows = staff_hours.build(
        hours, reporting={GROUP}, rota=None, from_s=first, to_s=end, period="day"
    )
    assert [(r.period, r.delivered_hours, r.hours) for r in rows] == [
        ("2013-03-30", 24.0, 24.0),
        ("2013-03-31", 23.0, 23.0),
        ("2013-04-01", 24.0, 24.0),
    ]


def test_a_range_inside_an_hour_counts_its_whole_hours() -> None:
    """From 08:30 the staff time and the rota are both counted from 09:00."""
    hours: dict[staff_hours.HourKey, float] = {}
    staff_hours.add_span(
        hours, GROUP, utc("2013-03-29T08:00:00+00:00"), utc("2013-03-29T11:00:00+00:00")
    )
    rota = [
        interval(f"2013-03-29T{h}:00+00:00", 30, 2, 2) for h in ("08:00", "08:30", "09:00", "09:30")
    ]
    (row,) = staff_hours.build(
        hours,
        reporting={GROUP},
        rota=rota,
        from_s=utc("2013-03-29T08:30:00+00:00"),
        to_s=utc("2013-03-29T10:45:00+00:00"),
        period="day",
    )
    assert (row.start_s, row.end_s) == (
        utc("2013-03-29T09:00:00+00:00"),
        utc("2013-03-29T10:00:00+00:00"),
    )
    assert (row.delivered_hours, row.commissioned_hours, row.delivered_ratio) == (1.0, 2.0, 0.5)


@pytest.mark.parametrize(
    ("reporting", "rota", "expected"),
    [
        # Sent agent states, none staffed: a real zero.
        ({GROUP}, [interval("2013-03-29T08:00:00+00:00", 60, 5, 4)], (0.0, 4.0, 5.0, 0.0)),
        # No agent state from the provider: delivered unknown.
        (set(), [interval("2013-03-29T08:00:00+00:00", 60, 5, 4)], (None, 4.0, 5.0, None)),
        # No rota given: planned unknown.
        ({GROUP}, None, (0.0, None, None, None)),
        # A rota without this provider: planned unknown too.
        ({GROUP}, [], (0.0, None, None, None)),
        # Nothing commissioned: no ratio (not infinite).
        ({GROUP}, [interval("2013-03-29T08:00:00+00:00", 60, 0, 0)], (0.0, 0.0, 0.0, None)),
    ],
)
def test_unknown_is_none_not_zero(
    reporting: set[staff_hours.Group],
    rota: list[RotaInterval] | None,
    expected: tuple[float | None, ...],
) -> None:
    """Delivered is None without agent states and planned None without a rota interval."""
    (row,) = staff_hours.build(
        {},
        reporting=reporting,
        rota=rota,
        from_s=utc("2013-03-29T08:00:00+00:00"),
        to_s=utc("2013-03-29T09:00:00+00:00"),
        period="day",
    )
    got = (row.delivered_hours, row.rostered_hours, row.commissioned_hours, row.delivered_ratio)
    assert got == expected


# --- the launch day -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def staffed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_launch_day_staffed(tmp_path_factory.mktemp("staffed"))


T0 = GOOD_FRIDAY_2013_08Z
SPAN = ["--from", "2013-03-29T08:00:00+00:00", "--to", "2013-03-29T11:00:00+00:00"]


def staffed_scorecard(events: Path, rota: Path, from_s: float) -> scorecard.Scorecard:
    from streams.cli.rota import read_rota_file

    request = scorecard.Request(from_s=from_s, to_s=T0 + HOURS * 3600)
    intervals = read_rota_file(rota, default_catalogue())
    return scorecard.compute(
        request, load_settings({}), default_catalogue(), file=events, rota=intervals
    )


def test_launch_day_failing_providers_deliver_a_third_of_commissioned(
    staffed: tuple[Path, Path],
) -> None:
    """After the failure North West and West Midlands staff 20-45 % of the commissioned hours;
    every healthy provider 90-110 %."""
    result = staffed_scorecard(*staffed, from_s=T0 + 3600)
    assert {(s.region, s.provider) for s in result.staff_hours} == set(default_catalogue().pairs())
    for s in result.staff_hours:
        assert s.role == HA and s.period == "2013-03-29" and s.hours == 2.0
        assert s.delivered_ratio is not None
        if s.region in FAILING:
            assert 0.20 <= s.delivered_ratio <= 0.45, s
        else:
            assert 0.90 <= s.delivered_ratio <= 1.10, s
        assert (
            s.delivered_rostered_ratio == s.delivered_ratio
        )  # the generator: rostered = commissioned


def read_csv(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return {(r["region"], r["provider"]): r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def day_out(staffed: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder `scorecard --rota` wrote for the staffed launch day, by day."""
    events, rota = staffed
    out = tmp_path_factory.mktemp("day")
    args = ["scorecard", "--file", str(events), "--rota", str(rota), "--out", str(out)]
    assert main([*args, *SPAN]) == 0
    return out


def test_cli_rota_adds_the_staff_columns_plot_and_table(day_out: Path) -> None:
    """`scorecard --rota` fills the health advisers' staff columns (clinicians' empty: none in
    the file), and the HTML plots and tabulates every provider, the failing ones red."""
    rows = read_csv(day_out / "scorecard.csv")
    assert set(next(iter(rows.values()))) == set(scorecard_report.CSV_COLUMNS)
    for (region, _), r in rows.items():
        ratio = float(r["health_adviser_delivered_ratio"])
        assert (ratio < 0.75) == (region in FAILING)
        delivered, commissioned = (
            float(r[f"health_adviser_{c}_hours"]) for c in ("staff", "commissioned")
        )
        assert ratio == pytest.approx(delivered / commissioned, abs=1e-3)  # hours to 0.01
        assert all(r[f"clinician_{c}"] == "" for c in staff_hours_report.STAFF_FIELDS)
    page = (day_out / "scorecard.html").read_text(encoding="utf-8")
    staff_rows = re.findall(
        r'<tr data-region="([^"]+)" data-provider="([^"]+)" data-role="health_adviser"'
        r'[^>]*data-staff="(\w+)"',
        page,
    )
    assert {(region, provider) for region, provider, _ in staff_rows} == set(rows)
    grades = {(region, provider): grade for region, provider, grade in staff_rows}
    assert {k: g for k, g in grades.items() if g != "pass"} == {
        k: "fail" for k in grades if k[0] in FAILING
    }
    (png,) = re.findall(r'<img class="staff-plot" [^>]*src="data:image/png;base64,([^"]+)"', page)
    with Image.open(io.BytesIO(base64.b64decode(png, validate=True))) as image:
        assert image.format == "PNG"
    short = re.search(r'<p class="staff-short">(.*?)</p>', page)
    assert short is not None and "have not delivered what was commissioned" in short.group(1)
    named = re.findall(r'<span data-region="([^"]+)" data-provider="([^"]+)">', short.group(1))
    assert {region for region, _ in named} == FAILING and len(named) == 2
    assert "No rota given" not in page and "No agent states" not in page


def test_cli_week_and_jobs_give_the_same_staff_hours(
    staffed: tuple[Path, Path], day_out: Path, tmp_path: Path
) -> None:
    """By week, and replayed in two processes, the staff columns are those of the day."""
    events, rota = staffed
    base = ["scorecard", "--file", str(events), "--rota", str(rota), *SPAN]
    runs = {"day": None, "week": ["--period", "week"], "jobs": ["--jobs", "2"]}
    figures = {}
    for name, extra in runs.items():
        out = day_out if extra is None else tmp_path / name
        if extra is not None:
            assert main([*base, "--out", str(out), *extra]) == 0
        rows = read_csv(out / "scorecard.csv")
        figures[name] = {
            k: {c: r[c] for c in staff_hours_report.STAFF_COLUMNS} for k, r in rows.items()
        }
    assert figures["week"] == figures["day"] == figures["jobs"]


def test_cli_without_agent_states_or_rota_leaves_the_columns_empty_and_says_why(
    staffed: tuple[Path, Path], tmp_path: Path
) -> None:
    """No agent states: delivered empty; no rota: planned empty; the report says which."""
    events, rota = staffed
    plain = tmp_path / "plain.jsonl"
    play.write_jsonl(launch_day_events(), plain)  # the same day, without agent states
    cases = {
        "no-states": (["--file", str(plain), "--rota", str(rota)], "No agent states"),
        "no-rota": (["--file", str(events)], "No rota given"),
    }
    for name, (extra, note) in cases.items():
        assert main(["scorecard", *extra, *SPAN, "--out", str(tmp_path / name)]) == 0
        rows = read_csv(tmp_path / name / "scorecard.csv")
        page = (tmp_path / name / "scorecard.html").read_text(encoding="utf-8")
        assert note in page
        assert 'class="staff-plot"' not in page  # nothing to set against each other
        for r in rows.values():
            delivered, commissioned = (
                r["health_adviser_staff_hours"],
                r["health_adviser_commissioned_hours"],
            )
            assert r["health_adviser_delivered_ratio"] == ""
            if name == "no-states":
                assert delivered == "" and float(commissioned) > 0
            else:
                assert float(delivered) > 0 and commissioned == ""
    assert main(["scorecard", "--file", str(plain), *SPAN, "--out", str(tmp_path / "neither")]) == 0
    rows = read_csv(tmp_path / "neither" / "scorecard.csv")
    assert {r[c] for r in rows.values() for c in staff_hours_report.STAFF_COLUMNS} == {""}
    page = (tmp_path / "neither" / "scorecard.html").read_text(encoding="utf-8")
    assert "No agent states" in page and "No rota given" in page
    assert '<table class="staff">' not in page


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region,provider,role,start,minutes,commissioned,rostered\n"
         "north-west,nhs-direct,health_adviser,2013-03-29T08:00:00+00:00,30,x,1\n",
         "line 2: commissioned 'x' is not a whole number"),
        ("region,provider,start\n", "line 1: missing column 'role'"),
    ],
)  # fmt: skip
def test_cli_bad_rota_is_refused_naming_the_line(
    staffed: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    """A rota file with a bad line exits 2 before the replay, the error naming file and line;
    so does a missing file."""
    events, _ = staffed
    bad = tmp_path / "rota.csv"
    bad.write_text(text, encoding="utf-8")
    args = ["scorecard", "--file", str(events), *SPAN, "--out", str(tmp_path / "out")]
    assert main([*args, "--rota", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"--rota {bad}" in err and message in err
    assert not (tmp_path / "out").exists()
    assert main([*args, "--rota", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read rota file" in capsys.readouterr().err
