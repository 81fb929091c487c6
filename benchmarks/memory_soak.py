"""Memory soak, one soak: a real worker on one catalogue, the events played into Kafka at a speed,
its resident memory sampled until it has counted them all (step 2 of ``memory.py``, which runs
one soak per catalogue and prints the report).

A soak generates the hours of normal traffic for its catalogue, starts one ``surge-monitor
worker`` (``stack.start_worker``, default settings) on a fresh app id and topic set, plays the
events at the speed (``streams.simulate.play.produce``, as ``surge-monitor simulate --speed``
does) and every ``sample_s`` reads the worker's VmRSS and, from its ``/metrics``, the newest
``surge_watermark_seconds`` (+ the grace: the event time the worker has reached) and
``surge_events_total``. Peak RSS is VmHWM just before the worker stops.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import structlog

from streams.contract.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import START, fresh_run, peak_rss_mb, rss_mb, running, scrape

if TYPE_CHECKING:
    from streams.contract.catalogue import Catalogue
    from streams.simulate.truth import Emitted
    from streams.stack.processes import StackPaths

log = structlog.get_logger("benchmarks.memory")

TIMEOUT_FACTOR = 3.0  # a run may take this many times its planned play time (+ 5 min)


@dataclass(frozen=True)
class Sample:
    wall_s: float  # since the worker started
    event_h: float  # event time the worker has reached, hours after START (0 before any event)
    rss_mb: float
    counted: float  # surge_events_total, every topic and result
    lag_s: float  # wall seconds the worker's event time is behind the player's


@dataclass(frozen=True)
class Soak:
    label: str
    regions: int
    providers: int
    events: int
    play_s: float
    samples: list[Sample]
    peak_mb: float
    speed: float

    @property
    def max_lag_s(self) -> float:
        return max(s.lag_s for s in self.samples)

    def rss_at(self, hour: float) -> float:
        """RSS of the sample nearest `hour` of event time (after the first event)."""
        live = [s for s in self.samples if s.event_h > 0] or self.samples
        return min(live, key=lambda s: abs(s.event_h - hour)).rss_mb

    @property
    def start_mb(self) -> float:
        return self.samples[0].rss_mb

    @property
    def end_mb(self) -> float:
        return self.samples[-1].rss_mb

    def slope_mb_per_hour(self, from_hour: float) -> float:
        """Least-squares slope of RSS against event time over the samples from `from_hour`."""
        pts = [(s.event_h, s.rss_mb) for s in self.samples if s.event_h >= from_hour]
        if len(pts) < 2 or pts[-1][0] - pts[0][0] <= 0:
            return math.nan
        hours, rss = np.array(pts).T
        return float(np.polyfit(hours, rss, 1)[0])


def newest_watermark(url: str) -> float | None:
    samples = scrape(url, "surge_watermark_seconds")
    values = [v for _, v in samples or () if math.isfinite(v) and v > 0]
    return max(values) if values else None


class Player(threading.Thread):
    """Plays the events into Kafka at `speed` (streams.simulate.play.produce, as
    `surge-monitor simulate --speed` does) while the main thread samples the worker."""

    def __init__(self, events: Sequence[Emitted], settings: Settings, speed: float) -> None:
        super().__init__(daemon=True)
        self.events, self.settings, self.speed = events, settings, speed
        self.seconds = math.nan
        self.started = math.nan  # monotonic time of the first send
        self.error: BaseException | None = None

    def run(self) -> None:
        from streams.simulate import play

        try:
            self.started = time.monotonic()
            play.produce(self.events, self.settings, self.speed)
            self.seconds = time.monotonic() - self.started
        except BaseException as exc:  # reported by the main thread
            self.error = exc


def sample(
    pid: int, url: str, player: Player, *, grace_s: float, deadline: float, sample_s: float
) -> list[Sample]:
    """The worker's RSS and progress every `sample_s` seconds until the player is done and the
    worker has counted every event."""
    began = time.monotonic()
    samples: list[Sample] = []
    n = len(player.events)
    while True:
        t0 = time.monotonic()
        if not running(pid):
            raise RuntimeError("the worker exited")
        if player.error is not None:
            raise RuntimeError(f"the event producer failed: {player.error!r}")
        rss = rss_mb(pid)
        mark = newest_watermark(url)
        counted = sum(v for _, v in scrape(url, "surge_events_total") or ())
        event_h = 0.0 if mark is None else (mark + grace_s - START.timestamp()) / 3600
        played_h = (
            min((t0 - player.started) * player.speed, player.events[-1].ts_s - START.timestamp())
            / 3600
        )
        lag_s = max(0.0, (played_h - event_h) * 3600 / player.speed) if mark is not None else 0.0
        samples.append(Sample(t0 - began, event_h, rss, counted, lag_s))
        if not player.is_alive() and counted >= n:
            return samples
        if t0 > deadline:
            raise RuntimeError(f"{counted:.0f} of {n} events counted in time")
        if len(samples) % 30 == 0:
            log.info("soak_progress", event_h=round(event_h, 1), rss_mb=rss, counted=int(counted))
        time.sleep(max(0.0, sample_s - (time.monotonic() - t0)))


def soak(
    base: Settings,
    paths: StackPaths,
    catalogue: Catalogue,
    catalogue_file: str,
    *,
    hours: float,
    speed: float,
    seed: int,
    sample_s: float,
) -> Soak:
    """One worker, one catalogue: events played at `speed`, RSS sampled until all are counted."""
    from streams.simulate import generator, scenarios
    from streams.stack import processes, services

    regions = len(catalogue.regions)
    providers = len(catalogue.pairs())
    s = replace(fresh_run(base, f"mem-{regions}r-{uuid.uuid4().hex[:6]}"), catalogue=catalogue_file)
    t = time.monotonic()
    events = generator.generate(scenarios.normal(START.timestamp(), hours * 3600), catalogue, seed)
    log.info("generated", regions=regions, events=len(events), seconds=round(time.monotonic() - t))
    name = services.worker_name(0)
    services.start_worker(s, paths, 0)
    pid = processes.read_pid(paths, name) or -1
    player = Player(events, s, speed)
    try:
        player.start()
        samples = sample(
            pid,
            f"http://127.0.0.1:{s.metrics_port}/metrics",
            player,
            grace_s=s.grace_seconds,
            deadline=time.monotonic() + TIMEOUT_FACTOR * hours * 3600 / speed + 300,
            sample_s=sample_s,
        )
        peak = peak_rss_mb(pid)
    except RuntimeError as exc:
        raise RuntimeError(
            f"{exc}; the worker's log ends:\n{processes.tail(paths.log(name))}"
        ) from exc
    finally:
        processes.stop_service(paths, name)
    label = f"{regions} regions, {providers} providers"
    log.info("soak_done", catalogue=label, end_rss_mb=samples[-1].rss_mb, peak_rss_mb=peak)
    return Soak(label, regions, providers, len(events), player.seconds, samples, peak, speed)
