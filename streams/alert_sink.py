"""A webhook receiver for Alertmanager on loopback: what the on-call pager would have received.

Alertmanager POSTs each notification here; the sink appends it to a JSON-lines file and serves the
list at GET /alerts, so the demo can show and the tests can assert what reached the on-call side.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 1 << 20


def make_server(host: str, port: int, out: Path) -> ThreadingHTTPServer:
    received: list[object] = []
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
            if self.path != "/alerts" or not 0 < length <= MAX_BODY_BYTES:
                self._reply(400, b"POST a JSON notification to /alerts\n")
                return
            try:
                doc = json.loads(self.rfile.read(length))
            except ValueError:
                self._reply(400, b"body is not JSON\n")
                return
            with lock:
                received.append(doc)
                with out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(doc) + "\n")
            for alert in doc.get("alerts", []) if isinstance(doc, dict) else []:
                labels = alert.get("labels", {})
                log.info(
                    "alert_received",
                    alertname=labels.get("alertname"),
                    region=labels.get("region"),
                    severity=labels.get("severity"),
                    status=alert.get("status"),
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
