"""The M/M/N+M event simulation of one interval: Erlang A inside its 95 % intervals on three
stated cases, seeded reproducibility, and the figures' invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import erlang, queue_sim

# The three stated cases: one 30-minute interval of 120 callers (a big region's half hour at
# 08:00), 480 s handle time (the generator's mean), 300 s mean patience, 60 s target; staffed
# by 40 (Erlang A 98.8 %: healthy; 36 are required for 95 %), 32 (85.3 %: the
# ServiceLevelBelowStandard warning level) and 14 (35 % of 40, a 2013-style collapse: 3 % within
# 60 s, 56 % hanging up). 40 replications, seed 2013: a 95 % interval misses its mean 1 time in
# 20, so the seed is fixed and the cases are stated, not searched over at test time.
AGREEMENT_CASES = [(120, 40), (120, 32), (120, 14)]
INTERVAL = {"interval_seconds": 1800, "aht_seconds": 480, "target_seconds": 60}


@pytest.mark.parametrize(("calls", "agents"), AGREEMENT_CASES)
def test_erlang_a_lies_inside_the_simulations_interval(calls: int, agents: int) -> None:
    """Erlang A's service level, abandonment, ASA and chance of waiting are each inside the
    95 % interval of 40 seeded replications of the interval."""
    model = erlang.erlang_a(calls=calls, agents=agents, patience_seconds=300, **INTERVAL)
    sim = queue_sim.replicate(
        calls=calls, agents=agents, patience_seconds=300, replications=40, seed=2013, **INTERVAL
    )
    pairs = {
        "service_level": (model.service_level, sim.service_level),
        "abandon_ratio": (model.abandon_ratio, sim.abandon_ratio),
        "asa_seconds": (model.asa_seconds, sim.asa_seconds),
        "p_wait": (model.p_wait, sim.p_wait),
    }
    for name, (value, ci) in pairs.items():
        assert value is not None and ci is not None, name
        assert ci.runs == 40
        assert ci.contains(value), (name, value, ci)


def test_the_intervals_separate_the_three_cases() -> None:
    """The intervals are narrow enough to tell healthy from stretched from collapsed."""
    sims = [
        queue_sim.replicate(
            calls=c, agents=n, patience_seconds=300, replications=40, seed=2013, **INTERVAL
        ).service_level
        for c, n in AGREEMENT_CASES
    ]
    assert all(s is not None for s in sims)
    healthy, stretched, collapsed = (s for s in sims if s is not None)
    assert collapsed.high < stretched.low
    assert stretched.high < healthy.low


def test_the_same_seed_gives_the_same_estimate() -> None:
    """Replications are seeded: the same seed repeats, another seed differs."""
    args = {"calls": 120, "agents": 32, "patience_seconds": 300, "replications": 5, **INTERVAL}
    first = queue_sim.replicate(seed=7, **args)
    assert queue_sim.replicate(seed=7, **args) == first
    assert queue_sim.replicate(seed=8, **args) != first


def test_no_callers_leave_every_figure_unknown() -> None:
    """With no calls nothing is offered or answered: each figure is None, not 0 or 1."""
    est = queue_sim.replicate(
        calls=0, agents=3, patience_seconds=300, replications=3, seed=1, **INTERVAL
    )
    assert est == queue_sim.Estimate(None, None, None, None, 3)


def test_the_warm_up_is_not_counted() -> None:
    """Only callers arriving inside the interval count: one before it is ignored, and one
    handler busy with it makes the next caller wait."""
    run = queue_sim.queue(
        [-10.0, 0.0, 5.0], [100.0, 1.0, 1.0], [1e9, 1e9, 2.0], agents=1, target_seconds=60,
        count_from_s=0.0, count_to_s=10.0,
    )  # fmt: skip
    # -10 holds the handler to 90; 0 waits 90 s (answered late); 5 would wait 86 s > 2: hangs up.
    assert run == queue_sim.Run(2, 1, 0, 1, 2, 90.0)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("calls", -1.0), ("calls", math.nan), ("interval_seconds", 0.0), ("aht_seconds", -1.0),
     ("patience_seconds", math.inf), ("agents", 0)],
)  # fmt: skip
def test_impossible_intervals_are_refused_by_name(argument: str, value: float) -> None:
    """A bad argument raises ValueError naming it."""
    args: dict[str, float] = {"calls": 10, "agents": 2, "patience_seconds": 300, **INTERVAL}
    args[argument] = value
    with pytest.raises(ValueError, match=argument):
        queue_sim.simulate_interval(rng=np.random.default_rng(0), **args)  # type: ignore[arg-type]


def test_one_replication_is_not_an_interval() -> None:
    """A confidence interval needs at least two replications."""
    with pytest.raises(ValueError, match="replications"):
        queue_sim.replicate(
            calls=10, agents=2, patience_seconds=300, replications=1, seed=1, **INTERVAL
        )


@given(
    st.floats(0.0, 200.0), st.integers(1, 40), st.floats(30.0, 900.0), st.floats(10.0, 900.0),
    st.integers(0, 2**32 - 1),
)  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_every_run_is_a_consistent_count(
    calls: float, agents: int, aht: float, patience: float, seed: int
) -> None:
    """Offered = answered + abandoned, within target <= answered, waits are >= 0."""
    run = queue_sim.simulate_interval(
        calls=calls, interval_seconds=1800, aht_seconds=aht, patience_seconds=patience,
        target_seconds=60, agents=agents, rng=np.random.default_rng(seed),
    )  # fmt: skip
    assert run.offered == run.answered + run.abandoned
    assert 0 <= run.within_target <= run.answered
    assert run.waited >= run.abandoned
    assert run.wait_seconds_total >= 0
    for share in (run.service_level, run.abandon_ratio, run.p_wait):
        assert share is None or 0.0 <= share <= 1.0


@pytest.mark.parametrize(("df", "quantile"), [(1, 12.706), (9, 2.262), (30, 2.042), (60, 2.0)])
def test_student_t_quantiles(df: int, quantile: float) -> None:
    """The 95 % t quantile matches the published table (60: 2.000, from the approximation)."""
    assert queue_sim.t975(df) == pytest.approx(quantile, abs=2e-3)
