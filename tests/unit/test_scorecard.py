"""Provider scorecard: local periods, grades against the standards, referrals against a baseline,
and the launch-day scorecard against the generator's ground truth."""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from detectors import baseline
from detectors import scorecard as card
from detectors.region_alerts import AlertEvent
from detectors.scorecard import Accumulator
from detectors.scorecard_grades import FAIL, PASS, WARNING, Standards
from detectors.scorecard_overflow import OverflowCommand, OverflowEpisode, overflow_episodes
from detectors.windows import Bucket
from streams.cli.main import main
from streams.contract.catalogue import default_catalogue
from streams.contract.records import CallEvent, parse_ts
from streams.offline import scorecard, scorecard_report
from streams.simulate.truth import ground_truth
from tests.scorecard_cases import (
    FAILING,
    GOOD_FRIDAY_2013_08Z,
    HOURS,
    launch_day_events,
    launch_day_scorecard,
)

BREACH_ALERTS = {"ServiceLevelBelowStandard", "AbandonmentAboveStandard"}
T0 = int(GOOD_FRIDAY_2013_08Z)  # Fri 29 Mar 2013 08:00 UTC = 08:00 GMT


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


# --- periods --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "period", "label", "start", "end"),
    [
        # GMT: a local day is a UTC day.
        ("2013-03-29T23:59:00+00:00", "day", "2013-03-29", "2013-03-29T00:00+00:00",
         "2013-03-30T00:00+00:00"),
        # The spring change: Sunday 31 March 2013 has 23 hours.
        ("2013-03-31T12:00:00+00:00", "day", "2013-03-31", "2013-03-31T00:00+00:00",
         "2013-04-01T00:00+01:00"),
        # BST: 23:30 UTC on 1 April is already 2 April in London.
        ("2013-04-01T23:30:00+00:00", "day", "2013-04-02", "2013-04-02T00:00+01:00",
         "2013-04-03T00:00+01:00"),
        # The autumn change: Sunday 27 October 2013 has 25 hours.
        ("2013-10-27T12:00:00+00:00", "day", "2013-10-27", "2013-10-27T00:00+01:00",
         "2013-10-28T00:00+00:00"),
        ("2013-03-29T08:00:00+00:00", "week", "2013-W13", "2013-03-25T00:00+00:00",
         "2013-04-01T00:00+01:00"),
        ("2013-12-31T12:00:00+00:00", "week", "2014-W01", "2013-12-30T00:00+00:00",
         "2014-01-06T00:00+00:00"),
        ("2013-03-29T08:00:00+00:00", "month", "2013-03", "2013-03-01T00:00+00:00",
         "2013-04-01T00:00+01:00"),
        ("2013-12-31T23:59:00+00:00", "month", "2013-12", "2013-12-01T00:00+00:00",
         "2014-01-01T00:00+00:00"),
    ],
)  # fmt: skip
def test_periods_are_europe_london_days_weeks_and_months(
    instant: str, period: str, label: str, start: str, end: str
) -> None:
    """Days, ISO weeks and months follow the wall clock in London, DST days included."""
    assert card.period_bounds(utc(instant), period) == (label, utc(start), utc(end))


def test_unknown_period_is_refused() -> None:
    """A period other than day, week or month is an error, not a silent default."""
    with pytest.raises(ValueError, match="period"):
        card.period_bounds(T0, "fortnight")


# --- accumulation and grades ----------------------------------------------------------------------


def bucket(**counts: int) -> Bucket:
    dispositions = {k[2:]: counts.pop(k) for k in list(counts) if k.startswith("d_")}
    return Bucket(**counts, dispositions=dispositions)


def one_row(
    acc: Accumulator,
    standards: Standards | None = None,
    *,
    alerts: Sequence[AlertEvent] = (),
    baselines: card.BaselineStates | None = None,
) -> card.Row:
    chosen = standards or Standards()
    (row,) = card.build(acc, period="day", standards=chosen, alerts=alerts, baselines=baselines)
    return row


def test_minutes_outside_the_range_are_left_out_and_hours_sum_minutes() -> None:
    """Only minutes starting in [from, to) count; minutes of an hour add up into it."""
    acc = Accumulator(T0 + 60, T0 + 3600)
    card.add_minute(acc, "london", "lcw", T0, bucket(offered=100))  # before the range
    card.add_minute(acc, "london", "lcw", T0 + 60, bucket(offered=3, d_ed=1))
    card.add_minute(acc, "london", "lcw", T0 + 3540, bucket(offered=4, d_ed=2, d_ambulance=1))
    card.add_minute(acc, "london", "lcw", T0 + 3600, bucket(offered=100))  # at the end: out
    row = one_row(acc)
    assert row.totals.offered == 7
    assert row.totals.dispositions == (("ambulance", 1), ("ed", 3))
    assert (row.start_s, row.end_s) == (T0 + 60, T0 + 3600)


@pytest.mark.parametrize(
    ("answered", "within", "grade"),
    [(100, 95, PASS), (100, 94, WARNING), (100, 85, WARNING), (1000, 849, FAIL), (0, 0, None)],
)
def test_service_level_grades(answered: int, within: int, grade: str | None) -> None:
    """95 % or more passes; from 85 % it is below standard; under 85 % it fails; none: no data."""
    acc = Accumulator(T0, T0 + 3600)
    counts = bucket(offered=answered, answered=answered, answered_within_target=within)
    card.add_minute(acc, "london", "lcw", T0, counts)
    assert one_row(acc).service_level == grade


@pytest.mark.parametrize(
    ("offered", "after", "grade"),
    [(100, 0, PASS), (1000, 49, PASS), (100, 5, WARNING), (1000, 79, WARNING), (100, 8, FAIL)],
)
def test_abandonment_grades(offered: int, after: int, grade: str) -> None:
    """Abandonment below 5 % passes; from 5 % it is below standard; 8 % or more fails."""
    acc = Accumulator(T0, T0 + 3600)
    card.add_minute(
        acc, "london", "lcw", T0, bucket(offered=offered, abandoned_after_threshold=after)
    )
    assert one_row(acc).abandonment == grade


@pytest.mark.parametrize(
    ("standard", "within", "grade"), [(None, 5, None), (0.9, 9, PASS), (0.9, 8, FAIL)]
)
def test_callbacks_are_judged_only_against_a_given_standard(
    standard: float | None, within: int, grade: str | None
) -> None:
    """With no callback standard the share is shown, not judged; with one, a miss fails."""
    acc = Accumulator(T0, T0 + 3600)
    counts = bucket(callbacks_requested=10, callbacks_made=10, callbacks_within_target=within)
    card.add_minute(acc, "london", "lcw", T0 + 120, counts)
    row = one_row(acc, Standards(callback_within_target_min=standard))
    assert row.kpis.callback_within_target_rate == within / 10
    assert row.callbacks == grade
    assert row.result == grade


def test_hours_in_breach_worst_hour_and_result() -> None:
    """Hours under the standard are counted; the worst hour is the lowest service level."""
    acc = Accumulator(T0, T0 + 4 * 3600)
    levels = [(100, 99), (50, 40), (100, 94), (0, 0)]  # answered, within per hour
    for i, (answered, within) in enumerate(levels):
        counts = bucket(offered=answered + 1, answered=answered, answered_within_target=within)
        card.add_minute(acc, "london", "lcw", T0 + i * 3600 + 600, counts)
    row = one_row(acc)
    assert [h.kpis.service_level for h in row.hours] == [0.99, 0.8, 0.94, None]
    assert row.hours_in_breach == 2
    assert row.worst_hour is not None
    assert row.worst_hour.start_s == T0 + 3600
    assert row.service_level == WARNING  # 233 of 250 = 93.2 %
    assert row.result == WARNING


def test_rows_split_by_local_day_and_sorted() -> None:
    """A range over midnight gives one row per provider and local day, in order."""
    acc = Accumulator(T0, T0 + 2 * 86400)
    for provider in ("lcw", "care-uk"):
        for day in (1, 0):
            card.add_minute(acc, "london", provider, T0 + day * 86400, bucket(offered=day + 1))
    rows = card.build(acc, period="day")
    assert [(r.provider, r.period, r.totals.offered) for r in rows] == [
        ("care-uk", "2013-03-29", 1),
        ("care-uk", "2013-03-30", 2),
        ("lcw", "2013-03-29", 1),
        ("lcw", "2013-03-30", 2),
    ]
    assert rows[0].start_s == T0  # clipped to the range, not local midnight
    assert rows[1].end_s == utc("2013-03-31T00:00+00:00")  # local midnight, inside the range
    assert [r.period for r in card.build(acc, period="week")] == ["2013-W13", "2013-W13"]


def alert(
    region: str, state: str, ts: float, name: str = "ServiceLevelBelowStandard"
) -> AlertEvent:
    return AlertEvent(f"{region}:{name}:{ts}", name, region, "warning", state, 0.5, 0.9, ts, ts, "")


def test_alerts_are_the_firing_episodes_of_the_region_in_the_span() -> None:
    """Firing events of the row's region within its span count; resolutions and others do not."""
    acc = Accumulator(T0, T0 + 3600)
    card.add_minute(acc, "london", "lcw", T0, bucket(offered=1))
    alerts = [
        alert("london", "firing", T0 + 100),
        alert("london", "resolved", T0 + 200),
        alert("london", "firing", T0 + 300, "AbandonmentAboveStandard"),
        alert("yorkshire", "firing", T0 + 100),
        alert("london", "firing", T0 + 3600),  # after the range
    ]
    row = one_row(acc, alerts=alerts)
    assert [a.alert for a in row.alerts] == [
        "ServiceLevelBelowStandard",
        "AbandonmentAboveStandard",
    ]


def flat_baseline(mean: float) -> baseline.State:
    """A warm baseline with the same mean count in every hour of the week."""
    return baseline.State((mean,) * baseline.HOURS_PER_WEEK, (10,) * baseline.HOURS_PER_WEEK)


@pytest.mark.parametrize(("ambulance", "grade"), [(10, PASS), (18, PASS), (30, FAIL)])
def test_referrals_against_the_regional_baseline(ambulance: int, grade: str) -> None:
    """Referrals are compared with the baseline rate times the calls triaged (10 % here)."""
    acc = Accumulator(T0, T0 + 3600)
    card.add_minute(
        acc, "london", "lcw", T0, bucket(d_ambulance=ambulance, d_self_care=100 - ambulance)
    )
    states = {
        "london": {
            "ambulance": flat_baseline(2.0),
            "ed": flat_baseline(1.0),
            "all": flat_baseline(20.0),
        }
    }
    row = one_row(acc, baselines=states)
    ref = {r.kind: r for r in row.referrals}["ambulance"]
    assert (ref.count, ref.triaged, ref.rate) == (ambulance, 100, ambulance / 100)
    assert ref.expected_rate == pytest.approx(0.1)
    assert ref.z is not None
    assert ref.grade == grade
    assert (ref.z > 3.0) == (grade == FAIL)
    # Without a baseline the rate is shown and not judged.
    plain = {r.kind: r for r in one_row(acc).referrals}["ambulance"]
    assert (plain.rate, plain.expected_rate, plain.grade) == (ambulance / 100, None, None)


# --- overflow -------------------------------------------------------------------------------------


def cmd(
    command_id: str,
    action: str,
    at_min: float,
    target: str | None = "yorkshire",
    *,
    ttl_min: float = 60,
    by: str = "auto",
    region: str = "north-west",
) -> OverflowCommand:
    at = T0 + at_min * 60
    return OverflowCommand(command_id, region, action, target, at, at + ttl_min * 60, by)


def episode(
    *spans_min: tuple[float, float],
    by: str = "auto",
    activated: bool = True,
    targets: tuple[str, ...] = ("yorkshire",),
) -> OverflowEpisode:
    spans = tuple((T0 + a * 60, T0 + b * 60) for a, b in spans_min)
    return OverflowEpisode("north-west", by, activated, targets, spans)


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        # Activated, refreshed before it lapsed, deactivated.
        ([cmd("nw:1", "activate", 0), cmd("nw:2", "adjust", 50), cmd("nw:3", "deactivate", 90)],
         [episode((0, 50), (50, 90))]),
        # Never renewed: it lapses at expires_at.
        ([cmd("nw:1", "activate", 0)], [episode((0, 60))]),
        # Renewed after it lapsed: the same diversion, not in force in between.
        ([cmd("nw:1", "activate", 0), cmd("nw:2", "adjust", 70)],
         [episode((0, 60), (70, 130))]),
        # Stopped and activated again: two.
        ([cmd("nw:1", "activate", 0), cmd("nw:2", "deactivate", 30), cmd("nw:3", "activate", 90)],
         [episode((0, 30)), episode((90, 150))]),
        # The same command twice (an acknowledgement republishes it) counts once.
        ([cmd("nw:1", "activate", 0), cmd("nw:1", "activate", 0), cmd("nw:2", "deactivate", 30)],
         [episode((0, 30))]),
        # Given out of order: taken in issue order.
        ([cmd("nw:2", "deactivate", 30), cmd("nw:1", "activate", 0)], [episode((0, 30))]),
        # A deactivate with nothing in force is no diversion.
        ([cmd("nw:1", "deactivate", 0, None)], []),
        # Under way before the first command seen: not an activation.
        ([cmd("nw:7", "adjust", 0)], [episode((0, 60), activated=False)]),
        # An operator starts it; the policy takes it back when the override lapses (an adjust),
        # moves it to another target and ends it.
        ([cmd("nw:operator:r1", "activate", 0, "south-west", ttl_min=30, by="operator:jo"),
          cmd("nw:1", "adjust", 31, "south-west"), cmd("nw:2", "adjust", 60, "north-east"),
          cmd("nw:3", "deactivate", 100)],
         [episode((0, 30), (31, 60), (60, 100), by="operator:jo",
                  targets=("south-west", "north-east"))]),
    ],
)  # fmt: skip
def test_overflow_episodes(
    commands: list[OverflowCommand], expected: list[OverflowEpisode]
) -> None:
    """A diversion runs from an activate; each command is in force until it lapses or the next
    command of the region replaces it."""
    assert overflow_episodes(commands) == expected


def test_overflow_figures_per_period() -> None:
    """A diversion over midnight counts as an activation on the day it starts and its minutes on
    each day; the row says who started the diversions under way; other regions show none, and
    without commands the figures are unknown (None), not zero."""
    acc = Accumulator(T0, T0 + 2 * 86400)
    for region in ("north-west", "london"):
        for day in (0, 1):
            card.add_minute(acc, region, "p", T0 + day * 86400, bucket(offered=1))
    midnight_min = 16 * 60  # Fri 29 Mar 2013 08:00 GMT + 16 h
    commands = [
        cmd("nw:1", "activate", midnight_min - 60),  # 23:00 auto, renewed, off at 00:30
        cmd("nw:2", "adjust", midnight_min - 10),
        cmd("nw:3", "deactivate", midnight_min + 30),
        cmd("nw:operator:r", "activate", midnight_min + 600, "south-west", by="operator:jo"),
    ]
    rows = card.build(acc, period="day", overflow=commands)
    figures = {
        (r.region, r.period): (r.overflow_activations, r.overflow_minutes, r.overflow_started_by)
        for r in rows
    }
    assert figures == {
        ("london", "2013-03-29"): (0, 0.0, ()),
        ("london", "2013-03-30"): (0, 0.0, ()),
        ("north-west", "2013-03-29"): (1, 60.0, ("auto",)),
        ("north-west", "2013-03-30"): (1, 90.0, ("auto", "operator:jo")),
    }
    unknown = card.build(acc, period="day")
    assert {(r.overflow, r.overflow_activations, r.overflow_minutes) for r in unknown} == {
        (None, None, None)
    }
    csv_doc = scorecard_report.csv_rows(rows, Standards())[2]
    assert (csv_doc["region"], csv_doc["period"]) == ("north-west", "2013-03-29")
    assert [csv_doc[c] for c in ("overflow_activations", "overflow_minutes")] == [1, "60.0"]
    assert csv_doc["overflow_started_by"] == "auto"
    blank = scorecard_report.csv_rows(unknown, Standards())[0]
    assert [blank[c] for c in scorecard_report.CSV_COLUMNS if c.startswith("overflow_")] == [
        "",
        "",
        "",
    ]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "not a JSON object"),
        ({"command_id": "a:1", "region": "a", "action": "activate"}, "issued_by"),
        ({"command_id": "a:1", "region": "a", "action": "stop", "issued_by": "auto",
          "issued_at": "2013-03-29T09:00:00Z", "expires_at": "2013-03-29T10:00:00Z"}, "action"),
        ({"command_id": "a:1", "region": "a", "action": "activate", "issued_by": "auto",
          "issued_at": "2013-03-29T09:00:00", "expires_at": "2013-03-29T10:00:00Z"}, "offset"),
        ({"command_id": "a:1", "region": "a", "action": "activate", "issued_by": "auto",
          "issued_at": "2013-03-29T09:00:00Z", "expires_at": "2013-03-29T08:00:00Z"}, "before"),
    ],
)  # fmt: skip
def test_malformed_overflow_records_are_refused(doc: object, message: str) -> None:
    """A record that is not an OverflowCommand is refused with what is wrong with it."""
    with pytest.raises(ValueError, match=message):
        scorecard.overflow_command(doc)


def test_standards_refuse_impossible_levels() -> None:
    """A share outside 0..1 or a failing level inside the standard is refused."""
    with pytest.raises(ValueError, match="share"):
        Standards(callback_within_target_min=90.0)
    with pytest.raises(ValueError, match="failing level"):
        Standards(service_level_fail_below=0.97)


# --- the launch-day scorecard ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def launch_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[scorecard.Scorecard, Path]:
    folder = tmp_path_factory.mktemp("launch-day")
    result = launch_day_scorecard(folder)
    return result, folder


def truth_by_provider() -> dict[tuple[str, str], Counter[str]]:
    """The generator's ground truth summed per (region, provider) over the scenario."""
    out: dict[tuple[str, str], Counter[str]] = {}
    for (region, provider, _, name), n in ground_truth(launch_day_events()).counts.items():
        if provider != "-":
            out.setdefault((region, provider), Counter())[name] += n
    return out


def callbacks_within_10_min() -> Counter[tuple[str, str]]:
    """Callbacks made at most 600 s after their request, paired by call id from the events."""
    asked: dict[str, float] = {}
    made: dict[str, tuple[str, str, float]] = {}
    for e in launch_day_events():
        ev = e.event
        if isinstance(ev, CallEvent) and ev.event == "callback_requested":
            asked[ev.call_id] = ev.ts_s
        elif isinstance(ev, CallEvent) and ev.event == "callback_made":
            made[ev.call_id] = (ev.region, ev.provider, ev.ts_s)
    return Counter(
        (region, provider)
        for call_id, (region, provider, ts) in made.items()
        if call_id in asked and ts - asked[call_id] <= 600.0
    )


def test_launch_day_totals_equal_the_generators_ground_truth(
    launch_day: tuple[scorecard.Scorecard, Path],
) -> None:
    """Every provider's counts in the scorecard are exactly what the generator emitted."""
    result, _ = launch_day
    truth = truth_by_provider()
    within = callbacks_within_10_min()
    assert {(r.region, r.provider) for r in result.rows} == set(truth)
    assert {(r.region, r.provider) for r in result.rows} == set(default_catalogue().pairs())
    for row in result.rows:
        t, expected = row.totals, truth[(row.region, row.provider)]
        assert row.period == "2013-03-29"
        assert (t.offered, t.answered, t.abandoned) == (
            expected["offered"],
            expected["answered"],
            expected["abandoned"],
        )
        assert t.answered_within_target == expected["answered_within_60"]
        assert t.abandoned_after_threshold == expected["abandoned_after_30"]
        assert (t.callbacks_requested, t.callbacks_made) == (
            expected["callback_requested"],
            expected["callback_made"],
        )
        assert t.callbacks_within_target == within[(row.region, row.provider)]
        assert dict(t.dispositions) == {
            name.split(":", 1)[1]: n
            for name, n in expected.items()
            if name.startswith("disposition:")
        }
    assert result.counts["ok"] == sum(1 for e in launch_day_events() if e.topic == "calls")


def test_launch_day_fails_north_west_and_west_midlands_only(
    launch_day: tuple[scorecard.Scorecard, Path],
) -> None:
    """NW and WM fail service level and abandonment, with alerts; no healthy provider fails."""
    result, _ = launch_day
    for row in result.rows:
        if row.region in FAILING:
            assert (row.service_level, row.abandonment, row.result) == (FAIL, FAIL, FAIL)
            assert row.hours_in_breach >= HOURS - 1  # every hour after the failure
            assert {a.alert for a in row.alerts} >= BREACH_ALERTS
        else:
            assert row.result in (PASS, WARNING), (row.region, row.provider, row.kpis)
            assert row.abandonment == PASS
            # No breach alert (a forecast may warn of one: that is the forecast's own business).
            assert not {a.alert for a in row.alerts} & BREACH_ALERTS
    healthy_levels = [r.kpis.service_level or 0.0 for r in result.rows if r.region not in FAILING]
    failing_levels = [r.kpis.service_level or 1.0 for r in result.rows if r.region in FAILING]
    assert max(failing_levels) < min(healthy_levels) - 0.2


def test_launch_day_csv_and_html(launch_day: tuple[scorecard.Scorecard, Path]) -> None:
    """The CSV has one row per provider and period with the grades; the HTML embeds the plots."""
    result, folder = launch_day
    csv_path, html_path = scorecard_report.write(result, default_catalogue(), folder / "out")
    with csv_path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(result.rows)
    assert set(rows[0]) == set(scorecard_report.CSV_COLUMNS)
    by_region = {(r["region"], r["provider"]): r for r in rows}
    for (region, _), r in by_region.items():
        expected = "fail" if region in FAILING else ("pass", "warning")
        assert r["result"] in expected
        assert r["ambulance_result"] == "n/a"  # no baseline given
    nw = by_region[("north-west", "nhs-direct")]
    assert int(nw["offered"]) == truth_by_provider()[("north-west", "nhs-direct")]["offered"]
    assert float(nw["service_level"]) < 0.9
    page = html_path.read_text(encoding="utf-8")
    assert page.count('<tr data-region="') == len(result.rows)
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == len(result.rows)
    assert 'data-result="fail"' in page
    assert "<th>Overflow<br>(activations)</th>" in page
    assert nw["overflow_activations"] == "1" and nw["overflow_started_by"] == "auto"
    assert "http://" not in page and "https://" not in page  # self-contained


def test_launch_day_overflow_figures_are_the_policys_commands(
    launch_day: tuple[scorecard.Scorecard, Path],
) -> None:
    """The failing regions' rows count the overflow policy's activates on the launch day and
    the minutes from the first to the end (refreshed, never released: no recovery); the healthy
    regions never divert."""
    result, folder = launch_day
    records = [orjson.loads(line) for line in (folder / "overflow.jsonl").read_bytes().splitlines()]
    assert result.overflow_source == f"file {folder / 'overflow.jsonl'}: {len(records)} commands"
    activates: dict[str, list[float]] = {}
    for r in records:
        if r["action"] == "activate":
            activates.setdefault(r["region"], []).append(parse_ts(r["issued_at"]))
    assert set(activates) == FAILING
    for row in result.rows:
        figures = (row.overflow_activations, row.overflow_minutes, row.overflow_started_by)
        if row.region in FAILING:
            first = min(activates[row.region])
            assert figures == (len(activates[row.region]), (row.end_s - first) / 60, ("auto",))
        else:
            assert figures == (0, 0.0, ())


def test_cli_overflow_file_skips_bad_records_and_needs_the_file(
    launch_day: tuple[scorecard.Scorecard, Path], tmp_path: Path
) -> None:
    """`--overflow FILE` adds the overflow columns, counting an acknowledged (republished)
    command once and skipping a malformed line; a missing file is an error."""
    _, folder = launch_day
    records = (folder / "overflow.jsonl").read_bytes().splitlines()
    acked = orjson.dumps({**orjson.loads(records[0]), "acknowledged_by": "operator:sam"})
    path = tmp_path / "commands.jsonl"
    path.write_bytes(b"\n".join([*records, acked, b"{not json", b""]))
    args = ["scorecard", "--file", str(folder / "events.jsonl"), "--out", str(tmp_path / "out")]
    args += ["--from", "2013-03-29T08:00:00+00:00", "--to", "2013-03-29T11:00:00+00:00"]
    commands, note = scorecard.load_overflow(path)
    assert (len(commands), note) == (
        len(records) + 1,
        f"file {path}: {len(commands)} commands, 1 skipped",
    )
    assert main([*args, "--provider", "nhs-direct", "--overflow", str(path)]) == 0
    with (tmp_path / "out" / "scorecard.csv").open(encoding="utf-8") as f:
        rows = {r["region"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == sorted(FAILING)
    assert {(r["overflow_activations"], r["overflow_started_by"]) for r in rows.values()} == {
        ("1", "auto")
    }
    assert main([*args, "--overflow", str(tmp_path / "missing.jsonl")]) == 2


def test_cli_writes_the_scorecard_and_rejects_a_bad_range(
    launch_day: tuple[scorecard.Scorecard, Path], tmp_path: Path
) -> None:
    """`surge-monitor scorecard` writes both files; --to before --from is a clear error."""
    _, folder = launch_day
    args = ["scorecard", "--file", str(folder / "events.jsonl"), "--out", str(tmp_path)]
    span = ["--from", "2013-03-29T09:00:00+00:00", "--to", "2013-03-29T10:00:00+00:00"]
    assert main([*args, *span, "--provider", "nhs-direct", "--callback-standard", "0.9"]) == 0
    with (tmp_path / "scorecard.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["region"] for r in rows) == ["north-west", "west-midlands"]
    assert {r["start"] for r in rows} == {"2013-03-29 09:00"}
    assert all(r["callback_standard"] == "0.9000" for r in rows)
    assert (tmp_path / "scorecard.html").is_file()
    backwards = ["--from", "2013-03-29T10:00:00+00:00", "--to", "2013-03-29T09:00:00+00:00"]
    assert main([*args, *backwards]) == 2
    assert main([*args, "--from", "2013-03-29T09:00:00", "--to", "2013-03-29T10:00:00Z"]) == 2


def test_cli_jobs_2_writes_the_same_scorecard_csv(
    launch_day: tuple[scorecard.Scorecard, Path], tmp_path: Path
) -> None:
    """`scorecard --jobs 2` (regions replayed in two processes) writes the same CSV as one."""
    _, folder = launch_day
    span = ["--from", "2013-03-29T08:00:00+00:00", "--to", "2013-03-29T12:00:00+00:00"]
    texts = []
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        args = ["scorecard", "--file", str(folder / "events.jsonl"), "--out", str(out)]
        assert main([*args, *span, "--jobs", jobs]) == 0
        texts.append((out / "scorecard.csv").read_text(encoding="utf-8"))
    assert texts[0] == texts[1]
    assert len(texts[0].splitlines()) > 10
    with pytest.raises(SystemExit) as exc:
        main([*args, *span, "--jobs", "0"])
    assert exc.value.code == 2
