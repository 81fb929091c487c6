"""Provider scorecard: did each provider deliver what was commissioned, day by day (or by week or
month)?

Pure: each (region, provider, minute)'s final counts go in (what a replay of the live path hands
out, late events included), rows of KPIs against their standards come out. The ratios are
:func:`detectors.windows.kpis` over :class:`detectors.windows.Totals`, the code that gives the live
gauges, so a scorecard and the dashboards cannot define a KPI two ways.

- Periods follow the wall clock of England (DESIGN.md, Time zone): Europe/London days, Monday-to-
  Sunday weeks and calendar months, so a DST change makes a 23- or 25-hour day, not a shifted one.
  Counts are kept per hour; UK offsets are whole hours, so a UTC hour is a local hour.
- A row is one provider in one region (a contract covers an area; the same provider may hold
  several) in one period, clipped to the requested range.
- The referral rate of a provider is compared with its region's baseline (the hour-of-week rates
  of `surge-monitor baseline`): the expected count is, hour by hour, the baseline rate times the
  calls the provider triaged, and the excess is the one-sided exact Poisson z of the spike
  detectors. There is no commissioned referral standard; a z above ``referral_z_max`` fails.
- Alerts are the in-stream episodes of the provider's region (alerts are raised per region).
- Overflow, when OverflowCommands are given, is the region's too (a region diverts its new
  calls, whichever provider would have answered them): the diversions the commands made
  (:func:`detectors.scorecard_overflow.overflow_episodes`), counted as activations in the
  period of their activate, minutes under overflow within the period, and who started them
  (`auto` or `operator:<id>`). Not graded.

Each KPI is graded against :class:`detectors.scorecard_grades.Standards`, on the scale of that
module (PASS, WARNING, FAIL, with the alerts' and dashboards' numbers); a row's result is its
worst grade. This module counts and assembles; the grades and the diversions live in those two
siblings (detectors.scorecard_grades, detectors.scorecard_overflow).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from detectors import baseline, referrals
from detectors.region_alerts import AlertEvent
from detectors.scorecard_grades import FAIL, PASS, WARNING, Standards, at_least, below, worst
from detectors.scorecard_overflow import OverflowCommand, OverflowEpisode, overflow_episodes
from detectors.spikes import poisson
from detectors.windows import Bucket, Kpis, Totals, kpis

LONDON: Final = ZoneInfo("Europe/London")
PERIODS: Final = ("day", "week", "month")
HOUR: Final = 3600
REFERRAL_KINDS: Final = referrals.KINDS  # ambulance, ed
FIRING: Final = "firing"

# Totals' integer counts (offered, answered, ..., callbacks_within_target), in their order.
_COUNTS: Final = tuple(
    f.name for f in fields(Totals) if f.name not in ("answered_wait_sum_seconds", "dispositions")
)


@dataclass(slots=True)
class Accumulator:
    """Counts per (region, provider, hour start) of the minutes in [from_s, to_s)."""

    from_s: float
    to_s: float
    hours: dict[tuple[str, str, int], Bucket] = field(default_factory=dict)


def add_minute(acc: Accumulator, region: str, provider: str, minute: int, bucket: Bucket) -> None:
    """Add one minute's final counts to its hour if the minute starts in the range. A minute
    handed over twice counts twice: the caller hands each once, as the replay does."""
    if not acc.from_s <= minute < acc.to_s:
        return
    key = (region, provider, minute // HOUR * HOUR)
    into = acc.hours.get(key)
    if into is None:
        into = acc.hours[key] = Bucket()
    for name in _COUNTS:
        setattr(into, name, getattr(into, name) + getattr(bucket, name))
    into.answered_wait_sum_seconds += bucket.answered_wait_sum_seconds
    for label, n in bucket.dispositions.items():
        into.dispositions[label] = into.dispositions.get(label, 0) + n


def totals_of(buckets: Iterable[Bucket]) -> Totals:
    """Sum buckets into the Totals the live windows use."""
    counts = dict.fromkeys(_COUNTS, 0)
    wait_sum = 0.0
    dispositions: dict[str, int] = {}
    for b in buckets:
        for name in _COUNTS:
            counts[name] += getattr(b, name)
        wait_sum += b.answered_wait_sum_seconds
        for label, n in b.dispositions.items():
            dispositions[label] = dispositions.get(label, 0) + n
    return Totals(
        **counts,
        answered_wait_sum_seconds=wait_sum,
        dispositions=tuple(sorted(dispositions.items())),
    )


def period_bounds(ts_s: float, period: str) -> tuple[str, int, int]:
    """(label, start, end) in UTC epoch seconds of the Europe/London day, ISO week or month
    holding `ts_s`; labels 2013-03-29, 2013-W13, 2013-03."""
    local = datetime.fromtimestamp(ts_s, tz=LONDON).date()
    if period == "day":
        first, after = local, local + timedelta(days=1)
        label = first.isoformat()
    elif period == "week":
        first = local - timedelta(days=local.weekday())
        after = first + timedelta(days=7)
        year, week, _ = first.isocalendar()
        label = f"{year}-W{week:02d}"
    elif period == "month":
        first = local.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        label = f"{first:%Y-%m}"
    else:
        raise ValueError(f"period {period!r} is not one of {PERIODS}")
    return label, _midnight(first), _midnight(after)


def clipped_period(ts_s: float, period: str, from_s: float, to_s: float) -> tuple[str, int, int]:
    """(label, start, end) of the period holding `ts_s` (:func:`period_bounds`) clipped to the
    range [from_s, to_s), its ends rounded up to the second: the span a row covers."""
    label, start, end = period_bounds(ts_s, period)
    return label, max(start, math.ceil(from_s)), min(end, math.ceil(to_s))


def _midnight(day: date) -> int:
    """UTC epoch of local midnight (midnight always exists in London: DST moves 01:00)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=LONDON).timestamp())


@dataclass(frozen=True, slots=True)
class HourFigures:
    start_s: int  # UTC epoch of the hour (a local hour too)
    totals: Totals
    kpis: Kpis


@dataclass(frozen=True, slots=True)
class Referral:
    """A provider's referrals of one kind in a period, against its region's baseline."""

    kind: str
    count: int
    triaged: int  # all dispositions
    rate: float | None  # count / triaged
    expected_rate: float | None  # the baseline's, weighted by the hours triaged; None: no baseline
    z: float | None  # one-sided Poisson z of the count over the expected count
    grade: str | None  # PASS, WARNING, FAIL; None without a baseline


@dataclass(frozen=True, slots=True)
class Row:
    """One provider, one region, one period (clipped to the requested range)."""

    region: str
    provider: str
    period: str  # label, e.g. 2013-03-29
    start_s: int  # first instant covered (UTC epoch)
    end_s: int  # end of the covered span, exclusive
    totals: Totals
    kpis: Kpis
    hours: tuple[HourFigures, ...]  # the hours with any count, in order
    hours_in_breach: int  # hours whose service level is below the standard
    worst_hour: HourFigures | None  # the lowest service level (earliest of equals)
    alerts: tuple[AlertEvent, ...]  # firing episodes of the region in the span
    referrals: tuple[Referral, ...]
    service_level: str | None  # grade; None: no data (nothing answered)
    abandonment: str | None
    callbacks: str | None  # None also when no callback standard was given
    # The region's diversions overlapping the span; None: no overflow commands were given.
    overflow: tuple[OverflowEpisode, ...] | None = None

    @property
    def overflow_activations(self) -> int | None:
        """Diversions of the region activated in the span."""
        if self.overflow is None:
            return None
        return sum(e.activated and self.start_s <= e.start_s < self.end_s for e in self.overflow)

    @property
    def overflow_minutes(self) -> float | None:
        """Minutes of the span during which a command diverted the region's new calls."""
        if self.overflow is None:
            return None
        return sum(e.seconds_within(self.start_s, self.end_s) for e in self.overflow) / 60

    @property
    def overflow_started_by(self) -> tuple[str, ...] | None:
        """Who started the diversions under way in the span (auto, operator:<id>), sorted."""
        if self.overflow is None:
            return None
        return tuple(sorted({e.started_by for e in self.overflow}))

    @property
    def result(self) -> str | None:
        """The worst grade of the row; None when no standard had data."""
        grades = [self.service_level, self.abandonment, self.callbacks]
        grades += [r.grade for r in self.referrals]
        return worst(grades)


BaselineStates = Mapping[str, Mapping[str, baseline.State]]  # region -> kind or "all" -> state


def build(
    acc: Accumulator,
    *,
    period: str,
    standards: Standards = Standards(),  # noqa: B008  # frozen: a shared default is safe
    alerts: Sequence[AlertEvent] = (),
    baselines: BaselineStates | None = None,
    overflow: Iterable[OverflowCommand] | None = None,
) -> list[Row]:
    """The scorecard rows, sorted by region, provider and period. `overflow`: the OverflowCommands
    of the range and before it (a diversion under way at the start began earlier); None leaves
    the overflow figures out (unknown, not zero)."""
    if period not in PERIODS:
        raise ValueError(f"period {period!r} is not one of {PERIODS}")
    episodes = None if overflow is None else overflow_episodes(overflow)
    groups: dict[tuple[str, str, str], list[tuple[int, Bucket]]] = {}
    spans: dict[str, tuple[int, int]] = {}
    for (region, provider, hour), bucket in acc.hours.items():
        label, start, end = clipped_period(hour, period, acc.from_s, acc.to_s)
        spans[label] = (start, end)
        groups.setdefault((region, provider, label), []).append((hour, bucket))
    rows = []
    # By region, provider, then period start (labels of weeks straddling a year do not sort).
    order = sorted(groups, key=lambda g: (g[0], g[1], spans[g[2]][0]))
    for region, provider, label in order:
        hours = groups[(region, provider, label)]
        start, end = spans[label]
        region_alerts = tuple(
            a for a in alerts if a.region == region and a.state == FIRING and start <= a.ts_s < end
        )
        region_overflow = None
        if episodes is not None:
            region_overflow = tuple(
                e for e in episodes if e.region == region and e.start_s < end and e.end_s > start
            )
        row = _row(
            (region, provider, label),
            (start, end),
            sorted(hours, key=lambda hb: hb[0]),
            standards=standards,
            alerts=region_alerts,
            region_baselines=(baselines or {}).get(region),
        )
        rows.append(replace(row, overflow=region_overflow))
    return rows


def _row(
    key: tuple[str, str, str],
    span: tuple[int, int],
    hours: list[tuple[int, Bucket]],
    *,
    standards: Standards,
    alerts: tuple[AlertEvent, ...],
    region_baselines: Mapping[str, baseline.State] | None,
) -> Row:
    region, provider, label = key
    hourly = tuple(
        HourFigures(hour, t, kpis(t)) for hour, t in ((h, totals_of([b])) for h, b in hours)
    )
    totals = totals_of(b for _, b in hours)
    k = kpis(totals)
    levels = [
        (h.kpis.service_level, h.start_s, h) for h in hourly if h.kpis.service_level is not None
    ]
    worst = min(levels, key=lambda x: (x[0], x[1]))[2] if levels else None
    return Row(
        region=region,
        provider=provider,
        period=label,
        start_s=span[0],
        end_s=span[1],
        totals=totals,
        kpis=k,
        hours=hourly,
        hours_in_breach=sum(1 for level, _, _ in levels if level < standards.service_level_min),
        worst_hour=worst,
        alerts=alerts,
        referrals=tuple(
            _referral(kind, hourly, region_baselines, standards) for kind in REFERRAL_KINDS
        ),
        service_level=at_least(
            k.service_level, standards.service_level_min, standards.service_level_fail_below
        ),
        abandonment=below(
            k.abandon_rate, standards.abandon_rate_max, standards.abandon_rate_fail_at
        ),
        callbacks=at_least(
            k.callback_within_target_rate,
            standards.callback_within_target_min,
            standards.callback_within_target_min,  # no separate failing level: a miss fails
        ),
    )


def _referral(
    kind: str,
    hours: tuple[HourFigures, ...],
    region_baselines: Mapping[str, baseline.State] | None,
    standards: Standards,
) -> Referral:
    """Observed referrals of `kind` against the baseline rate of each hour of the week."""
    count = triaged = 0
    for h in hours:
        d = dict(h.totals.dispositions)
        count += d.get(kind, 0)
        triaged += sum(d.values())
    rate = None if triaged == 0 else count / triaged
    kind_state = (region_baselines or {}).get(kind)
    all_state = (region_baselines or {}).get(referrals.ALL)
    if kind_state is None or all_state is None:
        return Referral(kind, count, triaged, rate, None, None, None)
    observed = expected = 0.0
    covered = 0
    for h in hours:
        how = baseline.hour_of_week(h.start_s)
        mean_all = baseline.expected(all_state, how, referrals.BASELINE)
        mean_kind = baseline.expected(kind_state, how, referrals.BASELINE)
        if not mean_all > 0 or math.isnan(mean_kind):  # warming up in this hour: not compared
            continue
        d = dict(h.totals.dispositions)
        hour_triaged = sum(d.values())
        observed += d.get(kind, 0)
        expected += mean_kind / mean_all * hour_triaged
        covered += hour_triaged
    if covered == 0:
        return Referral(kind, count, triaged, rate, None, None, None)
    z = _upper_z(observed, expected)
    grade = PASS if z <= standards.referral_z_max else FAIL
    return Referral(kind, count, triaged, rate, expected / covered, z, grade)


def _upper_z(count: float, expected: float) -> float:
    """One-sided z of the exact Poisson upper tail (0 when the count is not above expected)."""
    if expected <= 0:
        return 0.0 if count == 0 else math.inf
    log_p = poisson.log_upper_tail(np.array([count]), np.array([expected]))
    return float(max(0.0, float(poisson.upper_z(log_p)[0])))


# The module's own names, and those of its siblings that importers reach through it.
__all__ = [
    "FAIL",
    "FIRING",
    "HOUR",
    "LONDON",
    "PASS",
    "PERIODS",
    "REFERRAL_KINDS",
    "WARNING",
    "Accumulator",
    "BaselineStates",
    "HourFigures",
    "OverflowCommand",
    "Referral",
    "Row",
    "Standards",
    "add_minute",
    "build",
    "clipped_period",
    "period_bounds",
    "totals_of",
]
