"""Replay and backtest: the live path's detectors over an event file or a topic range, offline.

The replay does what a worker does to each region's events, with the same objects
(streams.engine.answer_rates.AnswerRateOps, streams.engine.dispatches.DispatchOps) and so the same
detectors/ code: validation, event-time windows, the per-minute steps of the referral detector and
of the alert machines. Because the live path steps its detectors on each newly closed minute
inside `apply` (not once per batch), the alert episodes depend only on each region's event
sequence, and a replay of the same events gives the same episodes at the same event times, at
any speed.

What it adds: each (region, provider, minute)'s final counts (`on_minute`, for the scorecard),
each closed minute's region figures (`on_view`), and a progress bar. Invalid events are counted by
reason, as the live path dead-letters them. The core is streams.offline.replayer; `jobs` > 1 is
streams.offline.parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import structlog
from kafka import KafkaConsumer, TopicPartition

from detectors.answer_rates import RegionView
from streams.contract.catalogue import Catalogue
from streams.contract.kafka_security import client_kwargs
from streams.contract.settings import Settings
from streams.contract.thresholds import THRESHOLDS, Thresholds
from streams.offline.parallel import Job, region_owners, replay_parallel
from streams.offline.replayer import MinuteRow, Replayer, ReplayResult, progress_bar, replay_lines

log = structlog.get_logger(__name__)


def replay_file(
    path: Path,
    settings: Settings,
    catalogue: Catalogue,
    *,
    thresholds: Thresholds = THRESHOLDS,
    on_minute: Callable[[MinuteRow], None] | None = None,
    on_view: Callable[[str, RegionView], None] | None = None,
    progress: bool = False,
    jobs: int = 1,
) -> ReplayResult:
    """Replay an event file. With `jobs` > 1 the regions are replayed in that many processes
    (each reads the whole file and keeps its own regions' lines), and the result and the
    `on_minute`/`on_view` calls are the same, in the same order, as with one; but they run at
    the end, when every worker is done. Until then each worker writes its callback rows to a
    file in a temporary directory (tempfile's: $TMPDIR, else /tmp; removed however the replay
    ends), which this process then reads back a chunk at a time, so memory stays bounded
    whatever the file's length. That takes disk: about 370 bytes per on_view row and 130 per
    on_minute row (pickled), some 2 GB for a year of England's views (10 regions, 5.3 million
    region-minutes). Without either callback nothing is written."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, not {jobs}")
    jobs = min(jobs, len(catalogue.regions))
    if jobs > 1:
        owners = region_owners(catalogue, jobs)
        minutes, views = on_minute is not None, on_view is not None
        job = Job(path, settings, catalogue, thresholds, owners, minutes, views)
        result = replay_parallel(
            job, on_minute=on_minute, on_view=on_view, progress=progress, jobs=jobs
        )
        log.info("replay_done", path=str(path), jobs=jobs, **dict(sorted(result.counts.items())))
        return result
    size = path.stat().st_size
    with path.open("rb") as f, progress_bar(progress, size, "bytes") as bar:

        def lines() -> Iterator[bytes]:
            for raw in f:
                bar.update(len(raw))
                yield raw

        result = replay_lines(
            lines(),
            settings,
            catalogue,
            thresholds=thresholds,
            on_minute=on_minute,
            on_view=on_view,
        )
    log.info("replay_done", path=str(path), **dict(sorted(result.counts.items())))
    return result


def replay_topic(
    settings: Settings,
    catalogue: Catalogue,
    topic: str,
    start_s: float | None = None,
    end_s: float | None = None,
    *,
    thresholds: Thresholds = THRESHOLDS,
    on_minute: Callable[[MinuteRow], None] | None = None,
    on_view: Callable[[str, RegionView], None] | None = None,
    progress: bool = False,
) -> ReplayResult:
    """A topic's messages, partition by partition up to the end offsets seen at the start, with
    Kafka timestamps in [start_s, end_s) (the broker's index: the time each event was produced).
    A region lives in one partition, so its events replay in the order the worker saw them.
    Always in this one process (no `jobs`): the broker, not the detectors, sets the pace here."""
    replayer = Replayer(settings, catalogue, thresholds, on_minute, on_view)
    is_dispatch = topic == settings.topic_dispatches
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
        **client_kwargs(settings),
    )
    try:
        parts = sorted(consumer.partitions_for_topic(topic) or ())
        if not parts:
            raise SystemExit(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in parts]
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        if start_s is not None:
            found = consumer.offsets_for_times({tp: int(start_s * 1000) for tp in tps})
            starts = {tp: (ends[tp] if found[tp] is None else found[tp].offset) for tp in tps}
        total = sum(ends[tp] - starts[tp] for tp in tps)
        with progress_bar(progress, total, "events") as bar:
            for tp in tps:
                consumer.assign([tp])
                consumer.seek(tp, starts[tp])
                position = starts[tp]
                while position < ends[tp]:
                    batch = consumer.poll(timeout_ms=1000).get(tp, [])
                    for msg in batch:
                        if msg.offset >= ends[tp]:
                            break
                        if end_s is None or msg.timestamp < end_s * 1000:
                            if is_dispatch:
                                replayer.dispatch(msg.value or b"")
                            else:
                                replayer.call(msg.value or b"")
                        position = msg.offset + 1
                    bar.update(len(batch))
    finally:
        consumer.close()
    result = replayer.finish()
    log.info("replay_done", topic=topic, **dict(sorted(result.counts.items())))
    return result
