"""The alert sink records what Alertmanager posted, and to which receiver path, for the tests."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.stack.alert_sink import make_server


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running sink on a free loopback port: its base URL and its JSON-lines file."""
    out = tmp_path / "alerts.jsonl"
    server = make_server("127.0.0.1", 0, out)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", out
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code


def listed(base: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{base}/alerts", timeout=5) as resp:
        doc: list[dict[str, object]] = json.loads(resp.read())
        return doc


def test_posted_notifications_are_listed_and_written_with_their_receiver_path(
    sink: tuple[str, Path],
) -> None:
    """A notification POSTed to /alerts/<receiver> is listed and written with that path."""
    base, out = sink
    note = {"status": "firing", "alerts": [{"labels": {"alertname": "X", "region": "london"}}]}
    assert post(f"{base}/alerts/london", json.dumps(note).encode()) == 200
    assert post(f"{base}/alerts", json.dumps(note).encode()) == 200
    expected = [{**note, "path": "london"}, {**note, "path": ""}]
    assert listed(base) == expected
    assert [json.loads(line) for line in out.read_text().splitlines()] == expected


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/alerts", b"{nope"),  # not JSON
        ("/alerts", b"[1, 2]"),  # not a notification object
        ("/alerts/", b"{}"),  # empty receiver path
        ("/alerts/../etc", b"{}"),  # not a receiver name
        ("/alerts/london/x", b"{}"),
        ("/other", b"{}"),
    ],
)
def test_bad_posts_are_refused_and_not_recorded(
    sink: tuple[str, Path], path: str, body: bytes
) -> None:
    """A body that is not a JSON object, or a path that is not /alerts[/<receiver>], gets a 400."""
    base, out = sink
    assert post(f"{base}{path}", body) == 400
    assert listed(base) == []
    assert not out.exists()
