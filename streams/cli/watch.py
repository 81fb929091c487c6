"""`surge-monitor watch`: the control room's view in a terminal, for when Grafana is not at hand
(over SSH, on this machine): a row per region, the alerts firing with their age and the overflow
in force, refreshed every 2 s from Prometheus' and Alertmanager's HTTP APIs (watch_view.py).

`--once` prints one frame, `--json` one snapshot. A Prometheus or Alertmanager that cannot be
reached is said so, by name and URL, and retried: in the live view until it answers, with
`--once`/`--json` until `--timeout-seconds`, then exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from rich.console import Console
from rich.live import Live
from rich.text import Text

from streams.cli.watch_view import OVERFLOW_QUERY, QUERIES, FiringAlert, Snapshot, render, rows
from streams.contract.catalogue import load_catalogue
from streams.contract.errors import ConfigError
from streams.contract.settings import Settings

log = structlog.get_logger(__name__)

DEFAULT_INTERVAL_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 10.0
_SEVERITY_RANK = {"ok": 0, "warning": 1, "critical": 2}


class Unreachable(Exception):
    """Prometheus or Alertmanager did not answer; the message says which, where and why."""


def add_commands(sub: Any) -> None:
    """Add `watch` to the `surge-monitor` parser."""
    w = sub.add_parser(
        "watch", help="live terminal view of every region, from Prometheus and Alertmanager"
    )
    w.add_argument("--prometheus", help="base URL (default: the local stack's Prometheus)")
    w.add_argument("--alertmanager", help="base URL (default: the local stack's Alertmanager)")
    w.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_SECONDS,
        help=f"seconds between refreshes (default {DEFAULT_INTERVAL_SECONDS:g})",
    )
    mode = w.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="print one frame and exit")
    mode.add_argument("--json", action="store_true", help="print one snapshot as JSON and exit")
    w.add_argument(
        "--timeout-seconds",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="with --once/--json: how long to retry an unreachable service (default "
        f"{DEFAULT_TIMEOUT_SECONDS:g})",
    )
    w.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    prom = args.prometheus or f"http://127.0.0.1:{settings.prometheus_port}"
    am = args.alertmanager or f"http://127.0.0.1:{settings.alertmanager_port}"
    catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    regions = list(catalogue.codes())
    if not args.interval > 0:
        raise ConfigError(f"--interval must be > 0, not {args.interval}")
    for flag, url in (("--prometheus", prom), ("--alertmanager", am)):
        if urllib.parse.urlsplit(url).scheme not in ("http", "https") or "?" in url:
            raise ConfigError(f"{flag} must be an http(s) base URL, not {url!r}")
    prom, am = prom.rstrip("/"), am.rstrip("/")
    if args.once or args.json:
        deadline = time.monotonic() + args.timeout_seconds
        while True:
            try:
                snap = fetch(prom, am, regions)
                break
            except Unreachable as exc:
                if time.monotonic() >= deadline:
                    log.error(
                        "watch_unreachable", message=str(exc), gave_up_after_s=args.timeout_seconds
                    )
                    return 1
                log.warning("watch_unreachable", message=str(exc), retry_s=args.interval)
                time.sleep(args.interval)  # a retry interval, not a stand-in for synchronisation
        if args.json:
            sys.stdout.write(orjson.dumps(snap.to_json()).decode() + "\n")
        else:
            Console(width=80).print(render(snap))
        return 0
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the view is left
        live_view(prom, am, regions, args.interval)
    return 0


def live_view(prometheus: str, alertmanager: str, regions: list[str], interval: float) -> None:
    """Redraw the frame every `interval` seconds until interrupted (KeyboardInterrupt)."""
    with Live(Text("connecting ..."), refresh_per_second=4, screen=False) as live:
        while True:
            try:
                live.update(render(fetch(prometheus, alertmanager, regions)))
            except Unreachable as exc:
                live.update(Text(f"{exc}; retrying every {interval:g} s", style="red"))
            time.sleep(interval)  # the refresh period


def fetch(prometheus: str, alertmanager: str, regions: list[str]) -> Snapshot:
    """One reading of every column, the alerts firing (Alertmanager, not silenced or inhibited,
    and the in-stream ones Prometheus exports) and the overflow in force."""
    now = time.time()
    columns = {name: _by_region(prometheus, expr) for name, expr in QUERIES.items()}
    alerts = [_firing(a, now) for a in _alertmanager_alerts(alertmanager)]
    states: dict[str, str] = {}
    for a in alerts:
        _worsen(states, a.region, a.severity)
    in_stream = vector(prometheus, "max by (region, severity) (surge_alert_active) > 0")
    for labels, _ in in_stream:
        _worsen(states, labels.get("region", ""), labels.get("severity", "warning"))
    overflow = [
        (labels.get("region", "?"), labels.get("target", "?"))
        for labels, _ in vector(prometheus, OVERFLOW_QUERY)
    ]
    return Snapshot(now, rows(regions, columns, states), alerts, sorted(overflow))


def _worsen(states: dict[str, str], region: str, severity: str) -> None:
    if _SEVERITY_RANK.get(severity, 1) > _SEVERITY_RANK[states.get(region, "ok")]:
        states[region] = severity if severity in _SEVERITY_RANK else "warning"


def _by_region(prometheus: str, expr: str) -> dict[str, float]:
    return {labels["region"]: v for labels, v in vector(prometheus, expr) if "region" in labels}


def vector(prometheus: str, expr: str) -> list[tuple[dict[str, str], float]]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    doc = _get_json(url, "Prometheus", prometheus)
    if doc.get("status") != "success":
        raise Unreachable(f"Prometheus at {prometheus} refused a query: {doc.get('error')}")
    return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]


def _alertmanager_alerts(alertmanager: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"active": "true", "silenced": "false", "inhibited": "false"})
    alerts = _get_json(f"{alertmanager}/api/v2/alerts?{query}", "Alertmanager", alertmanager)
    return [a for a in alerts if isinstance(a, dict)]


def _firing(alert: dict[str, Any], now: float) -> FiringAlert:
    labels = alert.get("labels") or {}
    started = datetime.fromisoformat(str(alert.get("startsAt", "")).replace("Z", "+00:00"))
    return FiringAlert(
        alert=str(labels.get("alertname", "?")),
        region=str(labels.get("region", "national")),
        severity=str(labels.get("severity", "warning")),
        age_seconds=max(0.0, now - started.timestamp()),
    )


def _get_json(url: str, what: str, base: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (http(s) checked)
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise Unreachable(f"{what} at {base} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(f"cannot reach {what} at {base} ({reason})") from None
    except ValueError:
        raise Unreachable(f"{what} at {base} did not answer JSON") from None
