"""The plain data of a region's windows: config, call event, bucket and region state.

Why a module of its own: every other module of the package reads and writes these types, so they
import none of it; they hold no logic beyond the config's checks. The fields at the end of
:class:`RegionState` (``_minutes``, the heaps, ``_rolling``, ``_sums``) are indexes derived from
the others, not serialised: :mod:`detectors.windows.snapshot` rebuilds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

OK = "ok"
LATE = "late"  # counted, but in a minute the watermark had already closed
DUPLICATE = "duplicate"  # same (call_id, kind) already counted and still retained: ignored
TOO_LATE = "too_late"  # behind retention: nothing changed; the caller dead-letters it

OFFERED = "offered"
ANSWERED = "answered"
ABANDONED = "abandoned"
CALLBACK_REQUESTED = "callback_requested"
CALLBACK_MADE = "callback_made"
DISPOSITION = "disposition"
KINDS = frozenset({OFFERED, ANSWERED, ABANDONED, CALLBACK_REQUESTED, CALLBACK_MADE, DISPOSITION})
_OUTCOMES = frozenset({ANSWERED, ABANDONED})

STATE_VERSION = 3  # bump when the to_json layout changes, so an old changelog fails loudly


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """Thresholds of the windows; defaults are the DESIGN.md / NHS 111 minimum data set values."""

    grace_seconds: float = 120.0  # watermark = max event time seen in the region - grace
    retention_minutes: int = 90  # buckets kept behind the watermark (>= the longest window)
    # (call_id, kind) pairs remembered to drop redeliveries; shorter than retention because the
    # whole region state is checkpointed and a smaller snapshot is cheaper to write.
    dedup_minutes: int = 30
    windows_minutes: tuple[int, ...] = (15, 60)
    answer_target_seconds: float = 60.0  # service level: answered with wait <= target
    abandon_threshold_seconds: float = 30.0  # abandonment: abandoned with wait > threshold
    open_call_limit_seconds: float = 4 * 3600.0  # offered, never answered/abandoned: expires
    # Clinical callback made within this of its request (DESIGN.md: 10 min). Requests wait for
    # their callback up to open_call_limit_seconds, then are forgotten like open calls.
    callback_target_seconds: float = 600.0
    # Upper bounds of the answered-wait histogram (Prometheus `le`), around the 60 s target.
    wait_buckets_seconds: tuple[float, ...] = (10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)

    def __post_init__(self) -> None:
        if self.grace_seconds < 0:
            raise ValueError(f"grace_seconds is {self.grace_seconds}; set it to 0 or more")
        if not self.windows_minutes or min(self.windows_minutes) < 1:
            raise ValueError(f"windows_minutes {self.windows_minutes} must be whole minutes >= 1")
        if self.retention_minutes < max(self.windows_minutes):
            raise ValueError(
                f"retention_minutes {self.retention_minutes} is shorter than the longest window "
                f"{max(self.windows_minutes)}; raise it or the window would read evicted buckets"
            )
        if self.open_call_limit_seconds <= 0:
            raise ValueError("open_call_limit_seconds must be positive")
        # (Callback counts are order-independent within grace while target + grace < limit.)
        if not 0 <= self.callback_target_seconds <= self.open_call_limit_seconds:
            raise ValueError(
                f"callback_target_seconds {self.callback_target_seconds:g} must be >= 0 and at "
                "most open_call_limit_seconds, which bounds how long a request is kept"
            )
        if not self.grace_seconds / 60 < self.dedup_minutes <= self.retention_minutes:
            raise ValueError(
                f"dedup_minutes {self.dedup_minutes} must exceed the grace "
                f"({self.grace_seconds:g} s) and be at most retention_minutes"
            )
        if list(self.wait_buckets_seconds) != sorted(set(self.wait_buckets_seconds)):
            raise ValueError("wait_buckets_seconds must be strictly increasing")


class CallObs(NamedTuple):
    """One validated call event, as the stream layer hands it over (validation is its job). A
    NamedTuple: one is made per event, at less than half a frozen dataclass's cost."""

    call_id: str
    kind: str  # one of KINDS
    ts_s: float  # event time, UTC epoch seconds
    provider: str
    wait_seconds: float | None = None  # on answered/abandoned
    disposition: str | None = None  # on disposition


@dataclass(slots=True)
class Bucket:
    """Counts for one (provider, minute); the minute is that of each event's own ts."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_within_target: int = 0
    abandoned_after_threshold: int = 0
    answered_wait_sum_seconds: float = 0.0
    callbacks_requested: int = 0
    callbacks_made: int = 0
    # callbacks made within callback_target_seconds of their request, in the minute of the made
    callbacks_within_target: int = 0
    dispositions: dict[str, int] = field(default_factory=dict)


# The integer fields of Bucket and Totals, in one place for summing and (de)serialising.
_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "answered_within_target",
    "abandoned_after_threshold",
    "callbacks_requested",
    "callbacks_made",
    "callbacks_within_target",
)


@dataclass(slots=True)
class _Minute:
    """What one minute holds, so eviction pops whole minutes instead of scanning every key."""

    providers: list[str] = field(default_factory=list)  # sorted: window sums in a fixed order
    keys: list[tuple[str, str]] = field(default_factory=list)  # its entries in `seen`


@dataclass(slots=True)
class _Rolling:
    """A region-wide window's integer sums at `end`, rolled on a minute at a time as the
    detectors step (window_totals). Integers sum the same whichever way they are added, so a
    rolled window equals a fresh one exactly; a change to a minute it holds (a late event, a
    callback paired late, an eviction) drops it, and the next call sums it afresh."""

    end: int
    counts: list[int]  # in _COUNTS order
    dispositions: dict[str, int]


@dataclass(slots=True)
class _Sums:
    """The region-wide sums of every minute from `base` on, as MinuteSums's lists plus each
    minute's buckets' wait sums in provider order (what a window's wait sum adds, minute after
    minute). The forecast and the windows read about two hours of minutes for every region every
    closed minute and only the newest change between steps, so each minute is summed once, and
    again when _touched has marked it stale (one of its buckets changed or went)."""

    base: int
    offered: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)
    within: list[float] = field(default_factory=list)
    abandoned: list[float] = field(default_factory=list)
    wait_sum: list[float] = field(default_factory=list)
    providers: list[tuple[str, ...]] = field(default_factory=list)
    waits: list[tuple[float, ...]] = field(default_factory=list)
    stale: set[int] = field(default_factory=set)  # minutes from base to the last one summed

    def lists(self) -> tuple[list[Any], ...]:
        return (
            self.offered,
            self.answered,
            self.within,
            self.abandoned,
            self.wait_sum,
            self.providers,
            self.waits,
        )


@dataclass(slots=True)
class RegionState:
    """Everything one region needs. Fields after the counters are indexes derived from the others:
    not compared, not serialised, rebuilt by :func:`from_json`."""

    max_ts_s: float | None = None
    buckets: dict[tuple[str, int], Bucket] = field(default_factory=dict)
    open_calls: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (provider, ts)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)  # (call_id, kind) -> minute
    late: int = 0
    duplicates: int = 0
    too_late: int = 0
    expired_calls: int = 0
    # Counts since the region's first event, never evicted: the exact `_total` counters.
    # Keys (provider, name); names are the Bucket count fields and "disposition:<kind>".
    cumulative: dict[tuple[str, str], int] = field(default_factory=dict)
    # Answered waits per histogram bucket (not cumulative; last = above the top bound) and sum.
    wait_counts: list[int] = field(default_factory=list)
    wait_sum_seconds: float = 0.0
    # Callbacks waiting for their other half: id -> request ts, and id -> (provider, made ts) of
    # a callback_made that overtook its request. Forgotten after open_call_limit_seconds.
    callback_requests: dict[str, float] = field(default_factory=dict)
    callbacks_made_early: dict[str, tuple[str, float]] = field(default_factory=dict)
    _minutes: dict[int, _Minute] = field(default_factory=dict, compare=False, repr=False)
    _minute_heap: list[int] = field(default_factory=list, compare=False, repr=False)
    _seen_heap: list[int] = field(default_factory=list, compare=False, repr=False)
    # (offered ts, call_id); entries of calls since closed stay until popped or compacted
    _open_heap: list[tuple[float, str]] = field(default_factory=list, compare=False, repr=False)
    # (ts, call_id) of both callback dicts; entries since paired stay until popped or compacted
    _callback_heap: list[tuple[float, str]] = field(default_factory=list, compare=False, repr=False)
    # window minutes -> the region-wide window last summed (see _Rolling)
    _rolling: dict[int, _Rolling] = field(default_factory=dict, compare=False, repr=False)
    # When a list (a replay sets one), each evicted (provider, minute, bucket) is appended to it:
    # a minute's final counts, late events included. None (live) keeps eviction free.
    evicted: list[tuple[str, int, Bucket]] | None = field(default=None, compare=False, repr=False)
    # the region-wide sums of each minute, summed when first read (see _Sums)
    _sums: _Sums | None = field(default=None, compare=False, repr=False)
