"""`surge-monitor watch`: the frame fits a terminal, the JSON is valid, an unreachable Prometheus
is named and retried, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

from rich.console import Console

from streams.cli.watch_view import FiringAlert, RegionRow, Snapshot, render
from streams.contract.catalogue import default_catalogue
from streams.contract.thresholds import THRESHOLDS
from streams.stack.ports import free_port

LEVEL = THRESHOLDS.service_level_warning


def _snapshot(alerts: int) -> Snapshot:
    regions = [
        RegionRow(
            region=r,
            offered_per_minute=12.0,
            service_level_15m=0.41 if r == "north-west" else 0.97,
            service_level_60m=0.52 if r == "north-west" else 0.96,
            abandon_60m=0.21,
            waiting=140.0,
            longest_wait_seconds=1050.0,
            ambulance_rate_60m=0.14,
            spike_score=4.2,
            breach_forecast_seconds=float("inf"),
            staffed=14.0,
            required=33.0,
            state="critical" if r == "north-west" else "ok",
        )
        for r in default_catalogue().codes()
    ]
    firing = [
        FiringAlert("ServiceLevelBelowStandard", "north-west", "critical", 60.0 * i)
        for i in range(alerts)
    ]
    return Snapshot(0.0, regions, firing, [("north-west", "yorkshire/nhs-direct")])


def test_a_frame_of_every_region_and_many_alerts_fits_80_by_24() -> None:
    console = Console(width=80, record=True, color_system=None)
    console.print(render(_snapshot(alerts=20)))
    lines = console.export_text().splitlines()
    assert len(lines) <= 24 and max(map(len, lines)) <= 80
    assert any(line.startswith("north-west") and "41%" in line for line in lines)
    assert "... and 14 more" in "\n".join(lines)
    assert lines[-1] == "overflow: north-west -> yorkshire/nhs-direct"


def test_json_has_no_infinity_and_says_who_breaches() -> None:
    doc = json.loads(json.dumps(_snapshot(alerts=1).to_json(), allow_nan=False))
    by = {r["region"]: r for r in doc["regions"]}
    assert by["north-west"]["breaching"] and by["north-west"]["breach_forecast_seconds"] is None
    assert [r for r, row in by.items() if row["breaching"]] == ["north-west"]
    assert doc["alerts"][0]["alert"] == "ServiceLevelBelowStandard"


def test_breaching_needs_both_windows_under_the_warning_level() -> None:
    assert RegionRow("x", service_level_15m=LEVEL - 0.01, service_level_60m=LEVEL - 0.01).breaching
    assert not RegionRow("x", service_level_15m=LEVEL - 0.01, service_level_60m=LEVEL).breaching
    assert not RegionRow("x", service_level_15m=None, service_level_60m=0.1).breaching


def test_an_unreachable_prometheus_is_named_and_retried_then_exit_status_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "streams.cli", "watch", "--json", "--prometheus", url),
            *("--timeout-seconds", "1", "--interval", "0.2"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert f"cannot reach Prometheus at {url}" in done.stderr
    assert "watch_unreachable" in done.stderr and "Traceback" not in done.stderr


def test_a_url_that_is_not_http_is_refused_at_start() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "watch", "--once", "--prometheus", "file:///etc"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--prometheus must be an http(s) base URL" in done.stderr
