"""`surge-monitor readiness`: will tomorrow's rota carry tomorrow's callers? (issue 19)

The rota (the CSV of `rota publish`: the health advisers commissioned and rostered) is joined
to a demand forecast (streams.contract.demand) per region, provider and demand interval; each
interval is predicted by Erlang A and by the event simulation (detectors.readiness) and each
region gets a verdict against the alert thresholds (detectors.readiness_verdict: a region the
monitor would page is no-go). Written under the output folder: `readiness.csv` (one row per
region, provider and interval), `readiness.json` (the verdicts and every prediction) and
`readiness.html` (all three written by streams.offline.readiness_report).

The join: a demand interval takes the rota intervals of its region and provider (role
health_adviser, the call handlers the models are about) that overlap it, and the fewest
commissioned and rostered among them (the interval is only as staffed as its thinnest part). A
demand interval without any rota interval has nobody rostered, and is said so in the log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

import structlog

from detectors import readiness as model
from detectors import readiness_verdict as judge
from detectors.readiness import Prediction
from detectors.readiness_verdict import RegionVerdict
from streams.contract.demand import DemandInterval
from streams.contract.rota import RotaInterval, format_start
from streams.contract.thresholds import Thresholds

log = structlog.get_logger(__name__)

LONDON: Final = ZoneInfo("Europe/London")
ROLE: Final = "health_adviser"
CSV_NAME, JSON_NAME, HTML_NAME = "readiness.csv", "readiness.json", "readiness.html"
CSV_COLUMNS: Final = (
    "region", "provider", "start", "minutes", "calls", "handle_seconds", "commissioned",
    "rostered", "staffed", "required", "shortfall", "service_level", "abandon_ratio",
    "asa_seconds", "sim_service_level", "sim_service_level_low", "sim_service_level_high",
    "sim_abandon_ratio", "sim_abandon_ratio_low", "sim_abandon_ratio_high", "sim_asa_seconds",
    "sim_asa_seconds_low", "sim_asa_seconds_high",
)  # fmt: skip


def rules_of(t: Thresholds) -> judge.Rules:
    """The verdict's thresholds: the alerts' warning levels and `for`s."""
    return judge.Rules(
        service_level_warning=t.service_level_warning,
        abandon_warning=t.abandon_warning,
        kpi_for_seconds=t.kpi_for_seconds,
        min_offered_per_hour=t.kpi_min_offered_per_hour,
        commissioned_warning_ratio=t.staffing_commissioned_warning_ratio,
        required_warning_ratio=t.staffing_required_warning_ratio,
        min_handlers_short=t.staffing_min_handlers_short,
        staffing_for_seconds=t.staffing_for_seconds,
        staffing_required_for_seconds=t.staffing_required_for_seconds,
    )


@dataclass(frozen=True)
class Readiness:
    """Every prediction, in region, provider and time order, and each region's verdict."""

    predictions: list[Prediction]
    verdicts: list[RegionVerdict]
    model: model.Model
    rules: judge.Rules
    sources: tuple[str, str]  # rota, demand

    @property
    def all_go(self) -> bool:
        return all(v.verdict == judge.GO for v in self.verdicts)


def join(
    rota: Sequence[RotaInterval],
    demand: Sequence[DemandInterval],
    from_s: float | None = None,
    to_s: float | None = None,
) -> list[model.Interval]:
    """Demand intervals starting in [from_s, to_s) with their rota (module docstring)."""
    by_pair: dict[tuple[str, str], list[RotaInterval]] = {}
    for r in rota:
        if r.role == ROLE:
            by_pair.setdefault((r.region, r.provider), []).append(r)
    out = []
    for d in sorted(demand, key=lambda d: (d.region, d.provider, d.start_s)):
        if (from_s is not None and d.start_s < from_s) or (to_s is not None and d.start_s >= to_s):
            continue
        cover = [
            r
            for r in by_pair.get((d.region, d.provider), [])
            if r.start_s < d.end_s and d.start_s < r.end_s
        ]
        if not cover:
            log.warning(
                "readiness_no_rota", region=d.region, provider=d.provider,
                start=format_start(d.start_s),
            )  # fmt: skip
        out.append(
            model.Interval(
                d.region, d.provider, d.start_s, d.minutes, d.calls, d.handle_seconds,
                min((r.commissioned for r in cover), default=None),
                min((r.rostered for r in cover), default=None),
            )
        )  # fmt: skip
    return out


def assess(
    intervals: Sequence[model.Interval],
    m: model.Model,
    rules: judge.Rules,
    sources: tuple[str, str],
    progress: Callable[[Prediction], None] | None = None,
) -> Readiness:
    predictions = model.predict_all(intervals, m, progress)
    regions = sorted({i.region for i in intervals})
    verdicts = [judge.verdict(r, predictions, rules) for r in regions]
    for v in verdicts:
        log.info(
            "readiness_verdict", region=v.region, verdict=v.verdict,
            no_go_hours=[local_hour(h) for h in v.no_go_hours],
        )  # fmt: skip
    return Readiness(predictions, verdicts, m, rules, sources)


def local_hour(start_s: float) -> str:
    """A clock hour named by its Europe/London start, with the offset: 2013-03-29T09:00+00:00."""
    return datetime.fromtimestamp(start_s, tz=LONDON).isoformat(timespec="minutes")


def document(r: Readiness) -> dict[str, object]:
    """readiness.json: the verdicts, the inputs' names, the model and every prediction."""
    return {
        **verdicts_json(r),
        "rota": r.sources[0],
        "demand": r.sources[1],
        "model": {
            "target_seconds": r.model.target_seconds,
            "patience_seconds": r.model.patience_seconds,
            "service_level_standard": r.model.service_level_standard,
            "shrinkage": r.model.shrinkage,
            "replications": r.model.replications,
            "seed": r.model.seed,
        },
        "intervals": [row(p) for p in r.predictions],
    }


def verdicts_json(r: Readiness) -> dict[str, object]:
    """The command's `--json` object: each region's verdict, its no-go and at-risk hours and
    the alerts it would raise, and whether every region is go."""
    return {
        "all_go": r.all_go,
        "regions": {
            v.region: {
                "verdict": v.verdict,
                "no_go_hours": [local_hour(h) for h in v.no_go_hours],
                "at_risk_hours": [local_hour(h) for h in v.at_risk_hours],
                "alerts": sorted({s.alert for s in v.stretches if s.pages and not s.pessimistic}),
                "stretches": [
                    {
                        "alert": s.alert, "from": local_hour_minute(s.from_s),
                        "to": local_hour_minute(s.to_s), "pages": s.pages,
                        "pessimistic": s.pessimistic,
                    }
                    for s in v.stretches
                ],
            }
            for v in r.verdicts
        },
    }  # fmt: skip


def local_hour_minute(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=LONDON).isoformat(timespec="minutes")


def _ci(x: object, part: str) -> float | None:
    return None if x is None else float(getattr(x, part))


def row(p: Prediction) -> dict[str, object]:
    """One CSV row (CSV_COLUMNS); empty cells in the CSV where a figure is None."""
    i, sim = p.interval, p.simulation
    figures: dict[str, object] = {}
    for name in ("service_level", "abandon_ratio", "asa_seconds"):
        ci = None if sim is None else getattr(sim, name)
        for suffix, part in (("", "mean"), ("_low", "low"), ("_high", "high")):
            figures[f"sim_{name}{suffix}"] = _ci(ci, part)
    return {
        "region": i.region, "provider": i.provider, "start": format_start(i.start_s),
        "minutes": i.minutes, "calls": i.calls, "handle_seconds": i.handle_seconds,
        "commissioned": i.commissioned, "rostered": i.rostered, "staffed": p.staffed,
        "required": p.required, "shortfall": p.shortfall, "service_level": p.service_level,
        "abandon_ratio": p.abandon_ratio, "asa_seconds": p.asa_seconds, **figures,
    }  # fmt: skip


def cell(value: object) -> object:
    """A CSV cell: empty for None, floats to 6 significant figures."""
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value
