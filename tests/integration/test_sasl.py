"""Kafka client security against a real broker that only speaks SASL_SSL (SCRAM-SHA-512).

This module starts its own second broker (the session broker of tests/conftest.py stays
PLAINTEXT): a throwaway CA and broker certificate made with openssl, the SCRAM users created when
the storage is formatted, the client listener SASL_SSL on 127.0.0.1, the controller listener
PLAINTEXT on 127.0.0.1. A worker and the project's producer reach it through the SURGE_KAFKA_*
settings alone; a wrong password, a PLAINTEXT client and a client that does not trust the CA are
turned away.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from streams.contract.catalogue import default_catalogue
from streams.contract.config import load_settings
from streams.contract.errors import StackError
from streams.contract.kafka_security import client_kwargs, explained
from streams.contract.settings import Settings, settings_env
from streams.simulate import generator, play, scenarios
from streams.simulate.truth import Emitted, ground_truth
from streams.stack import processes, services
from streams.stack.ports import free_port
from tests.harness import poll, read_topic
from tests.tls import make_tls

USER = "surge"
BROKER_USER = "broker"  # the broker's own SCRAM identity on its inter-broker (SASL_SSL) listener
MECHANISM = "SCRAM-SHA-512"
GOOD_FRIDAY_2013_08Z = 1364544000.0

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def broker_properties(
    settings: Settings, ca: Path, keystore: Path, broker_password: str
) -> dict[str, str]:
    """server.properties lines that make the client listener SASL_SSL with SCRAM-SHA-512 only."""
    port, controller = settings.kafka_port, settings.kafka_controller_port
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{BROKER_USER}" password="{broker_password}";'
    )
    return {
        "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(ca),
    }


@pytest.fixture(scope="module")
def sasl_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A SASL_SSL-only broker on free loopback ports, and settings whose clients can use it."""
    root = tmp_path_factory.mktemp("sasl")
    ca, keystore = make_tls(root)
    password, broker_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    password_file = root / "kafka-password"  # as a Kubernetes Secret is mounted, newline and all
    password_file.write_text(password + "\n")
    kafka_port = free_port()
    settings = load_settings(
        {},
        state_dir=str(root / "stack"),
        kafka_broker=f"kafka://127.0.0.1:{kafka_port}",
        kafka_port=kafka_port,
        kafka_controller_port=free_port(),
        metrics_port=free_port(),
        session_timeout_seconds=10.0,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=MECHANISM,
        kafka_username=USER,
        kafka_password_file=str(password_file),
        kafka_ca_file=str(ca),
    )
    paths = processes.stack_paths(settings)
    paths.make()
    scram = [
        f"{MECHANISM}=[name={USER},password={password}]",
        f"{MECHANISM}=[name={BROKER_USER},password={broker_password}]",
    ]
    try:
        # start_kafka waits until an admin client with these settings lists topics over SASL_SSL.
        services.start_kafka(
            settings,
            paths,
            extra_properties=broker_properties(settings, ca, keystore, broker_password),
            format_args=[arg for user in scram for arg in ("--add-scram", user)],
        )
        services.create_topics(settings)
        yield settings
    finally:
        for pid_file in sorted(paths.pids.glob("worker-*.pid")):
            processes.stop_service(paths, pid_file.stem)
        processes.stop_service(paths, "kafka")


def configured_password(s: Settings) -> str:
    return Path(s.kafka_password_file).read_text().strip()


def scrape(settings: Settings, name: str, *labels: str) -> dict[tuple[str, ...], int]:
    """{label values: value} of one counter on the worker's /metrics (no Prometheus here)."""
    url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    return {
        tuple(s.labels.get(k, "") for k in labels): int(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and s.value > 0
    }


def expected_calls(events: list[Emitted]) -> dict[tuple[str, ...], int]:
    out: Counter[tuple[str, ...]] = Counter()
    for (region, provider, _, name), n in ground_truth(events).counts.items():
        if name in ("offered", "answered", "abandoned"):
            out[(region, provider, name)] += n
    return dict(out)


def test_worker_counts_a_scenario_produced_over_sasl_ssl_exactly(sasl_kafka: Settings) -> None:
    """A worker and the producer configured only by SURGE_KAFKA_* count every call exactly."""
    s = sasl_kafka
    events = generator.generate(
        scenarios.normal(GOOD_FRIDAY_2013_08Z, 1800), default_catalogue(), seed=6
    )
    calls = sum(1 for e in events if e.topic == "calls")
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    assert play.produce(events, s) == len(events)
    want = expected_calls(events)
    got = poll(
        lambda: scrape(s, "surge_calls_total", "region", "provider", "outcome"),
        lambda g: g == want,
        timeout_s=120,
        interval_s=1,
    )
    assert got == want, processes.tail(paths.log("worker-0"), 30)
    ok = scrape(s, "surge_events_total", "topic", "result")
    assert ok[(s.topic_calls, "ok")] == calls
    assert (s.topic_calls, "invalid") not in ok
    # Every record also reads back through the harness's consumer, over SASL_SSL too.
    assert len(read_topic(s, s.topic_calls, calls, timeout_s=60)) == calls
    log_text = paths.log("worker-0").read_text()
    assert '"kafka_security_protocol": "SASL_SSL"' in log_text
    assert configured_password(s) not in log_text


def test_a_worker_with_a_wrong_password_stops_and_says_why(
    sasl_kafka: Settings, tmp_path: Path
) -> None:
    """Wrong password: the worker exits 2 naming the credentials settings, never the password."""
    wrong = secrets.token_urlsafe(24)
    bad = replace(
        sasl_kafka,
        kafka_password_file="",
        kafka_password=wrong,
        metrics_port=free_port(),
        state_dir=str(tmp_path),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    env.update(settings_env(bad))
    env.update({"SURGE_LOG_FORMAT": "json", "PYTHONPATH": str(services.PROJECT_ROOT)})
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "refused the credentials of SURGE_KAFKA_USERNAME='surge'" in done.stderr
    assert "SURGE_KAFKA_PASSWORD" in done.stderr
    assert wrong not in done.stderr + done.stdout


def refusal(settings: Settings) -> str:
    """The StackError a kafka-python admin client with `settings` gets from the SASL_SSL port."""
    with pytest.raises(StackError) as caught, explained(settings):
        KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            bootstrap_timeout_ms=5000,
            **client_kwargs(settings),
        )
    return str(caught.value)


def test_a_plaintext_client_cannot_use_the_sasl_ssl_port(sasl_kafka: Settings) -> None:
    """A PLAINTEXT client gets no metadata from the SASL_SSL listener, and is told to check the
    protocol."""
    plaintext = load_settings({}, kafka_broker=sasl_kafka.kafka_broker)
    assert "SURGE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in refusal(plaintext)


def test_a_client_that_does_not_trust_the_broker_ca_is_refused(sasl_kafka: Settings) -> None:
    """Without the test CA (the system trust store only) the broker's certificate is refused."""
    assert "certificate is not trusted" in refusal(replace(sasl_kafka, kafka_ca_file=""))


def test_kafka_python_debug_logs_show_the_password_masked(
    sasl_kafka: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """kafka-python logs its whole configuration at DEBUG; the password in it reads ***."""
    with caplog.at_level(logging.DEBUG, logger="kafka"):
        assert services.kafka_ready(sasl_kafka)
    assert "Starting KafkaAdminClient with configuration" in caplog.text
    assert "'sasl_plain_password': '***'" in caplog.text
    assert configured_password(sasl_kafka) not in caplog.text
