"""Agents of a region from their state events: counts by state, staff seconds, handle time."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import staffing
from detectors.staffing import AgentObs, StaffingState, StaffingView

T0 = 1364544000.0  # Good Friday 2013, 08:00 UTC
STALE = 3600.0
RETENTION = 90
DEDUP = 1800.0


def run(events: list[AgentObs], state: StaffingState | None = None) -> StaffingState:
    state = state or staffing.initial()
    for e in events:
        staffing.apply(state, e, STALE, RETENTION, DEDUP)
    return state


def counts(view: StaffingView) -> dict[tuple[str, str, str], int]:
    return {(p, r, s): n for p, r, s, n in view.agents if n}


def seconds(view: StaffingView) -> dict[tuple[str, str, str], float]:
    return {(p, r, s): x for p, r, s, x in view.seconds}


def ha(agent: str, dt: float, state: str, provider: str = "nhs-direct") -> AgentObs:
    return AgentObs(agent, T0 + dt, provider, "health_adviser", state)


def test_one_handled_call_gives_its_handle_time_and_staff_seconds() -> None:
    """Ready 10 s, on a call 120 s, wrap-up 30 s: one call of 150 s; seconds by state exact."""
    a1 = [ha("a1", 0, "ready"), ha("a1", 10, "on_call"), ha("a1", 130, "wrap_up")]
    state = run([*a1, ha("a1", 160, "ready"), ha("b2", 170, "not_ready")])
    view = staffing.view(state, STALE)
    assert counts(view) == {
        ("nhs-direct", "health_adviser", "ready"): 1,
        ("nhs-direct", "health_adviser", "not_ready"): 1,
    }
    assert view.staffed() == 1
    assert seconds(view) == {
        ("nhs-direct", "health_adviser", "ready"): 10.0 + 10.0,  # 0-10, then 160-170 (open)
        ("nhs-direct", "health_adviser", "on_call"): 120.0,
        ("nhs-direct", "health_adviser", "wrap_up"): 30.0,
    }
    by = {(h.provider, h.window_minutes): h for h in view.handle_times}
    assert by[("nhs-direct", 15)].calls == 1 and by[("nhs-direct", 15)].seconds == 150.0
    assert by[("all", 60)].seconds == 150.0


def test_back_to_back_calls_each_count() -> None:
    """on_call again without wrap-up ends the previous call and starts the next one."""
    state = run([ha("a", 0, "on_call"), ha("a", 100, "on_call"), ha("a", 300, "ready")])
    by = {(h.provider, h.window_minutes): h for h in staffing.view(state, STALE).handle_times}
    assert by[("all", 15)].calls == 2
    assert by[("all", 15)].seconds == 150.0  # (100 + 200) / 2


def test_a_redelivered_event_is_a_duplicate_and_an_older_one_too_late() -> None:
    """An event applied before is a duplicate, even an earlier one; a new older one is too late."""
    state = run([ha("a", 0, "ready"), ha("a", 50, "on_call")])
    for again in (ha("a", 50, "on_call"), ha("a", 0, "ready")):
        assert staffing.apply(state, again, STALE, RETENTION, DEDUP) == staffing.DUPLICATE
    assert (
        staffing.apply(state, ha("a", 40, "not_ready"), STALE, RETENTION, DEDUP)
        == staffing.TOO_LATE
    )
    assert counts(staffing.view(state, STALE)) == {("nhs-direct", "health_adviser", "on_call"): 1}


def test_a_silent_agent_counts_as_logged_out_and_stale_until_heard_again() -> None:
    """Silent past the limit: logged out from last_seen + limit, its staff time capped there."""
    state = run([ha("a", 0, "ready"), ha("b", 0, "ready"), ha("b", STALE + 600, "ready")])
    view = staffing.view(state, STALE)
    assert counts(view) == {
        ("nhs-direct", "health_adviser", "ready"): 1,
        ("nhs-direct", "health_adviser", "logged_out"): 1,
    }
    assert view.stale == (("nhs-direct", "health_adviser", 1),)
    # a: 0..STALE; b: 0..STALE (its silence), then again from STALE+600 to now (0 s)
    assert seconds(view)[("nhs-direct", "health_adviser", "ready")] == 2 * STALE
    run([ha("a", STALE + 700, "ready")], state)
    view = staffing.view(state, STALE)
    assert view.stale == (("nhs-direct", "health_adviser", 0),)
    assert view.staffed() == 2


def test_no_event_no_view_figures() -> None:
    """Before the first event there is no clock, no agent and no handle time."""
    view = staffing.view(staffing.initial(), STALE)
    assert view.now_s is None and view.agents == () and view.handle_times == ()


AGENTS = ["a", "b", "c"]
event_lists = st.lists(
    st.tuples(
        st.sampled_from(AGENTS),
        st.integers(0, 4 * 3600),
        st.sampled_from(staffing.STATES),
        st.sampled_from(["health_adviser", "clinician"]),
        st.sampled_from(["break", "training"]),
    ),
    max_size=40,
).map(
    lambda xs: [
        AgentObs(a, T0 + dt, "nhs-direct", role, s, why if s == "not_ready" else None)
        for a, dt, s, role, why in sorted(xs, key=lambda x: x[1])
    ]
)


@settings(max_examples=150, deadline=None)
@given(event_lists, st.integers(0, 40))
def test_a_checkpoint_at_any_event_resumes_to_the_same_state(
    events: list[AgentObs], k: int
) -> None:
    """Saving after any event and restoring (through JSON bytes) changes nothing afterwards."""
    straight = run(events)
    first = run(events[:k])
    restored = staffing.from_json(orjson.loads(orjson.dumps(staffing.to_json(first))))
    resumed = run(events[k:], restored)
    assert staffing.to_json(resumed) == staffing.to_json(straight)
    assert staffing.view(resumed, STALE) == staffing.view(straight, STALE)


@settings(max_examples=150, deadline=None)
@given(event_lists)
def test_staff_seconds_never_go_backwards_and_every_agent_is_in_one_state(
    events: list[AgentObs],
) -> None:
    """Exported staff seconds are counters (never decrease); counts sum to the agents known."""
    state = staffing.initial()
    before: dict[tuple[str, str, str], float] = {}
    for e in events:
        staffing.apply(state, e, STALE, RETENTION, DEDUP)
        view = staffing.view(state, STALE)
        now = seconds(view)
        for key, value in before.items():
            assert now.get(key, 0.0) >= value - 1e-9
        before = now
        assert sum(n for *_, n in view.agents) == len(state.agents)


@pytest.mark.parametrize("version", [None, 0, 3])
def test_a_checkpoint_of_another_version_is_refused(version: int | None) -> None:
    """A state saved by another format version fails loudly instead of being misread."""
    doc = staffing.to_json(staffing.initial())
    doc["version"] = version
    with pytest.raises(ValueError, match="staffing state version"):
        staffing.from_json(doc)


def at(
    state: StaffingState, dt: float, lag: float = 600.0
) -> tuple[staffing.StaffedAt, ...] | None:
    return staffing.at(state, T0 + dt, stale_seconds=STALE, handle_minutes=15, max_lag_seconds=lag)


def test_the_forecast_reads_the_handlers_at_the_minute_boundary_of_the_instant_asked() -> None:
    """Two handlers ready from 0 s; b logs out at 90 s and a takes a 100 s call at 100 s. At
    130 s (boundary 120 s) one is staffed, whether the state has gone on to 300 s or not; a
    provider's handle time counts calls that ended before the boundary. c, ready at 300 s, is
    not staffed at the 300 s boundary (the state before it) but is at 360 s."""
    events = [
        ha("a", 0, "ready"),
        ha("b", 0, "ready"),
        ha("b", 90, "logged_out"),
        ha("a", 100, "on_call"),
        ha("a", 200, "ready"),  # a call of 100 s ending in minute 180
        ha("c", 300, "ready"),
    ]
    behind = run(events[:4])  # newest event 100 s: boundary 120 s not crossed yet
    ahead = run(events)
    expected = (staffing.StaffedAt("nhs-direct", 1, 0, None),)
    assert at(behind, 130) == at(ahead, 130) == expected
    assert at(ahead, 250) == (staffing.StaffedAt("nhs-direct", 1, 1, 100.0),)
    assert at(ahead, 310) == (staffing.StaffedAt("nhs-direct", 1, 1, 100.0),)
    assert at(ahead, 370) == (staffing.StaffedAt("nhs-direct", 2, 1, 100.0),)
    assert at(behind, 130 + 601) is None  # the feed is over 600 s behind: it cannot say
    assert at(staffing.initial(), 0) is None


@settings(max_examples=200, deadline=None)
@given(event_lists, st.integers(0, 4 * 3600), st.integers(0, 40))
def test_what_the_forecast_reads_does_not_depend_on_how_far_the_feed_has_got(
    events: list[AgentObs], dt: int, extra: int
) -> None:
    """The answer at an instant t is the same for every state that holds all events before t's
    minute boundary and none so far past it that the handle-time window before it is no longer
    retained (the retention less the window, here 90 - 15 minutes): how far ahead the
    agent-state consumer is of the calls' does not change the forecast's capacity."""
    t = T0 + dt
    boundary = int(t // 60) * 60
    before = [e for e in events if e.ts_s < boundary]
    later = events[len(before) : len(before) + extra]
    retained = [e.ts_s < boundary + (RETENTION - 15 - 1) * 60 for e in later]
    later = later[: retained.index(False)] if False in retained else later
    reference = at(run(before), dt, lag=1e9)
    assert at(run(before + later), dt, lag=1e9) == reference


def test_a_handler_on_a_break_is_coming_back_for_the_forecast_until_half_an_hour() -> None:
    """a goes on a break at 0 s, b on training; both count as on a break / neither staffed; a's
    break counts until it is 30 minutes old, b's training never."""
    events = [
        AgentObs("a", T0, "nhs-direct", "health_adviser", "not_ready", "break"),
        AgentObs("b", T0, "nhs-direct", "health_adviser", "not_ready", "training"),
        ha("c", 0, "ready"),
    ]
    state = run(events)
    assert at(state, 600) == (staffing.StaffedAt("nhs-direct", 1, 0, None, on_break=1),)
    assert at(state, 1799, lag=1e9) == (staffing.StaffedAt("nhs-direct", 1, 0, None, on_break=1),)
    assert at(state, 1800, lag=1e9) == (staffing.StaffedAt("nhs-direct", 1, 0, None, on_break=0),)
    restored = staffing.from_json(orjson.loads(orjson.dumps(staffing.to_json(state))))
    assert restored == state
