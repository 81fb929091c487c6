"""The alert sink records what Alertmanager posted, for the demo and the tests."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from streams.alert_sink import make_server


def test_posted_notifications_are_listed_and_written(tmp_path: Path) -> None:
    """A POSTed notification is served back at GET /alerts and appended to the file."""
    out = tmp_path / "alerts.jsonl"
    server = make_server("127.0.0.1", 0, out)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        note = {"status": "firing", "alerts": [{"labels": {"alertname": "X", "region": "london"}}]}
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/alerts",
            data=json.dumps(note).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/alerts", timeout=5) as resp:
            assert json.loads(resp.read()) == [note]
        assert [json.loads(line) for line in out.read_text().splitlines()] == [note]
        bad = urllib.request.Request(f"http://127.0.0.1:{port}/alerts", data=b"{nope")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad, timeout=5)
        assert info.value.code == 400
    finally:
        server.shutdown()
        server.server_close()
