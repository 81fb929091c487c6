"""The surge-monitor dashboards as code, and what tests need to know about them.

`python -m grafana.dashboards` writes grafana/json/<uid>.json (sorted keys, 2-space indent, a
trailing newline), so the output is deterministic and a test can regenerate and compare bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dashboard_models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from grafana.dashboards import national, pipeline, region

JSON_DIR: Final = Path(__file__).resolve().parent.parent / "json"

BUILDERS: Final[tuple[Callable[[], dashboard_models.Dashboard], ...]] = (
    national.build,
    region.build,
    pipeline.build,
)

# What Grafana puts in for its template variables when a query runs, for running the queries
# outside Grafana: `$__rate_interval` is at least 4 scrape intervals, 5m is a safe stand-in.
RATE_INTERVAL: Final = "5m"
INTERVAL: Final = "1m"
RANGE: Final = "1d"  # `$__range`: the panel's span (a day at most for "today" panels)

_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_METRIC = re.compile(r"\bsurge_[a-z0-9_]+")
_HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")


def build_all() -> list[dashboard_models.Dashboard]:
    """Every dashboard, in a fixed order."""
    return [build() for build in BUILDERS]


def render(model: dashboard_models.Dashboard) -> str:
    """The dashboard JSON as checked in: sorted keys, 2-space indent, trailing newline."""
    # Round-trip through plain JSON so the SDK's objects are ordered like any other mapping.
    plain = json.loads(JSONEncoder().encode(model))
    return json.dumps(plain, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def filename(model: dashboard_models.Dashboard) -> str:
    """`<uid>.json`: the uid is the stable name, titles may be reworded."""
    return f"{model.uid}.json"


def write_all(out_dir: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard into `out_dir` (created if missing); return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for model in build_all():
        path = out_dir / filename(model)
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written


def _panels(model: dashboard_models.Dashboard) -> Iterator[dashboard_models.Panel]:
    for panel in model.panels or []:
        if isinstance(panel, dashboard_models.RowPanel):
            yield from panel.panels  # a collapsed row keeps its panels inside
        else:
            yield panel


def _raw_queries() -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, panel title or annotation name, PromQL with Grafana variables)."""
    for model in build_all():
        uid = model.uid or ""
        for panel in _panels(model):
            for target in panel.targets or []:
                if isinstance(target, prometheus_models.Dataquery):
                    yield uid, panel.title or "", target.expr
        annotations = model.annotations.list_val if model.annotations else None
        for annotation in annotations or []:
            if annotation.expr:
                yield uid, f"annotation: {annotation.name}", annotation.expr


def substitute(expr: str, region_code: str) -> str:
    """Replace Grafana's variables by the values Grafana would send for one region."""
    values = {
        "region": region_code,
        "__rate_interval": RATE_INTERVAL,
        "__interval": INTERVAL,
        "__range": RANGE,
    }

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))  # an unknown variable stays, for tests to see

    return _VARIABLE.sub(value, expr)


def panel_queries(region: str = "north-west") -> list[tuple[str, str, str]]:
    """Every panel and annotation query, variables substituted: (uid, title, PromQL)."""
    return [(uid, title, substitute(expr, region)) for uid, title, expr in _raw_queries()]


def template_queries() -> list[str]:
    """The template variables' queries (Grafana functions such as `label_values`, not PromQL)."""
    queries = []
    for model in build_all():
        for variable in (model.templating.list_val if model.templating else None) or []:
            if isinstance(variable.query, str):
                queries.append(variable.query)
    return queries


def metric_names() -> set[str]:
    """Every `surge_*` metric the dashboards read, histogram series folded into their family."""
    texts = [expr for _, _, expr in _raw_queries()] + template_queries()
    return {_HISTOGRAM_SERIES.sub("", name) for text in texts for name in _METRIC.findall(text)}
