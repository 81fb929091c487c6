"""The stack's processes: where their logs, pids and data live, starting one detached, reading its
pid, stopping it, and waiting on a health check with a deadline (never a sleep)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from streams.contract.errors import StackError
from streams.contract.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StackPaths:
    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    def data(self, service: str) -> Path:
        return self.root / "data" / service

    def log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def pid(self, service: str) -> Path:
        return self.pids / f"{service}.pid"

    def make(self) -> None:
        for d in (self.logs, self.pids, self.conf):
            d.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    url: str


def stack_paths(settings: Settings) -> StackPaths:
    return StackPaths(Path(settings.state_dir).resolve())


def require_free_port(port: int, what: str, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers themselves do: connections of a stopped server in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise StackError(
                f"port {port} for {what} is taken on 127.0.0.1: stop what uses it "
                f"(`ss -ltnp 'sport = :{port}'`), run `surge-monitor stack down`, or set {setting}"
            ) from None


def _spawn(paths: StackPaths, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    with paths.log(name).open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            cwd=paths.root,
        )
    _CHILDREN[proc.pid] = proc
    paths.pid(name).write_text(str(proc.pid))
    log.info("service_started", service=name, pid=proc.pid, log=str(paths.log(name)))
    return proc.pid


# Popen objects of the processes this Python process started, so they are reaped (no zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def read_pid(paths: StackPaths, name: str) -> int | None:
    try:
        return int(paths.pid(name).read_text().strip())
    except (OSError, ValueError):
        return None


def stop_service(
    paths: StackPaths, name: str, sig: int = signal.SIGTERM, timeout_s: float = 30
) -> bool:
    """Signal a service's whole process group and wait for it to go; SIGKILL after `timeout_s`."""
    pid = read_pid(paths, name)
    if pid is None:
        return False
    if _alive(pid):
        _signal_group(pid, sig)
        if not wait_for(lambda: not _alive(pid), timeout_s, interval_s=0.1):
            log.warning("service_kill", service=name, pid=pid, after_seconds=timeout_s)
            _signal_group(pid, signal.SIGKILL)
            wait_for(lambda: not _alive(pid), 10, interval_s=0.1)
    paths.pid(name).unlink(missing_ok=True)
    _CHILDREN.pop(pid, None)
    log.info("service_stopped", service=name, pid=pid)
    return True


def kill_service(paths: StackPaths, name: str) -> None:
    """kill -9, for fault tests: no shutdown hooks run, no offsets are committed on the way out."""
    pid = read_pid(paths, name)
    if pid is None:
        raise StackError(f"{name} is not running (no pid file)")
    _signal_group(pid, signal.SIGKILL)
    wait_for(lambda: not _alive(pid), 10, interval_s=0.05)
    paths.pid(name).unlink(missing_ok=True)
    _CHILDREN.pop(pid, None)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def wait_for(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.25) -> bool:
    """Poll `condition` until it holds or the deadline passes; True if it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def _wait_healthy(
    paths: StackPaths, name: str, check: Callable[[], bool], timeout_s: float
) -> None:
    pid = read_pid(paths, name)

    def ready() -> bool:
        if pid is not None and not _alive(pid):
            raise StackError(
                f"{name} exited during start-up; its log ends:\n{tail(paths.log(name))}"
            )
        return check()

    if not wait_for(ready, timeout_s):
        raise StackError(
            f"{name} did not become healthy within {timeout_s:.0f}s; its log ends:\n"
            f"{tail(paths.log(name))}"
        )
    log.info("service_healthy", service=name)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (loopback URLs we build)
            status: int = resp.status
            return 200 <= status < 300
    except OSError:
        return False
