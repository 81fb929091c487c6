"""What the benchmarks share: a private stack and fresh topic sets (the live ones), process
figures, the text table (forecast.py uses it too).

Each live benchmark (throughput.py, latency.py, memory.py) starts its own local stack
(``streams.stack.up(settings, with_workers=False)``: Kafka 4.0 in KRaft mode, Prometheus,
Alertmanager, the alert sink) on free loopback ports (``streams.stack.ports``) in a temporary state
directory, runs real ``surge-monitor worker`` processes against it and always stops it. The
directory is deleted after a successful run and kept (its path logged) after a failure.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from streams.contract.config import load_settings
from streams.contract.settings import Settings
from streams.stack.ports import free_port_range

log = structlog.get_logger("benchmarks.common")

START = datetime(2024, 3, 6, tzinfo=ZoneInfo("Europe/London"))  # a Wednesday, no DST change
SATURDAY = datetime(2024, 3, 9, tzinfo=ZoneInfo("Europe/London"))  # the weekend after START
SESSION_TIMEOUT_SECONDS = 10.0  # as the tests: the group join waits about half of it


# ---- the private stack ---------------------------------------------------------------------------


def bench_settings(state_dir: Path, workers: int, tag: str) -> Settings:
    """A private stack on free ports (as tests/conftest.py's base_settings), topics of this run."""
    kafka_port = free_port_range()
    return load_settings(
        {},
        state_dir=str(state_dir),
        kafka_broker=f"kafka://127.0.0.1:{kafka_port}",
        kafka_port=kafka_port,
        kafka_controller_port=free_port_range(),
        prometheus_port=free_port_range(),
        alertmanager_port=free_port_range(),
        alert_sink_port=free_port_range(),
        metrics_port=free_port_range(workers),
        workers=workers,
        session_timeout_seconds=SESSION_TIMEOUT_SECONDS,
        app_id=f"bench-{tag}",
        topic_calls=f"bench-calls-{tag}",
        topic_dispatches=f"bench-dispatches-{tag}",
        topic_alerts=f"bench-alerts-{tag}",
        topic_overflow=f"bench-overflow-{tag}",
        topic_dead_letter=f"bench-dead-letter-{tag}",
    )


def fresh_run(settings: Settings, run: str) -> Settings:
    """The same stack with a new app id and topic set: a worker that starts from nothing and
    reads only the events of this run."""
    from streams.stack import services

    suffix = f"{settings.app_id}-{run}"
    s = replace(
        settings,
        app_id=suffix,
        topic_calls=f"calls-{suffix}",
        topic_dispatches=f"dispatches-{suffix}",
        topic_alerts=f"alerts-{suffix}",
        topic_overflow=f"overflow-{suffix}",
        topic_dead_letter=f"dead-letter-{suffix}",
    )
    services.create_topics(s)
    return s


@contextlib.contextmanager
def private_stack(prefix: str, workers: int, tag: str) -> Iterator[Settings]:
    """Kafka, Prometheus, Alertmanager and the alert sink of this run (no workers), stopped on the
    way out whatever happens; the state directory is kept only if the body failed."""
    from streams.stack import launcher, services

    state = Path(tempfile.mkdtemp(prefix=prefix))
    settings = bench_settings(state, workers, tag)
    ok = False
    try:
        launcher.up(settings, with_workers=False)
        services.create_topics(settings)
        yield settings
        ok = True
    finally:
        with contextlib.suppress(Exception):
            launcher.down(settings)
        if ok:
            shutil.rmtree(state, ignore_errors=True)
        else:
            log.warning("state_kept", state_dir=str(state), hint="logs in <state_dir>/logs")


# ---- processes -----------------------------------------------------------------------------------


def proc_status_mb(pid: int, field: str) -> float:
    """A memory line of /proc/<pid>/status (VmRSS now, VmHWM peak) in MB; NaN if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return math.nan


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, in MB; NaN if it cannot be read."""
    return proc_status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """VmRSS (resident set now) of a live process, in MB; NaN if it cannot be read."""
    return proc_status_mb(pid, "VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat); NaN if unreadable.
    On a machine shared with other work, events per CPU second moves less than events/s."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[-1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat.rsplit(") ", 1)[-1].startswith("Z")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- /metrics ------------------------------------------------------------------------------------


def scrape(url: str, name: str) -> list[tuple[dict[str, str], float]] | None:
    """The samples (labels, value) of metric `name` on a worker's /metrics; None if the endpoint
    does not answer (yet). Only that metric's lines are parsed: the page carries every region's
    figures."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback URL we build)
            text = resp.read().decode()
    except OSError:
        return None
    lines = "\n".join(x for x in text.splitlines() if x.startswith((name + "{", name + " ")))
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(lines + "\n")
        for s in family.samples
    ]


# ---- report --------------------------------------------------------------------------------------


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])
