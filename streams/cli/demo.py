"""`surge-monitor demo`: the local stack with its alert rules scaled to the replay speed, the
launch day played through it (calls, dispatches, the handlers' agent states and the rota), and
each page reported as it reaches the on-call webhook: how long after the start, at what event
time and how long after the failure. Ctrl-C (or SIGTERM) prints a summary and stops the stack.
The event time is the replay's when the page arrived (seen within POLL_SECONDS): Alertmanager's
group wait (10 s on the local stack) is wall time and not scaled, 20 event minutes at speed 120.

At `--speed N` every `for:` and event-counting rule window is 1/N of production's
(streams.contract.thresholds.accelerated, never under two evaluations) and Prometheus scrapes
and evaluates every second, so a page comes about as many event minutes after the breach as it
would live; production's rule file is not touched (a unit test keeps it byte-for-byte)."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from streams.cli import watch
from streams.cli.simulate import default_scenario_args, scenario
from streams.cli.stack import print_where_to_look
from streams.contract.catalogue import load_catalogue
from streams.contract.config import load_settings
from streams.contract.errors import ConfigError
from streams.contract.kafka_io import publish_rota
from streams.contract.rota import validate_rota
from streams.contract.settings import Settings
from streams.contract.thresholds import THRESHOLDS
from streams.simulate import generator, play
from streams.simulate.scenarios import Scenario
from streams.simulate.truth import Emitted
from streams.stack import alert_sink, launcher, processes

log = structlog.get_logger(__name__)

DEFAULT_SPEED = 120.0  # the six-hour day in three minutes: north-west pages about a minute in
SCRAPE_SECONDS = 1.0
POLL_SECONDS = 2.0


def add_commands(sub: Any) -> None:
    """Add `demo` to the `surge-monitor` parser."""
    d = sub.add_parser("demo", help="stack up, play the launch-day scenario, wait for Ctrl-C")
    d.add_argument("--workers", type=int, default=2)
    d.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"event time per wall time, >= 1; the rules scale with it (default {DEFAULT_SPEED:g})",
    )
    d.add_argument("--seed", type=int, default=2013)
    d.set_defaults(func=cmd_demo)


def demo_settings(workers: int, speed: float) -> Settings:
    """The environment's settings with the rules and scrapes scaled to `speed`."""
    if not speed >= 1:
        raise ConfigError(
            f"--speed must be at least 1 (event seconds per wall second), not {speed}"
        )
    return load_settings(
        workers=workers, rule_for_scale=1 / speed, scrape_interval_seconds=SCRAPE_SECONDS
    )


class Pages:
    """The first firing notification of each (alert, region) the on-call webhook received."""

    def __init__(self, day: Scenario, speed: float) -> None:
        self.day, self.speed = day, speed
        self.started = time.time()
        self.playing = self.started  # wall time of the day's first event, set when play begins
        self.first: dict[tuple[str, str], dict[str, Any]] = {}
        self.wall: dict[tuple[str, str], float] = {}  # when each first page was seen

    def see(self, notes: list[dict[str, Any]]) -> None:
        for note in notes:
            for alert in note.get("alerts") or []:
                labels = alert.get("labels") or {}
                key = (str(labels.get("alertname")), str(labels.get("region", "national")))
                if alert.get("status") != "firing" or key in self.first:
                    continue
                event_s = self.day.start_s + (time.time() - self.playing) * self.speed
                page = {
                    "alert": key[0],
                    "region": key[1],
                    "severity": labels.get("severity"),
                    "seconds_after_start": round(time.time() - self.started, 1),
                    "event_time": datetime.fromtimestamp(event_s, UTC).strftime("%H:%M"),
                }
                if self.day.failure_start_s is not None:
                    minutes = (event_s - self.day.failure_start_s) / 60
                    page["event_minutes_after_failure"] = round(minutes)
                self.first[key] = page
                self.wall[key] = time.time()
                log.info("demo_paged", **page)


def summary(settings: Settings, pages: Pages) -> None:
    """What the demo showed: the pages, the overflow routes activated and, per region paged for
    its service level, the event minutes from the breach (both windows under the warning level,
    as Prometheus recorded it) to the page reaching the webhook."""
    prom = f"http://127.0.0.1:{settings.prometheus_port}"
    span = max(1, math.ceil(time.time() - pages.started))
    routes: list[str] = []
    breach_to_page: dict[str, float] = {}
    try:
        active = f"max by (region, target) (max_over_time(surge_overflow_active[{span}s])) > 0"
        routes = sorted(f"{m['region']} -> {m['target']}" for m, _ in watch.vector(prom, active))
        level = THRESHOLDS.service_level_warning
        sl = 'min by (region) (surge_service_level_ratio{provider="all", window="%s"})'
        breach = f"({sl % '60m'} < {level}) and on (region) ({sl % '15m'} < {level})"
        first = f"min by (region) (min_over_time(timestamp({breach})[{span}s:1s]))"
        for labels, breached in watch.vector(prom, first):
            paged = pages.wall.get(("ServiceLevelBelowStandard", labels.get("region", "")))
            if paged is not None and breached >= pages.started:
                minutes = (paged - breached) * pages.speed / 60
                breach_to_page[labels["region"]] = round(minutes)
    except watch.Unreachable as exc:
        log.warning("demo_summary_incomplete", message=str(exc))
    log.info(
        "demo_summary",
        pages=len(pages.first),
        regions_paged=sorted({r for _, r in pages.first}),
        first_pages=sorted(
            (p["seconds_after_start"], f"{p['alert']} {p['region']}") for p in pages.first.values()
        ),
        overflow_routes=routes,
        breach_to_page_event_minutes=breach_to_page,
    )


def follow_pages(settings: Settings, pages: Pages, stop: threading.Event) -> None:
    """Poll the alert sink until `stop`; an unreachable sink is logged once, then retried."""
    warned = False
    while not stop.wait(POLL_SECONDS):
        try:
            pages.see(alert_sink.received(settings.alert_sink_port))
            warned = False
        except (OSError, ValueError) as exc:
            if not warned:
                log.warning("demo_alert_sink_unreachable", error=str(exc), retry_s=POLL_SECONDS)
            warned = True


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    settings = demo_settings(args.workers, args.speed)
    catalogue = load_catalogue(None)
    # The handlers' agent states and the rota they were drawn from, so the staffing panels and
    # alerts see the launch day's loss as it happens, as the service-level ones see its effect.
    day = replace(scenario(default_scenario_args(args.seed)), agent_states=True)
    events = generator.generate(day, catalogue, args.seed)
    pages = Pages(day, args.speed)
    launcher.up(settings)
    print_where_to_look(settings)
    rota = [validate_rota(row, catalogue) for row in generator.rota(day, catalogue)]
    sent = publish_rota(settings, rota)
    log.info("demo_rota_published", topic=settings.topic_rota, intervals=sent)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops the stack like Ctrl-C
    # And Ctrl-C itself, even when started with SIGINT ignored (a background job of a shell without
    # job control, as `nohup ... &` or a CI runner makes one), where Python leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop = threading.Event()
    follower = threading.Thread(target=follow_pages, args=(settings, pages, stop), daemon=True)
    interactive = sys.stdout.isatty()
    try:
        log.info("demo_playing", scenario=day.name, events=len(events), speed=args.speed)
        pages.playing = time.time()
        follower.start()
        if interactive:  # the terminal view on stdout, the logs in a file
            log_path = processes.stack_paths(settings).logs / "demo.log"
            log.info("demo_view", logs=str(log_path), hint="Ctrl-C stops the demo")
            with _stderr_to(log_path):
                threading.Thread(
                    target=_play, args=(events, settings, args.speed), daemon=True
                ).start()
                prom = f"http://127.0.0.1:{settings.prometheus_port}"
                am = f"http://127.0.0.1:{settings.alertmanager_port}"
                watch.live_view(prom, am, list(catalogue.codes()), POLL_SECONDS)
        else:
            _play(events, settings, args.speed)
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        summary(settings, pages)
        launcher.down(settings)
    return 0


def _play(events: Sequence[Emitted], settings: Settings, speed: float) -> None:
    try:
        play.produce(events, settings, speed=speed)
    except Exception as exc:  # the player's thread: say so, the stack stays up for a look
        log.error("demo_play_failed", error=f"{type(exc).__name__}: {exc}")
        raise
    log.info("demo_played", hint="stack stays up; Ctrl-C or `make down` stops everything")


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Log lines (structlog writes to whatever sys.stderr is) into `path` for the duration."""
    saved = sys.stderr
    with path.open("a", encoding="utf-8") as f:
        sys.stderr = f
        try:
            yield
        finally:
            sys.stderr = saved
