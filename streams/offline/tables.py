"""The rows replay and backtest write: each closed minute's region figures, and alert episodes
(a firing paired with its resolved) as a table."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from detectors.answer_rates import RegionView
from detectors.region_alerts import AlertEvent
from streams.contract.records import format_ts

log = structlog.get_logger(__name__)


FIGURE_COLUMNS = (
    "region",
    "end_minute",
    "window",
    "offered",
    "answered",
    "answer_rate",
    "service_level",
    "abandon_rate",
    "average_speed_of_answer_seconds",
    "calls_waiting",
    "longest_wait_seconds",
)


def figure_rows(region: str, view: RegionView) -> list[dict[str, object]]:
    """A closed minute's region-wide figures, one row per window."""
    waiting = dict(view.calls_waiting).get("all", 0)
    return [
        {
            "region": region,
            "end_minute": format_ts(w.end_minute),
            "window": w.window,
            "offered": w.offered,
            "answered": w.answered,
            "answer_rate": w.kpis.answer_rate,
            "service_level": w.kpis.service_level,
            "abandon_rate": w.kpis.abandon_rate,
            "average_speed_of_answer_seconds": w.kpis.average_speed_of_answer_seconds,
            "calls_waiting": waiting,
            "longest_wait_seconds": view.longest_wait_seconds,
        }
        for w in view.windows
        if w.provider == "all"
    ]


@dataclass(frozen=True, slots=True)
class Episode:
    alert: str
    severity: str
    region: str
    fired_s: float
    resolved_s: float | None  # None: still firing at the end of the data
    value: float  # the signal when it fired
    threshold: float

    @property
    def minutes(self) -> float | None:
        return None if self.resolved_s is None else (self.resolved_s - self.fired_s) / 60


def episodes(alerts: list[AlertEvent]) -> list[Episode]:
    """Pair each firing with its resolved (same alert_id), in firing order."""
    fired: dict[str, AlertEvent] = {}
    resolved: dict[str, AlertEvent] = {}
    for a in alerts:
        (fired if a.state == "firing" else resolved)[a.alert_id] = a
    out = []
    for alert_id, a in fired.items():
        end = resolved.get(alert_id)
        out.append(
            Episode(
                a.alert,
                a.severity,
                a.region,
                a.ts_s,
                None if end is None else end.ts_s,
                a.value,
                a.threshold,
            )
        )
    return sorted(out, key=lambda e: (e.fired_s, e.region, e.alert, e.severity))


def render_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "no alert would have fired\n"
    cols = list(rows[0])
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(width[c]) for c in cols)]
    lines += ["  ".join(r[c].ljust(width[c]) for c in cols) for r in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"
