"""The scorecard written out: `scorecard.csv` (one row per provider, region and period) and
`scorecard.html`, one self-contained file (summary table coloured by grade, plots as PNG). The
staff-hours columns and section are streams.offline.staff_hours_report's."""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

import structlog
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from detectors import scorecard as card
from detectors import scorecard_grades
from detectors.scorecard import LONDON, Referral, Row
from detectors.scorecard_grades import Standards
from detectors.staff_hours import StaffHours
from streams.contract.catalogue import Catalogue
from streams.offline import staff_hours_report
from streams.offline.scorecard import Scorecard

log = structlog.get_logger(__name__)


CSV_NAME: Final = "scorecard.csv"


HTML_NAME: Final = "scorecard.html"


NO_DATA: Final = "n/a"


_LABELS: Final = {
    scorecard_grades.PASS: "Pass",
    scorecard_grades.WARNING: "Below standard",
    scorecard_grades.FAIL: "Fail",
    None: "No data",
}


def write(scorecard: Scorecard, catalogue: Catalogue, out_dir: Path) -> tuple[Path, Path]:
    """Write scorecard.csv and scorecard.html into `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out_dir / CSV_NAME, out_dir / HTML_NAME
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        standards = scorecard.request.standards
        writer.writerows(csv_rows(scorecard.rows, standards, scorecard.staff_hours))
    html_path.write_text(render_html(scorecard, catalogue), encoding="utf-8")
    log.info("scorecard_written", csv=str(csv_path), html=str(html_path), rows=len(scorecard.rows))
    return csv_path, html_path


CSV_COLUMNS: Final = (
    "region", "provider", "period", "start", "end",
    "offered", "answered", "abandoned", "answered_within_60s", "abandoned_after_30s",
    "service_level", "service_level_standard", "service_level_result",
    "abandon_rate", "abandon_rate_standard", "abandon_rate_result",
    "average_speed_of_answer_seconds",
    "callbacks_requested", "callbacks_made", "callbacks_within_10min",
    "callback_rate", "callback_standard", "callback_result",
    "triaged",
    "ambulance_rate", "ambulance_baseline_rate", "ambulance_z", "ambulance_result",
    "ed_rate", "ed_baseline_rate", "ed_z", "ed_result",
    "hours", "hours_in_breach", "worst_hour", "worst_hour_service_level",
    "alerts", "alert_names",
    "overflow_activations", "overflow_minutes", "overflow_started_by",
    *staff_hours_report.STAFF_COLUMNS,  # health_adviser_staff_hours, ..., per role
    "result",
)  # fmt: skip


def csv_rows(
    rows: Iterable[Row], standards: Standards, staff: Iterable[StaffHours] = ()
) -> list[dict[str, object]]:
    """One dict per row: ratios as 0..1 with 6 decimals, absent ones (no denominator) empty; the
    staff-hours of the row's provider and period joined on (empty where unknown)."""
    out = []
    by_row = staff_hours_report.index(staff)
    for r in rows:
        t, k = r.totals, r.kpis
        doc: dict[str, object] = {
            "region": r.region,
            "provider": r.provider,
            "period": r.period,
            "start": _local(r.start_s),
            "end": _local(r.end_s),
            "offered": t.offered,
            "answered": t.answered,
            "abandoned": t.abandoned,
            "answered_within_60s": t.answered_within_target,
            "abandoned_after_30s": t.abandoned_after_threshold,
            "service_level": _num(k.service_level),
            "service_level_standard": standards.service_level_min,
            "service_level_result": _result(r.service_level),
            "abandon_rate": _num(k.abandon_rate),
            "abandon_rate_standard": standards.abandon_rate_max,
            "abandon_rate_result": _result(r.abandonment),
            "average_speed_of_answer_seconds": _num(k.average_speed_of_answer_seconds, 1),
            "callbacks_requested": t.callbacks_requested,
            "callbacks_made": t.callbacks_made,
            "callbacks_within_10min": t.callbacks_within_target,
            "callback_rate": _num(k.callback_within_target_rate),
            "callback_standard": _num(standards.callback_within_target_min, 4),
            "callback_result": _result(r.callbacks),
            "triaged": sum(n for _, n in t.dispositions),
            "hours": len(r.hours),
            "hours_in_breach": r.hours_in_breach,
            "worst_hour": "" if r.worst_hour is None else _local(r.worst_hour.start_s),
            "worst_hour_service_level": _num(
                None if r.worst_hour is None else r.worst_hour.kpis.service_level
            ),
            "alerts": len(r.alerts),
            "alert_names": ";".join(f"{a.alert}:{a.severity}" for a in r.alerts),
            # Empty without overflow commands: unknown, not none.
            "overflow_activations": "" if r.overflow is None else r.overflow_activations,
            "overflow_minutes": _num(r.overflow_minutes, 1),
            "overflow_started_by": ";".join(r.overflow_started_by or ()),
            "result": _result(r.result),
            **staff_hours_report.csv_fields(by_row, r),
        }
        for ref in r.referrals:
            doc[f"{ref.kind}_rate"] = _num(ref.rate)
            doc[f"{ref.kind}_baseline_rate"] = _num(ref.expected_rate)
            doc[f"{ref.kind}_z"] = _num(ref.z, 2)
            doc[f"{ref.kind}_result"] = _result(ref.grade)
        out.append(doc)
    return out


def _num(value: float | None, places: int = 6) -> str:
    return "" if value is None else f"{value:.{places}f}"


def _result(grade: str | None) -> str:
    return NO_DATA if grade is None else grade


def _local(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=LONDON).strftime("%Y-%m-%d %H:%M")


_CSS: Final = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1d1d1d; max-width: 1200px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 28px; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #c8c8c8; padding: 4px 7px; text-align: right; vertical-align: top; }
th { background: #eef1f5; } td.name { text-align: left; }
td.pass { background: #d4edda; } td.warning { background: #fde8c4; }
td.fail { background: #f8d0d3; font-weight: 600; }
td.na { background: #f1f1f1; color: #777; }
td small { display: block; color: #555; font-weight: normal; }
section.provider { margin-top: 22px; } section.provider img { max-width: 100%; }
img.staff-plot { max-width: 100%; display: block; margin: 10px 0; }
ul.standards li { margin: 2px 0; }
"""


def render_html(scorecard: Scorecard, catalogue: Catalogue) -> str:
    """The report: standards, a summary table coloured pass/fail, then plots per provider."""
    req, s = scorecard.request, scorecard.request.standards
    names = _names(catalogue)
    events = ", ".join(f"{n} {name}" for name, n in sorted(scorecard.counts.items()))
    title = f"NHS 111 provider scorecard, {_local(req.from_s)} to {_local(req.to_s)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Europe/London time, by {_e(req.period)}; replayed from '
        f"{_e(scorecard.source)} through the live path's detectors ({_e(events or 'no events')})"
        + (
            f"; overflow commands from {_e(scorecard.overflow_source)}"
            if scorecard.overflow_source
            else ""
        )
        + "</p>",
        "<h2>Standards</h2>",
        '<ul class="standards">',
        f"<li>Service level: calls answered within 60 s / calls answered, at least "
        f"{s.service_level_min:.0%} (failing under {s.service_level_fail_below:.0%}).</li>",
        f"<li>Abandonment: calls abandoned after 30 s / calls offered, below "
        f"{s.abandon_rate_max:.0%} (failing at {s.abandon_rate_fail_at:.0%} or more).</li>",
        "<li>Clinical callbacks made within 10 minutes of the request / callbacks requested: "
        + (
            "shown, not judged: no national share is set and none was given."
            if s.callback_within_target_min is None
            else f"at least {s.callback_within_target_min:.0%} (the contract's figure: no "
            "national share is set)."
        )
        + "</li>",
        "<li>Ambulance and ED referral rates (of calls triaged) against the region's "
        "hour-of-week baseline: the excess as a one-sided Poisson z, failing above "
        f"{s.referral_z_max:g} (the spike alerts' level); not assessed without a baseline "
        "file.</li>",
        "<li>Pass (green): the standard is met. Below standard (amber): missed, but not as far "
        "as the alerts page. Fail (red): where the alerts page and the dashboards turn red.</li>",
        "<li>Hours in breach: clock hours whose service level is below the standard; worst hour: "
        "the lowest service level. Alerts: in-stream alert episodes raised for the region.</li>",
        "<li>Overflow (not graded): diversions of the region's new calls to a neighbour, from "
        "the OverflowCommands: activations started in the period, minutes diverting within it, "
        "and who started them (auto: the overflow policy; operator:&lt;id&gt;)"
        + ("." if scorecard.overflow_source else "; not given for this report (n/a).")
        + "</li>",
        "</ul>",
        "<h2>Summary</h2>",
        _summary_table(scorecard.rows, s, names),
        *staff_hours_report.section(scorecard, names),
        "<h2>Providers, hour by hour</h2>",
    ]
    by_provider: dict[tuple[str, str], list[Row]] = {}
    for row in scorecard.rows:
        by_provider.setdefault((row.region, row.provider), []).append(row)
    for (region, provider), rows in by_provider.items():
        label = f"{names.get(region, region)}: {names.get(f'{region}/{provider}', provider)}"
        png = _plot(rows, s, label)
        parts += [
            f'<section class="provider" id="{_e(region)}--{_e(provider)}">',
            f"<h3>{_e(label)}</h3>",
            f'<img alt="Hourly service level and abandonment of {_e(label)} against the '
            f'standards" width="900" height="500" src="data:image/png;base64,{png}">',
            "</section>",
        ]
    if not scorecard.rows:
        parts.append("<p>No calls in the range.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _names(catalogue: Catalogue) -> dict[str, str]:
    out = {}
    for region in catalogue.regions:
        out[region.code] = region.name
        for p in region.providers:
            out[f"{region.code}/{p.id}"] = p.name
    return out


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _summary_table(rows: Sequence[Row], s: Standards, names: dict[str, str]) -> str:
    callback = s.callback_within_target_min
    callback_standard = "no standard" if callback is None else f"&ge; {callback:.0%}"
    head = (
        "<tr><th>Region</th><th>Provider</th><th>Period</th><th>Offered</th>"
        f"<th>Service level<br>(&ge; {s.service_level_min:.0%})</th>"
        f"<th>Abandoned after 30 s<br>(&lt; {s.abandon_rate_max:.0%})</th>"
        f"<th>Callbacks &le; 10 min<br>({callback_standard})</th>"
        "<th>Ambulance referrals<br>(vs baseline)</th><th>ED referrals<br>(vs baseline)</th>"
        "<th>Hours in breach</th><th>Worst hour</th><th>Alerts</th>"
        "<th>Overflow<br>(activations)</th><th>Result</th></tr>"
    )
    body = []
    for r in rows:
        t, k = r.totals, r.kpis
        worst = (
            "&ndash;"
            if r.worst_hour is None
            else f"{_e(_local(r.worst_hour.start_s)[11:])}"
            f"<small>{_pct(r.worst_hour.kpis.service_level)}</small>"
        )
        cells = [
            f'<td class="name">{_e(names.get(r.region, r.region))}</td>',
            f'<td class="name">{_e(names.get(f"{r.region}/{r.provider}", r.provider))}</td>',
            f'<td class="name">{_e(r.period)}<small>{_e(_local(r.start_s)[11:])}&ndash;'
            f"{_e(_local(r.end_s)[11:])}</small></td>",
            f"<td>{t.offered}</td>",
            _cell(
                r.service_level,
                _pct(k.service_level),
                f"{t.answered_within_target} of {t.answered}",
            ),
            _cell(r.abandonment, _pct(k.abandon_rate), f"{t.abandoned_after_threshold} calls"),
            _cell(
                r.callbacks,
                _pct(k.callback_within_target_rate),
                f"{t.callbacks_within_target} of {t.callbacks_requested}",
            ),
            *(_referral_cell(ref) for ref in r.referrals),
            f"<td>{r.hours_in_breach} of {len(r.hours)}</td>",
            f"<td>{worst}</td>",
            f"<td>{len(r.alerts)}</td>",
            _overflow_cell(r),
            _cell(r.result, _LABELS[r.result], ""),
        ]
        body.append(
            f'<tr data-region="{_e(r.region)}" data-provider="{_e(r.provider)}" '
            f'data-result="{_result(r.result)}">' + "".join(cells) + "</tr>"
        )
    return f'<table class="summary"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def _cell(grade: str | None, value: str, detail: str) -> str:
    css = "na" if grade is None else grade
    small = f"<small>{_e(detail)}</small>" if detail else ""
    return f'<td class="{css}">{_e(value)}{small}</td>'


def _overflow_cell(r: Row) -> str:
    if r.overflow is None or r.overflow_minutes is None:
        return f'<td class="na">{NO_DATA}</td>'
    by = ", ".join(r.overflow_started_by or ()) or "none"
    return f"<td>{r.overflow_activations}<small>{r.overflow_minutes:.0f} min; {_e(by)}</small></td>"


def _referral_cell(ref: Referral) -> str:
    if ref.expected_rate is None:
        return _cell(None, _pct(ref.rate), f"{ref.count} of {ref.triaged}; no baseline")
    return _cell(
        ref.grade, _pct(ref.rate), f"baseline {_pct(ref.expected_rate)}, z {ref.z or 0.0:.1f}"
    )


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value:.1%}"


def _plot(rows: Sequence[Row], s: Standards, label: str) -> str:
    """Hourly service level and abandonment of one provider against the standards, as base64
    PNG. Figure (not pyplot): no global state, no display needed."""
    hours = [h for r in rows for h in r.hours]
    # Each hour drawn as a step over its hour: the last one is held to its end.
    ends = [h.start_s for h in hours] + ([hours[-1].start_s + card.HOUR] if hours else [])
    when = [datetime.fromtimestamp(t, tz=LONDON) for t in ends]
    level = [_nan(h.kpis.service_level) for h in hours]
    abandon = [_nan(h.kpis.abandon_rate) for h in hours]
    level, abandon = level + level[-1:], abandon + abandon[-1:]
    fig = Figure(figsize=(9, 5), dpi=100, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.step(when, level, where="post", color="#1f5fa8", label="service level (hour)")
    top.axhline(s.service_level_min, color="#c0392b", linestyle="--", label="standard")
    top.set_ylim(0, 1.02)
    top.set_ylabel("answered within 60 s")
    bottom.step(when, abandon, where="post", color="#8e44ad", label="abandoned after 30 s (hour)")
    bottom.axhline(s.abandon_rate_max, color="#c0392b", linestyle="--", label="standard")
    bottom.set_ylim(
        0, 1.1 * max([2 * s.abandon_rate_max, *(a for a in abandon if not math.isnan(a))])
    )
    bottom.set_ylabel("abandoned after 30 s")
    for ax in (top, bottom):
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if ax is top else "upper left", fontsize=8)
    # matplotlib's stubs leave DateFormatter.__init__ unannotated
    local_time = DateFormatter("%d %b %H:%M", tz=LONDON)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_formatter(local_time)
    top.set_title(label, fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value
