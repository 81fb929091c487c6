"""The launcher's start-up checks say what is wrong before anything starts."""

from __future__ import annotations

import shutil
import socket

import pytest

from streams.contract.errors import StackError
from streams.stack import processes, services


def test_a_taken_port_is_reported_with_the_setting_to_change() -> None:
    """A port in use stops the launcher with the port, the service and the setting."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(StackError, match=rf"port {port} for Prometheus.*SURGE_PROMETHEUS_PORT"):
            processes.require_free_port(port, "Prometheus", "SURGE_PROMETHEUS_PORT")


def test_missing_java_is_reported_with_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """No java on PATH: the launcher says which package to install."""
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "java" else "/x")
    with pytest.raises(StackError, match=r"java not found.*openjdk"):
        services.require_tools()


def test_missing_prometheus_points_at_make_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """No prometheus binary: the launcher points at `make setup`."""
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "prometheus" else "/x")
    with pytest.raises(StackError, match=r"prometheus not found.*make setup"):
        services.require_tools()


def test_wait_for_polls_until_the_condition_or_the_deadline() -> None:
    """wait_for returns True once the condition holds and False at the deadline."""
    calls = iter([False, False, True])
    assert processes.wait_for(lambda: next(calls), timeout_s=5, interval_s=0.01)
    assert not processes.wait_for(lambda: False, timeout_s=0.05, interval_s=0.01)


def test_kafka_cluster_ids_never_start_with_a_dash() -> None:
    """A cluster id starting with '-' would be read as an option by the storage tool."""
    ids = [services.new_cluster_id() for _ in range(2000)]
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids)
