"""Overflow routing policy: when an overloaded region diverts a share of its new calls, and where.

DESIGN.md, Overflow routing. One pure step over all regions at once, because a target's fitness
depends on the others: `decide` gives new states and the commands for `surge.overflow`. Per region:

1. Operator first. While an unexpired override exists for a region the policy issues nothing for
   it, and its state follows the override (the dwell clock restarts if the diversion changed). When
   the override expires the policy resumes from the operator's choice: it re-issues that diversion
   as an `adjust` (the operator's command has lapsed) and changes it only by the rules below.
2. Sustained breach. *Breaching*: 60 min service level below `on_below` and the 15 min one too (or
   nothing answered in 15 min), as ServiceLevelBelowStandard reads it. After `on_after_seconds` of
   breach: activate to the first neighbour, in the catalogue's preference order, fit to take
   overflow: service level >= `target_min_service_level` in both windows, `capacity_spare` >=
   `target_min_spare`, no breach forecast within `forecast_on_seconds`, not diverting itself,
   taking overflow from fewer than `max_sources_per_target` regions. None fit: stay pending.
2b. Confident forecast (early start; off with `forecast_on_seconds=None`). *Confident*: the breach
   forecast (detectors.forecast: 60 and 15 min service level below the warning level, 85 %) is
   within `forecast_on_seconds`, the 60 min service level is already below `forecast_below` (the
   95 % standard), and a queue stands: at least `forecast_min_waiting` calls waiting and at least
   `forecast_queue_minutes` of the last 15 minutes' arrivals. Held for `on_after_seconds` (the
   same hold as rule 2, its own timer) it activates as rule 2 does, before the breach. Why the
   queue: the forecast alone is noisy in healthy regions (a region of 1-10 calls a minute dips
   below 85 % now and then, and the forecast reads 0, "breached", through the dip), but in those
   dips the queue drains within minutes, while a region that has lost its handlers keeps callers
   queueing minute after minute. Measured with benchmarks/overflow.py on generated normal
   weeks: without the queue condition rule 2b activated 6.75 times per region-week (20
   region-weeks), with it never (40 region-weeks; the breach rule alone: 0.3-0.6); on five
   generated launch days it started 14-33 minutes before the breach rule in 8 of 10 failing
   regions, and within a minute of it in the other 2.
3. Still breaching a dwell after the last change: `share` += `share_step`, up to `max_share`.
4. A target no longer fit to keep (below `target_keep_service_level`, a looser bar than the pick,
   or diverting itself; a breach forecast alone does not move a diversion) loses the overflow a
   dwell after the last change: moved to the next fit neighbour, else (or if the region has
   recovered) deactivated: diverting into a failing region spreads the failure. Until the dwell
   allows it, the diversion stays and is refreshed.
5. Recovery: above `off_above` in both windows for `off_after_seconds`: deactivate.
6. Refresh: commands lapse at `expires_at`, so a dead monitor cannot leave a diversion on; an active
   one is re-issued as an `adjust` `refresh_before_seconds` before it lapses.

Never two diversion changes (activate, deactivate, new target or share) of a region closer than
`min_dwell_seconds`. No signal or no 60 min figure neither activates nor releases (a target without
a signal is kept). Regions go in sorted order, each seeing the decisions made before it this round.

The records it reads and writes (RegionSignal, Override, PolicyParams, PolicyState, Command) and
the state's JSON round trip are in :mod:`detectors.overflow_records`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from detectors.overflow_records import (
    DIVERTING,
    Action,
    Command,
    Override,
    PolicyParams,
    PolicyState,
    RegionSignal,
    Status,
    from_json,
    spare_capacity,
    to_json,
)


def _pct(x: float | None) -> str:
    return "no data" if x is None else f"{x * 100:.1f} %"


def _at_least(sig: RegionSignal | None, bar: float) -> bool:
    """Known to meet `bar`: 60 min at or above it, and 15 min too unless empty."""
    if sig is None or sig.service_level_60m is None:
        return False
    return sig.service_level_60m >= bar and (
        sig.service_level_15m is None or sig.service_level_15m >= bar
    )


def _below(sig: RegionSignal | None, bar: float) -> bool:
    """Known to breach `bar`: 60 min below it, and 15 min below it or empty."""
    if sig is None or sig.service_level_60m is None:
        return False
    sl15 = sig.service_level_15m
    return sig.service_level_60m < bar and (sl15 is None or sl15 < bar)


def _above(sig: RegionSignal | None, bar: float) -> bool:
    if sig is None or sig.service_level_60m is None or sig.service_level_15m is None:
        return False
    return min(sig.service_level_60m, sig.service_level_15m) > bar


def _forecast_soon(sig: RegionSignal, p: PolicyParams) -> bool:
    """A breach forecast within `forecast_on_seconds` (never with rule 2b off)."""
    return (
        p.forecast_on_seconds is not None and sig.breach_forecast_seconds <= p.forecast_on_seconds
    )


def _confident(sig: RegionSignal, p: PolicyParams) -> bool:
    """Rule 2b's condition at one instant: the breach forecast soon, the hour already below the
    standard, and a standing queue (see the module docstring for why the queue)."""
    if sig.service_level_60m is None:
        return False
    queue = max(p.forecast_min_waiting, p.forecast_queue_minutes * sig.arrivals_per_minute)
    return (
        _forecast_soon(sig, p)
        and sig.service_level_60m < p.forecast_below
        and sig.calls_waiting >= queue
    )


@dataclass(frozen=True, slots=True)
class _Round:
    """One decide call: its inputs, and the states decided so far (each region sees the earlier)."""

    states: dict[str, PolicyState]
    signals: Mapping[str, RegionSignal]
    neighbours: Mapping[str, Sequence[str]]
    now_s: float
    p: PolicyParams

    def diverting(self, region: str) -> bool:
        return self.states.get(region, PolicyState()).status in DIVERTING

    def sources(self, target: str, besides: str) -> int:
        s = self.states
        return sum(r != besides and s[r].status in DIVERTING and s[r].target == target for r in s)

    def pick(self, region: str) -> str | None:
        """The first neighbour in preference order fit to take overflow (rule 2)."""
        for t in self.neighbours.get(region, ()):
            sig = self.signals.get(t)
            if (
                t != region
                and sig is not None
                and _at_least(sig, self.p.target_min_service_level)
                and sig.capacity_spare >= self.p.target_min_spare
                and not _forecast_soon(sig, self.p)
                and not self.diverting(t)
                and self.sources(t, besides=region) < self.p.max_sources_per_target
            ):
                return t
        return None

    def issue(
        self,
        region: str,
        state: PolicyState,
        action: Action,
        *,
        to: str | None,
        share: float,
        why: str,
    ) -> tuple[PolicyState, Command]:
        n, now = state.commands + 1, self.now_s
        on = action != "deactivate"
        same = state.status in DIVERTING and (to, share) == (state.target, state.share)
        expires = now + self.p.command_ttl_seconds
        new = replace(
            state,
            status="active" if on else "idle",
            target=to if on else None,
            share=share if on else 0.0,
            since_s=None,
            forecast_since_s=None,
            changed_at_s=state.changed_at_s if on and same else now,
            expires_at_s=expires if on else None,
            commands=n,
        )
        return new, Command(f"{region}:{n}", region, action, to, share, why, now, expires)


def _follow(state: PolicyState, ov: Override, now_s: float) -> PolicyState:
    """The state an override puts a region in; the dwell restarts only if the diversion changed."""
    on = ov.action != "deactivate"
    target, share = (ov.target, ov.share) if on else (None, 0.0)
    same = (state.status in DIVERTING) == on and (state.target, state.share) == (target, share)
    return replace(
        state,
        status="active" if on else "idle",
        target=target,
        share=share,
        since_s=None,
        forecast_since_s=None,
        changed_at_s=state.changed_at_s if same else now_s,
        expires_at_s=ov.expires_at_s if on else None,
        operator=ov.issued_by,
        updated_at_s=now_s,
    )


def _timer(state: PolicyState, status: Status, now_s: float) -> float:
    return state.since_s if state.status == status and state.since_s is not None else now_s


def _start(rnd: _Round, region: str, state: PolicyState) -> tuple[PolicyState, Command | None]:
    """idle / pending: rules 2 and 2b, each with its own timer (since_s, forecast_since_s)."""
    sig, p, now = rnd.signals.get(region), rnd.p, rnd.now_s
    if sig is None or sig.service_level_60m is None:
        return state, None
    breach, early = _below(sig, p.on_below), _confident(sig, p)
    if not (breach or early):
        return replace(state, status="idle", since_s=None, forecast_since_s=None), None
    pending = state.status == "pending"
    since = _timer(state, "pending", now) if breach else None
    fsince = None
    if early:
        fsince = state.forecast_since_s if pending and state.forecast_since_s is not None else now
    state = replace(state, status="pending", since_s=since, forecast_since_s=fsince)
    dwell_ok = state.changed_at_s is None or now - state.changed_at_s >= p.min_dwell_seconds
    held_breach = since is not None and now - since >= p.on_after_seconds
    held_forecast = fsince is not None and now - fsince >= p.on_after_seconds
    target = rnd.pick(region) if (held_breach or held_forecast) and dwell_ok else None
    if target is None:
        return state, None
    tsig = rnd.signals[target]
    if since is not None and held_breach:
        why = (
            f"service level {_pct(sig.service_level_60m)} over 60 min, below {_pct(p.on_below)} "
            f"for {(now - since) / 60:g} min, {sig.calls_waiting} calls waiting; "
        )
    else:
        assert fsince is not None
        why = (
            f"service level {_pct(sig.service_level_60m)} over 60 min, forecast to breach in "
            f"{sig.breach_forecast_seconds / 60:g} min with {sig.calls_waiting} calls waiting, "
            f"for {(now - fsince) / 60:g} min; "
        )
    why += (
        f"diverting {_pct(p.share)} of new calls to {target} (service level "
        f"{_pct(tsig.service_level_60m)}, spare {_pct(tsig.capacity_spare)})"
    )
    return rnd.issue(region, state, "activate", to=target, share=p.share, why=why)


def _divert(
    rnd: _Round, region: str, state: PolicyState, resumed_from: str | None
) -> tuple[PolicyState, Command | None]:
    """active / releasing: rules 3-6."""
    sig, p, now = rnd.signals.get(region), rnd.p, rnd.now_s
    target, share = state.target, state.share
    dwell_ok = state.changed_at_s is None or now - state.changed_at_s >= p.min_dwell_seconds
    recovered = _above(sig, p.off_above)
    tsig = None if target is None else rnd.signals.get(target)
    lost = target is None or rnd.diverting(target) or _below(tsig, p.target_keep_service_level)
    if lost and dwell_ok:
        new = None if recovered else rnd.pick(region)
        why = f"{target} can no longer take overflow (service level "
        why += f"{_pct(None if tsig is None else tsig.service_level_60m)}, or diverting itself); "
        if new is not None:
            why += f"moving {_pct(share)} of new calls to {new}"
            return rnd.issue(region, state, "adjust", to=new, share=share, why=why)
        why += "no other neighbour fit: stopping the overflow"
        return rnd.issue(region, state, "deactivate", to=target, share=0.0, why=why)
    sl60 = None if sig is None else sig.service_level_60m
    if recovered:
        since = _timer(state, "releasing", now)
        state = replace(state, status="releasing", since_s=since)
        if now - since >= p.off_after_seconds and dwell_ok:
            why = f"service level {_pct(sl60)} over 60 min, above {_pct(p.off_above)} for "
            why += f"{(now - since) / 60:g} min: {target} stops taking overflow"
            return rnd.issue(region, state, "deactivate", to=target, share=0.0, why=why)
    elif sl60 is not None:
        state = replace(state, status="active", since_s=None)
        if _below(sig, p.on_below) and dwell_ok and share < p.max_share:
            more = round(min(p.max_share, share + p.share_step), 6)
            why = f"service level still {_pct(sl60)} over 60 min a dwell after the last change; "
            why += f"share to {target} {_pct(share)} -> {_pct(more)}"
            return rnd.issue(region, state, "adjust", to=target, share=more, why=why)
    if state.expires_at_s is None or now >= state.expires_at_s - p.refresh_before_seconds:
        why = f"renewing the diversion of {_pct(share)} of new calls to {target}"
        if resumed_from is not None:
            why = f"override by {resumed_from} expired: {why}, the operator's choice"
        return rnd.issue(region, state, "adjust", to=target, share=share, why=why)
    return state, None


def decide(  # noqa: PLR0917 - the policy's whole input, in the order DESIGN.md names it
    states: Mapping[str, PolicyState],
    signals: Mapping[str, RegionSignal],
    neighbours: Mapping[str, Sequence[str]],
    overrides: Sequence[Override],
    now_s: float,
    params: PolicyParams,
) -> tuple[dict[str, PolicyState], list[Command]]:
    """Decide every region at event time `now_s`. With several unexpired overrides for one
    region the last in `overrides` wins (pass them in issue order)."""
    live = {ov.region: ov for ov in overrides if now_s < ov.expires_at_s}
    rnd = _Round(dict(states), signals, neighbours, now_s, params)
    for region, ov in sorted(live.items()):
        rnd.states[region] = _follow(rnd.states.get(region, PolicyState()), ov, now_s)
    commands: list[Command] = []
    for region in sorted(set(states) | set(signals)):
        state = rnd.states.get(region, PolicyState())
        if region in live or (state.updated_at_s is not None and now_s < state.updated_at_s):
            continue
        resumed_from, state = state.operator, replace(state, operator=None)
        if state.status in DIVERTING:
            state, command = _divert(rnd, region, state, resumed_from)
        else:
            state, command = _start(rnd, region, state)
        rnd.states[region] = replace(state, updated_at_s=now_s)
        if command is not None:
            commands.append(command)
    return rnd.states, commands


# The rules' own name, and the records' names that importers reach through this module.
__all__ = [
    "DIVERTING",
    "Action",
    "Command",
    "Override",
    "PolicyParams",
    "PolicyState",
    "RegionSignal",
    "decide",
    "from_json",
    "spare_capacity",
    "to_json",
]
