"""The scorecard's staff-hours written out: the columns scorecard.csv gains per role, and the HTML
section (a plot and a table) showing which providers have not delivered what was commissioned.

Apart from streams.offline.scorecard_report so that each stays a readable size; that module
calls this one. The colours are those of the StaffingBelowCommissioned alert (delivered under
90 % of commissioned: amber, under 75 %: red): a figure shown, not part of a row's result.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from detectors import scorecard_grades
from detectors.scorecard import LONDON, Row
from detectors.staff_hours import ROLE_ORDER, StaffHours, staff_span
from streams.contract.thresholds import THRESHOLDS
from streams.offline.scorecard import Scorecard

STAFF_FIELDS: Final = (
    "staff_hours",
    "rostered_hours",
    "commissioned_hours",
    "delivered_ratio",
    "delivered_rostered_ratio",
)
# scorecard.csv's staff columns: health_adviser_staff_hours, ..., clinician_delivered_ratio, ...
STAFF_COLUMNS: Final = tuple(f"{role}_{name}" for role in ROLE_ORDER for name in STAFF_FIELDS)
ROLE_NAMES: Final = {"health_adviser": "health advisers", "clinician": "clinicians"}
MAX_PLOTTED: Final = 60  # bars beyond this make the plot unreadable: the lowest ratios are kept
WARNING_RATIO: Final = THRESHOLDS.staffing_commissioned_warning_ratio
CRITICAL_RATIO: Final = THRESHOLDS.staffing_commissioned_critical_ratio
_COLOURS: Final = {
    scorecard_grades.PASS: "#2e8b57",
    scorecard_grades.WARNING: "#e6a23c",
    scorecard_grades.FAIL: "#c0392b",
    None: "#999999",
}

_LEGEND: Final = {  # above each panel, under the title: clear of the bars
    "loc": "lower center",
    "bbox_to_anchor": (0.5, 1.0),
    "ncol": 3,
    "fontsize": 8,
    "frameon": False,
}

Index = dict[tuple[str, str, str], dict[str, StaffHours]]  # (region, provider, period) -> role


def index(staff: Iterable[StaffHours]) -> Index:
    """The staff rows by the scorecard row they belong to, then by role."""
    out: Index = {}
    for s in staff:
        out.setdefault((s.region, s.provider, s.period), {})[s.role] = s
    return out


def csv_fields(by_row: Index, row: Row) -> dict[str, str]:
    """The staff columns of one scorecard row: hours with 2 decimals, ratios 0..1 with 6; empty
    where unknown (no agent states, no rota, nothing commissioned), never a made-up zero."""
    roles = by_row.get((row.region, row.provider, row.period), {})
    doc = dict.fromkeys(STAFF_COLUMNS, "")
    for role, s in roles.items():
        if role not in ROLE_ORDER:
            continue
        values = (
            s.delivered_hours,
            s.rostered_hours,
            s.commissioned_hours,
            s.delivered_ratio,
            s.delivered_rostered_ratio,
        )
        for name, value, places in zip(STAFF_FIELDS, values, (2, 2, 2, 6, 6), strict=True):
            doc[f"{role}_{name}"] = "" if value is None else f"{value:.{places}f}"
    return doc


def grade(ratio: float | None) -> str | None:
    """PASS, WARNING or FAIL of delivered / commissioned at the alert's levels; None: unknown."""
    return scorecard_grades.at_least(ratio, WARNING_RATIO, CRITICAL_RATIO)


def notes(scorecard: Scorecard) -> list[str]:
    """Why figures are missing, for the report (plain text)."""
    out = []
    if not scorecard.agent_states:
        out.append(
            "No agent states in the replayed events: staff-hours delivered are not known (n/a). "
            "Replay events with agent states (`surge-monitor simulate --agent-states`, or a "
            "recording of the agent-states topic)."
        )
    if scorecard.rota_source is None:
        out.append(
            "No rota given: rostered and commissioned staff-hours are not known (n/a). Give the "
            "rota CSV with `--rota FILE.csv` (the file of `surge-monitor rota publish`)."
        )
    req = scorecard.request
    first, end = staff_span(req.from_s, req.to_s)
    if scorecard.staff_hours and (first, end) != (math.ceil(req.from_s), math.ceil(req.to_s)):
        out.append(
            f"Staff time is kept per clock hour: the staff-hours cover {_local(first)} to "
            f"{_local(end)}, the whole hours of the range."
        )
    return out


def section(scorecard: Scorecard, names: dict[str, str]) -> list[str]:
    """The report's staff-hours section: what it measures, why figures are missing, the plot of
    delivered against rostered and commissioned, and the table."""
    parts = [
        '<h2 id="staff-hours">Staff-hours: delivered against commissioned</h2>',
        '<p class="meta">Delivered: hours the provider\'s agents were staffed (ready, on a call or '
        "in wrap-up) by their agent states, split at midnight. Rostered and commissioned: the "
        "rota's handlers &times; the length of each interval. Delivered / commissioned is amber "
        f"under {WARNING_RATIO:.0%} and red under {CRITICAL_RATIO:.0%} (the "
        "StaffingBelowCommissioned alert's levels); not part of the result.</p>",
    ]
    parts += [f'<p class="staff-note">{_e(n)}</p>' for n in notes(scorecard)]
    rows = scorecard.staff_hours
    plotted = [s for s in rows if s.delivered_ratio is not None]
    if plotted:
        parts.append(_shortfall(plotted, names))
        png, shown = _plot(plotted, names)
        parts.append(
            f'<img class="staff-plot" alt="Staff-hours delivered, rostered and commissioned of '
            f'{shown} providers and periods: who has not delivered what was commissioned" '
            f'src="data:image/png;base64,{png}">'
        )
    if rows:
        parts.append(_table(rows, names))
    return parts


def _shortfall(rows: Sequence[StaffHours], names: dict[str, str]) -> str:
    """One sentence naming the providers under the warning level, lowest first."""
    short = sorted(
        (s for s in rows if grade(s.delivered_ratio) != scorecard_grades.PASS),
        key=lambda s: (s.delivered_ratio or 0.0, s.region, s.provider),
    )
    if not short:
        return (
            '<p class="staff-short">Every provider delivered at least '
            f"{WARNING_RATIO:.0%} of the staff-hours commissioned.</p>"
        )
    named = []
    for s in short:
        who = (
            f"{names.get(s.region, s.region)}: {names.get(f'{s.region}/{s.provider}', s.provider)}"
        )
        role = f", {ROLE_NAMES.get(s.role, s.role)}" if s.role != ROLE_ORDER[0] else ""
        named.append(
            f'<span data-region="{_e(s.region)}" data-provider="{_e(s.provider)}">{_e(who)} '
            f"({_e(s.period)}{_e(role)}: {_pct(s.delivered_ratio)})</span>"
        )
    return (
        '<p class="staff-short"><strong>Providers who have not delivered what was commissioned'
        f"</strong> (under {WARNING_RATIO:.0%} of the staff-hours): " + "; ".join(named) + ".</p>"
    )


def _table(rows: Sequence[StaffHours], names: dict[str, str]) -> str:
    head = (
        "<tr><th>Region</th><th>Provider</th><th>Role</th><th>Period</th>"
        "<th>Delivered<br>(hours)</th><th>Rostered<br>(hours)</th><th>Commissioned<br>(hours)</th>"
        f"<th>Delivered / commissioned<br>(&ge; {WARNING_RATIO:.0%})</th>"
        "<th>Delivered / rostered</th></tr>"
    )
    body = []
    for s in rows:
        g = grade(s.delivered_ratio)
        covered = ""
        if s.rota_hours is not None and s.rota_hours < s.hours - 1e-9:
            covered = f"<small>rota covers {s.rota_hours:g} of {s.hours:g} h</small>"
        cells = [
            f'<td class="name">{_e(names.get(s.region, s.region))}</td>',
            f'<td class="name">{_e(names.get(f"{s.region}/{s.provider}", s.provider))}</td>',
            f'<td class="name">{_e(ROLE_NAMES.get(s.role, s.role))}</td>',
            f'<td class="name">{_e(s.period)}<small>{_e(_local(s.start_s)[11:])}&ndash;'
            f"{_e(_local(s.end_s)[11:])}</small></td>",
            _hours_cell(s.delivered_hours),
            _hours_cell(s.rostered_hours),
            _hours_cell(s.commissioned_hours, covered),
            f'<td class="{g or "na"}">{_pct(s.delivered_ratio)}</td>',
            f"<td>{_pct(s.delivered_rostered_ratio)}</td>",
        ]
        body.append(
            f'<tr data-region="{_e(s.region)}" data-provider="{_e(s.provider)}" '
            f'data-role="{_e(s.role)}" data-period="{_e(s.period)}" '
            f'data-staff="{g or "na"}">' + "".join(cells) + "</tr>"
        )
    return f'<table class="staff"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def _hours_cell(hours: float | None, detail: str = "") -> str:
    if hours is None:
        return f'<td class="na">n/a{detail}</td>'
    return f"<td>{hours:,.1f}{detail}</td>"


def _plot(rows: Sequence[StaffHours], names: dict[str, str]) -> tuple[str, int]:
    """Horizontal bars per provider (and role and period when there are several), lowest
    delivered / commissioned at the top: the hours delivered, rostered and commissioned, and
    the ratio against the alert's levels. Base64 PNG and the number of bars shown."""
    chosen = sorted(rows, key=lambda s: (s.delivered_ratio or 0.0, s.region, s.provider))
    chosen = chosen[:MAX_PLOTTED]
    roles = len({s.role for s in chosen}) > 1
    periods = len({s.period for s in chosen}) > 1
    labels = []
    for s in chosen:
        label = names.get(f"{s.region}/{s.provider}", s.provider)
        label = f"{names.get(s.region, s.region)}: {label}"
        label += f" ({ROLE_NAMES.get(s.role, s.role)})" if roles else ""
        labels.append(label + (f", {s.period}" if periods else ""))
    n = len(chosen)
    fig = Figure(figsize=(11, 1.8 + 0.42 * n), dpi=100, layout="constrained")
    hours_ax, ratio_ax = fig.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    y = list(range(n))
    height = 0.27
    bars = (
        ("commissioned", [s.commissioned_hours or 0.0 for s in chosen], "#b0b0b0", -height),
        ("rostered", [s.rostered_hours or 0.0 for s in chosen], "#9bbbe0", 0.0),
        ("delivered", [s.delivered_hours or 0.0 for s in chosen], "#1f5fa8", height),
    )
    for name, values, colour, offset in bars:
        hours_ax.barh([v + offset for v in y], values, height=height, color=colour, label=name)
    hours_ax.set_yticks(y, labels, fontsize=8)
    hours_ax.invert_yaxis()  # the lowest ratio at the top
    hours_ax.set_xlabel("staff-hours")
    hours_ax.legend(**_LEGEND)
    ratios = [s.delivered_ratio or 0.0 for s in chosen]
    ratio_ax.barh(y, ratios, height=0.6, color=[_COLOURS[grade(r)] for r in ratios])
    ratio_ax.axvline(1.0, color="#1d1d1d", linewidth=1, label="commissioned")
    ratio_ax.axvline(WARNING_RATIO, color="#c0392b", linestyle="--", label=f"{WARNING_RATIO:.0%}")
    for v, r in zip(y, ratios, strict=True):
        ratio_ax.text(r + 0.01, v, f"{r:.0%}", va="center", fontsize=8)
    ratio_ax.set_xlim(0, max(1.25, 1.1 * max(ratios)))
    ratio_ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ratio_ax.set_xlabel("delivered / commissioned")
    ratio_ax.legend(**_LEGEND)
    for ax in (hours_ax, ratio_ax):
        ax.grid(axis="x", alpha=0.3)
    title = "Staff-hours delivered against commissioned: providers short of the dashed line"
    fig.suptitle(f"{title} have not delivered what was commissioned", fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii"), n


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _local(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=LONDON).strftime("%Y-%m-%d %H:%M")
