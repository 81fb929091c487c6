"""One Prometheus alerting rule as data (AlertRule: its labels, runbook and dashboard links added
in one place), the teams, groups and dashboards rules point to, and the formatting of durations,
numbers and shares in rule text, so every rule reads the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Severity = Literal["warning", "critical"]


RUNBOOK_BASE_URL: Final = "deploy/runbooks/"


REGION_DASHBOARD: Final = "/d/surge-region/region?var-region={{ $labels.region }}"


PIPELINE_DASHBOARD: Final = "/d/surge-pipeline/pipeline-health"


NATIONAL_DASHBOARD: Final = "/d/surge-national/national-overview"


TEAM_OPERATIONS: Final = "111-operations"


TEAM_AMBULANCE: Final = "ambulance-liaison"


TEAM_ED: Final = "ed-liaison"


TEAM_PIPELINE: Final = "pipeline"


NATIONAL: Final = "national"  # the region label of pipeline-wide alerts


GROUP_CALLS: Final = "surge-calls"


GROUP_STAFFING: Final = "surge-staffing"


GROUP_REFERRALS: Final = "surge-referrals"


GROUP_PIPELINE: Final = "surge-pipeline"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One Prometheus alerting rule: an alert name at one severity."""

    name: str
    severity: Severity
    group: str
    expr: str
    for_: str
    summary: str
    description: str
    team: str
    region: str | None = None  # a fixed region label; None: the expression's `by (region)`
    dashboard_url: str = REGION_DASHBOARD

    @property
    def labels(self) -> dict[str, str]:
        fixed = {} if self.region is None else {"region": self.region}
        return {"severity": self.severity, **fixed, "team": self.team}

    @property
    def annotations(self) -> dict[str, str]:
        return {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": f"{RUNBOOK_BASE_URL}{self.name}.md",
            "dashboard_url": self.dashboard_url,
        }


def duration(seconds: float) -> str:
    """A Prometheus duration in the largest whole unit: 600 -> "10m", 86400 -> "1d"."""
    s = int(seconds)
    if s != seconds or s <= 0:
        raise ValueError(f"durations are whole positive seconds, got {seconds!r}")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def words(seconds: float) -> str:
    """A duration for a sentence: 600 -> "10 minutes", 3600 -> "1 hour", 3900 -> "65 minutes"."""
    s = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if s % size == 0:
            n = s // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    raise AssertionError("unreachable: every integer is a whole number of seconds")


def last(seconds: float) -> str:
    """A period for a sentence: 86400 -> "the last day", 300 -> "the last 5 minutes"."""
    text = words(seconds)
    return f"the last {text[2:] if text.startswith('1 ') else text}"


def num(x: float) -> str:
    return f"{x:g}"


def pct(x: float) -> str:
    return f"{x * 100:g} %"
