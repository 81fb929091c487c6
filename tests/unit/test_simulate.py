"""The scenario generator: determinism, the event contract, calibration to DESIGN.md, the oracle."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from streams.contract.catalogue import Catalogue, default_catalogue
from streams.contract.errors import ConfigError
from streams.contract.records import (
    CallEvent,
    DispatchEvent,
    format_ts,
    parse_call_event,
    parse_dispatch_event,
)
from streams.simulate import agents, scenarios
from streams.simulate import generator as sim
from streams.simulate.truth import Emitted, GroundTruth, ground_truth

LONDON = ZoneInfo("Europe/London")
DAY_S = 86_400.0
FAILURE_AFTER_S = 8 * 3600.0
FAILING = ("north-west", "west-midlands")


def local_midnight(year: int, month: int, day: int) -> float:
    return datetime(year, month, day, tzinfo=LONDON).timestamp()


WEDNESDAY = local_midnight(2013, 3, 6)
SATURDAY = local_midnight(2013, 3, 9)
GOOD_FRIDAY = local_midnight(2013, 3, 29)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


@pytest.fixture(scope="module")
def weekday(catalogue: Catalogue) -> list[Emitted]:
    return sim.generate(scenarios.normal(WEDNESDAY, DAY_S), catalogue, seed=7)


@pytest.fixture(scope="module")
def weekday_truth(weekday: list[Emitted]) -> GroundTruth:
    return ground_truth(weekday)


@pytest.fixture(scope="module")
def launch(catalogue: Catalogue) -> list[Emitted]:
    return sim.generate(
        scenarios.launch_day(GOOD_FRIDAY, DAY_S, FAILURE_AFTER_S), catalogue, seed=7
    )


@pytest.fixture(scope="module")
def launch_truth(launch: list[Emitted]) -> GroundTruth:
    return ground_truth(launch)


def service_level(truth: GroundTruth, region: str | None = None, since_s: float = 0) -> float:
    within = truth.total(region, "answered_within_60", since_s=since_s)
    return within / truth.total(region, "answered", since_s=since_s)


def abandon_rate(truth: GroundTruth, region: str | None = None, since_s: float = 0) -> float:
    late = truth.total(region, "abandoned_after_30", since_s=since_s)
    return late / truth.total(region, "offered", since_s=since_s)


def referral_share(
    truth: GroundTruth, kind: str, region: str | None = None, since_s: float = 0
) -> float:
    triaged = sum(
        truth.total(region, f"disposition:{k}", since_s=since_s) for k in sim.DISPOSITION_KINDS
    )
    return truth.total(region, f"disposition:{kind}", since_s=since_s) / triaged


def calls(events: list[Emitted]) -> list[CallEvent]:
    return [e.event for e in events if isinstance(e.event, CallEvent)]


def test_same_seed_gives_identical_events_and_another_seed_does_not(catalogue: Catalogue) -> None:
    """A seed fixes the whole scenario; a different seed gives a different one."""
    scenario = scenarios.launch_day(GOOD_FRIDAY + 7 * 3600, 2 * 3600, 3600)
    first = sim.generate(scenario, catalogue, seed=3)
    assert first == sim.generate(scenario, catalogue, seed=3)
    assert first != sim.generate(scenario, catalogue, seed=4)


def test_every_event_passes_the_validators_and_round_trips(
    launch: list[Emitted], catalogue: Catalogue
) -> None:
    """Every generated event survives JSON encoding and validation unchanged."""
    seen: Counter[str] = Counter()
    for e in launch:
        raw = orjson.dumps(e.event.to_json())
        if e.topic == "calls":
            assert parse_call_event(raw, catalogue) == e.event
            assert isinstance(e.event, CallEvent)
            seen[e.event.event] += 1
        else:
            assert e.topic == "dispatches"
            assert parse_dispatch_event(raw, catalogue) == e.event
            assert isinstance(e.event, DispatchEvent)
            seen[f"dispatch:{e.event.source}"] += 1
        assert e.key == e.event.region
        assert e.ts_s == e.event.ts_s == round(e.ts_s * 1000) / 1000
    kinds = {"offered", "answered", "abandoned", "disposition", "callback_requested"}
    assert set(seen) == kinds | {"callback_made", "dispatch:111", "dispatch:999", "dispatch:hcp"}


@pytest.mark.parametrize("fixture", ["weekday", "launch"])
def test_events_are_sorted_and_inside_the_window(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """Events come in event-time order and only from [start, start + duration)."""
    events: list[Emitted] = request.getfixturevalue(fixture)
    start = WEDNESDAY if fixture == "weekday" else GOOD_FRIDAY
    times = [e.ts_s for e in events]
    assert times == sorted(times)
    assert start <= times[0] and times[-1] < start + DAY_S


def test_a_partial_minute_window_drops_later_events(catalogue: Catalogue) -> None:
    """A duration that is not whole minutes still cuts every event at start + duration."""
    events = sim.generate(scenarios.normal(WEDNESDAY + 12 * 3600, 930.5), catalogue, seed=1)
    assert events
    assert max(e.ts_s for e in events) < WEDNESDAY + 12 * 3600 + 930.5


def test_call_lifecycles_are_consistent(launch: list[Emitted]) -> None:
    """Each call is offered once, then answered or abandoned (never both), then triaged."""
    offered: dict[str, float] = {}
    ended: dict[str, str] = {}
    triaged: dict[str, str] = {}
    requested: set[str] = set()
    for ev in calls(launch):
        key = f"{ev.region}/{ev.call_id}"
        if ev.event == "offered":
            assert key not in offered
            offered[key] = ev.ts_s
        elif ev.event in ("answered", "abandoned"):
            assert key in offered and key not in ended
            assert ev.wait_seconds is not None
            assert ev.ts_s == pytest.approx(offered[key] + ev.wait_seconds, abs=1e-3)
            ended[key] = ev.event
        elif ev.event == "disposition":
            assert ended.get(key) == "answered"
            assert ev.disposition is not None
            triaged[key] = ev.disposition
        elif ev.event == "callback_requested":
            assert key in triaged
            requested.add(key)
        else:
            assert ev.event == "callback_made" and key in requested
    for e in launch:
        if isinstance(e.event, DispatchEvent) and e.event.source == "111":
            assert e.event.call_id is not None
            assert triaged[f"{e.event.region}/{e.event.call_id}"] == "ambulance"


def test_normal_weekday_matches_the_published_month(weekday_truth: GroundTruth) -> None:
    """A normal weekday: 94-96 % within 60 s, 1-2 % abandoned, 10-13 % ambulance, 7-9 % ED."""
    expected_calls = 45_000 * 7 / (5 + 2 * 2.2)
    assert weekday_truth.total() == pytest.approx(expected_calls, rel=0.04)
    assert 0.93 <= service_level(weekday_truth) <= 0.97
    assert 0.005 <= abandon_rate(weekday_truth) <= 0.03
    assert 0.09 <= referral_share(weekday_truth, "ambulance") <= 0.14
    assert 0.06 <= referral_share(weekday_truth, "ed") <= 0.10


@pytest.mark.parametrize("shift_hours", [None, 8.0])
def test_a_normal_weekday_with_breaks_still_matches_the_published_month(
    catalogue: Catalogue, shift_hours: float | None
) -> None:
    """With breaks the rota's extra handlers keep 94-96 % within 60 s and 1-2 % abandoned
    (without them: 93.6 %, and 92.1 % with 8-hour shifts)."""
    day = replace(scenarios.normal(WEDNESDAY, DAY_S), breaks=True, shift_hours=shift_hours)
    truth = ground_truth(sim.generate(day, catalogue, seed=7))
    assert 0.94 <= service_level(truth) <= 0.96
    assert 0.005 <= abandon_rate(truth) <= 0.02
    for code in catalogue.codes():
        assert service_level(truth, code) > 0.9, code

    def rostered(scenario: scenarios.Scenario) -> int:
        return sum(int(str(row["rostered"])) for row in sim.rota(scenario, catalogue))

    assert 1.02 < rostered(day) / rostered(replace(day, breaks=False)) < 1.1


def test_every_region_is_healthy_on_a_normal_weekday(
    weekday_truth: GroundTruth, catalogue: Catalogue
) -> None:
    """No region breaches the standard on a normal day, so the monitor has no reason to alert."""
    for code in catalogue.codes():
        assert service_level(weekday_truth, code) > 0.9, code
        assert abandon_rate(weekday_truth, code) < 0.04, code


def test_callbacks_follow_a_tenth_of_answered_calls_mostly_within_10_minutes(
    weekday: list[Emitted], weekday_truth: GroundTruth
) -> None:
    """About 10 % of answered calls get a clinical callback, most within 10 minutes."""
    share = weekday_truth.total(None, "callback_requested") / weekday_truth.total(None, "answered")
    assert 0.08 <= share <= 0.12
    requested = {
        (ev.region, ev.call_id): ev.ts_s
        for ev in calls(weekday)
        if ev.event == "callback_requested"
    }
    delays = [
        ev.ts_s - requested[(ev.region, ev.call_id)]
        for ev in calls(weekday)
        if ev.event == "callback_made"
    ]
    assert sum(d <= 600 for d in delays) / len(delays) > 0.85


def test_dispatch_mix(weekday_truth: GroundTruth) -> None:
    """999 is about 20k a day at 45k calls, and categories follow roughly 10/55/30/5 %."""
    by_category = {
        c: sum(weekday_truth.total(None, f"dispatch:{s}:{c}") for s in ("111", "999", "hcp"))
        for c in sim.CATEGORIES
    }
    total = sum(by_category.values())
    assert sum(weekday_truth.total(None, f"dispatch:999:{c}") for c in sim.CATEGORIES) == (
        pytest.approx(20_000, rel=0.05)
    )
    for category, share in zip(sim.CATEGORIES, sim.CATEGORY_MIX, strict=True):
        assert by_category[category] / total == pytest.approx(share, abs=0.02)


def test_weekend_day_is_about_2_2_weekdays(
    catalogue: Catalogue, weekday_truth: GroundTruth
) -> None:
    """A Saturday carries about 2.2 times a weekday's calls and still meets the standard."""
    saturday = ground_truth(sim.generate(scenarios.normal(SATURDAY, DAY_S), catalogue, seed=7))
    assert saturday.total() / weekday_truth.total() == pytest.approx(2.2, rel=0.15)
    assert 0.93 <= service_level(saturday) <= 0.98
    assert 0.005 <= abandon_rate(saturday) <= 0.03


@pytest.mark.parametrize("region", FAILING)
def test_launch_day_failing_regions_collapse_after_the_failure(
    launch_truth: GroundTruth, region: str
) -> None:
    """After the failure the failing regions answer few calls in time and lose many callers."""
    failure = GOOD_FRIDAY + FAILURE_AFTER_S
    assert service_level(launch_truth, region, since_s=failure) < 0.8
    assert abandon_rate(launch_truth, region, since_s=failure) > 0.08
    # Expected 17.6 % ambulance and 28.8 % ambulance + ED; ~1,000 triaged calls, so 3-5 sd margin.
    ambulance = referral_share(launch_truth, "ambulance", region, since_s=failure)
    assert ambulance > 0.13
    assert ambulance + referral_share(launch_truth, "ed", region, since_s=failure) > 0.22
    # Before the failure it is a normal (quiet, small-team) night: 0.88-0.98 over seeds 1-12.
    within_before = launch_truth.total(region, "answered_within_60", until_s=failure)
    assert within_before / launch_truth.total(region, "answered", until_s=failure) > 0.85


@pytest.mark.parametrize("region", [c for c in default_catalogue().codes() if c not in FAILING])
def test_launch_day_healthy_regions_hold(launch_truth: GroundTruth, region: str) -> None:
    """Regions that did not fail keep meeting the standard all day."""
    assert service_level(launch_truth, region) > 0.9
    assert abandon_rate(launch_truth, region) < 0.04


def test_launch_day_999_dispatches_rise_a_few_percent_in_failing_regions(
    catalogue: Catalogue, launch_truth: GroundTruth
) -> None:
    """Callers giving up on 111 lift 999 dispatches a few percent where 111 failed."""
    normal_day = ground_truth(sim.generate(scenarios.normal(GOOD_FRIDAY, DAY_S), catalogue, seed=7))
    failure = GOOD_FRIDAY + FAILURE_AFTER_S

    def dispatches_999(truth: GroundTruth) -> int:
        return sum(
            truth.total(r, f"dispatch:999:{c}", since_s=failure)
            for r in FAILING
            for c in sim.CATEGORIES
        )

    assert 1.0 < dispatches_999(launch_truth) / dispatches_999(normal_day) < 1.15


def test_ground_truth_totals_match_a_direct_count(
    weekday: list[Emitted], weekday_truth: GroundTruth
) -> None:
    """The oracle's totals equal counting the emitted events by hand."""
    direct: Counter[tuple[str, str]] = Counter()
    for e in weekday:
        ev = e.event
        if isinstance(ev, DispatchEvent):
            direct[(ev.region, f"dispatch:{ev.source}:{ev.category}")] += 1
            continue
        assert isinstance(ev, CallEvent)  # a scenario without agent states
        name = f"disposition:{ev.disposition}" if ev.event == "disposition" else ev.event
        direct[(ev.region, name)] += 1
        if ev.event == "answered" and ev.wait_seconds is not None and ev.wait_seconds <= 60:
            direct[(ev.region, "answered_within_60")] += 1
        if ev.event == "abandoned" and ev.wait_seconds is not None and ev.wait_seconds > 30:
            direct[(ev.region, "abandoned_after_30")] += 1
    for (region, name), n in direct.items():
        assert weekday_truth.total(region, name) == n, (region, name)
    assert sum(direct.values()) == sum(weekday_truth.counts.values())
    assert weekday_truth.total() == sum(n for (_r, nm), n in direct.items() if nm == "offered")


def _call(kind: str, ts_s: float, wait: float | None = None) -> Emitted:
    disposition = "ed" if kind == "disposition" else None
    ev = CallEvent("NW00000001", kind, ts_s, "north-west", "nhs-direct", None, wait, disposition)
    return Emitted("calls", "north-west", ts_s, ev)


T0 = datetime(2013, 3, 29, 10, 0, tzinfo=UTC).timestamp()


ANSWER_EDGE = {(T0 + 60, "answered"), (T0 + 60, "answered_within_60")}
ABANDON_EDGE = {(T0 + 60, "abandoned"), (T0 + 60, "abandoned_after_30")}
DISPATCH = DispatchEvent("inc-nw-0000001", T0 + 5.0, "north-west", "999", "C2")


@pytest.mark.parametrize(
    ("event", "names"),
    [
        (_call("offered", T0 + 59.999), {(T0, "offered")}),
        (_call("answered", T0 + 60.0, 60.0), ANSWER_EDGE),
        (_call("answered", T0 + 61.0, 60.001), {(T0 + 60, "answered")}),
        (_call("abandoned", T0 + 90.5, 30.0), {(T0 + 60, "abandoned")}),
        (_call("abandoned", T0 + 119.999, 30.001), ABANDON_EDGE),
        (_call("disposition", T0 + 600.0), {(T0 + 600, "disposition:ed")}),
        (Emitted("dispatches", "north-west", T0 + 5.0, DISPATCH), {(T0, "dispatch:999:C2")}),
    ],
)
def test_ground_truth_buckets_by_the_events_own_minute(
    event: Emitted, names: set[tuple[float, str]]
) -> None:
    """An event counts in the minute of its own ts, with the 60 s and 30 s edges of the MDS."""
    truth = ground_truth([event])
    provider = "-" if event.topic == "dispatches" else "nhs-direct"
    assert dict(truth.counts) == {("north-west", provider, int(m), n): 1 for m, n in names}


def test_ground_truth_rows_are_sorted_with_iso_minutes() -> None:
    """`to_rows` lists every count once, sorted, with the minute as format_ts gives it."""
    truth = ground_truth(
        [_call("offered", T0 + 61), _call("offered", T0 + 1), _call("answered", T0 + 62, 1.0)]
    )
    rows = [(r["minute"], r["name"], r["count"]) for r in truth.to_rows()]
    assert rows == [
        (format_ts(T0), "offered", 1),
        (format_ts(T0 + 60), "answered", 1),
        (format_ts(T0 + 60), "answered_within_60", 1),
        (format_ts(T0 + 60), "offered", 1),
    ]
    assert {(r["region"], r["provider"]) for r in truth.to_rows()} == {("north-west", "nhs-direct")}
    assert truth.series("north-west", "offered") == {int(T0): 1, int(T0) + 60: 1}


def test_diurnal_shape_follows_london_time_across_the_dst_change(catalogue: Catalogue) -> None:
    """The busiest hour stays at 19:00 on the wall clock on both sides of 31 March 2013."""
    start = local_midnight(2013, 3, 30)
    end = local_midnight(2013, 4, 2)
    events = sim.generate(scenarios.normal(start, end - start), catalogue, seed=11)
    by_local: Counter[tuple[str, int]] = Counter()
    by_utc: Counter[tuple[str, int]] = Counter()
    for ev in calls(events):
        if ev.event == "offered":
            local = datetime.fromtimestamp(ev.ts_s, tz=LONDON)
            by_local[(local.date().isoformat(), local.hour)] += 1
            by_utc[(local.date().isoformat(), datetime.fromtimestamp(ev.ts_s, tz=UTC).hour)] += 1

    def busiest(counts: Counter[tuple[str, int]], day: str) -> int:
        return max(range(24), key=lambda h: counts[(day, h)])

    assert busiest(by_local, "2013-03-30") == busiest(by_local, "2013-04-01") == 19
    assert busiest(by_utc, "2013-03-30") == 19 and busiest(by_utc, "2013-04-01") == 18
    # The 23-hour Sunday has no 01:00 local hour and is not a 24-hour day shifted by one.
    assert by_local[("2013-03-31", 1)] == 0
    quiet = sum(by_local[("2013-04-01", h)] for h in range(1, 7))
    assert quiet / sum(by_local[("2013-04-01", h)] for h in range(24)) < 0.12


def test_erlang_c_staffing_grows_with_load_and_stays_above_it() -> None:
    """The rota needs more handlers than the offered load and more as the load grows."""
    handlers = [agents.erlang_c_handlers(rate / 60) for rate in (0.0, 0.5, 2.0, 8.0, 30.0)]
    assert handlers == sorted(handlers)
    assert handlers[0] == 1
    for rate, n in zip((0.5, 2.0, 8.0, 30.0), handlers[1:], strict=True):
        assert n > rate / 60 * agents.MEAN_HANDLE_S


def test_failure_mix_lifts_ambulance_and_ed_and_sums_to_one() -> None:
    """Overwhelmed triage refers 2.5x ambulance and 2x ED; the other shares shrink to fit."""
    mix = sim.failure_mix()
    assert math.isclose(sum(mix.values()), 1.0)
    assert mix["ambulance"] == pytest.approx(0.11 * 2.5)
    assert mix["ed"] == pytest.approx(0.08 * 2.0)
    assert mix["self_care"] < sim.DISPOSITION_MIX["self_care"]


@pytest.mark.parametrize(
    "scenario",
    [
        scenarios.normal(WEDNESDAY + 30, DAY_S),
        scenarios.normal(WEDNESDAY, 0),
        scenarios.Scenario(
            "broken", WEDNESDAY, DAY_S, ("north-west",), WEDNESDAY, capacity_left=1.5
        ),
        scenarios.Scenario("typo", WEDNESDAY, DAY_S, ("north-wset",), WEDNESDAY),
    ],
)
def test_invalid_scenarios_are_rejected(scenario: scenarios.Scenario, catalogue: Catalogue) -> None:
    """A scenario off the minute grid, empty, over 100 % capacity or naming no region is refused."""
    with pytest.raises(ConfigError):
        sim.generate(scenario, catalogue, seed=1)


def test_a_recovery_gives_the_failing_regions_their_capacity_back(catalogue: Catalogue) -> None:
    """With `recovery_start_s` the failing regions collapse during the failure and meet the
    standard again once the backlog has cleared after the recovery."""
    start = GOOD_FRIDAY + 8 * 3600
    failure, recovery = start + 3600, start + 2 * 3600
    scenario = scenarios.Scenario(
        "recovery", start, 5 * 3600, FAILING, failure, recovery_start_s=recovery
    )
    truth = ground_truth(sim.generate(scenario, catalogue, seed=3))
    for region in FAILING:
        during = {"since_s": failure, "until_s": recovery}
        within = truth.total(region, "answered_within_60", **during)
        assert within / truth.total(region, "answered", **during) < 0.8
        assert service_level(truth, region, since_s=recovery + 3600) > 0.9
