"""`surge-monitor readiness`: the 2013 launch day's verdicts, the files written, the exit
status, and bad input refused with its line and nothing written."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli import readiness as readiness_cli
from streams.cli.main import main
from streams.contract.catalogue import default_catalogue

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy" / "readiness"
FAILING = {"north-west", "west-midlands"}
# The failure is at 09:00 UTC (= Europe/London on 29 March 2013) and lasts the rest of the day.
FAILED_HOURS = [f"2013-03-29T{h:02d}:00+00:00" for h in range(9, 20)]


@pytest.fixture(scope="module")
def launch_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    """One run of `readiness --scenario launch-2013 --json --out DIR` with the default 20
    replications (fewer widen the simulation's intervals until healthy regions read at risk)."""
    out = tmp_path_factory.mktemp("readiness") / "out"
    with pytest.MonkeyPatch.context() as mp:
        stdout = io.StringIO()
        mp.setattr("sys.stdout", stdout)
        status = main(["readiness", "--scenario", "launch-2013", "--json", "--out", str(out)])
    return status, orjson.loads(stdout.getvalue()), out


def test_north_west_and_west_midlands_are_no_go_from_the_failure(
    launch_day: tuple[int, dict[str, Any], Path],
) -> None:
    """The two failing regions are no-go for every hour from 09:00, paged by the KPI and the
    staffing alerts alike; the exit status says not every region is go."""
    status, doc, _ = launch_day
    assert status == 1
    assert doc["all_go"] is False
    for region in FAILING:
        v = doc["regions"][region]
        assert v["verdict"] == "no-go"
        assert v["no_go_hours"] == FAILED_HOURS
        assert {"ServiceLevelBelowStandard", "AbandonmentAboveStandard",
                "StaffingBelowCommissioned"} <= set(v["alerts"])  # fmt: skip


def test_every_healthy_region_is_go(launch_day: tuple[int, dict[str, Any], Path]) -> None:
    """The other eight regions of the catalogue are go with nothing named."""
    _, doc, _ = launch_day
    healthy = set(default_catalogue().codes()) - FAILING
    assert set(doc["regions"]) == healthy | FAILING
    for region in healthy:
        assert doc["regions"][region] == {
            "verdict": "go", "no_go_hours": [], "at_risk_hours": [], "alerts": [],
            "stretches": [],
        }  # fmt: skip


def test_the_report_files_are_written_beside_the_scenarios_inputs(
    launch_day: tuple[int, dict[str, Any], Path],
) -> None:
    """CSV (one row per region, provider and interval), JSON and a self-contained HTML, and
    the scenario's rota and demand, which are the shipped examples."""
    _, doc, out = launch_day
    names = {p.name for p in out.iterdir()}
    assert names == {"readiness.csv", "readiness.json", "readiness.html",
                     "launch-2013-rota.csv", "launch-2013-demand.csv"}  # fmt: skip
    rows = list(csv.DictReader((out / "readiness.csv").open()))
    assert len(rows) == 15 * 24  # 15 providers, 12 hours of half hours
    nw = [r for r in rows if r["region"] == "north-west" and r["start"] >= "2013-03-29T09"]
    assert all(int(r["shortfall"]) > 20 for r in nw)
    assert all(float(r["sim_service_level_high"]) < 0.1 for r in nw)
    saved = orjson.loads((out / "readiness.json").read_bytes())
    assert saved["regions"] == doc["regions"]
    assert len(saved["intervals"]) == len(rows)
    page = (out / "readiness.html").read_text()
    assert page.count("data:image/png;base64,") == 1 + 10  # the heat map and one per region
    assert "http" not in page.replace("http-equiv", "")
    for name in ("launch-2013-rota.csv", "launch-2013-demand.csv"):
        assert (out / name).read_text() == (EXAMPLES / name).read_text()


def test_the_shipped_examples_are_the_generators_day() -> None:
    """deploy/readiness/launch-2013-*.csv equal what the generator plans now (regenerate them
    with `surge-monitor readiness --scenario launch-2013 --out DIR` when it changes)."""
    rota, demand = readiness_cli.scenario_files("launch-2013", default_catalogue())
    assert (EXAMPLES / "launch-2013-rota.csv").read_text() == rota
    assert (EXAMPLES / "launch-2013-demand.csv").read_text() == demand


def _files(tmp_path: Path, region: str) -> tuple[Path, Path]:
    """The shipped example cut to one region: rota and demand CSVs."""
    out = []
    for kind in ("rota", "demand"):
        lines = (EXAMPLES / f"launch-2013-{kind}.csv").read_text().splitlines()
        path = tmp_path / f"{kind}.csv"
        path.write_text("\n".join([lines[0], *(x for x in lines[1:] if x.startswith(region))]))
        out.append(path)
    return out[0], out[1]


def test_a_go_day_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """London's day alone, from files and a --from/--to range: go, exit status 0."""
    rota, demand = _files(tmp_path, "london")
    span = ["--from", "2013-03-29T08:00:00+00:00", "--to", "2013-03-29T10:00:00+00:00"]
    status = main(["readiness", "--rota", str(rota), "--demand", str(demand), *span, "--json"])
    assert status == 0
    doc = orjson.loads(capsys.readouterr().out)
    go = {"verdict": "go", "no_go_hours": [], "at_risk_hours": [], "alerts": [], "stretches": []}
    assert doc == {"all_go": True, "regions": {"london": go}}


@pytest.mark.parametrize("kind", ["rota", "demand"])
def test_a_bad_file_exits_2_naming_the_line_and_writes_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str
) -> None:
    """A bad third line of either file: exit status 2, the line named, no output folder."""
    rota, demand = _files(tmp_path, "london")
    bad = rota if kind == "rota" else demand
    lines = bad.read_text().splitlines()
    lines[2] = lines[2].replace("london", "atlantis", 1)
    bad.write_text("\n".join(lines))
    out = tmp_path / "out"
    status = main(["readiness", "--rota", str(rota), "--demand", str(demand), "--out", str(out)])
    assert status == 2
    assert f"{bad} line 3: unknown region 'atlantis'" in capfd.readouterr().err
    assert not out.exists()


def test_the_verdicts_default_rules_are_the_alert_thresholds() -> None:
    """detectors.readiness_verdict.Rules() (detectors import nothing of streams) holds the
    numbers of THRESHOLDS, so a test of the verdict alone is a test at the alerts' levels."""
    from detectors.readiness_verdict import Rules
    from streams.contract.thresholds import THRESHOLDS
    from streams.offline.readiness import rules_of

    assert rules_of(THRESHOLDS) == Rules()


def test_a_scenario_with_a_demand_file_is_refused(tmp_path: Path) -> None:
    """--scenario brings its own demand: a --demand beside it is an error (2), not ignored."""
    demand = tmp_path / "demand.csv"
    demand.write_text("x\n")
    assert main(["readiness", "--scenario", "launch-2013", "--demand", str(demand)]) == 2
