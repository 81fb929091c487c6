"""The local stack: Kafka (KRaft), Prometheus, Alertmanager, an alert sink, N workers on loopback.

Every service is started detached (its own session) with its output in `<state_dir>/logs/<name>.log`
and its pid in `<state_dir>/pids/<name>.pid`, and is waited on through a real health check (Kafka's
metadata, Prometheus' and Alertmanager's `/-/ready`, a worker's `/metrics`), never a sleep. What
fails
says what to do: a port already taken, Java or Prometheus missing, a health check that timed out
(with the last lines of that service's log).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

import structlog
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.contract import alert_rules
from streams.contract.errors import StackError
from streams.contract.kafka_security import client_kwargs
from streams.contract.settings import Settings, settings_env
from streams.contract.thresholds import THRESHOLDS, accelerated
from streams.contract.topics import design_topics

log = structlog.get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT_ROOT / "deploy"
KAFKA_JARS = DEPLOY / "kafka" / "target" / "dependency"
SERVICE_ORDER = ("kafka", "alertmanager", "alert-sink", "prometheus")


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


# ---- prerequisites -------------------------------------------------------------------------------


def require_tools() -> None:
    """Fail before starting anything if a tool the stack needs is missing."""
    if shutil.which("java") is None:
        raise StackError(
            "java not found on PATH: install a JDK 17+ (apt-get install openjdk-17-jre-headless)"
        )
    for tool in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(tool) is None:
            raise StackError(
                f"{tool} not found on PATH: run `make setup` (installs Debian's package)"
            )
    if not any(KAFKA_JARS.glob("kafka_2.13-*.jar")):
        raise StackError(
            f"Kafka jars missing in {KAFKA_JARS}: run `make setup` "
            "(mvn -q -f deploy/kafka/pom.xml dependency:copy-dependencies)"
        )


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


# ---- processes -----------------------------------------------------------------------------------


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


# ---- Kafka ---------------------------------------------------------------------------------------


def _render(template: Path, dest: Path, **values: object) -> Path:
    text = template.read_text(encoding="utf-8")
    if template.suffix == ".properties":
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
    else:
        text = Template(text).substitute({k: str(v) for k, v in values.items()})
    dest.write_text(text, encoding="utf-8")
    return dest


def start_kafka(
    settings: Settings,
    paths: StackPaths,
    extra_properties: Mapping[str, str] | None = None,
    format_args: Sequence[str] = (),
) -> None:
    """Format (first time) and start the broker, then wait until `settings`' clients reach it.

    `extra_properties` replace or add lines of the rendered server.properties (a SASL_SSL
    listener, say) and `format_args` go to the storage format (`--add-scram ...` creates SCRAM
    users before the first start); without them the broker is the plaintext loopback default.
    """
    require_free_port(settings.kafka_port, "Kafka", "SURGE_KAFKA_PORT")
    require_free_port(
        settings.kafka_controller_port, "the Kafka controller", "SURGE_KAFKA_CONTROLLER_PORT"
    )
    data = paths.data("kafka")
    data.mkdir(parents=True, exist_ok=True)
    props = _render(
        DEPLOY / "kafka" / "server.properties",
        paths.conf / "server.properties",
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        data_dir=data,
    )
    if extra_properties:
        set_properties(props, extra_properties)
    java = ["java", "-Xms256m", "-Xmx1g", "-cp", f"{KAFKA_JARS}/*"]
    if not (data / "meta.properties").exists():
        cluster_id = new_cluster_id()
        storage = [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)]
        fmt = subprocess.run(
            [*storage, *format_args],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise StackError(
                f"formatting Kafka storage in {data} failed:\n{fmt.stdout}{fmt.stderr}"
            )
        log.info("kafka_storage_formatted", data_dir=str(data), cluster_id=cluster_id)
    log4j = f"-Dlog4j2.configurationFile={DEPLOY / 'kafka' / 'log4j2.yaml'}"
    _spawn(paths, "kafka", [*java, log4j, "kafka.Kafka", str(props)])
    _wait_healthy(paths, "kafka", lambda: kafka_ready(settings), timeout_s=90)


def set_properties(path: Path, values: Mapping[str, str]) -> None:
    """Replace the `key=value` lines of a .properties file whose key is in `values`; append the
    others."""
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0].strip()
        setting = "=" in line and not line.lstrip().startswith("#")
        lines.append(f"{key}={values[key]}" if setting and key in values else line)
    present = {line.split("=", 1)[0] for line in lines}
    lines += [f"{key}={value}" for key, value in values.items() if key not in present]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def new_cluster_id() -> str:
    """A KRaft cluster id (base64url of 16 random bytes). Like Kafka's own Uuid.randomUuid, never
    one starting with '-': the storage tool's argument parser would read it as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_ready(settings: Settings) -> bool:
    host, _, port = settings.bootstrap_servers.split(",")[0].rpartition(":")
    if not port_open(host, int(port)):
        return False  # not listening yet: skip the admin client and its connection-error logs
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            request_timeout_ms=3000,
            **client_kwargs(settings),
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def create_topics(settings: Settings) -> None:
    """Create the design's topics with their partition counts; existing ones are left alone."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **client_kwargs(settings)
    )
    try:
        existing = set(admin.list_topics())
        for spec in design_topics(settings):
            if spec.name in existing:
                continue
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent creator won
                admin.create_topics([NewTopic(spec.name, spec.partitions, 1)])
            log.info("topic_created", topic=spec.name, partitions=spec.partitions)
    finally:
        admin.close()


# ---- Prometheus, Alertmanager, alert sink ----------------------------------------------------


def start_alertmanager(settings: Settings, paths: StackPaths) -> None:
    require_free_port(settings.alertmanager_port, "Alertmanager", "SURGE_ALERTMANAGER_PORT")
    conf = _render(
        DEPLOY / "alertmanager" / "alertmanager.yml",
        paths.conf / "alertmanager.yml",
        webhook_url=f"http://127.0.0.1:{settings.alert_sink_port}/alerts",
        group_wait="10s",
        group_interval="1m",
    )
    data = paths.data("alertmanager")
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        "prometheus-alertmanager",
        f"--config.file={conf}",
        f"--web.listen-address=127.0.0.1:{settings.alertmanager_port}",
        f"--storage.path={data}",
        "--cluster.listen-address=",  # no gossip port: a single local Alertmanager
    ]
    _spawn(paths, "alertmanager", argv)
    url = f"http://127.0.0.1:{settings.alertmanager_port}/-/ready"
    _wait_healthy(paths, "alertmanager", lambda: http_ok(url), timeout_s=30)


def start_alert_sink(settings: Settings, paths: StackPaths) -> None:
    require_free_port(settings.alert_sink_port, "the alert sink", "SURGE_ALERT_SINK_PORT")
    argv = [
        sys.executable,
        "-m",
        "streams.cli",
        "alert-sink",
        "--port",
        str(settings.alert_sink_port),
        "--out",
        str(paths.logs / "alerts.jsonl"),
    ]
    _spawn(paths, "alert-sink", argv, env={"PYTHONPATH": str(PROJECT_ROOT)})
    url = f"http://127.0.0.1:{settings.alert_sink_port}/-/ready"
    _wait_healthy(paths, "alert-sink", lambda: http_ok(url), timeout_s=20)


def start_prometheus(settings: Settings, paths: StackPaths) -> None:
    require_free_port(settings.prometheus_port, "Prometheus", "SURGE_PROMETHEUS_PORT")
    targets = ", ".join(f'"127.0.0.1:{p}"' for p in settings.worker_metrics_ports())
    rules_dir = DEPLOY / "prometheus" / "rules"
    if settings.rule_for_scale != 1:
        # Same rules, shorter `for:`, rendered from the one source (streams.contract.alert_rules):
        # no `for:` under two evaluation intervals (evaluation_interval = the scrape interval).
        rules_dir = paths.conf / "rules"
        rules_dir.mkdir(exist_ok=True)
        thresholds = accelerated(
            THRESHOLDS,
            settings.rule_for_scale,
            min_for_seconds=2 * settings.scrape_interval_seconds,
        )
        rules = alert_rules.build_alerts(thresholds)
        (rules_dir / "surge.yml").write_text(alert_rules.render(rules), encoding="utf-8")
    conf = _render(
        DEPLOY / "prometheus" / "prometheus.yml",
        paths.conf / "prometheus.yml",
        scrape_interval=f"{settings.scrape_interval_seconds:g}s",
        rules_dir=rules_dir,
        alertmanager_port=settings.alertmanager_port,
        prometheus_port=settings.prometheus_port,
        worker_targets=targets,
    )
    data = paths.data("prometheus")
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        "prometheus",
        f"--config.file={conf}",
        f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
        f"--storage.tsdb.path={data}",
        "--web.enable-lifecycle",
    ]
    _spawn(paths, "prometheus", argv)
    url = f"http://127.0.0.1:{settings.prometheus_port}/-/ready"
    _wait_healthy(paths, "prometheus", lambda: http_ok(url), timeout_s=60)


# ---- workers -------------------------------------------------------------------------------------


def worker_name(index: int) -> str:
    return f"worker-{index}"


def start_worker(settings: Settings, paths: StackPaths, index: int, wait: bool = True) -> None:
    port = settings.metrics_port + index
    require_free_port(port, f"worker {index}'s /metrics", "SURGE_METRICS_PORT")
    env = {**settings_env(settings), "SURGE_METRICS_PORT": str(port), "SURGE_LOG_FORMAT": "json"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    _spawn(paths, worker_name(index), [sys.executable, "-m", "streams.cli", "worker"], env=env)
    if wait:
        url = f"http://127.0.0.1:{port}/metrics"
        _wait_healthy(paths, worker_name(index), lambda: http_ok(url), timeout_s=60)


# ---- the whole stack -----------------------------------------------------------------------------


def up(settings: Settings, with_workers: bool = True) -> StackPaths:
    """Start every service that is not already running, in dependency order."""
    require_tools()
    paths = stack_paths(settings)
    paths.make()
    starters: dict[str, Callable[[Settings, StackPaths], None]] = {
        "kafka": start_kafka,
        "alertmanager": start_alertmanager,
        "alert-sink": start_alert_sink,
        "prometheus": start_prometheus,
    }
    try:
        for name in SERVICE_ORDER:
            pid = read_pid(paths, name)
            if pid is not None and _alive(pid):
                log.info("service_already_running", service=name, pid=pid)
                continue
            starters[name](settings, paths)
            if name == "kafka":
                create_topics(settings)
        if with_workers:
            for i in range(settings.workers):
                pid = read_pid(paths, worker_name(i))
                if pid is None or not _alive(pid):
                    start_worker(settings, paths, i)
    except BaseException:
        log.error("stack_up_failed", hint="stopping what was started; logs in " + str(paths.logs))
        down(settings)
        raise
    return paths


def down(settings: Settings) -> list[str]:
    """Stop workers first (they commit offsets on a clean stop), then the services."""
    paths = stack_paths(settings)
    if not paths.pids.exists():
        return []
    stopped = []
    workers = sorted(p.stem for p in paths.pids.glob("worker-*.pid"))
    for name in [*workers, *reversed(SERVICE_ORDER)]:
        if stop_service(paths, name):
            stopped.append(name)
    return stopped


def status(settings: Settings) -> list[ServiceStatus]:
    paths = stack_paths(settings)
    checks: dict[str, tuple[str, Callable[[], bool]]] = {
        "kafka": (settings.kafka_broker, lambda: kafka_ready(settings)),
        "alertmanager": (
            f"http://127.0.0.1:{settings.alertmanager_port}",
            lambda: http_ok(f"http://127.0.0.1:{settings.alertmanager_port}/-/ready"),
        ),
        "alert-sink": (
            f"http://127.0.0.1:{settings.alert_sink_port}/alerts",
            lambda: http_ok(f"http://127.0.0.1:{settings.alert_sink_port}/-/ready"),
        ),
        "prometheus": (
            f"http://127.0.0.1:{settings.prometheus_port}",
            lambda: http_ok(f"http://127.0.0.1:{settings.prometheus_port}/-/ready"),
        ),
    }
    names = list(SERVICE_ORDER)
    if paths.pids.exists():
        names += sorted(p.stem for p in paths.pids.glob("worker-*.pid"))
    out = []
    for name in names:
        if name in checks:
            url, check = checks[name]
        else:
            port = settings.metrics_port + int(name.split("-")[1])
            url = f"http://127.0.0.1:{port}/metrics"
            check = _metrics_check(url)
        pid = read_pid(paths, name)
        running = pid is not None and _alive(pid)
        out.append(ServiceStatus(name, pid, running, running and check(), url))
    return out


def _metrics_check(url: str) -> Callable[[], bool]:
    return lambda: http_ok(url)
