"""Kafka security settings: validated at start-up, mapped alike for Faust and kafka-python."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import AuthProtocol, SASLMechanism
from kafka.errors import KafkaTimeoutError

from streams.contract import kafka_security
from streams.contract.config import load_settings
from streams.contract.errors import ConfigError, StackError
from streams.contract.settings import Settings, settings_env
from streams.stack import services
from streams.stack.ports import free_port
from tests.tls import make_tls

NOT_PEM = __file__  # readable, not PEM
PASSWORD, TOKEN = "s3cret-pw", "tok-123"  # throwaway test values
FIRST, ROTATED = "first-pw", "rotated-pw"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA bundle, and a certificate with its key (usable as a client's)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    root = tmp_path_factory.mktemp("tls")
    ca, _ = make_tls(root)
    return {"ca": ca, "cert": root / "broker.crt", "key": root / "broker.key"}


def sasl_ssl(tls: dict[str, Path], **env: str) -> Settings:
    return load_settings(
        {
            "SURGE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "SURGE_KAFKA_USERNAME": "surge",
            "SURGE_KAFKA_PASSWORD": PASSWORD,
            "SURGE_KAFKA_CA_FILE": str(tls["ca"]),
            **env,
        }
    )


def test_plaintext_is_the_default_and_changes_no_client() -> None:
    """No security setting: PLAINTEXT for kafka-python, Faust's own default (no credentials)."""
    s = load_settings({})
    assert s.kafka_security_protocol == "PLAINTEXT"
    assert kafka_security.client_kwargs(s) == {"security_protocol": "PLAINTEXT"}
    assert kafka_security.faust_credentials(s) is None


def test_sasl_ssl_maps_to_kafka_python_and_faust_alike(tls: dict[str, Path]) -> None:
    """SASL_SSL: SCRAM credentials and one verifying TLS context, same for both client kinds."""
    s = sasl_ssl(tls)
    kwargs = kafka_security.client_kwargs(s)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "surge"
    assert kwargs["sasl_plain_password"] == PASSWORD
    context = kwargs["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2

    credentials = kafka_security.faust_credentials(s)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_SSL
    assert credentials.mechanism == SASLMechanism.SCRAM_SHA_512
    # What Faust hands aiokafka is what the kafka-python clients get.
    aiokafka = credentials_to_aiokafka_auth(credentials)
    assert {k: v for k, v in aiokafka.items() if k != "ssl_context"} == {
        k: v for k, v in kwargs.items() if k != "ssl_context"
    }
    assert aiokafka["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_sasl_plaintext_and_ssl_only(tls: dict[str, Path]) -> None:
    """SASL_PLAINTEXT has no TLS context; SSL has a context and no SASL."""
    s = load_settings(
        {
            "SURGE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "SURGE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "SURGE_KAFKA_USERNAME": "surge",
            "SURGE_KAFKA_PASSWORD": "pw",
        }
    )
    assert "ssl_context" not in kafka_security.client_kwargs(s)
    credentials = kafka_security.faust_credentials(s)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == AuthProtocol.SASL_PLAINTEXT
    assert credentials.mechanism == SASLMechanism.SCRAM_SHA_256

    tls_only = load_settings(
        {
            "SURGE_KAFKA_SECURITY_PROTOCOL": "SSL",
            "SURGE_KAFKA_CA_FILE": str(tls["ca"]),
            "SURGE_KAFKA_CERT_FILE": str(tls["cert"]),
            "SURGE_KAFKA_KEY_FILE": str(tls["key"]),
        }
    )
    kwargs = kafka_security.client_kwargs(tls_only)
    assert set(kwargs) == {"security_protocol", "ssl_context"}
    assert isinstance(kafka_security.faust_credentials(tls_only), faust.SSLCredentials)


def test_password_file_is_read_without_its_newline_at_each_client(
    tls: dict[str, Path], tmp_path: Path
) -> None:
    """A mounted Secret's file is read when a client is made, so a rotated password is used."""
    secret = tmp_path / "password"
    secret.write_text(FIRST + "\n")
    s = sasl_ssl(tls, SURGE_KAFKA_PASSWORD="", SURGE_KAFKA_PASSWORD_FILE=str(secret))
    assert kafka_security.client_kwargs(s)["sasl_plain_password"] == FIRST
    secret.write_text(ROTATED)
    assert kafka_security.client_kwargs(s)["sasl_plain_password"] == ROTATED
    assert ROTATED not in settings_env(s).values()  # children get the path, not the secret


def test_secrets_never_print(tls: dict[str, Path]) -> None:
    """Settings' repr and a client config dict's text show no password or overflow token."""
    s = sasl_ssl(tls, SURGE_OVERFLOW_TOKEN=TOKEN)
    assert PASSWORD not in repr(s)
    assert TOKEN not in repr(s)
    text = f"{kafka_security.client_kwargs(s)}"
    assert PASSWORD not in text
    assert "'sasl_plain_password': '***'" in text
    assert PASSWORD not in str(kafka_security.describe(s))
    assert load_settings(settings_env(s)) == s  # masking does not lose the value


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SURGE_KAFKA_SECURITY_PROTOCOL": "TLS"}, "use one of PLAINTEXT, SSL, SASL_PLAINTEXT"),
        ({"SURGE_KAFKA_SASL_MECHANISM": "SCRAM"}, "SURGE_KAFKA_SASL_MECHANISM='SCRAM'"),
        ({"SURGE_KAFKA_USERNAME": ""}, "needs SURGE_KAFKA_USERNAME"),
        ({"SURGE_KAFKA_PASSWORD": ""}, "needs a password"),
        ({"SURGE_KAFKA_PASSWORD_FILE": "/nonexistent"}, "not both"),
        (
            {"SURGE_KAFKA_PASSWORD": "", "SURGE_KAFKA_PASSWORD_FILE": "/nonexistent"},
            "SURGE_KAFKA_PASSWORD_FILE='/nonexistent' is not a readable file",
        ),
        ({"SURGE_KAFKA_CA_FILE": "/nonexistent.pem"}, "SURGE_KAFKA_CA_FILE='/nonexistent.pem'"),
        ({"SURGE_KAFKA_CA_FILE": NOT_PEM}, "is not a PEM CA bundle"),
        ({"SURGE_KAFKA_CERT_FILE": NOT_PEM}, "go together"),
        (
            {"SURGE_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "SURGE_KAFKA_CA_FILE": ""},
            "does not authenticate",
        ),
        (
            {
                "SURGE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "SURGE_KAFKA_CA_FILE": NOT_PEM,
            },
            "SURGE_KAFKA_CA_FILE set but SURGE_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use",
        ),
    ],
)
def test_bad_security_settings_fail_with_what_to_fix(
    tls: dict[str, Path], env: dict[str, str], message: str
) -> None:
    """Each unusable or misleading combination is refused at start-up, naming the setting."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as caught:
        sasl_ssl(tls, **env)
    assert PASSWORD not in str(caught.value)


def test_an_empty_password_file_is_refused(tls: dict[str, Path], tmp_path: Path) -> None:
    """A Secret mounted empty is a missing password, not an empty one."""
    empty = tmp_path / "password"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="needs a password"):
        sasl_ssl(tls, SURGE_KAFKA_PASSWORD="", SURGE_KAFKA_PASSWORD_FILE=str(empty))


def test_an_unreachable_broker_is_explained_as_such() -> None:
    """A client failure on a port nobody listens on becomes a StackError saying so."""
    port = free_port()
    s = load_settings({}, kafka_broker=f"kafka://127.0.0.1:{port}")
    with (
        pytest.raises(StackError, match=rf"127\.0\.0\.1:{port} .*no connection.*broker up"),
        kafka_security.explained(s),
    ):
        raise KafkaTimeoutError("Unable to bootstrap")


def test_extra_broker_properties_replace_or_add_lines(tmp_path: Path) -> None:
    """start_kafka's overrides replace a key's line in place and append new keys."""
    props = tmp_path / "server.properties"
    props.write_text("# listeners=commented\nlisteners=PLAINTEXT://127.0.0.1:1\nnode.id=1\n")
    services.set_properties(props, {"listeners": "SASL_SSL://127.0.0.1:2", "sasl.enabled": "X"})
    assert props.read_text().splitlines() == [
        "# listeners=commented",
        "listeners=SASL_SSL://127.0.0.1:2",
        "node.id=1",
        "sasl.enabled=X",
    ]
