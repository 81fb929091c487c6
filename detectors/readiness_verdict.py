"""The verdict on a region's planned day: go, at risk or no-go, against the alert thresholds
(issue 19: "a region the monitor would page is no-go").

The predicted figures (detectors/readiness.py) are expected counts per interval, spread evenly
over its minutes and summed over the region's providers, and the alerts' own conditions are
evaluated on them minute by minute, at their warning levels (streams/contract/alert_rules.py):

- ServiceLevelBelowStandard: answered within the target / answered below
  ``service_level_warning`` over the last 60 minutes, and over the last 15 unless those are at
  or above it (nothing answered in them counts as below), with at least
  ``min_offered_per_hour`` callers in the last hour; held for ``kpi_for_seconds``.
- AbandonmentAboveStandard: abandoned / offered above ``abandon_warning`` over both the last 60
  and the last 15 minutes, with the same minimum of callers; held for ``kpi_for_seconds``.
  Abandoned here is every caller who hangs up (Erlang A does not split off the first 30 s), so
  the prediction pages at least as early as the alert on the KPI would.
- StaffingBelowCommissioned: handlers staffed / commissioned below
  ``commissioned_warning_ratio`` and at least ``min_handlers_short`` short, over the providers
  with a positive commissioned number; held for ``staffing_for_seconds``.
- StaffingBelowRequired: staffed / required (Erlang A at the standard) below
  ``required_warning_ratio`` and at least ``min_handlers_short`` short; held for
  ``staffing_required_for_seconds``.

A region is **no-go** when Erlang A's figures meet any of these conditions for their whole
`for` (the monitor would page). It is **at risk** when it is not no-go but a condition holds for
a shorter time (the dashboards would show it, the pager would not), or the service-level or
abandonment alert would page on the pessimistic end of the simulation's 95 % intervals (lower
service level, higher abandonment). Otherwise it is **go**. A `Stretch` names the alert and the
minutes its condition holds; the hours named are the clock hours those minutes touch. The first
minutes of the plan see less than an hour behind them, as a monitor started then would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from detectors.readiness import Prediction

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

GO: Final = "go"
AT_RISK: Final = "at risk"
NO_GO: Final = "no-go"
HOUR: Final = 3600


@dataclass(frozen=True, slots=True)
class Rules:
    """The alert thresholds the verdict is taken against (streams.contract.thresholds names)."""

    service_level_warning: float = 0.85
    abandon_warning: float = 0.08
    kpi_for_seconds: int = 1800
    min_offered_per_hour: float = 60.0
    commissioned_warning_ratio: float = 0.90
    required_warning_ratio: float = 0.90
    min_handlers_short: int = 2
    staffing_for_seconds: int = 900
    staffing_required_for_seconds: int = 900


@dataclass(frozen=True, slots=True)
class Stretch:
    """Minutes [from_s, to_s) in which an alert's condition holds; pages when held its `for`."""

    alert: str
    from_s: int
    to_s: int
    pages: bool
    pessimistic: bool = False  # found on the simulation's pessimistic bounds only


@dataclass(frozen=True, slots=True)
class RegionVerdict:
    region: str
    verdict: str  # GO | AT_RISK | NO_GO
    stretches: tuple[Stretch, ...]

    @property
    def no_go_hours(self) -> tuple[int, ...]:
        """Starts (epoch s) of the clock hours in which a predicted page's condition holds."""
        return _hours(s for s in self.stretches if s.pages and not s.pessimistic)

    @property
    def at_risk_hours(self) -> tuple[int, ...]:
        return _hours(s for s in self.stretches if not (s.pages and not s.pessimistic))


def _hours(stretches: Iterable[Stretch]) -> tuple[int, ...]:
    hours: set[int] = set()
    for s in stretches:
        hours.update(range(s.from_s // HOUR * HOUR, s.to_s, HOUR))
    return tuple(sorted(hours))


def _spread(preds: Sequence[Prediction], t0: int, n: int, value: FloatArray) -> FloatArray:
    """Per-minute sums of each prediction's `value` spread evenly over its minutes."""
    out = np.zeros(n)
    for p, v in zip(preds, value.tolist(), strict=True):
        first = (p.interval.start_s - t0) // 60
        out[first : first + p.interval.minutes] += v / p.interval.minutes
    return out


def _held(
    preds: Sequence[Prediction], t0: int, n: int, values: Sequence[float], keep: Sequence[bool]
) -> FloatArray:
    """Per-minute sums of a level (handlers) held over each kept prediction's minutes."""
    out = np.zeros(n)
    for p, v, k in zip(preds, values, keep, strict=True):
        if k:
            first = (p.interval.start_s - t0) // 60
            out[first : first + p.interval.minutes] += v
    return out


def _trailing(x: FloatArray, minutes: int) -> FloatArray:
    """Sum over the last `minutes` minutes ending at each minute (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, x.size + 1)
    out: FloatArray = c[idx] - c[np.maximum(0, idx - minutes)]
    return out


def _runs(cond: BoolArray) -> list[tuple[int, int]]:
    """[start, end) minute index of each run of True."""
    edges = np.diff(np.concatenate([[0], cond.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))  # fmt: skip


def _kpi_conditions(
    preds: Sequence[Prediction], t0: int, n: int, rules: Rules, *, pessimistic: bool
) -> dict[str, BoolArray]:
    calls = np.array([p.interval.calls for p in preds], dtype=np.float64)
    levels, abandons = [], []
    for p in preds:
        sl, ab = p.service_level, p.abandon_ratio
        sim = p.simulation
        if pessimistic and sim is not None:
            sl = None if sim.service_level is None else max(0.0, sim.service_level.low)
            ab = None if sim.abandon_ratio is None else min(1.0, sim.abandon_ratio.high)
        levels.append(sl or 0.0)
        abandons.append(ab or 0.0)
    ab_arr = np.array(abandons, dtype=np.float64)
    answered = calls * (1.0 - ab_arr)
    offered = _spread(preds, t0, n, calls)
    ans = _spread(preds, t0, n, answered)
    within = _spread(preds, t0, n, answered * np.array(levels, dtype=np.float64))
    gone = _spread(preds, t0, n, calls * ab_arr)
    busy = _trailing(offered, 60) >= rules.min_offered_per_hour - 1e-9
    a60, a15 = _trailing(ans, 60), _trailing(ans, 15)
    w60, w15 = _trailing(within, 60), _trailing(within, 15)
    o60, o15 = _trailing(offered, 60), _trailing(offered, 15)
    g60, g15 = _trailing(gone, 60), _trailing(gone, 15)
    thr = rules.service_level_warning
    with np.errstate(divide="ignore", invalid="ignore"):
        sl_low = (a60 > 0) & (w60 < thr * a60) & ~((a15 > 0) & (w15 >= thr * a15))
        ab_high = (g60 > rules.abandon_warning * o60) & (g15 > rules.abandon_warning * o15)
    return {
        "ServiceLevelBelowStandard": sl_low & busy,
        "AbandonmentAboveStandard": ab_high & busy & (o15 > 0),
    }


def _staffing_conditions(
    preds: Sequence[Prediction], t0: int, n: int, rules: Rules
) -> dict[str, BoolArray]:
    staffed = [float(p.staffed) for p in preds]
    commissioned = [float(p.interval.commissioned or 0) for p in preds]
    required = [float(p.required) for p in preds]
    out = {}
    for alert, target, ratio in (
        ("StaffingBelowCommissioned", commissioned, rules.commissioned_warning_ratio),
        ("StaffingBelowRequired", required, rules.required_warning_ratio),
    ):
        keep = [t > 0 for t in target]
        have = _held(preds, t0, n, staffed, keep)
        need = _held(preds, t0, n, target, keep)
        out[alert] = (need > 0) & (have < ratio * need) & (need - have >= rules.min_handlers_short)
    return out


def _for_seconds(alert: str, rules: Rules) -> int:
    return {
        "StaffingBelowCommissioned": rules.staffing_for_seconds,
        "StaffingBelowRequired": rules.staffing_required_for_seconds,
    }.get(alert, rules.kpi_for_seconds)


def verdict(region: str, predictions: Sequence[Prediction], rules: Rules) -> RegionVerdict:
    """The region's verdict over its predicted intervals (module docstring)."""
    preds = [p for p in predictions if p.interval.region == region]
    if not preds:
        return RegionVerdict(region, GO, ())
    t0 = min(p.interval.start_s for p in preds)
    n = (max(p.interval.end_s for p in preds) - t0) // 60
    stretches: list[Stretch] = []
    expected = _kpi_conditions(preds, t0, n, rules, pessimistic=False)
    expected |= _staffing_conditions(preds, t0, n, rules)
    for alert, cond in expected.items():
        for a, b in _runs(cond):
            pages = (b - a) * 60 >= _for_seconds(alert, rules)
            stretches.append(Stretch(alert, t0 + 60 * a, t0 + 60 * b, pages))
    paged = {s.alert for s in stretches if s.pages}
    for alert, cond in _kpi_conditions(preds, t0, n, rules, pessimistic=True).items():
        if alert in paged:
            continue
        for a, b in _runs(cond):
            if (b - a) * 60 >= rules.kpi_for_seconds:
                stretches.append(Stretch(alert, t0 + 60 * a, t0 + 60 * b, True, True))
    stretches.sort(key=lambda s: (s.from_s, s.alert))
    if any(s.pages and not s.pessimistic for s in stretches):
        kind = NO_GO
    elif stretches:
        kind = AT_RISK
    else:
        kind = GO
    return RegionVerdict(region, kind, tuple(stretches))
