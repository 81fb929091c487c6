"""Overflow routing policy: sustained breach, target choice, dwell, recovery, overrides, JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import overflow as o
from detectors.overflow import Command, Override, PolicyParams, PolicyState, RegionSignal
from streams.alert_rules import THRESHOLDS

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


def sig(
    region: str, sl60: float | None, sl15: float | None = -1.0, spare: float = 0.5
) -> RegionSignal:
    """A signal; sl15 defaults to sl60 (a steady region)."""
    return RegionSignal(region, sl60, sl60 if sl15 == -1.0 else sl15, 4, spare)


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
    """The policy's service-level bars are the ones the alerts use (streams.alert_rules)."""
    assert P.on_below == THRESHOLDS.service_level_critical
    assert P.target_min_service_level == THRESHOLDS.service_level_standard
    assert P.target_keep_service_level == THRESHOLDS.service_level_warning


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
    got = o.spare_capacity(sl15, waiting, standard=0.95, waiting_limit=5)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"on_below": 0.9, "off_above": 0.9},
        {"target_keep_service_level": 0.96},
        {"share": 0.6},
        {"refresh_before_seconds": 3600},
        {"max_sources_per_target": 0},
    ],
)
def test_bad_params_are_refused(kwargs: dict[str, float]) -> None:
    """Params that would flap or make no sense fail at construction."""
    with pytest.raises(ValueError, match=r"."):
        PolicyParams(**kwargs)  # type: ignore[arg-type]


def roundtrip(state: PolicyState) -> PolicyState:
    return o.from_json(json.loads(json.dumps(o.to_json(state), allow_nan=False)))


def test_bad_state_documents_are_refused() -> None:
    """An unknown version or status fails loudly."""
    doc = o.to_json(PolicyState())
    with pytest.raises(ValueError, match="version"):
        o.from_json({**doc, "version": 0})
    with pytest.raises(ValueError, match="status"):
        o.from_json({**doc, "status": "on"})


# ---- properties ------------------------------------------------------------------------------

levels_st = st.sampled_from([None, 0.5, 0.75, 0.80, 0.85, 0.91, 0.93, 0.95, 0.99])
pair_st = st.one_of(levels_st.map(lambda x: (x, x)), st.tuples(levels_st, levels_st))
# (levels per region, minutes between decisions, how many decisions they last): regimes that
# persist long enough to activate, move, refresh and release.
round_st = st.tuples(
    st.fixed_dictionaries({r: pair_st for r in NEIGHBOURS}),
    st.sampled_from([MIN, 5 * MIN, 15 * MIN]),
    st.integers(1, 40),
)
Rounds = list[tuple[dict[str, tuple[float | None, float | None]], float, int]]


def ticks(rounds: Rounds, start: float) -> Iterator[tuple[float, dict[str, RegionSignal]]]:
    now = start
    for levels, gap, repeat in rounds:
        sigs = {r: sig(r, sl60, sl15) for r, (sl60, sl15) in levels.items()}
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


@settings(max_examples=150, deadline=None)
@given(params=params_st, rounds=st.lists(round_st, max_size=12))
def test_policy_invariants(
    params: PolicyParams,
    rounds: Rounds,
) -> None:
    """Under any signals: changes of a region's diversion are a dwell apart, each activation
    follows on_after_seconds of breach, targets are never the region itself nor over capacity,
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
                breach_since = now
                for t, s in reversed(history):
                    if s[c.region].service_level_60m is None:
                        continue
                    if not o._below(s[c.region], params.on_below):
                        break
                    breach_since = t
                assert now - breach_since >= params.on_after_seconds
        for region, state in states.items():
            assert applied.get(region, (None, 0.0)) == (
                (state.target, state.share) if state.status in o.DIVERTING else (None, 0.0)
            )
            assert roundtrip(state) == state
        for target in NEIGHBOURS:
            sources = [s for s in states.values() if s.status in o.DIVERTING and s.target == target]
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
