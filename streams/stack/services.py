"""Each service of the local stack started and health-checked: Kafka (KRaft, from the jars of
deploy/kafka/pom.xml), Alertmanager, the alert sink, Prometheus with the rules, and the workers."""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
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
from streams.stack.processes import (
    StackPaths,
    _spawn,
    _wait_healthy,
    http_ok,
    port_open,
    require_free_port,
)

log = structlog.get_logger(__name__)


PROJECT_ROOT = Path(__file__).resolve().parents[2]


DEPLOY = PROJECT_ROOT / "deploy"


KAFKA_JARS = DEPLOY / "kafka" / "target" / "dependency"


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
                configs = {"cleanup.policy": "compact"} if spec.compacted else {}
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, 1, topic_configs=configs)]
                )
            log.info("topic_created", topic=spec.name, partitions=spec.partitions)
    finally:
        admin.close()


def _grouping(scale: float) -> dict[str, str]:
    """Alertmanager's waits: shorter than production's (30 s, 5 m: deploy/README.md) on the local
    stack, and production's scaled like the rules' `for:` when scenarios play faster than real
    time, so a page that joins a region's group is not held for hours of event time."""
    if scale == 1:
        return {"group_wait": "10s", "group_interval": "1m"}
    return {
        "group_wait": f"{max(1, round(30 * scale))}s",
        "group_interval": f"{max(1, round(300 * scale))}s",
    }


def start_alertmanager(settings: Settings, paths: StackPaths) -> None:
    require_free_port(settings.alertmanager_port, "Alertmanager", "SURGE_ALERTMANAGER_PORT")
    conf = _render(
        DEPLOY / "alertmanager" / "alertmanager.yml",
        paths.conf / "alertmanager.yml",
        webhook_url=f"http://127.0.0.1:{settings.alert_sink_port}/alerts",
        **_grouping(settings.rule_for_scale),
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
        # Same rules, shorter `for:` and event-counting windows, rendered from the one source
        # (streams.contract.alert_rules): no `for:` under two evaluation intervals
        # (evaluation_interval = the scrape interval), no window under four scrapes.
        rules_dir = paths.conf / "rules"
        rules_dir.mkdir(exist_ok=True)
        thresholds = accelerated(
            THRESHOLDS,
            settings.rule_for_scale,
            min_for_seconds=2 * settings.scrape_interval_seconds,
            min_window_seconds=4 * settings.scrape_interval_seconds,
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
