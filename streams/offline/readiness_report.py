"""`readiness.html`: one self-contained file in the scorecard's style (inline CSS, plots as
base64 PNG): the verdict per region, a region x hour heat map of the handlers short, and per
region the demand against capacity and the predicted service level per interval, Erlang A with
the simulation's 95 % interval."""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np
import orjson
import structlog
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from detectors import readiness_verdict as judge
from detectors.readiness import Prediction
from streams.offline.readiness import (
    CSV_COLUMNS,
    CSV_NAME,
    HTML_NAME,
    JSON_NAME,
    LONDON,
    Readiness,
    cell,
    document,
    local_hour_minute,
    row,
)
from streams.offline.scorecard_report import _CSS

log = structlog.get_logger(__name__)

_CLASS: Final = {judge.GO: "pass", judge.AT_RISK: "warning", judge.NO_GO: "fail"}
_EXTRA_CSS: Final = "section.region img, img.heat { max-width: 100%; display: block; }\n"


def write(r: Readiness, names: dict[str, str], out_dir: Path) -> list[Path]:
    """readiness.csv, readiness.json and readiness.html under `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / CSV_NAME, out_dir / JSON_NAME, out_dir / HTML_NAME]
    with paths[0].open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        writer.writerows({k: cell(v) for k, v in row(p).items()} for p in r.predictions)
    paths[1].write_bytes(orjson.dumps(document(r), option=orjson.OPT_INDENT_2) + b"\n")
    paths[2].write_text(render_html(r, names), encoding="utf-8")
    log.info("readiness_written", files=[str(p) for p in paths])
    return paths


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(r: Readiness, names: dict[str, str]) -> str:
    """The report (module docstring)."""
    preds = r.predictions
    first = min((p.interval.start_s for p in preds), default=0)
    last = max((p.interval.end_s for p in preds), default=0)
    title = f"NHS 111 readiness, {local_hour_minute(first)} to {local_hour_minute(last)}"
    m, rules = r.model, r.rules
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}{_EXTRA_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Europe/London time. Rota {_e(r.sources[0])}, demand '
        f"{_e(r.sources[1])}; health advisers staffed = rostered less {m.shrinkage:.0%} "
        f"shrinkage. Erlang A (M/M/N+M, mean patience {m.patience_seconds:g} s) and a seeded "
        f"event simulation ({m.replications} replications, seed {m.seed}, 95 % intervals).</p>",
        "<h2>How the verdict is reached</h2>",
        '<ul class="standards">',
        f"<li>No-go (red): the predicted figures meet an alert's condition for its whole "
        f"<code>for</code>, so the monitor would page: service level under "
        f"{rules.service_level_warning:.0%} or abandonment over {rules.abandon_warning:.0%} in "
        f"both the 60- and 15-minute windows for {rules.kpi_for_seconds // 60} minutes with at "
        f"least {rules.min_offered_per_hour:g} callers an hour; staffed under "
        f"{rules.commissioned_warning_ratio:.0%} of commissioned or "
        f"{rules.required_warning_ratio:.0%} of required, at least {rules.min_handlers_short} "
        f"short, for {rules.staffing_for_seconds // 60} minutes.</li>",
        "<li>At risk (amber): not no-go, but a condition holds for a shorter time, or the "
        "service-level or abandonment alert would page on the pessimistic end of the "
        "simulation's interval.</li>",
        "<li>Go (green): neither.</li>",
        f"<li>Required: the fewest handlers for which Erlang A meets "
        f"{m.service_level_standard:.0%} within {m.target_seconds:g} s; shortfall = required "
        "- staffed.</li>",
        "</ul>",
        "<h2>Verdicts</h2>",
        _verdict_table(r, names),
        "<h2>Handlers short, region by hour</h2>",
        f'<img class="heat" alt="Heat map of handlers short per region and hour" '
        f'src="data:image/png;base64,{_heat_map(r, names)}">',
        "<h2>Regions, interval by interval</h2>",
    ]
    by_region: dict[str, list[Prediction]] = defaultdict(list)
    for p in preds:
        by_region[p.interval.region].append(p)
    for v in r.verdicts:
        label = f"{names.get(v.region, v.region)}: {v.verdict}"
        parts += [
            f'<section class="region" id="{_e(v.region)}"><h3>{_e(label)}</h3>',
            f'<img alt="Demand against capacity and predicted service level of '
            f'{_e(names.get(v.region, v.region))}" width="900" height="560" '
            f'src="data:image/png;base64,{_region_plot(by_region[v.region], r, label)}">',
            "</section>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _verdict_table(r: Readiness, names: dict[str, str]) -> str:
    head = (
        "<th>Region</th><th>Verdict</th><th>Alerts it would raise</th><th>No-go hours</th>"
        "<th>At-risk hours</th><th>Most handlers short</th>"
    )
    rows = [f"<table><tr>{head}</tr>"]
    for v in r.verdicts:
        short = max(
            (p.shortfall for p in r.predictions if p.interval.region == v.region), default=0
        )
        alerts = sorted({s.alert for s in v.stretches if s.pages and not s.pessimistic})
        rows.append(
            f'<tr><td class="name">{_e(names.get(v.region, v.region))}</td>'
            f'<td class="{_CLASS[v.verdict]}">{_e(v.verdict)}</td>'
            f'<td class="name">{_e(", ".join(alerts) or "none")}</td>'
            f'<td class="name">{_e(_hours(v.no_go_hours))}</td>'
            f'<td class="name">{_e(_hours(v.at_risk_hours))}</td><td>{short}</td></tr>'
        )
    return "\n".join([*rows, "</table>"])


def _hours(hours: Sequence[int]) -> str:
    return ", ".join(datetime.fromtimestamp(h, tz=LONDON).strftime("%H:00") for h in hours) or "-"


def _heat_map(r: Readiness, names: dict[str, str]) -> str:
    """Handlers short per region and clock hour: the hour's worst interval, summed over the
    region's providers."""
    hours = sorted({p.interval.start_s // 3600 * 3600 for p in r.predictions})
    regions = [v.region for v in r.verdicts]
    short: dict[tuple[str, int, int], int] = defaultdict(int)  # (region, hour, start) -> short
    for p in r.predictions:
        i = p.interval
        short[(i.region, i.start_s // 3600 * 3600, i.start_s)] += p.shortfall
    grid = np.zeros((len(regions), len(hours)))
    for (region, hour, _), count in short.items():
        a, b = regions.index(region), hours.index(hour)
        grid[a, b] = max(grid[a, b], count)
    fig = Figure(figsize=(9, 0.45 * len(regions) + 1.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(grid, aspect="auto", cmap="Reds", vmin=0, vmax=max(1.0, grid.max()))
    ax.set_yticks(range(len(regions)), [names.get(c, c) for c in regions], fontsize=8)
    labels = [datetime.fromtimestamp(h, tz=LONDON).strftime("%H:00") for h in hours]
    ax.set_xticks(range(len(hours)), labels, fontsize=8, rotation=90)
    for (a, b), value in np.ndenumerate(grid):
        n = float(value)
        if n:
            ax.text(b, a, f"{n:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if n > grid.max() / 2 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, label="handlers short of required")
    return _png(fig)


def _region_plot(preds: list[Prediction], r: Readiness, label: str) -> str:
    """Top: offered load (Erlangs) against staffed, commissioned and required handlers, summed
    over the providers. Bottom: the region's predicted service level per interval, Erlang A
    and the simulation's mean with its 95 % interval (answered-weighted over providers)."""
    starts = sorted({p.interval.start_s for p in preds})
    at = {s: k for k, s in enumerate(starts)}
    load, staffed, commissioned, required = (np.zeros(len(starts)) for _ in range(4))
    answered, within, sim_w, sim_lo, sim_hi = (np.zeros(len(starts)) for _ in range(5))
    for p in preds:
        k, i = at[p.interval.start_s], p.interval
        load[k] += i.calls * i.handle_seconds / (60 * i.minutes)
        staffed[k] += p.staffed
        commissioned[k] += i.commissioned or 0
        required[k] += p.required
        answered[k] += p.answered
        within[k] += p.answered_within_target
        sl = p.simulation.service_level if p.simulation else None
        sim_w[k] += p.answered * (sl.mean if sl else 0.0)
        sim_lo[k] += p.answered * (max(0.0, sl.low) if sl else 0.0)
        sim_hi[k] += p.answered * (min(1.0, sl.high) if sl else 0.0)
    minutes = preds[0].interval.minutes if preds else 30
    ends = [*starts, starts[-1] + 60 * minutes] if starts else []
    when = [datetime.fromtimestamp(t, tz=LONDON) for t in ends]

    def step(x: np.ndarray) -> list[float]:
        values = [float(v) for v in x]
        return values + values[-1:]

    with np.errstate(divide="ignore", invalid="ignore"):
        level, mean = within / answered, sim_w / answered
        low, high = sim_lo / answered, sim_hi / answered
    fig = Figure(figsize=(9, 5.6), dpi=100, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.step(when, step(load), where="post", color="#555", label="offered load (Erlangs)")
    top.step(when, step(commissioned), where="post", color="#1f5fa8", linestyle=":",
             label="commissioned")  # fmt: skip
    top.step(when, step(required), where="post", color="#c0392b", linestyle="--",
             label="required (Erlang A)")  # fmt: skip
    top.step(when, step(staffed), where="post", color="#1f5fa8", label="staffed")
    top.set_ylabel("handlers")
    top.set_ylim(bottom=0)
    bottom.fill_between(when, step(low), step(high), step="post", color="#8e44ad", alpha=0.25,
                        label="simulation 95 % interval")  # fmt: skip
    bottom.step(when, step(mean), where="post", color="#8e44ad", linewidth=0.8,
                label="simulation mean")  # fmt: skip
    bottom.step(when, step(level), where="post", color="#1f5fa8", label="Erlang A")
    bottom.axhline(r.model.service_level_standard, color="#2e7d32", linestyle="--",
                   label="standard")  # fmt: skip
    bottom.axhline(r.rules.service_level_warning, color="#c0392b", linestyle="--",
                   label="alert (warning)")  # fmt: skip
    bottom.set_ylim(0, 1.02)
    bottom.set_ylabel("answered within target")
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=7)
    # matplotlib's stubs leave DateFormatter.__init__ unannotated
    bottom.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=LONDON))  # type: ignore[no-untyped-call]
    top.set_title(label, fontsize=11)
    return _png(fig)
