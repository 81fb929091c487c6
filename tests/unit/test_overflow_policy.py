"""Overflow routing policy: sustained breach, target choice, dwell, recovery, overrides, JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import overflow as o
from detectors import overflow_records as rec
from detectors.overflow_records import (
    DIVERTING,
    Command,
    Override,
    PolicyParams,
    PolicyState,
    RegionSignal,
)
from streams.contract.thresholds import THRESHOLDS

T0 = 1_700_000_040.0
MIN = 60.0
P = PolicyParams()
# a's neighbours in preference order; b and d both prefer c.
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "a": ("b", "c", "d"),
    "b": ("a", "c"),
    "c": ("b", "a"),
    "d": ("c",),
}
GOOD = 0.97
FORECAST_ON_S = 900.0  # PolicyParams().forecast_on_seconds


def sig(
    region: str,
    sl60: float | None,
    sl15: float | None = -1.0,
    spare: float = 0.5,
    *,
    forecast: float = math.inf,
    waiting: int = 4,
    arrivals: float = 2.0,
) -> RegionSignal:
    """A signal; sl15 defaults to sl60 (a steady region)."""
    sl15 = sl60 if sl15 == -1.0 else sl15
    return RegionSignal(region, sl60, sl15, waiting, spare, forecast, arrivals)


def signals(**levels: float | None) -> dict[str, RegionSignal]:
    """Steady signals: the named regions at their level, every other region of NEIGHBOURS good."""
    return {r: sig(r, levels.get(r, GOOD)) for r in NEIGHBOURS}


class Sim:
    """Calls decide minute by minute and keeps the states and every command."""

    def __init__(self, params: PolicyParams = P) -> None:
        self.params = params
        self.states: dict[str, PolicyState] = {}
        self.commands: list[Command] = []
        self.now = T0

    def run(
        self,
        minutes: int,
        sigs: Mapping[str, RegionSignal],
        overrides: Sequence[Override] = (),
    ) -> list[Command]:
        """`minutes` decisions, one a minute, the first at self.now; returns their commands."""
        out: list[Command] = []
        for _ in range(minutes):
            self.states, cmds = o.decide(
                self.states, sigs, NEIGHBOURS, overrides, self.now, self.params
            )
            out += cmds
            self.now += MIN
        self.commands += out
        return out


def actions(cmds: Sequence[Command]) -> list[tuple[str, str, str | None, float]]:
    return [(c.region, c.action, c.target, c.share) for c in cmds]


def test_defaults_are_the_alert_thresholds() -> None:
    """The policy's service-level bars are the ones the alerts use (contract.thresholds)."""
    assert P.on_below == THRESHOLDS.service_level_critical
    assert P.target_min_service_level == THRESHOLDS.service_level_standard
    assert P.target_keep_service_level == THRESHOLDS.service_level_warning
    assert P.forecast_below == THRESHOLDS.service_level_standard
    assert P.forecast_on_seconds == FORECAST_ON_S


def test_sustained_breach_activates_to_the_first_fit_neighbour() -> None:
    """15 minutes below 75 % diverts 30 % to the preferred neighbour that is not breaching."""
    sim = Sim()
    sigs = signals(a=0.70, b=0.85)  # b breaches the 95 % bar for targets: skipped for c
    assert sim.run(15, sigs) == []
    assert sim.states["a"].status == "pending"
    [cmd] = sim.run(1, sigs)
    assert cmd == Command(
        command_id="a:1",
        region="a",
        action="activate",
        target="c",
        share=0.3,
        reason=cmd.reason,
        issued_at_s=T0 + 15 * MIN,
        expires_at_s=T0 + 15 * MIN + P.command_ttl_seconds,
        issued_by="auto",
    )
    assert "70.0 %" in cmd.reason and "to c" in cmd.reason and "97.0 %" in cmd.reason
    assert sim.states["a"] == PolicyState(
        status="active",
        target="c",
        share=0.3,
        changed_at_s=cmd.issued_at_s,
        expires_at_s=cmd.expires_at_s,
        commands=1,
        updated_at_s=cmd.issued_at_s,
    )


@pytest.mark.parametrize(
    "pattern",
    [
        [0.70] + [0.90] * 30,  # one bad interval
        [0.70] * 14 + [0.85] + [0.70] * 14,  # a better minute restarts the timer
        [P.on_below] * 30,  # exactly at on_below is not below it
    ],
)
def test_no_activation_without_a_sustained_breach(pattern: list[float]) -> None:
    """Anything short of 15 unbroken minutes below 75 % issues nothing."""
    sim = Sim()
    for level in pattern:
        assert sim.run(1, signals(a=level)) == []


def test_a_recovering_15_minute_window_vetoes_the_breach() -> None:
    """A bad hour whose last 15 minutes are back above the bar is not a breach (as the alert)."""
    sim = Sim()
    sigs = {**signals(), "a": sig("a", 0.70, 0.85)}
    assert sim.run(60, sigs) == []


def test_no_data_holds() -> None:
    """No 60 min figure (nothing answered) neither activates nor releases."""
    sim = Sim()
    sim.run(10, signals(a=0.70))
    sim.run(30, signals(a=None))
    assert sim.states["a"].status == "pending"
    [cmd] = sim.run(1, signals(a=0.70))  # the timer kept running: due at once
    assert cmd.action == "activate"


def test_no_fit_neighbour_stays_pending_until_one_is() -> None:
    """Without a fit target nothing is issued; the first fit one gets it, at once."""
    sim = Sim()
    low_spare = {**signals(a=0.70, b=0.99), "c": sig("c", GOOD, spare=0.1), "d": sig("d", 0.9)}
    low_spare["b"] = sig("b", 0.99, 0.93)  # 15 min below the bar for targets
    assert sim.run(40, low_spare) == []
    assert sim.states["a"].status == "pending"
    assert actions(sim.run(1, signals(a=0.70))) == [("a", "activate", "b", 0.3)]


def test_still_breaching_raises_the_share_each_dwell_up_to_the_cap() -> None:
    """Every dwell of continued breach adds share_step, never past max_share."""
    sim = Sim()
    sim.run(16, signals(a=0.70))
    cmds = sim.run(120, signals(a=0.70))
    adjusts = [(c.action, c.share, c.issued_at_s - T0) for c in cmds]
    assert adjusts[:2] == [("adjust", 0.4, 45 * MIN), ("adjust", 0.5, 75 * MIN)]
    assert {c.share for c in cmds[2:]} == {0.5} and all("renewing" in c.reason for c in cmds[2:])


def test_recovery_deactivates_after_off_after_and_the_dwell() -> None:
    """Above 92 % for 15 minutes ends the overflow, but never within a dwell of activating."""
    sim = Sim()
    sim.run(16, signals(a=0.70))  # activated at minute 15
    assert sim.run(20, signals(a=0.95)) == []  # recovered since minute 16; dwell until 45
    [cmd] = sim.run(20, signals(a=0.95))
    assert (cmd.action, cmd.target, cmd.share) == ("deactivate", "b", 0.0)
    assert cmd.issued_at_s == T0 + 45 * MIN and "95.0 %" in cmd.reason
    assert sim.states["a"].status == "idle" and sim.states["a"].target is None


def test_a_band_value_cancels_releasing() -> None:
    """Between 75 % and 92 % the overflow stays on and the release timer restarts."""
    sim = Sim()
    sim.run(60, signals(a=0.70))
    sim.run(10, signals(a=0.95))
    sim.run(1, signals(a=0.85))
    assert sim.states["a"].status == "active"
    assert sim.run(15, signals(a=0.95)) == []  # minutes 71-85: the timer restarted at 71
    assert actions(sim.run(1, signals(a=0.95))) == [("a", "deactivate", "b", 0.0)]


def test_active_diversions_are_refreshed_before_they_lapse() -> None:
    """An unchanged diversion is re-issued refresh_before_seconds before its expires_at."""
    sim = Sim()
    [activate] = sim.run(16, signals(a=0.70))
    cmds = sim.run(120, signals(a=0.85))
    assert [(c.action, c.target, c.share) for c in cmds] == [("adjust", "b", 0.3)] * 2
    first = activate.expires_at_s - P.refresh_before_seconds
    assert [c.issued_at_s for c in cmds] == [first, first + 3000]
    assert sim.states["a"].changed_at_s == activate.issued_at_s  # a refresh is not a change


def test_a_breaching_target_is_moved_after_the_dwell() -> None:
    """A target that falls below 85 % loses the overflow to the next fit neighbour."""
    sim = Sim()
    sim.run(16, signals(a=0.70))  # a -> b at minute 15
    assert sim.run(29, signals(a=0.85, b=0.82)) == []  # dwell until minute 45
    [cmd] = sim.run(1, signals(a=0.85, b=0.82))
    assert (cmd.action, cmd.target, cmd.share) == ("adjust", "c", 0.3)
    assert "b can no longer take overflow" in cmd.reason and "82.0 %" in cmd.reason


def test_a_target_between_the_bars_is_kept() -> None:
    """At 92 % a target is no longer picked (below 95 %) but is kept (above 85 %)."""
    sim = Sim()
    sim.run(16, signals(a=0.70))
    cmds = sim.run(60, signals(a=0.85, b=0.92))
    assert {c.target for c in cmds} == {"b"}


def test_a_breaching_target_with_no_alternative_is_deactivated() -> None:
    """With no other fit neighbour the overflow stops rather than feed a failing region."""
    sim = Sim()
    sim.run(16, signals(a=0.70))
    cmds = sim.run(40, signals(a=0.70, b=0.80, c=0.9, d=0.9))
    assert actions(cmds) == [("a", "deactivate", "b", 0.0)]
    assert "no other neighbour fit" in cmds[0].reason
    # Still breaching: it re-activates once a target is fit again, a dwell after stopping.
    later = sim.run(40, signals(a=0.70))
    assert actions(later)[0] == ("a", "activate", "b", 0.3)
    assert later[0].issued_at_s - cmds[0].issued_at_s >= P.min_dwell_seconds


def test_a_target_that_starts_diverting_is_unfit() -> None:
    """A region diverting its own calls is never a target, and an existing one is moved off."""
    sim = Sim()
    sim.run(16, signals(a=0.70))  # a -> b
    cmds = sim.run(30, signals(a=0.70, b=0.70))  # minutes 16-45; b breaches from 16
    # b skips a (diverting) for c at 31; a leaves b at 45 (its dwell) for d (c is taken).
    assert [(c.issued_at_s - T0) / MIN for c in cmds] == [31, 45]
    assert actions(cmds) == [("b", "activate", "c", 0.3), ("a", "adjust", "d", 0.3)]


def test_a_target_takes_at_most_max_sources() -> None:
    """Two breaching regions whose only fit neighbour is c: the first (sorted) gets it."""
    sim = Sim()
    cmds = sim.run(16, signals(a=0.70, b=0.70, d=0.70))
    assert actions(cmds) == [("a", "activate", "c", 0.3)]
    assert sim.states["b"].status == "pending" and sim.states["d"].status == "pending"


def test_an_unexpired_override_suppresses_the_policy() -> None:
    """While an operator's override is live nothing is issued for its region; its state follows."""
    sim = Sim()
    stop = Override("a", "deactivate", None, 0.0, T0 + 90 * MIN, "operator:jo")
    assert sim.run(60, signals(a=0.70), [stop]) == []
    assert sim.states["a"].status == "idle" and sim.states["a"].operator == "operator:jo"
    # Expired: the breach is judged afresh (15 minutes from the hand-back).
    cmds = sim.run(50, signals(a=0.70), [stop])
    assert actions(cmds) == [("a", "activate", "b", 0.3)]
    assert cmds[0].issued_at_s == T0 + 105 * MIN


def test_an_expired_override_hands_back_without_a_flap() -> None:
    """The policy resumes from the operator's diversion, re-issues it, and keeps it a dwell."""
    sim = Sim()
    sim.run(16, signals(a=0.70))  # a -> b 30 %
    move = Override("a", "adjust", "c", 0.45, T0 + 25 * MIN, "operator:jo")
    assert sim.run(5, signals(a=0.95), [move]) == []  # minutes 16-20: seen at 16
    assert sim.states["a"].target == "c" and sim.states["a"].changed_at_s == T0 + 16 * MIN
    sim.run(4, signals(a=0.95), [move])
    [resume] = sim.run(1, signals(a=0.95), [move])  # minute 25: expired
    assert actions([resume]) == [("a", "adjust", "c", 0.45)]
    assert "override by operator:jo expired" in resume.reason
    [stop] = sim.run(60, signals(a=0.95), [move])  # recovered; a dwell after the operator's change
    assert stop.action == "deactivate" and stop.issued_at_s == T0 + 46 * MIN


def test_override_diversions_count_for_other_regions() -> None:
    """A region an operator diverts is not a target, and its target's capacity is taken."""
    sim = Sim()
    ov = Override("c", "activate", "b", 0.2, T0 + 999 * MIN, "operator:jo")
    cmds = sim.run(16, signals(a=0.70), [ov])  # a cannot use b (taken) nor c (diverting)
    assert actions(cmds) == [("a", "activate", "d", 0.3)]


# ---- rule 2b: the early start on a confident forecast ------------------------------------------


def losing_handlers(minute: int) -> RegionSignal:
    """Region a from the minute it loses its handlers: a standing queue at once, the breach
    forecast 10 minutes away and closing, the hour below the standard, and under the breach
    rule's 75 % from minute 10."""
    sl60 = 0.90 if minute < 10 else 0.70
    forecast = max(0.0, 600.0 - minute * MIN)
    return sig("a", sl60, sl60 - 0.1, forecast=forecast, waiting=8)


def first_command(params: PolicyParams, region_a: Callable[[int], RegionSignal]) -> Command | None:
    """The first command over two hours of a minute-by-minute `region_a`, the others good."""
    sim = Sim(params)
    for m in range(120):
        cmds = sim.run(1, {**signals(), "a": region_a(m)})
        if cmds:
            return cmds[0]
    return None


def test_a_confident_forecast_activates_earlier_than_the_breach_rule() -> None:
    """Held for on_after_seconds, a confident forecast activates at minute 15; the breach rule
    alone waits for 15 minutes under 75 %, from minute 10."""
    early = first_command(P, losing_handlers)
    late = first_command(replace(P, forecast_on_seconds=None), losing_handlers)
    assert early is not None and late is not None
    assert (early.action, early.target, early.issued_at_s) == ("activate", "b", T0 + 15 * MIN)
    assert "forecast to breach in 0 min with 8 calls waiting, for 15 min" in early.reason
    assert (late.action, late.target, late.issued_at_s) == ("activate", "b", T0 + 25 * MIN)
    assert "below 75.0 % for 15 min" in late.reason


NOISY: dict[str, Callable[[int], RegionSignal]] = {
    # A healthy region's dip: "breached" (0) for 10 minutes, then nothing forecast.
    "short dip": lambda m: (
        sig("a", 0.84, forecast=0.0, waiting=5) if 30 <= m < 40 else sig("a", 0.96)
    ),
    # Value-0 blips one minute in five, between them nothing forecast.
    "value 0 blips": lambda m: sig("a", 0.84, forecast=0.0 if m % 5 else math.inf, waiting=6),
    # "Breached" for two hours, but the queue drains between calls (a few waiting now and then).
    "no standing queue": lambda m: sig("a", 0.80, forecast=0.0, waiting=4 if m % 4 else 1),
    # A queue shorter than a minute of arrivals.
    "queue under a minute of arrivals": lambda m: sig(
        "a", 0.80, forecast=0.0, waiting=6, arrivals=8.0
    ),
    # Forecast and queue, but the hour still meets the standard.
    "hour at the standard": lambda m: sig("a", 0.95, 0.80, forecast=300.0, waiting=9),
    # A breach forecast beyond forecast_on_seconds.
    "forecast beyond 15 min": lambda m: sig("a", 0.88, forecast=901.0, waiting=9),
}


@pytest.mark.parametrize("pattern", NOISY)
def test_a_noisy_forecast_does_not_activate(pattern: str) -> None:
    """Short dips, value-0 blips, a queue that drains, a small queue, an hour still at the
    standard or a forecast too far out: two hours without a command."""
    assert first_command(P, NOISY[pattern]) is None


@pytest.mark.parametrize(
    ("params", "b_forecast", "target"),
    [
        (P, math.inf, "b"),
        (P, FORECAST_ON_S + 1, "b"),
        (P, FORECAST_ON_S, "c"),
        (P, 0.0, "c"),
        (replace(P, forecast_on_seconds=None), 0.0, "b"),  # rule 2b off: forecasts not read
    ],
)
def test_a_target_forecast_to_breach_is_not_picked(
    params: PolicyParams, b_forecast: float, target: str
) -> None:
    """A neighbour meeting every bar but forecast to breach within forecast_on_seconds is passed
    over for the next one in preference order."""
    sim = Sim(params)
    [cmd] = sim.run(16, {**signals(a=0.70), "b": sig("b", GOOD, forecast=b_forecast)})
    assert (cmd.action, cmd.target) == ("activate", target)


def test_no_target_without_a_breach_forecast_keeps_the_region_pending() -> None:
    """If every fit neighbour is forecast to breach, a confident region waits, then goes to the
    first neighbour that is no longer forecast to."""
    sim = Sim()
    doomed = {r: sig(r, GOOD, forecast=600.0) for r in NEIGHBOURS}
    assert sim.run(30, {**doomed, "a": losing_handlers(20)}) == []
    assert sim.states["a"].status == "pending"
    [cmd] = sim.run(1, {**doomed, "a": losing_handlers(20), "c": sig("c", GOOD)})
    assert (cmd.action, cmd.target) == ("activate", "c")


def test_states_saved_before_rule_2b_still_load() -> None:
    """A state with a forecast timer round-trips; one saved without the field loads with none."""
    pending = PolicyState(status="pending", since_s=T0, forecast_since_s=T0 - MIN)
    assert roundtrip(pending) == pending
    doc = rec.to_json(pending)
    del doc["forecast_since_s"]
    assert rec.from_json(doc) == replace(pending, forecast_since_s=None)


def test_time_going_backwards_skips_the_region() -> None:
    """A decide older than a region's last one leaves that region alone."""
    sim = Sim()
    sim.run(16, signals(a=0.70))
    states, cmds = o.decide(sim.states, signals(a=0.99), NEIGHBOURS, [], T0, P)
    assert cmds == [] and states == sim.states


@pytest.mark.parametrize(
    ("sl15", "waiting", "expected"),
    [(None, 0, 0.0), (0.95, 0, 0.0), (0.90, 0, 0.0), (1.0, 0, 1.0), (0.975, 0, 0.5), (1.0, 9, 0.0)],
)
def test_spare_capacity(sl15: float | None, waiting: int, expected: float) -> None:
    """Headroom is the distance above the standard, 0 with no data or a queue."""
    got = rec.spare_capacity(sl15, waiting, standard=0.95, waiting_limit=5)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"on_below": 0.9, "off_above": 0.9},
        {"target_keep_service_level": 0.96},
        {"share": 0.6},
        {"refresh_before_seconds": 3600},
        {"max_sources_per_target": 0},
        {"forecast_on_seconds": -1.0},
        {"forecast_below": 0.0},
        {"forecast_min_waiting": -1},
    ],
)
def test_bad_params_are_refused(kwargs: dict[str, float]) -> None:
    """Params that would flap or make no sense fail at construction."""
    with pytest.raises(ValueError, match=r"."):
        PolicyParams(**kwargs)  # type: ignore[arg-type]


def roundtrip(state: PolicyState) -> PolicyState:
    return rec.from_json(json.loads(json.dumps(rec.to_json(state), allow_nan=False)))


def test_bad_state_documents_are_refused() -> None:
    """An unknown version or status fails loudly."""
    doc = rec.to_json(PolicyState())
    with pytest.raises(ValueError, match="version"):
        rec.from_json({**doc, "version": 0})
    with pytest.raises(ValueError, match="status"):
        rec.from_json({**doc, "status": "on"})


# ---- properties ------------------------------------------------------------------------------

levels_st = st.sampled_from([None, 0.5, 0.75, 0.80, 0.85, 0.91, 0.93, 0.95, 0.99])
pair_st = st.one_of(levels_st.map(lambda x: (x, x)), st.tuples(levels_st, levels_st))
forecast_st = st.sampled_from([math.inf, 0.0, 600.0, 1200.0])
# (levels and breach forecast per region, minutes between decisions, how many decisions they
# last): regimes that persist long enough to activate, move, refresh and release.
round_st = st.tuples(
    st.fixed_dictionaries({r: st.tuples(pair_st, forecast_st) for r in NEIGHBOURS}),
    st.sampled_from([MIN, 5 * MIN, 15 * MIN]),
    st.integers(1, 40),
)
Rounds = list[tuple[dict[str, tuple[tuple[float | None, float | None], float]], float, int]]


def ticks(rounds: Rounds, start: float) -> Iterator[tuple[float, dict[str, RegionSignal]]]:
    now = start
    for levels, gap, repeat in rounds:
        sigs = {r: sig(r, sl60, sl15, forecast=f) for r, ((sl60, sl15), f) in levels.items()}
        for _ in range(repeat):
            now += gap
            yield now, sigs


params_st = st.builds(
    PolicyParams,
    on_after_seconds=st.sampled_from([0.0, 300.0, 900.0]),
    off_after_seconds=st.sampled_from([0.0, 900.0]),
    min_dwell_seconds=st.sampled_from([0.0, 600.0, 1800.0]),
    max_sources_per_target=st.sampled_from([1, 2]),
    command_ttl_seconds=st.sampled_from([1800.0, 3600.0]),
)


def held_since(
    history: list[tuple[float, dict[str, RegionSignal]]],
    region: str,
    condition: Callable[[RegionSignal], bool],
) -> float:
    """When `condition` began to hold without a break up to the last decision (signals without a
    60 min figure hold the timers, as the policy does); the last decision's time if it does not."""
    since = history[-1][0]
    for t, s in reversed(history):
        if s[region].service_level_60m is None:
            continue
        if not condition(s[region]):
            break
        since = t
    return since


@settings(max_examples=150, deadline=None)
@given(params=params_st, rounds=st.lists(round_st, max_size=12))
def test_policy_invariants(
    params: PolicyParams,
    rounds: Rounds,
) -> None:
    """Under any signals: changes of a region's diversion are a dwell apart, each activation
    follows on_after_seconds of breach or of a confident forecast and goes to a region not
    forecast to breach, targets are never the region itself nor over capacity,
    every command id is new, and replaying the commands gives the states' diversions."""
    states: dict[str, PolicyState] = {}
    ids = set()
    history: list[tuple[float, dict[str, RegionSignal]]] = []
    last_change: dict[str, float] = {}
    applied: dict[str, tuple[str | None, float]] = {}
    for now, sigs in ticks(rounds, T0):
        history.append((now, sigs))
        states, cmds = o.decide(states, sigs, NEIGHBOURS, [], now, params)
        for c in cmds:
            assert c.command_id not in ids and c.target != c.region
            ids.add(c.command_id)
            new = (c.target, c.share) if c.action != "deactivate" else (None, 0.0)
            if new != applied.get(c.region, (None, 0.0)):
                if c.region in last_change:
                    assert now - last_change[c.region] >= params.min_dwell_seconds
                last_change[c.region] = now
            applied[c.region] = new
            if c.action == "activate":
                assert c.target is not None and not o._forecast_soon(sigs[c.target], params)
                breach = held_since(history, c.region, lambda x: o._below(x, params.on_below))
                early = held_since(history, c.region, lambda x: o._confident(x, params))
                assert now - min(breach, early) >= params.on_after_seconds
        for region, state in states.items():
            assert applied.get(region, (None, 0.0)) == (
                (state.target, state.share) if state.status in DIVERTING else (None, 0.0)
            )
            assert roundtrip(state) == state
        for target in NEIGHBOURS:
            sources = [s for s in states.values() if s.status in DIVERTING and s.target == target]
            assert len(sources) <= params.max_sources_per_target


@settings(max_examples=100, deadline=None)
@given(
    rounds=st.lists(round_st, max_size=8),
    ttl=st.sampled_from([0.0, 10 * MIN, 60 * MIN]),
    action=st.sampled_from(["activate", "deactivate"]),
)
def test_overrides_suppress_auto_commands(
    rounds: Rounds,
    ttl: float,
    action: str,
) -> None:
    """No automatic command is ever issued for a region while its override is unexpired."""
    ov = Override("a", action, "d", 0.25, T0 + ttl, "operator:x")  # type: ignore[arg-type]
    states: dict[str, PolicyState] = {}
    for now, sigs in ticks(rounds, T0 - MIN):
        states, cmds = o.decide(states, sigs, NEIGHBOURS, [ov], now, P)
        if now < ov.expires_at_s:
            assert all(c.region != "a" for c in cmds)
            assert states["a"].operator == "operator:x"
