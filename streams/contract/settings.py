"""All configuration as one frozen dataclass: field `x` is read from `SURGE_X` and validated by
streams.contract.config. Every setting has a default that runs the local stack on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from detectors.windows import WindowConfig

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
    topic_agent_states: str = "nhs111.agent-states"  # co-partitioned with the call events
    topic_rota: str = "nhs111.rota"  # compacted: the latest RotaInterval per key
    session_timeout_seconds: float = 30.0
    # Kafka client security (streams/contract/kafka_security.py); secrets never in repr or logs
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
    # An agent with no state event for this long (event time) counts as logged out, and stale
    agent_stale_seconds: float = 7200.0
    # Callers' mean patience for Erlang A's required handlers; 0 = unknown (Erlang C)
    caller_patience_seconds: float = 300.0
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
    # Overflow routing: the operators' HTTP API (streams.overflow.api)
    overflow_api_port: int = 8088
    overflow_token: str = field(default="", repr=False)

    @property
    def bootstrap_servers(self) -> str:
        """host:port list for kafka-python and aiokafka (Faust's URL without its scheme)."""
        return ",".join(urlsplit(u).netloc or u for u in self.kafka_broker.split(";"))

    def worker_metrics_ports(self) -> list[int]:
        return [self.metrics_port + i for i in range(self.workers)]


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
