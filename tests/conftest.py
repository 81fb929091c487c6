"""Fixtures: the real services on loopback (Kafka, Prometheus, Alertmanager, alert sink).

Every port is picked free at start, so a developer's running `make demo` does not collide with the
suite. Tests that need workers start them with `stack.start_worker` and stop them themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from streams.contract.config import load_settings
from streams.contract.logs import configure_logging
from streams.contract.settings import Settings
from streams.stack import launcher, processes
from streams.stack import services as stack_services
from streams.stack.ports import free_port, free_port_range

configure_logging("info", "console")


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    """Each test starts from the same logging set-up: a command run by one test (main() lowers
    the level to errors when it fails) must not hide another test's log events."""
    configure_logging("info", "console")
    yield
    configure_logging("info", "console")


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    state = tmp_path_factory.mktemp("surge-stack")
    kafka_port = free_port()
    return load_settings(
        {},
        state_dir=str(state),
        kafka_broker=f"kafka://127.0.0.1:{kafka_port}",
        kafka_port=kafka_port,
        kafka_controller_port=free_port(),
        prometheus_port=free_port(),
        alertmanager_port=free_port(),
        alert_sink_port=free_port(),
        metrics_port=free_port_range(4),
        workers=4,
        scrape_interval_seconds=1.0,
        session_timeout_seconds=10.0,
        # Scenarios play hours of event time in seconds (the launch day at speed 300): rules keep
        # their conditions, and a `for:` or an event-counting window lasts about as long in wall
        # time as it would in event time at that speed (30 min: 6 s), never under two
        # evaluations (2 s) or four scrapes (4 s; streams/stack/services.py).
        rule_for_scale=1 / 300,
    )


@pytest.fixture(scope="session")
def services(base_settings: Settings) -> Iterator[Settings]:
    """Kafka, Alertmanager, the alert sink and Prometheus, started once and stopped at the end."""
    launcher.up(base_settings, with_workers=False)
    try:
        yield base_settings
    finally:
        launcher.down(base_settings)


@pytest.fixture
def isolated(services: Settings) -> Iterator[Settings]:
    """This test's own app id and topics on the shared broker; its workers stopped after."""
    tag = uuid.uuid4().hex[:8]
    s = replace(
        services,
        app_id=f"surge-test-{tag}",
        topic_calls=f"calls-{tag}",
        topic_dispatches=f"dispatches-{tag}",
        topic_alerts=f"alerts-{tag}",
        topic_overflow=f"overflow-{tag}",
        topic_dead_letter=f"dead-letter-{tag}",
        topic_agent_states=f"agent-states-{tag}",
        topic_rota=f"rota-{tag}",
    )
    stack_services.create_topics(s)
    paths = processes.stack_paths(s)
    try:
        yield s
    finally:
        for pid_file in sorted(paths.pids.glob("worker-*.pid")):
            processes.stop_service(paths, pid_file.stem)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name in ("integration", "scenarios", "faults"):
            item.add_marker(pytest.mark.integration)
