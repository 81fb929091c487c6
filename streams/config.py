"""Settings from `SURGE_*` environment variables, validated at start-up.

Every setting has a default that runs the local stack on loopback. A typo in a variable name is an
error, not a silently ignored default: an operator who sets SURGE_KAFKA_BROKERS instead of
SURGE_KAFKA_BROKER must hear about it before the worker starts counting against the wrong broker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from detectors.windows import WindowConfig
from streams.errors import ConfigError
from streams.kafka_security import validate as validate_kafka_security

PREFIX = "SURGE_"
EVENT_LOOPS = ("uvloop", "asyncio")


@dataclass(frozen=True, slots=True)
class Settings:
    """All configuration; field `x` is read from `SURGE_X`."""

    # Kafka
    kafka_broker: str = "kafka://127.0.0.1:9092"
    app_id: str = "surge-monitor"
    topic_calls: str = "nhs111.call-events"
    topic_dispatches: str = "ambulance.dispatches"
    topic_alerts: str = "surge.alerts"
    topic_overflow: str = "surge.overflow"
    topic_dead_letter: str = "surge.dead-letter"
    session_timeout_seconds: float = 30.0
    # Kafka client security (streams/kafka_security.py); secrets never in repr or logs
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"  # SCRAM-SHA-256 | SCRAM-SHA-512 | PLAIN
    kafka_username: str = ""
    kafka_password: str = field(default="", repr=False)
    kafka_password_file: str = ""  # a mounted Secret; read when each client is created
    kafka_ca_file: str = ""  # PEM CA bundle; empty = the system trust store
    kafka_cert_file: str = ""  # client certificate (PEM), for brokers that require mutual TLS
    kafka_key_file: str = ""  # its unencrypted private key (PEM)
    # Worker
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108
    catalogue: str = ""
    log_level: str = "info"
    log_format: str = "auto"
    event_loop: str = "uvloop"  # uvloop | asyncio: the worker's event loop (benchmarks/README.md)
    # Event-time windows (DESIGN.md KPIs and Rolling windows)
    grace_seconds: float = 120.0
    retention_minutes: int = 90
    dedup_minutes: int = 30
    answer_target_seconds: float = 60.0
    abandon_threshold_seconds: float = 30.0
    open_call_limit_seconds: float = 14400.0
    referral_baseline: str = ""  # JSON of warm-start baselines (`surge-monitor baseline`)
    # Batching on the hot path: state is checkpointed once per batch, not once per event
    batch_max_events: int = 2000
    batch_seconds: float = 0.5
    # Local stack
    state_dir: str = ".surge"
    kafka_port: int = 9092
    kafka_controller_port: int = 9097
    prometheus_port: int = 9090
    alertmanager_port: int = 9093
    alert_sink_port: int = 9095
    scrape_interval_seconds: float = 5.0
    rule_for_scale: float = 1.0  # < 1 shortens every alert rule's `for:` (accelerated scenarios)
    workers: int = 1
    # Overflow routing: the operators' HTTP API (streams.overflow_api)
    overflow_api_port: int = 8088
    overflow_token: str = field(default="", repr=False)

    @property
    def bootstrap_servers(self) -> str:
        """host:port list for kafka-python and aiokafka (Faust's URL without its scheme)."""
        return ",".join(urlsplit(u).netloc or u for u in self.kafka_broker.split(";"))

    def worker_metrics_ports(self) -> list[int]:
        return [self.metrics_port + i for i in range(self.workers)]


_PORTS = ("metrics_port", "kafka_port", "kafka_controller_port", "prometheus_port")
_PORTS_MORE = ("alertmanager_port", "alert_sink_port", "overflow_api_port")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (default: os.environ), then `overrides`, then validation."""
    env = os.environ if environ is None else environ
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :].lower()
        if name not in known:
            raise ConfigError(
                f"unknown setting {key}; known settings: "
                + ", ".join(PREFIX + n.upper() for n in sorted(known))
            )
        values[name] = _convert(key, raw, type(getattr(Settings(), name)))
    values.update(overrides)
    settings = Settings(**values)
    _validate(settings)
    return settings


def _convert(key: str, raw: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a valid {kind.__name__}") from None


def _validate(s: Settings) -> None:
    _validate_connections(s)
    validate_kafka_security(s)
    if s.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"SURGE_LOG_LEVEL={s.log_level!r}: use debug, info, warning or error")
    if s.log_format not in ("auto", "json", "console"):
        raise ConfigError(f"SURGE_LOG_FORMAT={s.log_format!r}: use auto, json or console")
    if s.event_loop not in EVENT_LOOPS:
        raise ConfigError(f"SURGE_EVENT_LOOP={s.event_loop!r}: use {' or '.join(EVENT_LOOPS)}")
    if s.scrape_interval_seconds <= 0:
        raise ConfigError("SURGE_SCRAPE_INTERVAL_SECONDS must be > 0")
    if not 0 < s.rule_for_scale <= 1:
        raise ConfigError("SURGE_RULE_FOR_SCALE must be in (0, 1]; 1 in production")
    if s.batch_max_events < 1 or s.batch_seconds <= 0:
        raise ConfigError("SURGE_BATCH_MAX_EVENTS must be >= 1 and SURGE_BATCH_SECONDS > 0")
    try:
        window_config(s)
    except ValueError as exc:
        raise ConfigError(f"window settings (SURGE_GRACE_SECONDS, ...): {exc}") from exc
    if not 1 <= s.workers <= 16:
        raise ConfigError(f"SURGE_WORKERS={s.workers}: use 1 to 16 workers")
    if s.referral_baseline and not Path(s.referral_baseline).is_file():
        raise ConfigError(f"SURGE_REFERRAL_BASELINE={s.referral_baseline!r} is not a file")
    if s.catalogue and not Path(s.catalogue).is_file():
        raise ConfigError(f"SURGE_CATALOGUE={s.catalogue!r} is not a file")


def _validate_connections(s: Settings) -> None:
    for url in s.kafka_broker.split(";"):
        parts = urlsplit(url)
        if parts.scheme != "kafka" or not parts.hostname or not parts.port:
            raise ConfigError(
                f"SURGE_KAFKA_BROKER={s.kafka_broker!r}: each broker must look like "
                "kafka://host:port (several separated by ';')"
            )
    for name in (*_PORTS, *_PORTS_MORE):
        port = getattr(s, name)
        if not 1 <= port <= 65535:
            raise ConfigError(f"SURGE_{name.upper()}={port} is not a TCP port (1-65535)")
    if s.session_timeout_seconds < 6:
        raise ConfigError("SURGE_SESSION_TIMEOUT_SECONDS must be at least 6 (Kafka's minimum)")
    topics = [s.topic_calls, s.topic_dispatches, s.topic_alerts, s.topic_overflow]
    if len({*topics, s.topic_dead_letter}) != 5:
        raise ConfigError("SURGE_TOPIC_* names must all differ")


def window_config(s: Settings) -> WindowConfig:
    return WindowConfig(
        grace_seconds=s.grace_seconds,
        retention_minutes=s.retention_minutes,
        dedup_minutes=s.dedup_minutes,
        answer_target_seconds=s.answer_target_seconds,
        abandon_threshold_seconds=s.abandon_threshold_seconds,
        open_call_limit_seconds=s.open_call_limit_seconds,
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as `SURGE_*` variables, to hand the same configuration to child processes."""
    return {PREFIX + f.name.upper(): str(getattr(settings, f.name)) for f in fields(Settings)}
