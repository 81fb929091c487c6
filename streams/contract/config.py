"""Settings read from `SURGE_*` environment variables and validated at start-up (the fields and
their defaults: streams.contract.settings).

A typo in a variable name is an error, not a silently ignored default: an operator who sets
SURGE_KAFKA_BROKERS instead of SURGE_KAFKA_BROKER must hear about it before the worker starts
counting against the wrong broker."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streams.contract.errors import ConfigError
from streams.contract.kafka_security import validate as validate_kafka_security
from streams.contract.settings import (
    EVENT_LOOPS,
    PREFIX,
    Settings,
    window_config,
)

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
    if s.agent_stale_seconds <= 0:
        raise ConfigError("SURGE_AGENT_STALE_SECONDS must be > 0 (seconds of event time)")
    if s.caller_patience_seconds < 0:
        raise ConfigError("SURGE_CALLER_PATIENCE_SECONDS must be >= 0 (0: unknown, Erlang C)")
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
    topics += [s.topic_dead_letter, s.topic_agent_states, s.topic_rota]
    if len(set(topics)) != len(topics):
        raise ConfigError("SURGE_TOPIC_* names must all differ")
