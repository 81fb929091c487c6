"""Erlang C and Erlang A: published figures, a call-by-call simulation, the birth-death chain
itself, properties over the whole input space, and the edge cases."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import erlang, queue_sim
from detectors.erlang import Performance

# --- Erlang C against published figures ----------------------------------------------------
# Call Centre Helper's worked example (https://www.callcentrehelper.com/erlang-c-formula-example-
# 121281.htm): 100 calls in 30 minutes, 180 s handle time, 80 % answered within 20 s, which
# needs 14 agents. The figures to 7 digits are as published for that example in the README of
# the CRAN package ErlangC 0.1.0 (https://rdocumentation.org/packages/ErlangC/versions/0.1.0:
# wait 0.1741319, service level 0.88835, ASA 7.83593701177724 s, occupancy 0.7142857; with 11
# agents wait 0.6821182) and of pyworkforce 0.1.0 (https://pypi.org/project/pyworkforce/0.1.0/:
# service level 0.8883500191794669, 14 raw positions at 80 %).
# Tolerance: half a unit in the last published digit (1e-12 for the 15- and 16-figure ones).
HELPER = {"calls": 100, "interval_seconds": 1800, "aht_seconds": 180, "target_seconds": 20}
# Westbay Engineers' step-by-step Erlang C (http://www.mitan.co.uk/erlang/elgcmath.htm): 360
# calls per half hour, 240 s, 55 agents, 15 s target: Ec 0.2387, ASA 8.184 s, 84.59 % answered
# within 15 s (4 figures, as reproduced in Robert Dodier's "Expected waiting time formulas in
# Maxima", which states they agree with that page). Tolerance: half a unit in the 4th figure.
WESTBAY = {"calls": 360, "interval_seconds": 1800, "aht_seconds": 240, "target_seconds": 15}


def test_erlang_c_matches_call_centre_helpers_example_at_14_agents() -> None:
    """Erlang C reproduces the published wait probability, service level, ASA and occupancy."""
    p = erlang.erlang_c(**HELPER, agents=14)
    assert p.p_wait == pytest.approx(0.1741319, abs=5e-8)
    assert p.service_level == pytest.approx(0.8883500191794669, abs=1e-12)
    assert p.service_level == pytest.approx(0.88835, abs=5e-6)
    assert p.asa_seconds == pytest.approx(7.83593701177724, abs=1e-12)
    assert p.occupancy == pytest.approx(0.7142857, abs=5e-8)
    assert p.abandon_ratio is None


def test_erlang_c_matches_call_centre_helpers_example_at_11_agents() -> None:
    """With 11 agents the published chance of waiting is 0.6821182."""
    assert erlang.erlang_c(**HELPER, agents=11).p_wait == pytest.approx(0.6821182, abs=5e-8)


def test_erlang_c_staffs_call_centre_helpers_example_with_14_agents() -> None:
    """80 % within 20 s needs the published 14 agents; 13 fall short."""
    assert erlang.required_agents(**HELPER, service_level_target=0.8) == 14
    assert erlang.erlang_c(**HELPER, agents=13).service_level < 0.8


def test_erlang_c_matches_westbays_worked_example() -> None:
    """Erlang C reproduces Westbay's 0.2387 chance of waiting, 8.184 s ASA and 84.59 % in 15 s."""
    p = erlang.erlang_c(**WESTBAY, agents=55)
    assert p.p_wait == pytest.approx(0.2387, abs=5e-5)
    assert p.asa_seconds == pytest.approx(8.184, abs=5e-4)
    assert p.service_level == pytest.approx(0.8459, abs=5e-5)
    assert p.occupancy == pytest.approx(48 / 55, abs=1e-15)


# --- Erlang A against the chain and a simulation -------------------------------------------


def birth_death(lam: float, n: int, aht: float, patience: float) -> tuple[float, float, float]:
    """P(wait), P(abandon) and occupancy straight from the M/M/N+M chain's stationary law,
    truncated far beyond the queue's mean: P(wait) = P(n >= N) by PASTA, abandonment = theta
    E[queue] / lam, occupancy = E[busy] / N."""
    mu, theta = 1 / aht, 1 / patience
    depth = int(max(0.0, (lam - n * mu) / theta) * 4) + 2000
    states = np.arange(1, n + depth)
    deaths = np.minimum(states, n) * mu + np.maximum(states - n, 0) * theta
    log_p = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(deaths))])
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    k = np.arange(len(p))
    queued = float(p @ np.maximum(k - n, 0))
    return float(p[n:].sum()), theta * queued / lam, float(p @ np.minimum(k, n)) / n


@pytest.mark.parametrize(
    ("calls_per_hour", "agents", "aht", "patience"),
    [(180, 30, 480, 300), (180, 25, 480, 300), (180, 15, 480, 300), (36, 2, 300, 60),
     (6000, 1000, 540, 600), (1, 1, 480, 5)],
)  # fmt: skip
def test_erlang_a_agrees_with_the_birth_death_chain(
    calls_per_hour: float, agents: int, aht: float, patience: float
) -> None:
    """P(wait), abandonment and occupancy equal the truncated chain's to 1e-9."""
    p = erlang.erlang_a(
        calls=calls_per_hour, interval_seconds=3600, aht_seconds=aht, target_seconds=60,
        agents=agents, patience_seconds=patience,
    )  # fmt: skip
    wait, abandon, occupancy = birth_death(calls_per_hour / 3600, agents, aht, patience)
    assert p.p_wait == pytest.approx(wait, abs=1e-9)
    assert p.abandon_ratio == pytest.approx(abandon, abs=1e-9)
    assert p.occupancy == pytest.approx(occupancy, abs=1e-9)


def simulate(
    lam: float, n: int, *, aht: float, patience: float, target: float, calls: int, seed: int
) -> tuple[float, float, float, float]:
    """One seeded run of `calls` callers through detectors.queue_sim's M/M/N+M FIFO queue; the
    first 10 % warm the queue up and are not counted. Returns service level (within target /
    answered), abandoned / offered, ASA of the answered, and the share who waited at all."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / lam, calls)).tolist()
    handles = rng.exponential(aht, calls).tolist()
    patiences = rng.exponential(patience, calls).tolist()
    run = queue_sim.queue(
        arrivals, handles, patiences, agents=n, target_seconds=target,
        count_from_s=arrivals[calls // 10],
    )  # fmt: skip
    figures = (run.service_level, run.abandon_ratio, run.asa_seconds, run.p_wait)
    assert all(f is not None for f in figures)
    return cast(tuple[float, float, float, float], figures)


SIM_CASES = [  # (calls per hour, agents, aht, patience): healthy, stretched, collapsed, small
    (180, 30, 480, 300),
    (180, 25, 480, 300),
    (180, 18, 480, 300),
    (36, 3, 300, 60),
]


@pytest.mark.parametrize(("calls_per_hour", "agents", "aht", "patience"), SIM_CASES)
def test_erlang_a_agrees_with_a_call_by_call_simulation(
    calls_per_hour: float, agents: int, aht: float, patience: float
) -> None:
    """Every Erlang A figure is within 4 standard errors of the mean of 8 seeded simulations."""
    lam = calls_per_hour / 3600
    model = erlang.erlang_a(
        calls=calls_per_hour, interval_seconds=3600, aht_seconds=aht, target_seconds=60,
        agents=agents, patience_seconds=patience,
    )  # fmt: skip
    runs = np.array(
        [simulate(lam, agents, aht=aht, patience=patience, target=60, calls=20_000, seed=s)
         for s in range(8)]
    )  # fmt: skip
    mean = runs.mean(axis=0)
    se = runs.std(axis=0, ddof=1) / math.sqrt(len(runs))
    expected = (model.service_level, model.abandon_ratio, model.asa_seconds, model.p_wait)
    for name, value, m, s in zip(("sl", "abandon", "asa", "wait"), expected, mean, se, strict=True):
        assert value is not None
        assert abs(value - m) <= 4 * s, (name, value, m, s)


# --- Properties --------------------------------------------------------------------------

loads = st.floats(0.01, 200.0)
ahts = st.floats(10.0, 1500.0)
patiences = st.floats(1.0, 3600.0)
targets = st.floats(0.0, 600.0)


def model(
    load: float, agents: int, aht: float, target: float, patience: float | None
) -> Performance:
    """Performance at `load` Erlangs offered over an hour."""
    return erlang.performance(
        calls=load * 3600 / aht, interval_seconds=3600, aht_seconds=aht, target_seconds=target,
        agents=agents, patience_seconds=patience,
    )  # fmt: skip


@given(loads, st.integers(1, 250), ahts, targets, st.none() | patiences)
@settings(max_examples=150, deadline=None)
def test_one_more_agent_never_serves_worse(
    load: float, agents: int, aht: float, target: float, patience: float | None
) -> None:
    """Service level never falls and the chance of waiting never rises with one more agent."""
    fewer, more = (model(load, n, aht, target, patience) for n in (agents, agents + 1))
    assert more.service_level >= fewer.service_level - 1e-12
    assert more.answered_within_target_ratio >= fewer.answered_within_target_ratio - 1e-12
    assert more.p_wait <= fewer.p_wait + 1e-12


@given(loads, st.integers(1, 250), ahts, targets, st.none() | patiences)
@settings(max_examples=150, deadline=None)
def test_every_share_is_a_probability(
    load: float, agents: int, aht: float, target: float, patience: float | None
) -> None:
    """Every share lies in [0, 1], within target never exceeds answered, and the ASA is >= 0."""
    p = model(load, agents, aht, target, patience)
    shares = [p.service_level, p.answered_within_target_ratio, p.p_wait, p.occupancy]
    assert all(0.0 <= x <= 1.0 for x in shares)
    assert p.answered_within_target_ratio <= p.service_level + 1e-12
    assert p.asa_seconds >= 0.0
    assert (p.abandon_ratio is None) == (patience is None)
    if p.abandon_ratio is not None:
        assert 0.0 <= p.abandon_ratio <= 1.0


@given(st.floats(0.01, 0.95), st.integers(1, 300), ahts, targets)
@settings(max_examples=100, deadline=None)
def test_erlang_a_with_endless_patience_is_erlang_c(
    utilisation: float, agents: int, aht: float, target: float
) -> None:
    """With a mean patience of 10^9 s Erlang A gives Erlang C's figures to 1e-4 (stable loads)."""
    load = utilisation * agents
    c, a = model(load, agents, aht, target, None), model(load, agents, aht, target, 1e9)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-4)
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-4)
    assert a.occupancy == pytest.approx(c.occupancy, abs=1e-4)
    assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-4, abs=1e-6)
    assert a.abandon_ratio is not None
    assert a.abandon_ratio < 1e-4


@given(loads, ahts, st.floats(0.0, 120.0), st.floats(0.5, 0.99), st.none() | patiences)
@settings(max_examples=60, deadline=None)
def test_required_agents_is_the_first_that_meets_the_target(
    load: float, aht: float, target: float, goal: float, patience: float | None
) -> None:
    """required_agents(...) meets the service-level target and one agent fewer does not."""
    n = erlang.required_agents(
        calls=load * 3600 / aht, interval_seconds=3600, aht_seconds=aht, target_seconds=target,
        service_level_target=goal, patience_seconds=patience,
    )  # fmt: skip
    assert model(load, n, aht, target, patience).service_level >= goal
    if n > 1:
        assert model(load, n - 1, aht, target, patience).service_level < goal


@given(st.floats(0.0, 3000.0), ahts, targets, st.none() | st.floats(1.0, 1e9))
@settings(max_examples=60, deadline=None)
def test_a_thousand_agents_give_finite_figures(
    load: float, aht: float, target: float, patience: float | None
) -> None:
    """At N = 1000 nothing overflows or is NaN; only an overloaded Erlang C has an infinite ASA."""
    p = model(load, 1000, aht, target, patience)
    shares = [p.service_level, p.answered_within_target_ratio, p.p_wait, p.occupancy]
    assert all(math.isfinite(x) for x in [*shares, p.abandon_ratio or 0.0])
    overloaded_c = patience is None and load >= 1000
    assert not math.isnan(p.asa_seconds)
    assert math.isinf(p.asa_seconds) == overloaded_c


# --- Edge cases --------------------------------------------------------------------------

BASE: dict[str, Any] = {**HELPER, "agents": 14}


@pytest.mark.parametrize("patience", [None, 300.0])
def test_zero_calls_is_an_idle_centre(patience: float | None) -> None:
    """With no calls the next caller is answered at once: service level 1, no wait, no load."""
    p = erlang.performance(**{**BASE, "calls": 0}, patience_seconds=patience)
    abandon = None if patience is None else 0.0
    assert p == Performance(14, 1.0, 1.0, 0.0, 0.0, 0.0, abandon)
    none = {**HELPER, "calls": 0}
    assert erlang.required_agents(**none, service_level_target=0.9, patience_seconds=patience) == 0


@pytest.mark.parametrize("agents", [10, 8])
def test_erlang_c_without_spare_capacity_has_no_steady_state(agents: int) -> None:
    """At or beyond full load Erlang C says everyone waits for ever: no service, infinite ASA."""
    p = erlang.erlang_c(**HELPER, agents=agents)  # 10 Erlangs offered
    assert p == Performance(agents, 0.0, 0.0, 1.0, math.inf, 1.0, None)


def test_erlang_a_stays_stable_beyond_full_load() -> None:
    """Erlang A at twice its capacity loses at least the excess to abandonment, stays busy."""
    p = erlang.erlang_a(**HELPER, agents=5, patience_seconds=120)  # 10 Erlangs on 5
    assert p.abandon_ratio is not None
    assert 0.5 <= p.abandon_ratio < 0.6
    assert 0.95 < p.occupancy < 1.0
    assert 0.0 < p.service_level < 1.0


@pytest.mark.parametrize(
    ("argument", "value"),
    [("calls", -1.0), ("calls", math.nan), ("calls", math.inf), ("interval_seconds", 0.0),
     ("interval_seconds", -60.0), ("aht_seconds", 0.0), ("aht_seconds", math.inf),
     ("target_seconds", -1.0), ("target_seconds", math.inf), ("agents", 0), ("agents", -3),
     ("agents", 2.5), ("agents", True), ("patience_seconds", 0.0),
     ("patience_seconds", -5.0), ("patience_seconds", math.nan), ("calls", 1e13)],
)  # fmt: skip
def test_invalid_arguments_are_refused_by_name(argument: str, value: object) -> None:
    """An impossible argument raises ValueError naming it."""
    kwargs: dict[str, Any] = {**BASE, "patience_seconds": 300.0, argument: value}
    with pytest.raises(ValueError, match=argument):
        erlang.performance(**kwargs)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("service_level_target", 0.0), ("service_level_target", 1.0),
     ("service_level_target", 1.5), ("service_level_target", math.nan),
     ("calls", -1.0), ("patience_seconds", 0.0), ("max_agents", 5)],
)  # fmt: skip
def test_impossible_staffing_questions_are_refused(argument: str, value: object) -> None:
    """A target no staff can meet, a bad input, or a cap below the need raises ValueError."""
    kwargs: dict[str, Any] = {**HELPER, "service_level_target": 0.8, argument: value}
    with pytest.raises(ValueError, match=argument):
        erlang.required_agents(**kwargs)
