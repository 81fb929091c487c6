"""What `surge-monitor watch` shows, and how: one snapshot of every region's figures, the alerts
firing and the overflow in force, read from Prometheus and Alertmanager, drawn as an 80-column
terminal frame (rich) or given as JSON.

The figures are the ones the control room's Grafana shows (the same metrics, the region rows of
`provider="all"`), so the terminal and the dashboards never disagree. Calls per minute are per
minute of event time: the calls counted over the last wall minutes divided by how far the
region's watermark moved in them, so a time-scaled demo and the live day read alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from rich.console import Group
from rich.table import Table
from rich.text import Text

from streams.contract.thresholds import THRESHOLDS

_SL: Final = 'min by (region) (surge_service_level_ratio{provider="all", window="%s"})'
_STAFFED: Final = (
    'sum by (region) (surge_agents{role="health_adviser", state=~"ready|on_call|wrap_up"})'
)
# PromQL per column, each giving one value per region.
QUERIES: Final = {
    "offered_per_minute": (
        'sum by (region) (increase(surge_calls_total{outcome="offered", provider!="all"}[2m]))'
        " / on (region) (max by (region) (delta(surge_watermark_seconds[2m])) / 60 > 0)"
    ),
    "service_level_15m": _SL % "15m",
    "service_level_60m": _SL % "60m",
    "abandon_60m": 'max by (region) (surge_abandon_rate_ratio{provider="all", window="60m"})',
    "waiting": 'max by (region) (surge_calls_waiting{provider="all"})',
    "longest_wait_seconds": "max by (region) (surge_longest_wait_seconds)",
    "ambulance_rate_60m": (
        'max by (region) (surge_referral_rate_ratio{kind="ambulance", window="60m"})'
    ),
    "spike_score": 'max by (region) (surge_referral_spike_score{kind="ambulance"})',
    "breach_forecast_seconds": "min by (region) (surge_breach_forecast_seconds)",
    "staffed": _STAFFED,
    "required": 'sum by (region) (surge_agents_required{provider!="all"})',
}
OVERFLOW_QUERY: Final = "max by (region, target) (surge_overflow_active) > 0"


@dataclass(frozen=True)
class RegionRow:
    region: str
    offered_per_minute: float | None = None
    service_level_15m: float | None = None
    service_level_60m: float | None = None
    abandon_60m: float | None = None
    waiting: float | None = None
    longest_wait_seconds: float | None = None
    ambulance_rate_60m: float | None = None
    spike_score: float | None = None
    breach_forecast_seconds: float | None = None
    staffed: float | None = None
    required: float | None = None
    state: str = "ok"  # ok | warning | critical: the worst alert firing for the region

    @property
    def breaching(self) -> bool:
        """ServiceLevelBelowStandard's warning condition: both windows under the warning level."""
        sl15, sl60 = self.service_level_15m, self.service_level_60m
        level = THRESHOLDS.service_level_warning
        return sl15 is not None and sl60 is not None and sl15 < level and sl60 < level


@dataclass(frozen=True)
class FiringAlert:
    alert: str
    region: str
    severity: str
    age_seconds: float


@dataclass(frozen=True)
class Snapshot:
    at: float  # wall time of the reading, Unix seconds
    regions: list[RegionRow]
    alerts: list[FiringAlert] = field(default_factory=list)
    overflow: list[tuple[str, str]] = field(default_factory=list)  # (from region, to target)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "regions": [{**_finite(asdict(r)), "breaching": r.breaching} for r in self.regions],
            "alerts": [asdict(a) for a in self.alerts],
            "overflow": [{"region": r, "target": t} for r, t in self.overflow],
        }


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """JSON has no Infinity: a forecast of no breach (+Inf) is null, as a missing figure is."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def rows(
    regions: list[str], columns: dict[str, dict[str, float]], states: dict[str, str]
) -> list[RegionRow]:
    """One row a region of the catalogue (a silent region is a row of dashes, not absent)."""
    return [
        RegionRow(
            region=r,
            **{name: by_region.get(r) for name, by_region in columns.items()},
            state=states.get(r, "ok"),
        )
        for r in regions
    ]


_STYLE: Final = {"ok": "green", "warning": "yellow", "critical": "bold red"}
_ROWS_OF_ALERTS: Final = 6  # 10 regions + header + alerts + overflow fit 24 lines


def render(snap: Snapshot) -> Group:
    """The frame: a table of regions (coloured by the worst alert firing), then the alerts and
    the overflow in force. Fits 80 x 24."""
    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    for title in (
        "region",
        "/min",
        "SL15",
        "SL60",
        "aband",
        "wait",
        "long",
        "amb",
        "fcst",
        "staff",
    ):
        table.add_column(title, justify="left" if title == "region" else "right", no_wrap=True)
    for r in snap.regions:
        table.add_row(
            Text(r.region[:15], style=_STYLE[r.state]),
            _num(r.offered_per_minute),
            _pct(r.service_level_15m),
            _pct(r.service_level_60m),
            _pct(r.abandon_60m),
            _num(r.waiting),
            _duration(r.longest_wait_seconds),
            _spike(r.ambulance_rate_60m, r.spike_score),
            _duration(r.breach_forecast_seconds),
            _staffing(r.staffed, r.required),
        )
    lines: list[Text | Table] = [table]
    shown = sorted(snap.alerts, key=lambda a: (a.severity != "critical", -a.age_seconds))
    if shown:
        lines.append(Text(f"alerts firing ({len(shown)})", style="bold"))
    for a in shown[:_ROWS_OF_ALERTS]:
        line = f"  {a.severity:<8} {a.alert:<27} {a.region:<15} {_duration(a.age_seconds):>6}"
        lines.append(Text(line, style=_STYLE.get(a.severity, "")))
    if len(shown) > _ROWS_OF_ALERTS:
        lines.append(Text(f"  ... and {len(shown) - _ROWS_OF_ALERTS} more"))
    if not shown:
        lines.append(Text("no alerts firing", style="green"))
    overflow = ", ".join(f"{r} -> {t}" for r, t in snap.overflow)
    lines.append(Text(f"overflow: {overflow or 'none'}"))
    return Group(*lines)


def _num(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.0f}"


def _pct(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.0%}"


def _duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    if math.isinf(seconds):
        return "none"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _spike(rate: float | None, score: float | None) -> str:
    if rate is None or not math.isfinite(rate):
        return "-"
    if score is None or not math.isfinite(score):
        return f"{rate:.0%}"
    return f"{rate:.0%}{score:+.0f}"


def _staffing(staffed: float | None, required: float | None) -> str:
    if staffed is None or not math.isfinite(staffed):
        return "-"
    if required is None or not math.isfinite(required):
        return f"{staffed:.0f}/-"
    return f"{staffed:.0f}/{required:.0f}"
