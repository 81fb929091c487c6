"""`surge-monitor stack up | status | down` through the real command, and `demo` end to end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

from streams.contract.config import load_settings
from streams.stack.ports import free_port, free_port_range
from tests.harness import poll, prom_vector


def stack_env(state: Path, workers: int) -> dict[str, str]:
    kafka = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    env.update(
        {
            "SURGE_STATE_DIR": str(state),
            "SURGE_KAFKA_BROKER": f"kafka://127.0.0.1:{kafka}",
            "SURGE_KAFKA_PORT": str(kafka),
            "SURGE_KAFKA_CONTROLLER_PORT": str(free_port()),
            "SURGE_PROMETHEUS_PORT": str(free_port()),
            "SURGE_ALERTMANAGER_PORT": str(free_port()),
            "SURGE_ALERT_SINK_PORT": str(free_port()),
            "SURGE_METRICS_PORT": str(free_port_range(workers)),
            "SURGE_SCRAPE_INTERVAL_SECONDS": "1",
            "SURGE_SESSION_TIMEOUT_SECONDS": "10",
            "SURGE_LOG_FORMAT": "json",
        }
    )
    return env


def cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def project_processes(state: Path) -> list[int]:
    """Processes whose command line or environment mentions this stack's state folder."""
    marker = str(state).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if (
                marker in (proc / "cmdline").read_bytes()
                or marker in (proc / "environ").read_bytes()
            ):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_stack_up_status_down_leaves_nothing_running(tmp_path: Path) -> None:
    """stack up starts every service healthy, status says so, down leaves no process behind."""
    env = stack_env(tmp_path / "stack", workers=2)
    up = cli(env, "stack", "up", "--workers", "2")
    assert up.returncode == 0, up.stderr[-3000:]
    try:
        status = cli(env, "stack", "status", "--workers", "2")
        assert status.returncode == 0, status.stderr[-3000:]
        for name in ("kafka", "prometheus", "alertmanager", "alert-sink", "worker-0", "worker-1"):
            assert f'"service": "{name}"' in status.stderr
        assert '"healthy": false' not in status.stderr
        assert len(project_processes(tmp_path / "stack")) >= 6
    finally:
        down = cli(env, "stack", "down")
    assert down.returncode == 0, down.stderr[-3000:]
    assert project_processes(tmp_path / "stack") == []
    after = cli(env, "stack", "status")
    assert after.returncode == 1


def test_stack_up_reports_a_taken_port_and_starts_nothing(tmp_path: Path) -> None:
    """A taken Prometheus port fails `stack up` with exit 2, a clear message, and nothing left."""
    env = stack_env(tmp_path / "stack", workers=1)

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["SURGE_PROMETHEUS_PORT"])))
        blocker.listen()
        up = cli(env, "stack", "up")
    assert up.returncode == 2
    assert "SURGE_PROMETHEUS_PORT" in up.stderr
    assert f"port {env['SURGE_PROMETHEUS_PORT']} for Prometheus is taken" in up.stderr
    assert project_processes(tmp_path / "stack") == []


def test_demo_shows_calls_and_staffing_in_prometheus_and_stops_clean(tmp_path: Path) -> None:
    """`surge-monitor demo`: calls counted in Prometheus within 2 min, agent states and the rota
    too; SIGINT stops everything."""
    state = tmp_path / "demo"
    env = stack_env(state, workers=2)
    settings = load_settings(env)
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "demo", "--speed", "600"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "demo.log").open("wb"),
    )
    try:
        total = poll(
            lambda: prom_vector(settings, "sum(surge_calls_total)"),
            lambda v: v.get((), 0) > 0,
            timeout_s=120,
            interval_s=1,
        )
        assert total.get((), 0) > 0, (tmp_path / "demo.log").read_text()[-3000:]
        assert time.monotonic() - started < 120
        # The demo plays the handlers' states and the rota too: the staffing panels have data.
        staffing = "count({__name__=~'surge_agents|surge_agents_rostered'}) by (__name__)"
        names = poll(
            lambda: prom_vector(settings, staffing, "__name__"),
            lambda v: len(v) == 2,
            timeout_s=90,
            interval_s=1,
        )
        assert set(names) == {("surge_agents",), ("surge_agents_rostered",)}
        # The rules are scaled to the speed: north-west's service-level page arrives in about
        # a minute of wall time (production's `for:` alone would take 30), and the demo says so.
        log_text = poll(
            (tmp_path / "demo.log").read_text,
            lambda text: _paged_line(text, "north-west") is not None,
            timeout_s=150,
            interval_s=1,
        )
        line = _paged_line(log_text, "north-west")
        assert line is not None, log_text[-3000:]
        assert 0 < line["seconds_after_start"] < 300
        assert line["event_minutes_after_failure"] > 0  # the failure at 09:00 comes first
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=120)
    assert demo.returncode == 0
    assert "demo_summary" in (tmp_path / "demo.log").read_text()
    assert poll(lambda: project_processes(state), lambda p: p == [], timeout_s=30) == []


def _paged_line(text: str, region: str) -> dict[str, Any] | None:
    """The demo's `demo_paged` log event for ServiceLevelBelowStandard in `region`, if any."""
    for raw in text.splitlines():
        if '"demo_paged"' not in raw:
            continue
        doc = json.loads(raw)
        if doc.get("alert") == "ServiceLevelBelowStandard" and doc.get("region") == region:
            return cast(dict[str, Any], doc)
    return None
