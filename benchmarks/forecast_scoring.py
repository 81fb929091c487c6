"""Breach forecast benchmark, the scoring: what counts as a breach, a warning and a page, and the
tallies ``forecast.py`` prints. Plain numpy over one region's scored minutes (``Series``, made by
``forecast.py``'s replay): no generator, no replay here.

1. The actual breach: a minute at which the 60- and 15-minute service levels (from the final
   counts) are both below THRESHOLDS.service_level_warning with at least
   kpi_min_offered_per_hour calls offered in the hour: ServiceLevelBelowStandard's warning
   condition, without its ``for:``. Scored from the second hour of each series (the first fills
   the 60-minute window). A "caused" breach is a failing region's first breach minute after its
   capacity loss (not counted if the region is already in breach at the loss); every other
   breach episode (start after 30 minutes without the condition) is an "other" breach: the
   generator's small regions dip below the threshold now and then on their own.
2. The warning: the rule's condition, forecast < THRESHOLDS.breach_forecast_seconds, held at
   every minute evaluation for THRESHOLDS.breach_forecast_for_seconds (a ``for:`` of k minutes
   fires at the (k+1)th evaluation in a row: 31 for 30 minutes). The hold counts only scored
   minutes (the warm-up hour's forecasts are not carried over), so no warning fires in a
   series' first k minutes. A breach is warned if a warning is firing at its first minute; the
   lead is the breach minute - the warning's first firing minute. A warning episode is false if
   no breach minute falls between its start and 30 minutes after its end.
3. The page: ServiceLevelBelowStandard fires kpi_for_seconds after a breach's first minute if
   the breach holds that long (the same held-condition rule). For the caused breaches that
   page: the share warned strictly before the page and the median minutes from the warning's
   first firing to the page (0 if the warning did not come before it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streams.contract.thresholds import THRESHOLDS

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# The rules' numbers: the breach is ServiceLevelBelowStandard's warning condition.
THRESHOLD = THRESHOLDS.service_level_warning
MIN_OFFERED = THRESHOLDS.kpi_min_offered_per_hour
WARN_BELOW_S = THRESHOLDS.breach_forecast_seconds
WARN_FOR_MIN = THRESHOLDS.breach_forecast_for_seconds // 60
SL_ALERT_FOR_MIN = THRESHOLDS.kpi_for_seconds // 60  # when ServiceLevelBelowStandard pages
EPISODE_GAP_MIN = 30
REGION_WEEK_MIN = 7 * 24 * 60


@dataclass
class Series:
    """One region of one scenario: per scored minute the forecast and the breach condition."""

    family: str
    scenario: str
    region: str
    forecasts: dict[str, FloatArray]  # per model compared
    breach: BoolArray
    failure: int | None  # scored minute of the capacity loss, for a failing region
    seconds_spent: float = 0.0


def _rolling(x: FloatArray, n: int) -> FloatArray:
    c = np.concatenate(([0.0], np.cumsum(x)))
    lo = np.maximum(np.arange(1, x.size + 1) - n, 0)
    out: FloatArray = c[1:] - c[lo]
    return out


def breach_minutes(counts: FloatArray) -> BoolArray:
    """The warning rule's condition per minute, from exact final counts."""
    offered60 = _rolling(counts[0], 60)
    a60, w60 = _rolling(counts[1], 60), _rolling(counts[2], 60)
    a15, w15 = _rolling(counts[1], 15), _rolling(counts[2], 15)
    below60 = (a60 > 0) & (w60 < THRESHOLD * a60)
    below15 = (a15 == 0) | (w15 < THRESHOLD * a15)
    out: BoolArray = (offered60 >= MIN_OFFERED) & below60 & below15
    return out


def runs(flags: BoolArray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def held(flags: BoolArray, for_minutes: int) -> BoolArray:
    """Firing minutes of a rule with condition `flags` and a `for:` of `for_minutes`,
    evaluated every minute: the condition at this and the `for_minutes` previous evaluations."""
    n = for_minutes + 1
    c = np.concatenate(([0], np.cumsum(flags)))
    out = np.zeros(flags.size, dtype=np.bool_)
    out[n - 1 :] = (c[n:] - c[:-n]) == n
    return out


def warning_minutes(
    forecast_s: FloatArray, below_s: float = WARN_BELOW_S, for_min: int = WARN_FOR_MIN
) -> BoolArray:
    """Firing minutes of ServiceLevelBreachForecast: forecast below breach_forecast_seconds for
    breach_forecast_for_seconds (or the `below_s` and `for_min` a tuning run tries)."""
    return held(forecast_s < below_s, for_min)


@dataclass
class Tally:
    """Breaches of one kind: per breach its lead in minutes (NaN if missed)."""

    leads: list[float] = field(default_factory=list)
    late: int = 0  # missed, but warned after the breach and before breach + SL_ALERT_FOR_MIN
    # Per breach that pages (holds SL_ALERT_FOR_MIN): minutes from the warning's first firing
    # to ServiceLevelBelowStandard's page, 0 if the warning did not come before the page.
    before_page: list[float] = field(default_factory=list)
    # Caused breaches only: minutes from the capacity loss to the breach, the longest lead a
    # forecast that cannot see the loss coming could give (minus the rule's `for:`).
    after_failure: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.leads += other.leads
        self.late += other.late
        self.before_page += other.before_page
        self.after_failure += other.after_failure

    def cells(self) -> list[str]:
        leads = np.array(self.leads)
        hit = leads[~np.isnan(leads)]
        n = leads.size
        ahead = np.array(self.before_page)
        return [
            str(n),
            f"{100.0 * hit.size / n:.0f}" if n else "-",
            f"{np.median(hit):.0f}" if hit.size else "-",
            f"{np.percentile(hit, 10):.0f}" if hit.size else "-",
            str(self.late),
            f"{100.0 * np.count_nonzero(ahead) / ahead.size:.0f}" if ahead.size else "-",
            f"{np.median(ahead):.0f}" if ahead.size else "-",
        ]


@dataclass
class Score:
    known: Tally = field(default_factory=Tally)  # the failing region's first breach after failure
    natural: Tally = field(default_factory=Tally)  # every other breach (noise of small queues)
    warnings: int = 0
    false: int = 0
    minutes: int = 0
    in_breach_at_failure: int = 0  # failing regions already in (natural) breach at the loss

    def add(self, other: Score) -> None:
        self.in_breach_at_failure += other.in_breach_at_failure
        self.known.add(other.known)
        self.natural.add(other.natural)
        self.warnings += other.warnings
        self.false += other.false
        self.minutes += other.minutes

    def cells(self) -> list[str]:
        weeks = self.minutes / REGION_WEEK_MIN
        ceiling = self.known.after_failure
        return [
            *self.known.cells(),
            f"{np.median(ceiling):.0f}" if ceiling else "-",
            *self.natural.cells()[:2],
            str(self.warnings),
            str(self.false),
            f"{weeks:.1f}",
            f"{self.false / weeks:.2f}" if weeks else "-",
        ]


def score(
    s: Series, model: str, below_s: float = WARN_BELOW_S, for_min: int = WARN_FOR_MIN
) -> Score:
    out = Score(minutes=s.breach.size)
    warn = warning_minutes(s.forecasts[model], below_s, for_min)
    paged = held(s.breach, SL_ALERT_FOR_MIN)
    episode_of = np.full(warn.size, -1)
    for a, b in runs(warn):
        episode_of[a : b + 1] = a
        out.warnings += 1
        if not s.breach[a : b + EPISODE_GAP_MIN + 1].any():
            out.false += 1

    def record(tally: Tally, a: int) -> None:
        w = int(episode_of[a])
        tally.leads.append(float(a - w) if w >= 0 else math.nan)
        page = a + SL_ALERT_FOR_MIN  # ServiceLevelBelowStandard fires here if the breach holds
        late = warn[a:page]  # a warning at the page's own evaluation is not before it
        if w < 0 and late.any():
            tally.late += 1
            w = a + int(np.argmax(late))
        if page < paged.size and paged[page]:
            tally.before_page.append(float(page - w) if w >= 0 else 0.0)

    caused = -1
    if s.failure is not None and 0 <= s.failure < s.breach.size:
        if s.breach[s.failure]:
            out.in_breach_at_failure += 1
        else:
            after = np.flatnonzero(s.breach[s.failure :])
            if after.size:
                caused = s.failure + int(after[0])
                record(out.known, caused)
                out.known.after_failure.append(float(caused - s.failure))
    last_end = -EPISODE_GAP_MIN - 1
    for a, b in runs(s.breach):
        first = a > 0 and a - last_end > EPISODE_GAP_MIN and a != caused
        last_end = b
        if first:  # not the series' start, nor the same episode as the last run
            record(out.natural, a)
    return out
