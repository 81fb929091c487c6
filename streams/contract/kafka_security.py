"""Kafka client security from the `SURGE_KAFKA_*` settings: the one place every client gets it.

Faust (aiokafka) and kafka-python take the same four ideas under different shapes: a protocol
(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), a SASL mechanism with a username and password, and an
SSL context. Building both shapes here from one SSL context keeps every client of the project
(workers, producers, admin clients, checkpoint readers, health checks) on the same footing: a
client that silently spoke PLAINTEXT beside authenticated ones would be the hole.

The broker's certificate is always verified (CA bundle or the system store) with its host name
checked: there is deliberately no setting that turns verification off.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from kafka.errors import KafkaError

from streams.contract.errors import ConfigError, StackError

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

    from streams.contract.settings import Settings

log = structlog.get_logger(__name__)

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")


class Secret(str):
    """A password that prints as `***`: kafka-python logs its whole configuration at DEBUG (the
    admin client does), and a settings dict may end up in an error message. The characters are
    still there for the SASL exchange, which encodes or joins the string and never prints it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"

    def __str__(self) -> str:
        return "***"


def uses_tls(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def uses_sasl(settings: Settings) -> bool:
    return settings.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def validate(settings: Settings) -> None:
    """Refuse a security configuration that cannot work or does not do what it seems to."""
    s = settings
    if s.kafka_security_protocol not in PROTOCOLS:
        raise ConfigError(
            f"SURGE_KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol!r}: use one of "
            + ", ".join(PROTOCOLS)
        )
    if s.kafka_sasl_mechanism not in MECHANISMS:
        raise ConfigError(
            f"SURGE_KAFKA_SASL_MECHANISM={s.kafka_sasl_mechanism!r}: use one of "
            + ", ".join(MECHANISMS)
        )
    if uses_sasl(s):
        _validate_sasl(s)
    elif s.kafka_username or s.kafka_password or s.kafka_password_file:
        raise ConfigError(
            f"SURGE_KAFKA_USERNAME/PASSWORD are set but SURGE_KAFKA_SECURITY_PROTOCOL="
            f"{s.kafka_security_protocol} does not authenticate: use SASL_SSL (or unset them)"
        )
    tls_files = {
        "SURGE_KAFKA_CA_FILE": s.kafka_ca_file,
        "SURGE_KAFKA_CERT_FILE": s.kafka_cert_file,
        "SURGE_KAFKA_KEY_FILE": s.kafka_key_file,
    }
    if not uses_tls(s):
        given = [name for name, value in tls_files.items() if value]
        if given:
            raise ConfigError(
                f"{', '.join(given)} set but SURGE_KAFKA_SECURITY_PROTOCOL="
                f"{s.kafka_security_protocol} does not use TLS: use SASL_SSL or SSL"
            )
        return
    for name, value in tls_files.items():
        if value and not _readable(value):
            raise ConfigError(f"{name}={value!r} is not a readable file")
    if bool(s.kafka_cert_file) != bool(s.kafka_key_file):
        raise ConfigError(
            "SURGE_KAFKA_CERT_FILE and SURGE_KAFKA_KEY_FILE go together (a client certificate "
            "and its private key): set both or neither"
        )
    ssl_context(s)  # a CA bundle or key pair that does not load fails now, not at first connect


def _validate_sasl(s: Settings) -> None:
    protocol = s.kafka_security_protocol
    if not s.kafka_username:
        raise ConfigError(f"SURGE_KAFKA_SECURITY_PROTOCOL={protocol} needs SURGE_KAFKA_USERNAME")
    if s.kafka_password and s.kafka_password_file:
        raise ConfigError(
            "set SURGE_KAFKA_PASSWORD or SURGE_KAFKA_PASSWORD_FILE, not both (the file is for a "
            "mounted Secret)"
        )
    if s.kafka_password_file and not _readable(s.kafka_password_file):
        raise ConfigError(
            f"SURGE_KAFKA_PASSWORD_FILE={s.kafka_password_file!r} is not a readable file"
        )
    if not password(s):
        raise ConfigError(
            f"SURGE_KAFKA_SECURITY_PROTOCOL={protocol} needs a password: set "
            "SURGE_KAFKA_PASSWORD or SURGE_KAFKA_PASSWORD_FILE (a non-empty file)"
        )


def _readable(path: str) -> bool:
    try:
        with Path(path).open("rb"):
            return True
    except OSError:
        return False


def password(settings: Settings) -> Secret:
    """The SASL password, from SURGE_KAFKA_PASSWORD or read now from SURGE_KAFKA_PASSWORD_FILE
    (a Secret mounted as a file, with or without a final newline). Read at each client's
    creation, so a rotated Secret is used by the next client without a new setting."""
    if settings.kafka_password_file:
        return Secret(Path(settings.kafka_password_file).read_text(encoding="utf-8").rstrip("\r\n"))
    return Secret(settings.kafka_password)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A client context verifying the broker (CA bundle, else the system store, host name
    checked, TLS 1.2 or newer), with the client's certificate when one is configured."""
    if not uses_tls(settings):
        return None
    try:
        context = ssl.create_default_context(cafile=settings.kafka_ca_file or None)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"SURGE_KAFKA_CA_FILE={settings.kafka_ca_file!r} is not a PEM CA bundle ({exc})"
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.kafka_cert_file:
        try:
            context.load_cert_chain(settings.kafka_cert_file, settings.kafka_key_file)
        except ssl.SSLError as exc:
            raise ConfigError(
                f"SURGE_KAFKA_CERT_FILE/SURGE_KAFKA_KEY_FILE do not load as a PEM certificate "
                f"and its unencrypted private key ({exc})"
            ) from exc
    return context


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Security keyword arguments of a kafka-python client (KafkaProducer, KafkaConsumer,
    KafkaAdminClient); aiokafka's clients take the same names."""
    kwargs: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if uses_tls(settings):
        kwargs["ssl_context"] = ssl_context(settings)
    if uses_sasl(settings):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_username
        kwargs["sasl_plain_password"] = password(settings)
    return kwargs


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's `broker_credentials`: None for PLAINTEXT (Faust's default), else SSL or SASL
    credentials carrying the same SSL context as the kafka-python clients."""
    import faust  # the worker's import; producers and admin clients do without Faust

    context = ssl_context(settings)
    if uses_sasl(settings):
        return faust.SASLCredentials(
            username=settings.kafka_username,
            password=password(settings),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def describe(settings: Settings) -> dict[str, str]:
    """What a start-up log may say about Kafka security: never the password."""
    out = {"kafka_security_protocol": settings.kafka_security_protocol}
    if uses_sasl(settings):
        out["kafka_sasl_mechanism"] = settings.kafka_sasl_mechanism
        out["kafka_username"] = settings.kafka_username
    if uses_tls(settings):
        out["kafka_ca"] = settings.kafka_ca_file or "system trust store"
    return out


@contextlib.contextmanager
def explained(settings: Settings) -> Iterator[None]:
    """Turn kafka-python's bare 'Unable to bootstrap' into a StackError that says why.

    kafka-python retries a refused password or an untrusted certificate until its bootstrap
    timeout, then raises without the cause (it only logs it, and not reliably). On that failure
    one test connection (`diagnose`) names the cause and the setting to check.
    """
    try:
        yield
    except KafkaError as exc:
        where = f"Kafka at {settings.bootstrap_servers} ({settings.kafka_security_protocol})"
        hint = diagnose(settings) or f"{exc}, though a test connection succeeded"
        raise StackError(f"cannot use {where}: {hint}") from exc


def diagnose(settings: Settings, timeout_s: float = 10.0) -> str | None:
    """Connect once to the first bootstrap server with the clients' security settings (TLS, then
    SASL) and say what failed and what to check; None if that connection works."""
    try:
        failure = asyncio.run(_connect_once(settings, timeout_s))
    except RuntimeError as exc:  # called inside a running event loop: no test connection
        log.warning("kafka_diagnosis_skipped", error=str(exc))
        return None
    return None if failure is None else _hint(settings, failure)


async def _connect_once(settings: Settings, timeout_s: float) -> Exception | None:
    from aiokafka.conn import create_conn  # aiokafka comes with Faust

    host, _, port = settings.bootstrap_servers.split(",")[0].rpartition(":")
    timeout_ms = int(timeout_s * 1000)
    try:
        conn = await asyncio.wait_for(
            create_conn(host, int(port), request_timeout_ms=timeout_ms, **client_kwargs(settings)),
            timeout_s,
        )
    except Exception as exc:  # every failure is the diagnosis
        return exc
    conn.close()
    return None


def _hint(settings: Settings, failure: Exception) -> str:
    from aiokafka.errors import (
        KafkaConnectionError,
        SaslAuthenticationFailed,
        UnsupportedSaslMechanismError,
    )

    host = settings.bootstrap_servers.split(",")[0].rpartition(":")[0]
    protocol = f"SURGE_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol}"
    hints: list[tuple[type[Exception], str]] = [
        (
            SaslAuthenticationFailed,
            f"the broker refused the credentials of SURGE_KAFKA_USERNAME="
            f"{settings.kafka_username!r} ({settings.kafka_sasl_mechanism}): check "
            "SURGE_KAFKA_USERNAME and SURGE_KAFKA_PASSWORD or SURGE_KAFKA_PASSWORD_FILE",
        ),
        (UnsupportedSaslMechanismError, f"{failure}: check SURGE_KAFKA_SASL_MECHANISM"),
        (
            ssl.SSLCertVerificationError,
            f"the broker's certificate is not trusted "
            f"({getattr(failure, 'verify_message', failure)}): SURGE_KAFKA_CA_FILE must hold the "
            f"CA that signed it, and it must be issued for {host}",
        ),
        (ssl.SSLError, f"the TLS handshake failed ({failure}): is the listener TLS? ({protocol})"),
        (
            KafkaConnectionError,
            f"the broker closed the connection: its listener expects another protocol than "
            f"{protocol}",
        ),
    ]
    for kind, hint in hints:
        if isinstance(failure, kind):
            return hint
    return f"no connection ({failure!r}): is the broker up and SURGE_KAFKA_BROKER right?"
