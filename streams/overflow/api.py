"""The operators' HTTP API for overflow routing, on loopback, behind a bearer token.

    GET  /overflow              each region's newest command (as `surge-monitor overflow status`)
    POST /overflow/activate     {"region", "target", "share", "ttl_seconds", "operator", "reason"}
    POST /overflow/deactivate   {"region", "ttl_seconds", "operator", "reason"}
    POST /overflow/ack          {"command_id", "operator"}

Every route needs `Authorization: Bearer <SURGE_OVERFLOW_TOKEN>`; without it, or with a wrong one,
the answer is 401 and nothing is read or produced. The token is compared in constant time and is
never logged. The HTTP layer takes `submit` and `status` callables, so it is tested without Kafka.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import orjson
import structlog

from streams.contract.errors import ConfigError, SurgeError
from streams.contract.settings import Settings
from streams.overflow.requests import OverflowRequestError

log = structlog.get_logger(__name__)

Submit = Callable[[dict[str, Any]], dict[str, Any]]
Status = Callable[[], dict[str, Any]]
ACTIONS: Final = ("activate", "deactivate", "ack")
MAX_BODY_BYTES: Final = 64 * 1024
HOST: Final = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    server_version = "surge-overflow"
    token: bytes
    submit: Submit
    status: Status

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.rstrip("/") != "/overflow":
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route GET {self.path}"})
            return
        try:
            self._reply(HTTPStatus.OK, self.status())
        except SurgeError as exc:
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        action = self.path.rstrip("/").removeprefix("/overflow/")
        if action not in ACTIONS or not self.path.startswith("/overflow/"):
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route POST {self.path}"})
            return
        doc = self._body()
        if doc is None:
            return
        try:
            sent = self.submit({**doc, "action": action})
        except OverflowRequestError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except SurgeError as exc:
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)})
        else:
            self._reply(HTTPStatus.OK, {"accepted": sent})

    def _body(self) -> dict[str, Any] | None:
        """The request's JSON object, or None after replying 400/413."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            error = f"the body must be 0-{MAX_BODY_BYTES} bytes, with a Content-Length"
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": error})
            return None
        try:
            doc = orjson.loads(self.rfile.read(length) or b"null")
        except orjson.JSONDecodeError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": f"body is not JSON: {exc}"})
            return None
        if not isinstance(doc, dict) or "action" in doc:
            self._reply(
                HTTPStatus.BAD_REQUEST,
                {"error": "body must be a JSON object; the action is the path, not a field"},
            )
            return None
        return doc

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, given = header.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token)
        if not ok:
            self._reply(
                HTTPStatus.UNAUTHORIZED,
                {"error": "missing or wrong bearer token (Authorization: Bearer <token>)"},
                {"WWW-Authenticate": 'Bearer realm="surge-overflow"'},
            )
        return ok

    def _reply(
        self, code: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = orjson.dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        log.info("overflow_api_request", method=self.command, path=self.path, status=int(code))

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr lines; `_reply` logs each request (never its headers)."""


def make_server(
    port: int, token: str, submit: Submit, status: Status, host: str = HOST
) -> ThreadingHTTPServer:
    """The API on host:port (0 = any free port); refuses to exist without a token."""
    if not token:
        raise ConfigError(
            "the overflow API needs a token: set SURGE_OVERFLOW_TOKEN to a long random secret "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    handler = type(
        "OverflowHandler",
        (_Handler,),
        {
            "token": token.encode(),
            "submit": staticmethod(submit),
            "status": staticmethod(status),
        },
    )
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve the overflow API on {host}:{port} ({exc.strerror}); "
            "stop what uses the port or set SURGE_OVERFLOW_API_PORT"
        ) from exc


def serve(settings: Settings) -> None:
    """`surge-monitor overflow serve`: requests go to Kafka through streams.overflow.commands."""
    from streams.overflow.commands import read_status, submit

    server = make_server(
        settings.overflow_api_port,
        settings.overflow_token,
        partial(submit, settings),
        partial(read_status, settings),
    )
    log.info("overflow_api_listening", url=f"http://{HOST}:{settings.overflow_api_port}/overflow")
    try:
        server.serve_forever()
    finally:
        server.server_close()
