"""A webhook receiver for Alertmanager on loopback: what the on-call pager would have received.

Alertmanager POSTs each notification here, to /alerts or to /alerts/<receiver path> (each receiver
of deploy/alertmanager/alertmanager.yml has its own: /alerts/north-west, /alerts/national, ...).
The sink adds that path to the notification as `path` ("" for /alerts), appends it to a JSON-lines
file and serves the list at GET /alerts, so the demo can show and the tests can assert what reached
which on-call receiver.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 1 << 20
_POST_PATH = re.compile(r"/alerts(?:/(?P<path>[a-z0-9][a-z0-9-]*))?")


def make_server(host: str, port: int, out: Path) -> ThreadingHTTPServer:
    received: list[dict[str, object]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/-/ready":
                self._reply(200, b"ok\n")
            elif self.path == "/alerts":
                with lock:
                    body = json.dumps(received).encode()
                self._reply(200, body, "application/json")
            else:
                self._reply(404, b"not found\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            match = _POST_PATH.fullmatch(self.path)
            if match is None or not 0 < length <= MAX_BODY_BYTES:
                self._reply(400, b"POST a JSON notification to /alerts or /alerts/<receiver>\n")
                return
            try:
                doc = json.loads(self.rfile.read(length))
            except ValueError:
                self._reply(400, b"body is not JSON\n")
                return
            if not isinstance(doc, dict):
                self._reply(400, b"body is not a JSON object\n")
                return
            doc["path"] = match["path"] or ""
            with lock:
                received.append(doc)
                with out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(doc) + "\n")
            alerts = doc.get("alerts")
            for alert in alerts if isinstance(alerts, list) else []:
                labels = alert.get("labels", {}) if isinstance(alert, dict) else {}
                log.info(
                    "alert_received",
                    path=doc["path"],
                    alertname=labels.get("alertname"),
                    region=labels.get("region"),
                    severity=labels.get("severity"),
                    status=alert.get("status") if isinstance(alert, dict) else None,
                )
            self._reply(200, b"ok\n")

        def _reply(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Requests are logged as alert_received events, not as access-log lines."""

    return ThreadingHTTPServer((host, port), Handler)


def received(port: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """The notifications the sink on 127.0.0.1:`port` has received, oldest first (each with its
    receiver `path`); raises OSError when the sink cannot be reached."""
    url = f"http://127.0.0.1:{port}/alerts"
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        notes = json.loads(resp.read())
    return [n for n in notes if isinstance(n, dict)]
