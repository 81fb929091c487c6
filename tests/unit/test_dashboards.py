"""Dashboards as code: deterministic JSON, stable UIDs, full panels, DESIGN.md metrics, PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grafana.dashboards import JSON_DIR, metric_names, panel_queries, write_all
from grafana.dashboards.__main__ import main
from tests.design import DESIGN_METRICS

GRAFANA_DIR = JSON_DIR.parent
DATASOURCE = {"type": "prometheus", "uid": "surge-prometheus"}
UIDS = {"surge-national", "surge-region", "surge-pipeline"}
UNITS = {"percentunit", "s", "short", "cpm", "cps"}


QUERIES = panel_queries()


def checked_in() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(JSON_DIR.glob("*.json"))
    }


def visual_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            panels += panel.get("panels", [])
        else:
            panels.append(panel)
    return panels


def test_regenerating_gives_the_checked_in_json(tmp_path: Path) -> None:
    """Generating into an empty folder gives byte for byte the JSON in grafana/json."""
    written = write_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in JSON_DIR.glob("*.json"))
    for path in written:
        assert path.read_bytes() == (JSON_DIR / path.name).read_bytes(), (
            f"{path.name} is stale: run `python -m grafana.dashboards`"
        )
        assert path.read_bytes().endswith(b"}\n")
    assert main(["--check"]) == 0


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    """`--check` fails when a checked-in file differs from the generated one."""
    write_all(tmp_path)
    (tmp_path / "surge-region.json").write_text("{}\n", encoding="utf-8")
    assert main(["--check", "--out", str(tmp_path)]) == 1


def test_uids_are_stable_unique_and_name_the_files() -> None:
    """The three dashboards keep their UIDs, one file each, named by UID."""
    dashboards = checked_in()
    assert set(dashboards) == UIDS
    assert {d["uid"] for d in dashboards.values()} == UIDS
    for name, dashboard in dashboards.items():
        assert dashboard["uid"] == name
        assert "surge-monitor" in dashboard["tags"]
    # The DeadLetterRateHigh rule links to /d/surge-pipeline/pipeline-health: the slug of the title.
    assert dashboards["surge-pipeline"]["title"] == "Pipeline health"


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_every_panel_is_complete(uid: str) -> None:
    """Every panel has a unique id and title, a description, a unit, the datasource, queries."""
    dashboard = checked_in()[uid]
    panels = visual_panels(dashboard)
    assert panels
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles)), "panel titles identify panels in panel_queries()"
    for panel in panels:
        assert panel["title"].strip()
        assert len(panel.get("description", "")) > 20, panel["title"]
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"] in UNITS, panel["title"]
        targets = panel["targets"]
        assert targets, panel["title"]
        ref_ids = [t["refId"] for t in targets]
        assert all(ref_ids) and len(ref_ids) == len(set(ref_ids)), panel["title"]
        assert all(t["expr"].strip() for t in targets), panel["title"]


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_panels_do_not_overlap(uid: str) -> None:
    """No two panels share a grid cell, and none is wider than the 24-column grid."""
    taken: set[tuple[int, int]] = set()
    for panel in checked_in()[uid]["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_region_dashboard_is_templated_and_annotated() -> None:
    """The region dashboard picks its region from Prometheus and marks alerts and overflow."""
    dashboard = checked_in()["surge-region"]
    (variable,) = dashboard["templating"]["list"]
    assert variable["name"] == "region"
    assert variable["type"] == "query"
    assert variable["query"] == "label_values(surge_calls_total, region)"
    assert variable["datasource"] == DATASOURCE
    annotations = dashboard["annotations"]["list"]
    exprs = " ".join(a["expr"] for a in annotations)
    assert "surge_alert_active" in exprs
    assert "surge_overflow_active" in exprs
    for annotation in annotations:
        assert annotation["datasource"] == DATASOURCE
        assert 'region="$region"' in annotation["expr"]
    for panel in visual_panels(dashboard):
        for target in panel["targets"]:
            assert 'region="$region"' in target["expr"], panel["title"]


def test_provisioning_matches_the_dashboards() -> None:
    """The provisioned datasource uid is the one the panels use; the provider loads the folder."""
    datasource = (GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text("utf-8")
    assert re.search(r"^\s+uid: surge-prometheus$", datasource, re.MULTILINE)
    assert re.search(r"^\s+type: prometheus$", datasource, re.MULTILINE)
    assert re.search(r"^\s+url: http://127\.0\.0\.1:9090$", datasource, re.MULTILINE)
    provider = (GRAFANA_DIR / "provisioning/dashboards/surge.yml").read_text("utf-8")
    assert re.search(r"^\s+type: file$", provider, re.MULTILINE)
    assert re.search(r"^\s+folder: Surge monitor$", provider, re.MULTILINE)


def test_every_metric_is_a_design_metric() -> None:
    """Dashboards read only metrics named in DESIGN.md (histogram series folded in)."""
    names = metric_names()
    assert names - DESIGN_METRICS == set()
    # The headline KPIs and pipeline health are all on screen.
    assert {
        "surge_service_level_ratio",
        "surge_abandon_rate_ratio",
        "surge_calls_waiting",
        "surge_longest_wait_seconds",
        "surge_alert_active",
        "surge_overflow_active",
        "surge_events_total",
        "surge_event_lag_seconds",
        "surge_watermark_seconds",
    } <= names


def test_panel_queries_fill_in_the_region() -> None:
    """`panel_queries(region)` puts the region code where the dashboard has `$region`."""
    region_queries = [expr for uid, _, expr in panel_queries("london") if uid == "surge-region"]
    assert region_queries
    assert all('region="london"' in expr for expr in region_queries)
    uids = {uid for uid, _, _ in QUERIES}
    assert uids == UIDS


def _balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    outside_quotes = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    if '"' in outside_quotes.replace('""', ""):
        return False  # an unterminated string
    for char in outside_quotes:
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


@pytest.mark.parametrize(
    ("uid", "title", "expr"), QUERIES, ids=[f"{uid}:{title}" for uid, title, _ in QUERIES]
)
def test_query_is_closed_and_fully_substituted(uid: str, title: str, expr: str) -> None:
    """Each query has balanced brackets and quotes and no Grafana variable or legend left."""
    assert _balanced(expr), expr
    assert "$" not in expr, expr
    assert "{{" not in expr, expr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_queries_parse_as_promql(tmp_path: Path) -> None:
    """promtool parses every query (as recording rules; JSON is YAML), so Prometheus will too."""
    rules = [
        {"record": f"dashboard_query_{number}", "expr": expr}
        for number, (_, _, expr) in enumerate(QUERIES)
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}), "utf-8")
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
