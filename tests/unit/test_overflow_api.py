"""The overflow HTTP API: bearer token on every route, JSON in and out, the token never logged."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from streams.contract.errors import ConfigError
from streams.overflow.api import make_server
from streams.overflow.requests import OverflowRequestError

TOKEN = "s3cret-token-for-tests"  # noqa: S105 - a test token, not a secret
STATUS = {"diverting": ["north-west"], "latest": []}


class Fake:
    """Records what the API hands to Kafka."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []

    def submit(self, doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get("region") == "atlantis":
            raise OverflowRequestError("region 'atlantis' is not in the catalogue")
        self.submitted.append(doc)
        return {**doc, "request_id": "r1"}


@pytest.fixture(scope="module")
def server_url() -> Iterator[tuple[str, Fake]]:
    fake = Fake()
    server = make_server(0, TOKEN, fake.submit, lambda: STATUS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(server_url: tuple[str, Fake]) -> tuple[str, Fake]:
    """The module's server with a fresh record of submissions."""
    server_url[1].submitted.clear()
    return server_url


def call(
    url: str, method: str = "GET", body: bytes | None = None, token: str | None = TOKEN
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


ACTIVATE = json.dumps(
    {"region": "north-west", "target": "yorkshire", "share": 0.3, "operator": "jo"}
).encode()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/overflow", None),
        ("POST", "/overflow/activate", ACTIVATE),
        ("POST", "/overflow/deactivate", b'{"region": "north-west", "operator": "jo"}'),
        ("POST", "/overflow/ack", b'{"command_id": "north-west:1", "operator": "jo"}'),
        ("GET", "/nowhere", None),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong", "", TOKEN + "x", "Bearer"])
def test_every_route_refuses_a_missing_or_wrong_token(
    api: tuple[str, Fake], method: str, path: str, body: bytes | None, token: str | None
) -> None:
    """Without the right bearer token every route answers 401 and nothing is submitted."""
    url, fake = api
    code, doc = call(url + path, method, body, token)
    assert code == 401
    assert "token" in doc["error"]
    assert fake.submitted == []


def test_the_right_token_submits_the_request_once(api: tuple[str, Fake]) -> None:
    """With the token a POST is parsed, the action taken from the path, submitted once."""
    url, fake = api
    code, doc = call(url + "/overflow/activate", "POST", ACTIVATE)
    assert code == 200
    assert fake.submitted == [{**json.loads(ACTIVATE), "action": "activate"}]
    assert doc["accepted"]["request_id"] == "r1"


def test_status_is_served_with_the_token(api: tuple[str, Fake]) -> None:
    """GET /overflow returns the status callable's document."""
    url, _ = api
    assert call(url + "/overflow") == (200, STATUS)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b"", b'{"action": "deactivate", "region": "north-west"}'],
)
def test_a_bad_body_is_a_400_and_submits_nothing(api: tuple[str, Fake], body: bytes) -> None:
    """A body that is not a JSON object (or names its own action) is refused with 400."""
    url, fake = api
    code, doc = call(url + "/overflow/activate", "POST", body)
    assert code == 400 and doc["error"]
    assert fake.submitted == []


def test_an_invalid_request_is_a_400_with_the_reason(api: tuple[str, Fake]) -> None:
    """A request the validator refuses comes back as 400 with its message."""
    url, _ = api
    body = b'{"region": "atlantis", "target": "london", "operator": "jo"}'
    code, doc = call(url + "/overflow/activate", "POST", body)
    assert code == 400 and "atlantis" in doc["error"]


def test_unknown_routes_are_404_after_authentication(api: tuple[str, Fake]) -> None:
    """An authenticated request to an unknown route is a 404."""
    url, fake = api
    assert call(url + "/overflow/explode", "POST", b"{}")[0] == 404
    assert call(url + "/metrics")[0] == 404
    assert fake.submitted == []


def test_the_token_is_never_logged(api: tuple[str, Fake]) -> None:
    """Neither a right nor a wrong token appears in any log event."""
    url, _ = api
    with structlog.testing.capture_logs() as logs:
        call(url + "/overflow/activate", "POST", ACTIVATE)
        call(url + "/overflow", token="wrong-" + TOKEN)
    assert [e["status"] for e in logs if e["event"] == "overflow_api_request"] == [200, 401]
    assert TOKEN not in repr(logs)


def test_no_token_configured_refuses_to_start() -> None:
    """An empty SURGE_OVERFLOW_TOKEN stops the API with a message naming the setting."""
    with pytest.raises(ConfigError, match="SURGE_OVERFLOW_TOKEN"):
        make_server(0, "", lambda d: d, lambda: STATUS)
