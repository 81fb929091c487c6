"""Staff-hours delivered against the rota: did each provider put on the phones the hours that were
commissioned (issue 17, scorecard)?

Delivered is the time the provider's agents were staffed (``ready``, ``on_call`` or ``wrap_up``,
detectors.staffing.STAFFED) by the agent-state events, per (region, provider, role); rostered and
commissioned are the rota's handlers x the interval's length (a 30-minute interval of 10
commissioned handlers is 5 commissioned hours). Both are summed per scorecard period
(:func:`detectors.scorecard.clipped_period`: Europe/London days, weeks, months) and compared as
delivered / commissioned and delivered / rostered.

How the replay gets staff seconds per period, exactly. detectors.staffing keeps staff seconds
cumulative per (provider, role, state), not per period, and adds an agent's state span only when
the span closes (the agent's next event, or stale). So every closed span is taken whole, as it
closes: :func:`open_span` notes the agent's current staffed state and the closed seconds of its
key before an event is applied, and :func:`add_closed` reads what the event added to that key
(only the agent's own transition adds to it), which is the span [since, since + added). At the end
:func:`add_open` adds the spans still open, to the region's newest event, as
``staffing.view`` does. Each span is split at clock hours (:func:`add_span`), so a span over
midnight counts on both days, and periods are whole hours (UK offsets are whole hours: a UTC hour
is a local hour). Why not snapshot ``view(...).seconds`` at each period boundary instead: the
snapshot is taken when the region's event time crosses the boundary, and an agent's event from
before the boundary that arrives after it (another agent's events are not ordered with this
one's) would add its pre-midnight seconds to the next day. The spans are exact in any arrival
order, cost two dict reads an event, and keep one float per (region, provider, role, hour).

Staff-hours are therefore kept per clock hour, and a row counts the whole hours of its span
(:func:`staff_span`): a range starting at 08:30 counts staff time and rota from 09:00, so that
delivered and commissioned cover the same hours.

Unknown is not zero: a (region, provider, role) that sent no agent state has no delivered hours
(None), and one the rota has no interval for has no rostered or commissioned hours (None).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Final, NamedTuple

from detectors.rota import RotaEntry
from detectors.scorecard import HOUR, clipped_period
from detectors.staffing import STAFFED, StaffingState

Group = tuple[str, str, str]  # region, provider, role
HourKey = tuple[str, str, str, int]  # region, provider, role, UTC epoch of the hour
StaffSeconds = MutableMapping[HourKey, float]  # staffed seconds worked in each hour
ROLE_ORDER: Final = ("health_adviser", "clinician")  # the call handlers first


class OpenSpan(NamedTuple):
    """An agent's staffed state before an event: its key in StaffingState.seconds, when it began
    and that key's closed seconds then. (A NamedTuple: one is made per agent event.)"""

    key: tuple[str, str, str]  # provider, role, state
    since_s: float
    closed_s: float


def open_span(state: StaffingState, agent_id: str) -> OpenSpan | None:
    """The agent's staffed span in progress, before its next event is applied; None when the
    agent is unknown or not staffed (a not-ready or logged-out span is not delivered time)."""
    agent = state.agents.get(agent_id)
    if agent is None or agent.state not in STAFFED:
        return None
    key = (agent.provider, agent.role, agent.state)
    return OpenSpan(key, agent.since_s, state.seconds.get(key, 0.0))


def add_closed(
    hours: StaffSeconds, region: str, state: StaffingState, before: OpenSpan | None
) -> None:
    """Add the span the event just applied closed, if it closed `before` (a refresh, a duplicate
    or a too-late event closes nothing)."""
    if before is None:
        return
    worked = state.seconds.get(before.key, 0.0) - before.closed_s
    if worked > 0:
        provider, role, _ = before.key
        add_span(hours, (region, provider, role), before.since_s, before.since_s + worked)


def add_open(hours: StaffSeconds, region: str, state: StaffingState, stale_seconds: float) -> None:
    """Add the staffed spans still open, to the region's newest event (or to when a silent agent
    went stale), as detectors.staffing.view counts them. Called once, at the end."""
    now = state.max_ts_s
    if now is None:
        return
    for agent in state.agents.values():
        if agent.state in STAFFED:
            end_s = min(now, agent.last_seen_s + stale_seconds)
            if end_s > agent.since_s:
                add_span(hours, (region, agent.provider, agent.role), agent.since_s, end_s)


def add_span(hours: StaffSeconds, group: Group, start_s: float, end_s: float) -> None:
    """Add the seconds of [start_s, end_s) of a (region, provider, role) to the clock hours they
    fall in."""
    region, provider, role = group
    t = start_s
    while t < end_s:
        hour = int(t // HOUR) * HOUR
        until = min(end_s, hour + HOUR)
        key = (region, provider, role, hour)
        hours[key] = hours.get(key, 0.0) + (until - t)
        t = until


@dataclass(frozen=True, slots=True)
class StaffHours:
    """One (region, provider, role) in one period: staff-hours delivered, rostered and
    commissioned over the whole clock hours of the period's span."""

    region: str
    provider: str
    role: str
    period: str  # label, e.g. 2013-03-29 (detectors.scorecard.period_bounds)
    start_s: int  # first whole hour counted (UTC epoch)
    end_s: int  # end of the hours counted, exclusive
    delivered_hours: float | None  # None: no agent state of this provider and role
    rostered_hours: float | None  # None: no rota, or no interval of it for this group and span
    commissioned_hours: float | None
    rota_hours: float | None  # hours of the span the rota's intervals cover

    @property
    def delivered_ratio(self) -> float | None:
        """Delivered / commissioned; None without either, or with nothing commissioned."""
        return _ratio(self.delivered_hours, self.commissioned_hours)

    @property
    def delivered_rostered_ratio(self) -> float | None:
        """Delivered / rostered; None without either, or with nothing rostered."""
        return _ratio(self.delivered_hours, self.rostered_hours)

    @property
    def hours(self) -> float:
        """Length of the span counted, in hours."""
        return (self.end_s - self.start_s) / HOUR


def _ratio(value: float | None, of: float | None) -> float | None:
    return None if value is None or of is None or of <= 0 else value / of


def staff_span(from_s: float, to_s: float) -> tuple[int, int]:
    """The whole clock hours of [from_s, to_s): (first hour, end of the last); empty when the
    range holds no whole hour."""
    first = math.ceil(math.ceil(from_s) / HOUR) * HOUR  # as a row's span: to the second first
    end = math.ceil(to_s) // HOUR * HOUR
    return first, max(first, end)


def build(
    staff_seconds: Mapping[HourKey, float],
    *,
    reporting: Collection[Group],
    rota: Iterable[RotaEntry] | None,
    from_s: float,
    to_s: float,
    period: str,
) -> list[StaffHours]:
    """The rows, sorted by region, provider, role (health advisers first) and period start.

    `reporting`: the (region, provider, role) that sent agent states in the replay (any state):
    they get a row in every period of the range, delivering 0.0 where none of their agents was
    staffed; the others have no delivered figure (None). `rota`: the intervals (None: no rota was
    given); a group with intervals in a period gets a row there. A rota interval over a period
    boundary is split at it, as a span is."""
    span_from, span_to = staff_span(from_s, to_s)
    periods = list(_periods(span_from, span_to, period))
    delivered: dict[tuple[Group, str], float] = {}
    for (region, provider, role, hour), seconds in staff_seconds.items():
        if span_from <= hour < span_to:
            label = clipped_period(hour, period, span_from, span_to)[0]
            cell = ((region, provider, role), label)
            delivered[cell] = delivered.get(cell, 0.0) + seconds / HOUR
    planned: dict[tuple[Group, str], list[float]] = {}  # rostered, commissioned, covered hours
    for e in rota or ():
        for label, a, b in _split(
            e.start_s, e.start_s + e.minutes * 60, span_from, span_to, period
        ):
            hours = (b - a) / HOUR
            sums = planned.setdefault(((e.region, e.provider, e.role), label), [0.0, 0.0, 0.0])
            sums[0] += e.rostered * hours
            sums[1] += e.commissioned * hours
            sums[2] += hours
    staffed = set(reporting) | {key[:3] for key in staff_seconds}
    cells = {(g, label) for g in staffed for label, _, _ in periods} | set(planned)
    bounds = {label: (start, end) for label, start, end in periods}
    rows = []
    for group, label in cells:
        plan = planned.get((group, label))
        start, end = bounds[label]
        rows.append(
            StaffHours(
                *group,
                period=label,
                start_s=start,
                end_s=end,
                delivered_hours=delivered.get((group, label), 0.0) if group in staffed else None,
                rostered_hours=None if plan is None else plan[0],
                commissioned_hours=None if plan is None else plan[1],
                rota_hours=None if plan is None else plan[2],
            )
        )
    return sorted(rows, key=_order)


def _order(row: StaffHours) -> tuple[str, str, int, str, int]:
    rank = ROLE_ORDER.index(row.role) if row.role in ROLE_ORDER else len(ROLE_ORDER)
    return row.region, row.provider, rank, row.role, row.start_s


def _periods(span_from: int, span_to: int, period: str) -> Iterator[tuple[str, int, int]]:
    """The periods of the span, clipped to it, in order."""
    t = span_from
    while t < span_to:
        label, start, end = clipped_period(t, period, span_from, span_to)
        yield label, start, end
        t = end


def _split(
    start_s: float, end_s: float, span_from: int, span_to: int, period: str
) -> Iterator[tuple[str, float, float]]:
    """[start_s, end_s) within the span, cut at the period boundaries: (label, start, end)."""
    t, stop = max(start_s, span_from), min(end_s, span_to)
    while t < stop:
        label, _, end = clipped_period(t, period, span_from, span_to)
        until = min(stop, end)
        yield label, t, until
        t = until
