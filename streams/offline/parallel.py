"""`replay --jobs N`: a file's regions replayed in N forked processes, each spilling its callback
rows to a temporary file, merged back into the one-process order (same results, same order)."""

from __future__ import annotations

import ctypes
import heapq
import multiprocessing as mp
import pickle
import sys
import tempfile
import traceback
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import BinaryIO, Final

import structlog

from detectors.answer_rates import RegionView
from streams.contract.catalogue import Catalogue
from streams.contract.settings import Settings
from streams.contract.thresholds import Thresholds
from streams.offline.replayer import MinuteRow, Replayer, ReplayResult, progress_bar, route

log = structlog.get_logger(__name__)


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
class Job:
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


def _replay_part(job: Job, k: int, read: ctypes.c_int64 | None, spill: Path | None) -> _Part:
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
    job: Job, k: int, read: ctypes.c_int64 | None, spill: Path | None, conn: Connection
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


def replay_parallel(
    job: Job,
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
            with progress_bar(progress, size, "bytes") as bar:
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
        result.staffing.update(p.result.staffing)
        result.staff_seconds.update(p.result.staff_seconds)  # a region is one worker's
        result.counts.update(p.result.counts)
    result.views = dict(sorted(result.views.items()))
    result.dispatches = dict(sorted(result.dispatches.items()))
    result.staffing = dict(sorted(result.staffing.items()))
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
