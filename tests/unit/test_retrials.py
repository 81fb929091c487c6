"""Retrials: callers who abandon try again on the same queue, and the truth keeps the callers."""

from __future__ import annotations

import argparse
import math
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime

import numpy as np
import orjson
import pytest

from streams.cli import simulate as cli
from streams.contract.catalogue import default_catalogue
from streams.contract.records import LONDON, AgentStateEvent, CallEvent, parse_call_event
from streams.simulate import generator, retrials, scenarios
from streams.simulate.shifts import Staff
from streams.simulate.truth import Emitted, GroundTruth, ground_truth

CATALOGUE = default_catalogue()
START = 1364544000.0  # Good Friday 2013, 08:00 UTC (and London time)
HOUR = 3600.0
FAILING = ("north-west", "west-midlands")
T0 = START + 2 * HOUR


def _call(call_id: str, kind: str, ts_s: float, attempt: int, first_s: float) -> Emitted:
    wait = {"answered": 4.0, "abandoned": 90.0}.get(kind)
    ev = CallEvent(
        call_id, kind, ts_s, "north-west", "nhs-direct", None, wait, None,
        attempt, first_s if attempt > 1 else None,
    )  # fmt: skip
    return Emitted("calls", "north-west", ts_s, ev, caller="NW00000001")


def test_a_caller_answered_at_the_third_attempt_is_one_caller_with_two_repeats() -> None:
    """Abandoned twice, answered on the third attempt: 1 caller, 3 attempts, 2 repeats, and a
    wait to get through from the first offer to the answer."""
    events = [
        _call("NW00000001", "offered", T0, 1, T0),
        _call("NW00000001", "abandoned", T0 + 90, 1, T0),
        _call("NW00000007", "offered", T0 + 400, 2, T0),
        _call("NW00000007", "abandoned", T0 + 490, 2, T0),
        _call("NW00000012", "offered", T0 + 900, 3, T0),
        _call("NW00000012", "answered", T0 + 904, 3, T0),
    ]
    for order in (events, events[::-1]):  # the answer may be read before the offers
        truth = ground_truth(order)
        counts = truth.caller_counts("north-west")
        assert (counts.callers, counts.first_attempts, counts.repeat_attempts) == (1, 1, 2)
        assert counts.never_answered == 0
        assert counts.waits_s == (904.0,)
        assert truth.callers["NW00000001"].attempts == 3
        assert truth.caller_counts("london").callers == 0
    assert truth.total("north-west", "offered") == 3  # the attempts are still counted as calls
    assert truth.repeat_share("north-west", T0, T0 + HOUR) == pytest.approx(2 / 3)
    assert truth.repeat_share("london", T0, T0 + HOUR) is None


def test_calls_without_attempt_fields_are_each_a_first_attempt_caller() -> None:
    """Events with neither field (and no generator caller) count one caller per call."""
    a = CallEvent("NW1", "offered", T0, "north-west", "nhs-direct")
    b = CallEvent("NW2", "offered", T0 + 30, "north-west", "nhs-direct")
    answered = CallEvent("NW2", "answered", T0 + 50, "north-west", "nhs-direct", None, 20.0)
    truth = ground_truth([Emitted("calls", "north-west", e.ts_s, e) for e in (a, b, answered)])
    counts = truth.caller_counts()
    assert (counts.callers, counts.first_attempts, counts.repeat_attempts) == (2, 2, 0)
    assert (counts.never_answered, counts.waits_s) == (1, (20.0,))


@pytest.mark.parametrize(
    ("wait_s", "low", "high"),
    [(0, 0.35, 0.35), (180, 0.6, 0.65), (600, 0.78, 0.79), (1e6, 0.8, 0.8)],
)
def test_the_retrial_probability_rises_with_the_wait_to_a_ceiling(
    wait_s: float, low: float, high: float
) -> None:
    """A quick hang-up retries at about a third, a long wait at up to four in five."""
    assert low - 1e-9 <= retrials.retry_probability(wait_s) <= high + 1e-9


def test_redial_delays_are_minutes_with_a_floor() -> None:
    """The delay to the redial has its stated floor, a median near 4.3 min and a 90 % of ~15."""
    rng = np.random.default_rng(1)
    delays = np.array([retrials.redial_delay_ms(rng) for _ in range(20_000)]) / 1000
    assert delays.min() >= retrials.REDIAL_MIN_S
    assert np.median(delays) == pytest.approx(retrials.REDIAL_MIN_S + 240, rel=0.05)
    assert np.quantile(delays, 0.9) == pytest.approx(20 + 240 * math.exp(1.2816), rel=0.08)


def _no_handlers() -> Staff:
    return Staff(np.zeros(1, dtype=np.int64), [], [])


def _draw(rng: np.random.Generator, factor: float) -> tuple[int, int]:
    return round(rng.exponential(300_000 * factor)), 480_000


def _serve(arrival: list[int], team: Staff, end_ms: int, seed: int = 3) -> retrials.Attempts:
    n = len(arrival)
    return retrials.serve_with_retrials(
        np.random.default_rng(seed), np.array(arrival, dtype=np.int64),
        np.full(n, 120_000, dtype=np.int64), np.full(n, 480_000, dtype=np.int64), team,
        draw=_draw, end_ms=end_ms,
    )  # fmt: skip


def test_with_nobody_answering_callers_retry_up_to_the_cap_in_order() -> None:
    """Every attempt is abandoned; retries follow the hang-up by at least the floor, are numbered
    1, 2, ... per caller, keep the first offer and stop at MAX_ATTEMPTS."""
    start = round(T0 * 1000)
    got = _serve([start + 10_000 * k for k in range(300)], _no_handlers(), start + 6 * 3600_000)
    assert (got.answer_ms == -1).all() and (got.handler == -1).all()
    assert (np.diff(got.arrival_ms) >= 0).all()
    chains: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(got.caller.tolist()):
        chains[c].append(i)
    assert len(chains) == 300
    lengths = Counter(len(c) for c in chains.values())
    assert set(lengths) <= set(range(1, retrials.MAX_ATTEMPTS + 1))
    assert lengths[retrials.MAX_ATTEMPTS] > 10 and lengths[1] > 50  # some give up, some persist
    for first, chain in chains.items():
        assert got.attempt[chain].tolist() == list(range(1, len(chain) + 1))
        assert (got.first_ms[chain] == got.arrival_ms[first]).all()
        gave_up = got.arrival_ms[chain[:-1]] + got.patience_ms[chain[:-1]]
        assert (got.arrival_ms[chain[1:]] >= gave_up + 1000 * retrials.REDIAL_MIN_S).all()
    again = _serve([start + 10_000 * k for k in range(300)], _no_handlers(), start + 6 * 3600_000)
    assert all(np.array_equal(getattr(got, f), getattr(again, f)) for f in got.__dataclass_fields__)


def test_no_retry_is_made_at_or_after_the_end_of_the_window() -> None:
    """A retry due after the window is dropped, so every attempt arrives inside it."""
    start = round(T0 * 1000)
    got = _serve([start + 1000 * k for k in range(200)], _no_handlers(), start + 400_000)
    assert got.arrival_ms.max() < start + 400_000
    assert (got.attempt > 1).any()


def test_a_retry_on_the_next_london_day_is_a_new_callers_first_attempt() -> None:
    """The platform counts attempts per day: after local midnight a retry starts again at 1,
    as a new caller, and no attempt after midnight refers to a first offer before it."""
    midnight = round(datetime(2013, 6, 2, tzinfo=LONDON).timestamp() * 1000)  # 23:00 UTC
    arrivals = [midnight - 130_000 - 100 * k for k in range(200)][::-1]  # hung up before 00:00
    got = _serve(arrivals, _no_handlers(), midnight + 3600_000)
    after = np.flatnonzero(got.arrival_ms >= midnight)
    assert after.size and (got.arrival_ms[: after[0]] < midnight).all()
    assert (got.first_ms[after] >= midnight).all()
    assert (got.caller[after] >= after[0]).all()
    restarted = after[got.caller[after] == after]  # the first attempt of a caller of the new day
    assert restarted.size and (got.attempt[restarted] == 1).all()
    assert (got.attempt[after] > 1).any()  # the new day's callers retry in their turn


@pytest.fixture(scope="module")
def launch() -> list[Emitted]:
    day = replace(scenarios.launch_day(START, 6 * HOUR, HOUR), retrials=True, agent_states=True)
    return generator.generate(day, CATALOGUE, 2013)


@pytest.fixture(scope="module")
def launch_truth(launch: list[Emitted]) -> GroundTruth:
    return ground_truth(launch)


def hourly_repeat_share(truth: GroundTruth, region: str) -> list[float]:
    """Repeat attempts / offered attempts in each hour after the failure (hours 1-5)."""
    shares = [
        truth.repeat_share(region, START + h * HOUR, START + (h + 1) * HOUR) for h in range(1, 6)
    ]
    assert all(s is not None for s in shares)
    return [s for s in shares if s is not None]


@pytest.mark.parametrize("region", FAILING)
def test_launch_day_repeat_share_climbs_in_the_failing_regions(
    launch_truth: GroundTruth, region: str
) -> None:
    """After the failure the repeat share of north-west and west-midlands climbs from the
    normal few percent to a third in the first hour and over 40 % after (seed 2013)."""
    before = launch_truth.repeat_share(region, START, START + HOUR)
    shares = hourly_repeat_share(launch_truth, region)
    assert before is not None and before < 0.05
    assert shares[0] > 0.25
    assert shares[1] > shares[0] and min(shares[1:]) > 0.40


@pytest.mark.parametrize("region", [c for c in CATALOGUE.codes() if c not in FAILING])
def test_launch_day_repeat_share_stays_low_elsewhere(
    launch_truth: GroundTruth, region: str
) -> None:
    """The healthy regions' repeat share stays under 5 % in every hour after the failure."""
    assert max(hourly_repeat_share(launch_truth, region)) < 0.05


def test_retrials_add_load_to_the_failing_regions_only(launch_truth: GroundTruth) -> None:
    """Callers arrive as on the day without retrials; attempts grow where the service failed."""
    plain = ground_truth(
        generator.generate(scenarios.launch_day(START, 6 * HOUR, HOUR), CATALOGUE, 2013)
    )
    for region in CATALOGUE.codes():
        with_retrials = launch_truth.caller_counts(region)
        offered = with_retrials.first_attempts + with_retrials.repeat_attempts
        fresh = plain.total(region, "offered")  # the same demand, other draws after the first
        assert abs(with_retrials.first_attempts - fresh) <= 4 * math.sqrt(fresh)
        if region in FAILING:
            assert offered > 1.4 * fresh
        else:
            assert offered < 1.05 * fresh


def test_generated_attempts_are_valid_and_the_truth_counts_their_callers(
    launch: list[Emitted], launch_truth: GroundTruth
) -> None:
    """Every call event carries its attempt (repeats their first offer) and round-trips; the
    truth's callers are the first attempts and each answered caller's wait runs from the first
    offer, at least the answered attempt's own wait."""
    answered_first: dict[str, float] = {}
    for e in launch:
        ev = e.event
        if not isinstance(ev, CallEvent):
            continue
        assert parse_call_event(orjson.dumps(ev.to_json()), CATALOGUE) == ev
        assert ev.attempt is not None and 1 <= ev.attempt <= retrials.MAX_ATTEMPTS
        assert e.caller is not None
        if ev.repeat:
            assert ev.first_attempt_ts_s is not None and ev.first_attempt_ts_s < ev.ts_s
            assert e.caller != ev.call_id
        if ev.event == "answered" and ev.first_attempt_ts_s is not None:
            answered_first[e.caller] = ev.ts_s - ev.first_attempt_ts_s
    for region in FAILING:
        counts = launch_truth.caller_counts(region)
        assert counts.callers == counts.first_attempts
        assert counts.repeat_attempts > counts.callers // 4
        assert 0 < counts.never_answered < counts.callers
    for caller, wait in answered_first.items():
        assert launch_truth.callers[caller].wait_s == pytest.approx(wait)


def test_the_handlers_answer_retries_as_any_call(launch: list[Emitted]) -> None:
    """Each answer, retries included, is a handler going on_call then, from ready: no handler
    takes two calls at once, so answered and abandoned agree with the agent states."""
    last: dict[str, str] = {}
    on_call: set[tuple[str, str, float]] = set()
    for e in launch:
        if isinstance(e.event, AgentStateEvent):
            ev = e.event
            if ev.state == "on_call":
                assert last.get(ev.agent_id) == "ready", ev
                on_call.add((ev.region, ev.provider, ev.ts_s))
            last[ev.agent_id] = ev.state
    answered = [
        e.event for e in launch if isinstance(e.event, CallEvent) and e.event.event == "answered"
    ]
    assert any(c.repeat for c in answered)
    assert all((c.region, c.provider, c.ts_s) in on_call for c in answered)


def test_retrials_are_deterministic_for_a_seed_and_off_by_default() -> None:
    """The same seed gives the same attempts; by default no event carries an attempt."""
    day = scenarios.launch_day(START, 2 * HOUR, HOUR)
    on = replace(day, retrials=True)
    assert generator.generate(on, CATALOGUE, 5) == generator.generate(on, CATALOGUE, 5)
    assert generator.generate(on, CATALOGUE, 5) != generator.generate(on, CATALOGUE, 6)
    assert not day.retrials
    for e in generator.generate(day, CATALOGUE, 5):
        if isinstance(e.event, CallEvent):
            assert e.event.attempt is None and e.caller is None
            assert "attempt" not in e.event.to_json()


def test_simulate_retrials_flag_turns_them_on_and_the_default_keeps_them_off() -> None:
    """`simulate --retrials` sets the knob on any scenario; without it the scenario has none."""
    parser = argparse.ArgumentParser()
    cli._simulate_args(parser)
    assert not cli.scenario(parser.parse_args([])).retrials
    assert cli.scenario(parser.parse_args(["--retrials"])).retrials
    assert cli.scenario(parser.parse_args(["--scenario", "normal", "--retrials"])).retrials
