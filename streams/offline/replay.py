"""Replay and backtest: the live path's detectors over an event file or a topic range, offline.

The replay does what a worker does to each region's events, with the same objects
(streams.engine.answer_rates.AnswerRateOps, streams.engine.dispatches.DispatchOps) and so the same
detectors/ code: validation, event-time windows, the per-minute steps of the referral detector and
of the
alert machines. Because the live path steps its detectors on each newly closed minute inside
`apply` (not once per batch), the alert episodes depend only on each region's event sequence, and
a replay of the same events gives the same episodes at the same event times, at any speed.

What it adds: each (region, provider, minute)'s final counts (`on_minute`, for the scorecard),
each closed minute's region figures (`on_view`), and a progress bar. Invalid events are counted by
reason, as the live path dead-letters them.
"""

from __future__ import annotations

import ctypes
import heapq
import multiprocessing as mp
import pickle
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import BinaryIO, Final, NamedTuple, Never, TypeVar

import orjson
import structlog
from kafka import KafkaConsumer, TopicPartition
from tqdm import tqdm

from detectors.answer_rates import RegionView
from detectors.dispatches import DispatchState, DispatchView
from detectors.region_alerts import AlertEvent
from detectors.windows import Bucket
from streams.contract.catalogue import Catalogue
from streams.contract.kafka_security import client_kwargs
from streams.contract.records import (
    MAX_EVENT_BYTES,
    InvalidEvent,
    parse_call_event,
    parse_dispatch_event,
    validate_call,
    validate_dispatch,
)
from streams.contract.settings import Settings, window_config
from streams.contract.thresholds import THRESHOLDS, Thresholds
from streams.engine.alerting import alert_specs
from streams.engine.answer_rates import AnswerRateOps, AnswerState, load_baselines
from streams.engine.dispatches import DispatchOps

log = structlog.get_logger(__name__)

T = TypeVar("T")
CALLS = "calls"
DISPATCHES = "dispatches"


@dataclass(frozen=True, slots=True)
class MinuteRow:
    """One provider's final counts for one minute of one region (late events included)."""

    region: str
    provider: str
    minute: int  # epoch seconds of the minute's start (UTC)
    bucket: Bucket


@dataclass(slots=True)
class ReplayResult:
    alerts: list[AlertEvent] = field(default_factory=list)  # in emission order
    views: dict[str, RegionView] = field(default_factory=dict)  # final view per region
    dispatches: dict[str, DispatchView] = field(default_factory=dict)
    # ok, late, duplicate, too_late (as the live path's results) and invalid:<reason>
    counts: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Replayer:
    """The replay's state: one AnswerState and DispatchState per region, fed one event at a time."""

    settings: Settings
    catalogue: Catalogue
    thresholds: Thresholds = THRESHOLDS
    on_minute: Callable[[MinuteRow], None] | None = None
    on_view: Callable[[str, RegionView], None] | None = None
    calls: dict[str, AnswerState] = field(default_factory=dict)
    dispatch_states: dict[str, DispatchState] = field(default_factory=dict)
    result: ReplayResult = field(default_factory=ReplayResult)
    ops: AnswerRateOps = field(init=False)
    dispatch_ops: DispatchOps = field(init=False)

    def __post_init__(self) -> None:
        self.ops = AnswerRateOps(
            window_config(self.settings),
            alert_specs(self.thresholds),
            load_baselines(self.settings),
            observe=self.on_view,
        )
        self.dispatch_ops = DispatchOps(
            self.settings.grace_seconds, self.settings.dedup_minutes * 60.0
        )

    def call(self, doc: object | bytes) -> None:
        """One call event: a decoded document (file) or raw bytes (topic)."""
        event = self._valid(doc, parse_call_event, validate_call)
        if event is None:
            return
        state = self.calls.get(event.region)
        if state is None:
            state = self.calls[event.region] = self.ops.initial(event.region)
            if self.on_minute is not None:
                state.windows.evicted = []
        self.result.counts[self.ops.apply(state, event)] += 1
        if state.pending:
            self.result.alerts.extend(self.ops.drain(state))
        evicted = state.windows.evicted
        if evicted:
            self._emit_minutes(event.region, evicted)
            evicted.clear()

    def dispatch(self, doc: object | bytes) -> None:
        event = self._valid(doc, parse_dispatch_event, validate_dispatch)
        if event is None:
            return
        state = self.dispatch_states.get(event.region)
        if state is None:
            state = self.dispatch_states[event.region] = self.dispatch_ops.initial(event.region)
        self.result.counts["dispatch:" + self.dispatch_ops.apply(state, event)] += 1

    def _valid(
        self,
        doc: object | bytes,
        parse: Callable[[bytes | None, Catalogue], T],
        validate: Callable[[dict[str, object], Catalogue], T],
    ) -> T | None:
        """The event, or None (counted by reason) if it breaks the contract, as live would."""
        try:
            if isinstance(doc, bytes):
                return parse(doc, self.catalogue)
            return validate(_object(doc), self.catalogue)
        except InvalidEvent as exc:
            self.result.counts[f"invalid:{exc.reason}"] += 1
            return None

    def line(self, raw: bytes) -> None:
        """One JSONL line (see `route`)."""
        self.routed(route(raw, self.catalogue))

    def routed(self, line: Routed) -> None:
        """One decoded line: a call or dispatch event, or a line counted as invalid."""
        if line.topic == DISPATCHES:
            self.dispatch(line.doc)
        elif line.topic == CALLS:
            self.call(line.doc)
        else:
            self.result.counts[line.topic] += 1

    def finish(self) -> ReplayResult:
        """The final views, and the minutes still retained handed to `on_minute`."""
        for region, state in sorted(self.calls.items()):
            self.result.alerts.extend(self.ops.drain(state))
            self.result.views[region] = self.ops.view(state)
            if self.on_minute is not None:
                rest = sorted(state.windows.buckets.items(), key=lambda kv: (kv[0][1], kv[0][0]))
                self._emit_minutes(region, [(p, m, b) for (p, m), b in rest])
        for region, dstate in sorted(self.dispatch_states.items()):
            self.result.dispatches[region] = self.dispatch_ops.view(dstate)
        return self.result

    def _emit_minutes(self, region: str, rows: Iterable[tuple[str, int, Bucket]]) -> None:
        assert self.on_minute is not None
        for provider, minute, bucket in rows:
            self.on_minute(MinuteRow(region, provider, minute, bucket))


class Routed(NamedTuple):
    """Where one JSONL line goes: its topic and document, and whose region it is. (A NamedTuple:
    one is made per line, at a quarter of a frozen dataclass's cost.)"""

    topic: str  # CALLS, DISPATCHES, or the count of a line that is not a document (invalid:...)
    doc: object
    # A catalogue region code; None when the line has no readable one (bad JSON, not an object,
    # no or an unknown region): such a line is invalid, and a parallel replay's worker 0 counts it.
    region: str | None


def route(raw: bytes, catalogue: Catalogue) -> Routed:
    """Decode one JSONL line: {"topic": "calls"|"dispatches", "key": ..., "value": {...}} as
    `surge-monitor simulate --out` writes, or a bare call or dispatch event. The one place that
    says which topic and which region a line is, for the sequential and the parallel replay."""
    if len(raw) > MAX_EVENT_BYTES + 256:
        return Routed("invalid:too_large", None, None)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Routed("invalid:bad_json", None, None)
    if isinstance(doc, dict) and "value" in doc and "topic" in doc:
        topic, doc = doc["topic"], doc["value"]
    else:
        topic = DISPATCHES if isinstance(doc, dict) and "incident_id" in doc else CALLS
    region = doc.get("region") if isinstance(doc, dict) else None
    known = isinstance(region, str) and region in catalogue.by_code
    return Routed(DISPATCHES if topic == DISPATCHES else CALLS, doc, region if known else None)


def _object(doc: object) -> dict[str, object]:
    if not isinstance(doc, dict):
        raise InvalidEvent("not_object", f"expected a JSON object, got {type(doc).__name__}")
    return doc


def replay_lines(
    lines: Iterable[bytes],
    settings: Settings,
    catalogue: Catalogue,
    *,
    thresholds: Thresholds = THRESHOLDS,
    on_minute: Callable[[MinuteRow], None] | None = None,
    on_view: Callable[[str, RegionView], None] | None = None,
) -> ReplayResult:
    replayer = Replayer(settings, catalogue, thresholds, on_minute, on_view)
    for raw in lines:
        if raw.strip():
            replayer.line(raw)
    return replayer.finish()


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
        job = _Job(path, settings, catalogue, thresholds, owners, minutes, views)
        result = _replay_parallel(
            job, on_minute=on_minute, on_view=on_view, progress=progress, jobs=jobs
        )
        log.info("replay_done", path=str(path), jobs=jobs, **dict(sorted(result.counts.items())))
        return result
    size = path.stat().st_size
    with path.open("rb") as f, _bar(progress, size, "bytes") as bar:

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


FINISH: Final = sys.maxsize  # the line number of what `Replayer.finish` emits: after every line
PROGRESS_BYTES: Final = 1 << 20  # worker 0 publishes its file position every MiB read
# A row of a parallel replay, keyed (line number, region) so the workers' rows merge into the
# sequential order: a line is replayed by one worker only, and finish() goes by sorted region.
Key = tuple[int, str]
Callback = MinuteRow | tuple[str, RegionView]  # an on_minute row or an on_view (region, view)
# A worker's callback rows go to its spill file as pickled lists of this many (key, row) entries:
# about 0.8 MB pickled for views, a few MB as objects, in the worker as it fills one and in the
# merge per worker.
SPILL_CHUNK: Final = 2048


@dataclass(frozen=True, slots=True)
class _Job:
    """What every worker of a parallel replay is given (inherited through the fork)."""

    path: Path
    settings: Settings
    catalogue: Catalogue
    thresholds: Thresholds
    owners: dict[str, int]  # region code -> worker
    minutes: bool  # the caller wants on_minute rows
    views: bool  # the caller wants on_view calls


@dataclass(slots=True)
class _Part:
    """One worker's share of a parallel replay."""

    result: ReplayResult
    alert_keys: list[Key]  # one per result.alerts
    # on_minute and on_view entries (Key, Callback), interleaved as they came, in pickled chunks
    # (`_spilled`); None if the worker had none (as when the caller wants neither callback).
    spill: Path | None
    rows: int  # entries in the spill file


def region_owners(catalogue: Catalogue, jobs: int) -> dict[str, int]:
    """Region code -> worker. Largest population share (the region's share of the calls) first,
    each to the least loaded worker, ties by code and worker: deterministic, and balanced."""
    load = [0.0] * jobs
    owners: dict[str, int] = {}
    for region in sorted(catalogue.regions, key=lambda r: (-r.population_share, r.code)):
        k = min(range(jobs), key=lambda j: (load[j], j))
        owners[region.code] = k
        load[k] += region.population_share
    return owners


class _SpillWriter:
    """A worker's callback entries, pickled to its spill file SPILL_CHUNK at a time as they come,
    so the worker holds one chunk of them, not the whole replay's. The file is made with the first
    chunk: a worker with no entries makes none."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.file: BinaryIO | None = None
        self.chunk: list[tuple[Key, Callback]] = []
        self.rows = 0

    def append(self, entry: tuple[Key, Callback]) -> None:
        self.chunk.append(entry)
        if len(self.chunk) >= SPILL_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.chunk:
            return
        if self.file is None:
            assert self.path is not None, "callback entries without a spill file"
            self.file = self.path.open("wb")
        pickle.dump(self.chunk, self.file, pickle.HIGHEST_PROTOCOL)
        self.rows += len(self.chunk)
        self.chunk = []

    def __enter__(self) -> _SpillWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        """The last chunk written (unless the replay failed) and the file closed, in any case."""
        try:
            if kind is None:
                self.flush()
        finally:
            if self.file is not None:
                self.file.close()


def _replay_part(job: _Job, k: int, read: ctypes.c_int64 | None, spill: Path | None) -> _Part:
    """Worker k: the whole file read and routed, its regions' lines replayed (and, for worker 0,
    the lines without a known region, so each invalid line is counted once). Its on_minute and
    on_view entries go to the file `spill` as they come (None: the caller wants neither)."""
    line_no = 0
    out = _SpillWriter(spill)

    def on_minute(row: MinuteRow) -> None:
        out.append(((line_no, row.region), row))

    def on_view(region: str, view: RegionView) -> None:
        out.append(((line_no, region), (region, view)))

    replayer = Replayer(
        job.settings,
        job.catalogue,
        job.thresholds,
        on_minute if job.minutes else None,
        on_view if job.views else None,
    )
    alerts = replayer.result.alerts
    keys: list[Key] = []
    done = shown = 0
    with job.path.open("rb") as f, out:
        for line_no, raw in enumerate(f):
            if read is not None:
                done += len(raw)
                if done - shown >= PROGRESS_BYTES:
                    read.value = shown = done
            if not raw.strip():
                continue
            line = route(raw, job.catalogue)
            if (0 if line.region is None else job.owners[line.region]) != k:
                continue
            replayer.routed(line)
            keys.extend((line_no, a.region) for a in alerts[len(keys) :])
        line_no = FINISH
        result = replayer.finish()
        keys.extend((FINISH, a.region) for a in alerts[len(keys) :])
    return _Part(result, keys, spill if out.rows else None, out.rows)


def _spilled(path: Path) -> Generator[tuple[Key, Callback], None, None]:
    """A worker's spill file, read back one chunk at a time."""
    with path.open("rb") as f:
        while True:
            try:
                chunk: list[tuple[Key, Callback]] = pickle.load(f)  # noqa: S301 - our worker's
            except EOFError:
                return
            yield from chunk


def _work(
    job: _Job, k: int, read: ctypes.c_int64 | None, spill: Path | None, conn: Connection
) -> None:
    """A worker process: its part, or its exception (any: the parent must hear), down the pipe."""
    try:
        conn.send(("ok", _replay_part(job, k, read, spill)))
    except BaseException as exc:
        conn.send(("error", _portable(exc, k)))
    finally:
        conn.close()


def _portable(exc: BaseException, k: int) -> BaseException:
    """The worker's exception with its traceback as a note, or a RuntimeError saying the same if
    the exception does not survive pickling (e.g. a constructor with extra arguments)."""
    text = "".join(traceback.format_exception(exc))
    try:
        exc.add_note(f"raised in replay worker {k}:\n{text}")
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, a round trip
    except Exception:
        return RuntimeError(f"replay worker {k} failed:\n{text}")
    return exc


def _replay_parallel(
    job: _Job,
    *,
    on_minute: Callable[[MinuteRow], None] | None,
    on_view: Callable[[str, RegionView], None] | None,
    progress: bool,
    jobs: int,
) -> ReplayResult:
    # "fork": the parent has imported and built everything (settings, catalogue, thresholds,
    # numpy, the detectors), so a worker starts at once with nothing to re-import, and `job`
    # need not be pickled. The progress bar (a tqdm thread) is made after the forks.
    ctx = mp.get_context("fork")
    read = ctx.RawValue(ctypes.c_int64, 0)  # bytes worker 0 has read, for the progress bar
    size = job.path.stat().st_size
    # The workers' callback entries, a spill file each, in a directory made before the forks and
    # removed once they are joined (none can write after), however the replay ends.
    spills: AbstractContextManager[str | None] = (
        tempfile.TemporaryDirectory(prefix="surge-replay-")
        if job.minutes or job.views
        else nullcontext()
    )
    with spills as spill_dir:
        procs: list[BaseProcess] = []
        pending: dict[Connection, int] = {}  # the pipes of the workers not heard from yet
        parts: dict[int, _Part] = {}
        try:
            for k in range(jobs):
                spill = None if spill_dir is None else Path(spill_dir) / f"worker-{k}.pickle"
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(
                    target=_work,
                    args=(job, k, read if k == 0 else None, spill, send),
                    name=f"replay-{k}",
                    daemon=True,
                )
                proc.start()
                procs.append(proc)
                send.close()  # the worker holds the only send end: its death shows as end of file
                pending[receive] = k
            with _bar(progress, size, "bytes") as bar:
                while pending:
                    for conn in wait(list(pending), timeout=0.5):
                        assert isinstance(conn, Connection)
                        k = pending.pop(conn)
                        try:
                            status, payload = conn.recv()
                        except EOFError:
                            procs[k].join()
                            raise RuntimeError(
                                f"replay worker {k} exited with code {procs[k].exitcode} "
                                "before sending its result"
                            ) from None
                        finally:
                            conn.close()
                        if status == "error":
                            raise payload
                        parts[k] = payload
                    bar.update(read.value - bar.n)
                bar.update(size - bar.n)
        finally:
            for conn in pending:
                conn.close()
            for started in procs:
                if len(parts) < jobs:  # failed: stop the others rather than wait for them
                    started.terminate()
                started.join()
        spilled = [parts[k] for k in range(jobs)]
        log.debug(
            "replay_spilled",
            dir=spill_dir,
            rows=sum(p.rows for p in spilled),
            bytes=sum(p.spill.stat().st_size for p in spilled if p.spill is not None),
        )
        return _merge(spilled, on_minute, on_view)


def _merge(
    parts: list[_Part],
    on_minute: Callable[[MinuteRow], None] | None,
    on_view: Callable[[str, RegionView], None] | None,
) -> ReplayResult:
    """The workers' parts as one sequential replay's result, the callbacks called in its order."""
    result = ReplayResult()
    tagged = (zip(p.alert_keys, p.result.alerts, strict=True) for p in parts)
    result.alerts = [a for _, a in heapq.merge(*tagged, key=lambda ka: ka[0])]
    for p in parts:
        result.views.update(p.result.views)
        result.dispatches.update(p.result.dispatches)
        result.counts.update(p.result.counts)
    result.views = dict(sorted(result.views.items()))
    result.dispatches = dict(sorted(result.dispatches.items()))
    # Each spill file is read a chunk at a time as the merge reaches it: a chunk per worker in
    # memory, whatever the replay's length.
    streams = [_spilled(p.spill) for p in parts if p.spill is not None]
    try:
        for _, call in heapq.merge(*streams, key=lambda kc: kc[0]):
            if isinstance(call, MinuteRow):
                assert on_minute is not None
                on_minute(call)
            else:
                assert on_view is not None
                on_view(*call)
    finally:
        for stream in streams:
            stream.close()  # its file, now, if a callback raised
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
        with _bar(progress, total, "events") as bar:
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


def _bar(enabled: bool, total: int, unit: str) -> tqdm[Never]:
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        disable=not enabled,
        file=sys.stderr,
        mininterval=0.5,
    )
