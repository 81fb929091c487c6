"""The handlers of one region from their ACD state events: who is in which state now, staff time
by state, and the handle time of each handled call (DESIGN.md, KPIs: staffing).

A state holds until the agent's next event, so the state is kept per agent and applied in each
agent's own event-time order. An event older than the state it would replace is not applied (it
is returned as TOO_LATE: the caller dead-letters it): an agent's history is a sequence, and
rewriting its past would change staff seconds already exported. A re-delivery of an event applied
within the dedup window (same agent, time and state) is a DUPLICATE, whatever came after it.
Time is event time throughout: "now" is the newest event time of the region, and an agent with no
event for `stale_seconds` counts as logged out from `last_seen + stale_seconds` on (and is
counted as stale) until it is heard again.

Handle time is measured from the health advisers' own states, not from the calls (clinicians'
callbacks are other work, not 111 calls answered): a handled call starts
when an agent goes `on_call` and ends when it leaves `on_call`/`wrap_up` for anything else, or
goes `on_call` again (the next call); its handle time is that span, counted in the minute it ends.
State in, view out; JSON round trip exact (the state is checkpointed with the region's offset).

The breach forecast reads the handlers "as of" an instant of the call stream (:func:`at`), not as
of this state's newest event: the two topics are consumed side by side, and the forecast must not
depend on which of them the worker happened to read further. So each time the region's event
time crosses a minute boundary, the staffed health advisers per provider at that boundary are
kept (``snapshots``, as long as the windows are). An event older than the newest one of the
region (another agent's, delivered late) does not rewrite a snapshot already taken: a replay of
the same topic order gives the same snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

OK: Final = "ok"
DUPLICATE: Final = "duplicate"
TOO_LATE: Final = "too_late"
STATE_VERSION: Final = 2  # 2: snapshots (a version 1 state is read with none)
STATES: Final = ("logged_out", "ready", "on_call", "wrap_up", "not_ready")
ROLES: Final = ("health_adviser", "clinician")
STAFFED: Final = frozenset({"ready", "on_call", "wrap_up"})
HANDLING: Final = frozenset({"on_call", "wrap_up"})
ALL: Final = "all"  # the provider label of a region-wide figure
ROLES_ANSWERING: Final = "health_adviser"  # the role that answers 111 calls (clinicians call back)
WINDOWS_MINUTES: Final = (15, 60)
LOGGED_OUT_FORGET_SECONDS: Final = 86_400.0  # an agent logged out this long is dropped
MINUTE: Final = 60
BREAK_SECONDS: Final = 1800.0  # a break longer than this is not counted as coming back
SNAPSHOT_MINUTES: Final = 120  # boundaries kept after a silence (the windows hold 90 minutes)


@dataclass(frozen=True, slots=True)
class AgentObs:
    agent_id: str
    ts_s: float
    provider: str
    role: str  # health_adviser | clinician
    state: str  # one of STATES
    reason: str | None = None  # on not_ready: break | training | meeting | system | other


@dataclass(slots=True)
class Agent:
    provider: str
    role: str
    state: str
    since_s: float  # when the current state began
    last_seen_s: float  # the agent's newest event (a repeated state refreshes it)
    call_start_s: float | None = None  # the handled call in progress (on_call, wrap_up)
    reason: str | None = None  # of a not_ready state


@dataclass(slots=True)
class StaffingState:
    max_ts_s: float | None = None
    agents: dict[str, Agent] = field(default_factory=dict)
    # closed staff time: (provider, role, state) -> seconds; the open spans are added in `view`
    seconds: dict[tuple[str, str, str], float] = field(default_factory=dict)
    # handled calls by the minute they ended: (provider, minute start) -> [calls, handle seconds]
    handled: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    seen: dict[tuple[str, float, str], float] = field(default_factory=dict)  # applied, recent
    duplicates: int = 0
    too_late: int = 0
    # health advisers at each minute boundary the region's event time crossed, staffed and on
    # a break: (provider, minute start) -> (staffed, on break) (see the module doc)
    snapshots: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StaffedAt:
    """One provider's call handlers at an instant, for the breach forecast."""

    provider: str
    handlers: int  # health advisers ready, on a call or in wrap-up
    handled_calls: int  # calls they finished in the handle-time window before the instant
    handle_seconds: float | None  # their mean handle time; None with no call finished
    on_break: int = 0  # health advisers on a break (not_ready, reason break) under BREAK_SECONDS


@dataclass(frozen=True, slots=True)
class HandleTime:
    provider: str  # a provider id or ALL
    window_minutes: int
    calls: int
    seconds: float | None  # mean handle time; None with no handled call in the window


@dataclass(frozen=True, slots=True)
class StaffingView:
    now_s: float | None
    # (provider, role, state, agents) for every state of every (provider, role) seen, sorted
    agents: tuple[tuple[str, str, str, int], ...]
    stale: tuple[tuple[str, str, int], ...]  # (provider, role, agents counted logged out: silent)
    seconds: tuple[tuple[str, str, str, float], ...]  # staff seconds by state, cumulative
    handle_times: tuple[HandleTime, ...]

    def staffed(self, provider: str | None = None, role: str | None = None) -> int:
        """Agents ready, on a call or in wrap-up (of one provider and role, or all of them)."""
        return sum(
            n
            for p, r, s, n in self.agents
            if s in STAFFED and provider in (None, p) and role in (None, r)
        )


def initial() -> StaffingState:
    return StaffingState()


def apply(
    state: StaffingState,
    obs: AgentObs,
    stale_seconds: float,
    retention_minutes: int,
    dedup_seconds: float,
) -> str:
    """Apply one state event IN PLACE (as detectors.windows.apply): OK, DUPLICATE or TOO_LATE."""
    key = (obs.agent_id, obs.ts_s, obs.state)
    if key in state.seen:
        state.duplicates += 1
        return DUPLICATE
    agent = state.agents.get(obs.agent_id)
    if agent is not None and obs.ts_s < agent.since_s:
        state.too_late += 1
        return TOO_LATE
    state.seen[key] = obs.ts_s
    if state.max_ts_s is not None and obs.ts_s // MINUTE > state.max_ts_s // MINUTE:
        # the boundaries crossed, as they stood before this event (a state holds until the next)
        _snapshot(state, int(state.max_ts_s // MINUTE), int(obs.ts_s // MINUTE), stale_seconds)
    if agent is None:
        agent = state.agents[obs.agent_id] = Agent(
            obs.provider, obs.role, obs.state, obs.ts_s, obs.ts_s, reason=obs.reason
        )
        if obs.state == "on_call":
            agent.call_start_s = obs.ts_s
    elif (
        obs.state == agent.state
        and obs.state != "on_call"
        and obs.ts_s - agent.last_seen_s <= stale_seconds
    ):
        agent.last_seen_s = max(agent.last_seen_s, obs.ts_s)  # still in it: a refresh
        agent.reason = obs.reason
    else:
        _transition(state, agent, obs, stale_seconds)
    if state.max_ts_s is None or obs.ts_s > state.max_ts_s:
        previous_minute = None if state.max_ts_s is None else int(state.max_ts_s // 60)
        state.max_ts_s = obs.ts_s
        if previous_minute != int(obs.ts_s // 60):  # once a minute: forget what no view reads
            _trim(state, obs.ts_s, retention_minutes)
            cutoff = obs.ts_s - dedup_seconds
            state.seen = {k: ts for k, ts in state.seen.items() if ts >= cutoff}
    return OK


def _transition(state: StaffingState, agent: Agent, obs: AgentObs, stale_seconds: float) -> None:
    """Close the agent's current state (and a call it ends), then enter the new one."""
    end_s = min(obs.ts_s, agent.last_seen_s + stale_seconds)  # silent too long: logged out since
    if agent.state != "logged_out" and end_s > agent.since_s:
        key = (agent.provider, agent.role, agent.state)
        state.seconds[key] = state.seconds.get(key, 0.0) + (end_s - agent.since_s)
    if agent.call_start_s is not None and (obs.state not in HANDLING or obs.state == "on_call"):
        if agent.role == ROLES_ANSWERING:  # a 111 call (clinicians' callbacks are not timed)
            minute = int(obs.ts_s // 60) * 60
            cell = state.handled.setdefault((agent.provider, minute), [0.0, 0.0])
            cell[0] += 1
            cell[1] += end_s - agent.call_start_s
        agent.call_start_s = None
    agent.provider, agent.role, agent.state = obs.provider, obs.role, obs.state
    agent.reason = obs.reason
    agent.since_s = agent.last_seen_s = obs.ts_s
    if obs.state == "on_call":
        agent.call_start_s = obs.ts_s
    elif obs.state not in HANDLING:
        agent.call_start_s = None


def _snapshot(state: StaffingState, last: int, new: int, stale_seconds: float) -> None:
    """The staffed health advisers per provider at the minute boundaries in (last, new] (minute
    numbers), at most SNAPSHOT_MINUTES of them: after a long silence only the recent ones."""
    for minute in range(max(last + 1, new - SNAPSHOT_MINUTES + 1), new + 1):
        boundary = minute * MINUTE
        for provider, n in _handlers(state, boundary, stale_seconds).items():
            state.snapshots[(provider, boundary)] = n


def _handlers(state: StaffingState, t_s: float, stale_seconds: float) -> dict[str, tuple[int, int]]:
    """Health advisers per provider at `t_s` by the agents' current states (every provider with
    an agent, zeros included): staffed, and on a break begun under BREAK_SECONDS before (they
    are back within the forecast's reach: the rota covers breaks). An agent silent for
    `stale_seconds` is neither."""
    counts: dict[str, list[int]] = {}
    for agent in state.agents.values():
        cell = counts.setdefault(agent.provider, [0, 0])
        if agent.role != ROLES_ANSWERING or t_s - agent.last_seen_s > stale_seconds:
            continue
        if agent.state in STAFFED:
            cell[0] += 1
        elif agent.state == "not_ready" and agent.reason == "break":
            cell[1] += t_s - agent.since_s < BREAK_SECONDS
    return {p: (staffed, on_break) for p, (staffed, on_break) in counts.items()}


def at(
    state: StaffingState,
    t_s: float,
    *,
    stale_seconds: float,
    handle_minutes: int,
    max_lag_seconds: float,
) -> tuple[StaffedAt, ...] | None:
    """Each provider's call handlers at `t_s` (an instant of the call stream; the minute
    boundary at or before it, see the module doc) and their mean handle time over the
    `handle_minutes` before that boundary. None when the agent states cannot say: none yet, or
    their newest is more than `max_lag_seconds` before `t_s` (the feed is behind or has
    stopped: reading every silent handler as gone would forecast a collapse that is not)."""
    now = state.max_ts_s
    if now is None or now < t_s - max_lag_seconds:
        return None
    boundary = int(t_s // MINUTE) * MINUTE
    if now >= boundary:  # the boundary was crossed: its snapshot
        handlers = {p: n for (p, minute), n in state.snapshots.items() if minute == boundary}
        if not handlers:  # no agent was known before the boundary
            return None
    else:  # not crossed yet: the state as it stands holds at the boundary
        handlers = _handlers(state, boundary, stale_seconds)
    first = boundary - handle_minutes * MINUTE
    calls: dict[str, float] = dict.fromkeys(handlers, 0.0)
    seconds: dict[str, float] = dict.fromkeys(handlers, 0.0)
    for (provider, minute), (done, secs) in state.handled.items():
        if first <= minute < boundary and provider in handlers:
            calls[provider] += done
            seconds[provider] += secs
    return tuple(
        StaffedAt(
            p,
            handlers[p][0],
            int(calls[p]),
            seconds[p] / calls[p] if calls[p] else None,
            on_break=handlers[p][1],
        )
        for p in sorted(handlers)
    )


def _trim(state: StaffingState, now_s: float, retention_minutes: int) -> None:
    oldest = int(now_s // 60) * 60 - retention_minutes * 60
    state.handled = {k: v for k, v in state.handled.items() if k[1] > oldest}
    state.snapshots = {k: v for k, v in state.snapshots.items() if k[1] > oldest}
    state.agents = {
        a: g
        for a, g in state.agents.items()
        if not (g.state == "logged_out" and g.since_s < now_s - LOGGED_OUT_FORGET_SECONDS)
    }


def view(state: StaffingState, stale_seconds: float) -> StaffingView:
    now = state.max_ts_s
    counts: dict[tuple[str, str, str], int] = {}
    stale: dict[tuple[str, str], int] = {}
    seconds = dict(state.seconds)
    for agent in state.agents.values():
        for s in STATES:
            counts.setdefault((agent.provider, agent.role, s), 0)
        stale.setdefault((agent.provider, agent.role), 0)
        silent = now is not None and now - agent.last_seen_s > stale_seconds
        current = "logged_out" if silent else agent.state
        counts[(agent.provider, agent.role, current)] += 1
        if silent and agent.state != "logged_out":
            stale[(agent.provider, agent.role)] += 1
        if agent.state != "logged_out" and now is not None:
            end_s = min(now, agent.last_seen_s + stale_seconds)
            if end_s > agent.since_s:
                key = (agent.provider, agent.role, agent.state)
                seconds[key] = seconds.get(key, 0.0) + (end_s - agent.since_s)
    return StaffingView(
        now,
        tuple((p, r, s, n) for (p, r, s), n in sorted(counts.items())),
        tuple((p, r, n) for (p, r), n in sorted(stale.items())),
        tuple((p, r, s, x) for (p, r, s), x in sorted(seconds.items())),
        _handle_times(state, now),
    )


def _handle_times(state: StaffingState, now_s: float | None) -> tuple[HandleTime, ...]:
    """Mean handle time of the calls that ended in the last 15 and 60 minutes, up to now."""
    if now_s is None:
        return ()
    now_minute = int(now_s // 60) * 60
    providers = sorted({p for p, _ in state.handled} | {a.provider for a in state.agents.values()})
    out = []
    for window in WINDOWS_MINUTES:
        first = now_minute - (window - 1) * 60
        totals: dict[str, list[float]] = {p: [0.0, 0.0] for p in [*providers, ALL]}
        for (provider, minute), (calls, secs) in sorted(state.handled.items()):
            if first <= minute <= now_minute:
                for p in (provider, ALL):
                    totals[p][0] += calls
                    totals[p][1] += secs
        for p in [*providers, ALL]:
            calls, secs = totals[p]
            out.append(HandleTime(p, window, int(calls), secs / calls if calls else None))
    return tuple(out)


def to_json(state: StaffingState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "max_ts_s": state.max_ts_s,
        "agents": [
            [a, g.provider, g.role, g.state, g.since_s, g.last_seen_s, g.call_start_s, g.reason]
            for a, g in sorted(state.agents.items())
        ],
        "seconds": [[p, r, s, x] for (p, r, s), x in sorted(state.seconds.items())],
        "handled": [[p, m, c, x] for (p, m), (c, x) in sorted(state.handled.items())],
        "seen": sorted([a, t, s] for a, t, s in state.seen),
        "duplicates": state.duplicates,
        "too_late": state.too_late,
        "snapshots": [[p, m, n, b] for (p, m), (n, b) in sorted(state.snapshots.items())],
    }


def from_json(doc: dict[str, Any]) -> StaffingState:
    if doc.get("version") not in (1, STATE_VERSION):
        raise ValueError(f"staffing state version {doc.get('version')!r}, expected {STATE_VERSION}")
    max_ts = doc["max_ts_s"]
    return StaffingState(
        max_ts_s=None if max_ts is None else float(max_ts),
        agents={str(row[0]): _agent(row) for row in doc["agents"]},
        seconds={(str(p), str(r), str(s)): float(x) for p, r, s, x in doc["seconds"]},
        handled={(str(p), int(m)): [float(c), float(x)] for p, m, c, x in doc["handled"]},
        seen={(str(a), float(t), str(s)): float(t) for a, t, s in doc["seen"]},
        duplicates=int(doc["duplicates"]),
        too_late=int(doc["too_late"]),
        snapshots={(str(p), int(m)): (int(n), int(b)) for p, m, n, b in doc.get("snapshots", [])},
    )


def _agent(row: list[Any]) -> Agent:
    """One agent of a checkpoint; a version 1 row has no reason."""
    _, p, r, s, since, seen, c, *rest = row
    reason = rest[0] if rest else None
    return Agent(
        str(p), str(r), str(s), float(since), float(seen), None if c is None else float(c),
        None if reason is None else str(reason),
    )  # fmt: skip
