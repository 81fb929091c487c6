"""Event-time windows for one region: 1-minute buckets, a watermark, rolling totals and KPIs.

Why this exists: Faust's windowed tables expire windows by the wall clock and never see the event's
own ``ts`` (DESIGN.md, "Faust caveat"). Here every count lands in the bucket of the minute the event
happened in; a per-region watermark (max event time seen - grace) says which minutes are closed; and
the state is plain data with an exact JSON round trip, so a plain Faust table and its changelog can
hold it and a replay at any speed gives the numbers of the live day.

The one exception to the house rule "state in, state out": :func:`apply` mutates the state in
place and returns a result code. Copying a region's buckets on every event would cost more than the
rest of the pipeline together; callers that need a snapshot take :func:`to_json`.

Order independence: for events that arrive no more than ``grace_seconds`` behind the region's max,
the final state does not depend on arrival order (duplicates are exact redeliveries; an answer may
arrive before its offer). The one caveat is the float ``answered_wait_sum_seconds``, whose last bit
depends on summation order unless waits are whole (or binary-fraction) seconds, as telephony sends.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce
from heapq import heapify, heappop, heappush
from itertools import chain
from operator import add
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


class MinuteSums(NamedTuple):
    """Region-wide sums of consecutive minutes, a list per figure, an item per minute: the
    counts as floats, each added from 0.0 over the minute's providers in sorted order (the
    floats of summing its buckets afresh), and those providers. Fresh lists: the caller's."""

    offered: list[float]
    answered: list[float]
    answered_within_target: list[float]
    abandoned: list[float]
    answered_wait_sum_seconds: list[float]
    providers: list[tuple[str, ...]]


# A region's sums keep this many minutes before the earliest minute read: the reads of one step
# (the 15 and 60 minute windows, the forecast's hour and a bit) lie well within it. A read from
# an earlier minute only costs a resum from there.
_SUMS_SLACK_MINUTES = 180


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


@dataclass(frozen=True, slots=True)
class Totals:
    """Bucket counts summed over a window; dispositions as sorted (name, n) pairs."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_within_target: int = 0
    abandoned_after_threshold: int = 0
    answered_wait_sum_seconds: float = 0.0
    callbacks_requested: int = 0
    callbacks_made: int = 0
    callbacks_within_target: int = 0
    dispositions: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Kpis:
    """DESIGN.md KPIs. None means no denominator: absent, which a dashboard must not show as 0."""

    answer_rate: float | None
    service_level: float | None
    abandon_rate: float | None
    average_speed_of_answer_seconds: float | None
    # callbacks made within target / callbacks requested. Counted in the minute of each event, so
    # requests in a window's last minutes whose callback is not yet due lower the figure a little.
    callback_within_target_rate: float | None = None


def initial() -> RegionState:
    return RegionState()


def apply(state: RegionState, obs: CallObs, config: WindowConfig) -> str:
    """Count one event into its minute's bucket IN PLACE; return OK, LATE, DUPLICATE or TOO_LATE.

    Raises ValueError, before changing anything, for an unknown kind or a missing wait/disposition.
    """
    wait, label = _checked(obs)
    key = (obs.call_id, obs.kind)
    if key in state.seen:
        state.duplicates += 1
        return DUPLICATE
    ts = obs.ts_s
    minute = int(ts // 60) * 60
    max_ts = state.max_ts_s
    result = OK
    if max_ts is not None:
        mark = max_ts - config.grace_seconds
        if minute < int(mark // 60) * 60 - config.retention_minutes * 60:
            state.too_late += 1
            return TOO_LATE
        if minute + 60 <= mark:
            state.late += 1
            result = LATE

    state.seen[key] = minute
    slot = state._minutes.get(minute)
    if slot is None:
        slot = state._minutes[minute] = _Minute()
        heappush(state._minute_heap, minute)
    if not slot.keys:  # new, or its keys were forgotten by the dedup cutoff: track them again
        heappush(state._seen_heap, minute)
    slot.keys.append(key)
    bucket = state.buckets.get((obs.provider, minute))
    if bucket is None:
        bucket = state.buckets[(obs.provider, minute)] = Bucket()
        insort(slot.providers, obs.provider)
    _count(state, bucket, obs, wait, label, config=config)
    if state._rolling or state._sums is not None:
        _touched(state, minute)
    if max_ts is None or ts > max_ts:
        state.max_ts_s = ts
        _evict(state, config)
    return result


def _checked(obs: CallObs) -> tuple[float, str]:
    """(wait, disposition) of the event, "" and 0.0 where the kind has none; raises if invalid."""
    kind = obs.kind
    if kind in _OUTCOMES:
        if obs.wait_seconds is None:
            raise ValueError(f"{kind} event for call {obs.call_id!r} has no wait_seconds")
        return obs.wait_seconds, ""
    if kind == DISPOSITION:
        if obs.disposition is None:
            raise ValueError(f"disposition event for call {obs.call_id!r} has no disposition")
        return 0.0, obs.disposition
    if kind not in KINDS:
        raise ValueError(f"unknown call event kind {kind!r}; expected one of {sorted(KINDS)}")
    return 0.0, ""


def _count(
    state: RegionState,
    bucket: Bucket,
    obs: CallObs,
    wait: float,
    label: str,
    *,
    config: WindowConfig,
) -> None:
    kind = obs.kind
    _add_cumulative(state, obs.provider, kind if kind != DISPOSITION else "disposition:" + label)
    if kind == OFFERED:
        bucket.offered += 1
        # An answer may overtake its offer; the offer must then not open the call again.
        if (obs.call_id, ANSWERED) not in state.seen and (obs.call_id, ABANDONED) not in state.seen:
            _open(state, obs.call_id, obs.provider, obs.ts_s, config)
    elif kind == ANSWERED:
        bucket.answered += 1
        bucket.answered_wait_sum_seconds += wait
        if wait <= config.answer_target_seconds:
            bucket.answered_within_target += 1
            _add_cumulative(state, obs.provider, "answered_within_target")
        _observe_wait(state, wait, config)
        state.open_calls.pop(obs.call_id, None)
    elif kind == ABANDONED:
        bucket.abandoned += 1
        if wait > config.abandon_threshold_seconds:
            bucket.abandoned_after_threshold += 1
            _add_cumulative(state, obs.provider, "abandoned_after_threshold")
        state.open_calls.pop(obs.call_id, None)
    elif kind in (CALLBACK_REQUESTED, CALLBACK_MADE):
        _count_callback(state, bucket, obs, config)
    else:
        bucket.dispositions[label] = bucket.dispositions.get(label, 0) + 1


def _count_callback(state: RegionState, bucket: Bucket, obs: CallObs, config: WindowConfig) -> None:
    """Count a request or a made callback, and pair it with its other half if that came first."""
    if obs.kind == CALLBACK_REQUESTED:
        bucket.callbacks_requested += 1
        made = state.callbacks_made_early.pop(obs.call_id, None)
        if made is not None:  # the callback overtook its request: count it now, in its minute
            _callback_paired(state, made[0], made[1], obs.ts_s, config)
        elif _callback_may_wait(state, obs.call_id, obs.ts_s, config):
            state.callback_requests[obs.call_id] = obs.ts_s
        return
    bucket.callbacks_made += 1
    requested = state.callback_requests.pop(obs.call_id, None)
    if requested is not None:
        _callback_paired(state, obs.provider, obs.ts_s, requested, config)
    elif _callback_may_wait(state, obs.call_id, obs.ts_s, config):
        state.callbacks_made_early[obs.call_id] = (obs.provider, obs.ts_s)


def _callback_paired(
    state: RegionState, provider: str, made_ts: float, requested_ts: float, config: WindowConfig
) -> None:
    """Count a callback within target in the bucket of the made event, whichever came first."""
    if made_ts - requested_ts > config.callback_target_seconds:
        return
    bucket = state.buckets.get((provider, int(made_ts // 60) * 60))
    if bucket is not None:  # None only if made is behind retention while its request is not
        bucket.callbacks_within_target += 1
        _touched(state, int(made_ts // 60) * 60)
    _add_cumulative(state, provider, "callbacks_within_target")


def _touched(state: RegionState, minute: int) -> None:
    """A bucket of `minute` changed or went: mark its sums stale, drop the rolled windows that
    hold it."""
    sums = state._sums
    if sums is not None and sums.base <= minute < sums.base + len(sums.offered) * 60:
        sums.stale.add(minute)
    rolling = state._rolling
    for size, r in list(rolling.items()):
        if r.end - size * 60 < minute <= r.end:
            del rolling[size]


def _callback_may_wait(state: RegionState, call_id: str, ts: float, config: WindowConfig) -> bool:
    """Whether a callback event may wait for its other half: not if already older than the
    open-call limit (as in _open, so the outcome is the same whichever order events came in)."""
    max_ts = state.max_ts_s
    if max_ts is not None and ts < max_ts - config.open_call_limit_seconds:
        return False
    waiting = len(state.callback_requests) + len(state.callbacks_made_early)
    if len(state._callback_heap) > 2 * waiting + 64:  # mostly paired: compact, O(1) amortised
        _rebuild_callback_heap(state)
    heappush(state._callback_heap, (ts, call_id))
    return True


def _add_cumulative(state: RegionState, provider: str, name: str) -> None:
    key = (provider, name)
    state.cumulative[key] = state.cumulative.get(key, 0) + 1


def _observe_wait(state: RegionState, wait: float, config: WindowConfig) -> None:
    counts = state.wait_counts
    bounds = config.wait_buckets_seconds
    if len(counts) != len(bounds) + 1:
        counts.extend([0] * (len(bounds) + 1 - len(counts)))
    counts[bisect_left(bounds, wait)] += 1
    state.wait_sum_seconds += wait


def _open(state: RegionState, call_id: str, provider: str, ts: float, config: WindowConfig) -> None:
    """Open a call, or count it expired at once if it is already older than the limit (a late
    offer), so that the expired count is the same whichever order the events came in."""
    max_ts = state.max_ts_s
    if max_ts is not None and ts < max_ts - config.open_call_limit_seconds:
        state.expired_calls += 1
        return
    state.open_calls[call_id] = (provider, ts)
    heap = state._open_heap
    heappush(heap, (ts, call_id))
    if len(heap) > 2 * len(state.open_calls) + 64:  # mostly closed calls: compact, O(1) amortised
        _rebuild_open_heap(state)


def _evict(state: RegionState, config: WindowConfig) -> None:
    """Drop minutes behind retention and expire open calls; each heap top check is O(1)."""
    max_ts = state.max_ts_s
    if max_ts is None:
        return
    mark_minute = int((max_ts - config.grace_seconds) // 60) * 60
    cutoff = mark_minute - config.retention_minutes * 60
    heap = state._minute_heap
    while heap and heap[0] < cutoff:
        minute = heappop(heap)
        slot = state._minutes.pop(minute)
        _touched(state, minute)
        for provider in slot.providers:
            bucket = state.buckets.pop((provider, minute))
            if state.evicted is not None:
                state.evicted.append((provider, minute, bucket))
        for key in slot.keys:
            state.seen.pop(key, None)
    seen_cutoff = mark_minute - config.dedup_minutes * 60
    seen_heap = state._seen_heap
    while seen_heap and seen_heap[0] < seen_cutoff:
        kept = state._minutes.get(heappop(seen_heap))
        if kept is not None:
            for key in kept.keys:
                state.seen.pop(key, None)
            kept.keys = []
    expire_before = max_ts - config.open_call_limit_seconds
    open_heap = state._open_heap
    while open_heap and open_heap[0][0] < expire_before:
        ts, call_id = heappop(open_heap)
        entry = state.open_calls.get(call_id)
        if entry is not None and entry[1] == ts:
            del state.open_calls[call_id]
            state.expired_calls += 1
    _forget_callbacks(state, expire_before)


def _forget_callbacks(state: RegionState, before_s: float) -> None:
    """Forget callback halves older than `before_s` whose other half never came."""
    heap = state._callback_heap
    while heap and heap[0][0] < before_s:
        ts, call_id = heappop(heap)
        if state.callback_requests.get(call_id) == ts:
            del state.callback_requests[call_id]
        made = state.callbacks_made_early.get(call_id)
        if made is not None and made[1] == ts:
            del state.callbacks_made_early[call_id]


def _rebuild_open_heap(state: RegionState) -> None:
    state._open_heap = [(ts, call_id) for call_id, (_, ts) in state.open_calls.items()]
    heapify(state._open_heap)


def _rebuild_callback_heap(state: RegionState) -> None:
    heap = [(ts, call_id) for call_id, ts in state.callback_requests.items()]
    heap += [(ts, call_id) for call_id, (_, ts) in state.callbacks_made_early.items()]
    heapify(heap)
    state._callback_heap = heap


def _reindex(state: RegionState) -> None:
    """Rebuild the derived indexes from the serialised fields (after from_json)."""
    minutes: dict[int, _Minute] = {}
    for provider, minute in sorted(state.buckets):
        minutes.setdefault(minute, _Minute()).providers.append(provider)
    for key, minute in state.seen.items():
        minutes.setdefault(minute, _Minute()).keys.append(key)
    state._minutes = minutes
    state._minute_heap = sorted(minutes)
    state._seen_heap = sorted({m for m, slot in minutes.items() if slot.keys})
    _rebuild_open_heap(state)
    _rebuild_callback_heap(state)


def watermark(state: RegionState, config: WindowConfig) -> float | None:
    return None if state.max_ts_s is None else state.max_ts_s - config.grace_seconds


def closed_minute(state: RegionState, config: WindowConfig) -> int | None:
    """Start of the last minute whose end <= the watermark: the newest minute safe to report."""
    mark = watermark(state, config)
    return None if mark is None else int(mark // 60) * 60 - 60


def window_totals(
    state: RegionState, provider: str | None, end_minute: int, minutes: int
) -> Totals:
    """Sum the buckets of the `minutes` minutes ending with (and including) `end_minute`.

    provider None sums every provider of the region. Providers are added in sorted order so the
    float wait sum is the same for equal states. The region-wide integer sums are rolled on
    from the previous call's (`_Rolling`): the detectors step every region every closed minute.
    """
    if end_minute % 60 or minutes < 1:
        raise ValueError(
            f"end_minute {end_minute} must be a minute start and minutes {minutes} >= 1"
        )
    first = end_minute - (minutes - 1) * 60
    if provider is None:
        counts, dispositions = _region_counts(state, end_minute, minutes)
    else:
        counts, dispositions = _counts(state, provider, first, end_minute)
    wait_sum = 0.0
    if provider is None:
        sums = _summed(state, first, end_minute)
        i = (first - sums.base) // 60
        # The same left-to-right float additions as a loop, without the loop's bytecode.
        wait_sum = reduce(add, chain.from_iterable(sums.waits[i : i + minutes]), 0.0)
    else:
        buckets = state.buckets
        for minute in range(first, end_minute + 1, 60):
            slot = state._minutes.get(minute)
            if slot is not None and provider in slot.providers:
                wait_sum += buckets[(provider, minute)].answered_wait_sum_seconds
    offered, answered, abandoned, within, after, requested, made, callbacks_within = counts
    return Totals(
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        answered_within_target=within,
        abandoned_after_threshold=after,
        answered_wait_sum_seconds=wait_sum,
        callbacks_requested=requested,
        callbacks_made=made,
        callbacks_within_target=callbacks_within,
        dispositions=tuple(sorted((k, n) for k, n in dispositions.items() if n)),
    )


def _region_counts(
    state: RegionState, end_minute: int, minutes: int
) -> tuple[list[int], dict[str, int]]:
    """The region-wide integer sums of the window: the last call's rolled on when it ended at
    most `minutes` minutes earlier and nothing it holds has changed since, else afresh."""
    rolled = state._rolling.get(minutes)
    span = minutes * 60
    if rolled is None or not rolled.end <= end_minute < rolled.end + span:
        counts, dispositions = _counts(state, None, end_minute - span + 60, end_minute)
        state._rolling[minutes] = _Rolling(end_minute, counts, dispositions)
        return list(counts), dict(dispositions)
    for minute in range(rolled.end + 60, end_minute + 60, 60):
        _add_minute(state, rolled, minute, 1)
        _add_minute(state, rolled, minute - span, -1)
    rolled.end = end_minute
    return list(rolled.counts), dict(rolled.dispositions)


def _add_minute(state: RegionState, rolled: _Rolling, minute: int, sign: int) -> None:
    slot = state._minutes.get(minute)
    if slot is None:
        return
    counts, dispositions = rolled.counts, rolled.dispositions
    for name in slot.providers:
        b = state.buckets[(name, minute)]
        counts[0] += sign * b.offered
        counts[1] += sign * b.answered
        counts[2] += sign * b.abandoned
        counts[3] += sign * b.answered_within_target
        counts[4] += sign * b.abandoned_after_threshold
        counts[5] += sign * b.callbacks_requested
        counts[6] += sign * b.callbacks_made
        counts[7] += sign * b.callbacks_within_target
        for label, n in b.dispositions.items():
            dispositions[label] = dispositions.get(label, 0) + sign * n


def _counts(
    state: RegionState, provider: str | None, first: int, last: int
) -> tuple[list[int], dict[str, int]]:
    """The integer sums (in _COUNTS order) and dispositions of minutes first..last, afresh."""
    # Plain locals, not getattr over _COUNTS: this runs for every region every closed minute.
    offered = answered = abandoned = within = after = 0
    requested = made = callbacks_within = 0
    dispositions: dict[str, int] = {}
    buckets = state.buckets
    for minute in range(first, last + 1, 60):
        slot = state._minutes.get(minute)
        if slot is None:
            continue
        for name in slot.providers:
            if provider is not None and name != provider:
                continue
            b = buckets[(name, minute)]
            offered += b.offered
            answered += b.answered
            abandoned += b.abandoned
            within += b.answered_within_target
            after += b.abandoned_after_threshold
            requested += b.callbacks_requested
            made += b.callbacks_made
            callbacks_within += b.callbacks_within_target
            for label, n in b.dispositions.items():
                dispositions[label] = dispositions.get(label, 0) + n
    counts = [offered, answered, abandoned, within, after, requested, made, callbacks_within]
    return counts, dispositions


def _ratio(num: float, den: int) -> float | None:
    return None if den == 0 else num / den


def kpis(t: Totals) -> Kpis:
    """Ratios are not clamped: an answer rate over 1 means the window answered a backlog."""
    return Kpis(
        answer_rate=_ratio(t.answered, t.offered),
        service_level=_ratio(t.answered_within_target, t.answered),
        abandon_rate=_ratio(t.abandoned_after_threshold, t.offered),
        average_speed_of_answer_seconds=_ratio(t.answered_wait_sum_seconds, t.answered),
        callback_within_target_rate=_ratio(t.callbacks_within_target, t.callbacks_requested),
    )


def calls_waiting(state: RegionState, provider: str | None = None) -> int:
    if provider is None:
        return len(state.open_calls)
    return sum(1 for name, _ in state.open_calls.values() if name == provider)


def longest_wait_seconds(state: RegionState) -> float | None:
    """Age of the oldest open call at the region's max event time (event time, not the clock)."""
    if not state.open_calls or state.max_ts_s is None:
        return None
    return state.max_ts_s - min(ts for _, ts in state.open_calls.values())


def oldest_minute(state: RegionState) -> int | None:
    """The oldest retained minute (the top of the eviction heap: O(1))."""
    return state._minute_heap[0] if state._minute_heap else None


def minute_sums(state: RegionState, first: int, last: int) -> MinuteSums:
    """The region-wide MinuteSums of the minutes from `first` to `last` inclusive (zeros and no
    providers for a minute without buckets), from the sums kept per minute (_Sums)."""
    if first % 60 or last % 60:
        raise ValueError(f"first {first} and last {last} must be minute starts")
    sums = _summed(state, first, last)
    i, j = (first - sums.base) // 60, (last - sums.base) // 60 + 1
    return MinuteSums(
        sums.offered[i:j],
        sums.answered[i:j],
        sums.within[i:j],
        sums.abandoned[i:j],
        sums.wait_sum[i:j],
        sums.providers[i:j],
    )


def _summed(state: RegionState, first: int, last: int) -> _Sums:
    """The region's _Sums, with every minute from `first` to `last` summed and none stale."""
    sums = state._sums
    slack = _SUMS_SLACK_MINUTES * 60
    if sums is None or first < sums.base:
        sums = state._sums = _Sums(first - slack)
    elif first - sums.base > 2 * slack:  # drop what is far behind (all of it after a gap)
        drop = (first - sums.base - slack) // 60
        for values in sums.lists():
            del values[:drop]
        sums.base += drop * 60
    lists = sums.lists()
    if sums.stale:
        for minute in sums.stale:
            i = (minute - sums.base) // 60
            if 0 <= i < len(sums.offered):
                for values, value in zip(lists, _sum_minute(state, minute), strict=True):
                    values[i] = value
        sums.stale.clear()
    for minute in range(sums.base + len(sums.offered) * 60, last + 60, 60):
        for values, value in zip(lists, _sum_minute(state, minute), strict=True):
            values.append(value)
    return sums


_NO_SUMS = (0.0, 0.0, 0.0, 0.0, 0.0, (), ())


def _sum_minute(state: RegionState, minute: int) -> tuple[Any, ...]:
    """One minute's items of _Sums's lists, its buckets added in sorted provider order."""
    slot = state._minutes.get(minute)
    if slot is None:
        return _NO_SUMS
    buckets = state.buckets
    offered = answered = within = abandoned = wait_sum = 0.0
    waits = []
    for name in slot.providers:
        b = buckets[(name, minute)]
        offered += b.offered
        answered += b.answered
        within += b.answered_within_target
        abandoned += b.abandoned
        wait_sum += b.answered_wait_sum_seconds
        waits.append(b.answered_wait_sum_seconds)
    return offered, answered, within, abandoned, wait_sum, tuple(slot.providers), tuple(waits)


def providers(state: RegionState) -> set[str]:
    return {name for name, _ in state.buckets}


def to_json(state: RegionState) -> dict[str, Any]:
    """A JSON-able snapshot, sorted so equal states give equal documents (and changelog bytes)."""
    buckets = []
    for provider, minute in sorted(state.buckets):
        b = state.buckets[(provider, minute)]
        doc: dict[str, Any] = {"provider": provider, "minute": minute}
        doc.update((name, getattr(b, name)) for name in _COUNTS)
        doc["answered_wait_sum_seconds"] = b.answered_wait_sum_seconds
        doc["dispositions"] = dict(sorted(b.dispositions.items()))
        buckets.append(doc)
    return {
        "version": STATE_VERSION,
        "max_ts_s": state.max_ts_s,
        "buckets": buckets,
        "open_calls": [[cid, *state.open_calls[cid]] for cid in sorted(state.open_calls)],
        "seen": [[cid, kind, state.seen[(cid, kind)]] for cid, kind in sorted(state.seen)],
        "late": state.late,
        "duplicates": state.duplicates,
        "too_late": state.too_late,
        "expired_calls": state.expired_calls,
        "cumulative": [
            [p, name, state.cumulative[(p, name)]] for p, name in sorted(state.cumulative)
        ],
        "wait_counts": list(state.wait_counts),
        "wait_sum_seconds": state.wait_sum_seconds,
        "callback_requests": [
            [c, state.callback_requests[c]] for c in sorted(state.callback_requests)
        ],
        "callbacks_made_early": [
            [c, *state.callbacks_made_early[c]] for c in sorted(state.callbacks_made_early)
        ],
    }


def from_json(doc: Mapping[str, Any]) -> RegionState:
    """Restore a :func:`to_json` snapshot exactly, rebuilding the derived indexes."""
    version = doc.get("version")
    if version != STATE_VERSION:
        raise ValueError(
            f"region state has version {version!r}, this code reads {STATE_VERSION}; "
            "rebuild the table by replaying the call-events topic"
        )
    buckets: dict[tuple[str, int], Bucket] = {}
    for d in doc["buckets"]:
        bucket = Bucket()
        for name in _COUNTS:
            setattr(bucket, name, int(d[name]))
        bucket.answered_wait_sum_seconds = float(d["answered_wait_sum_seconds"])
        bucket.dispositions = {str(k): int(n) for k, n in d["dispositions"].items()}
        buckets[(str(d["provider"]), int(d["minute"]))] = bucket
    max_ts = doc["max_ts_s"]
    state = RegionState(
        max_ts_s=None if max_ts is None else float(max_ts),
        buckets=buckets,
        open_calls={str(c): (str(p), float(ts)) for c, p, ts in doc["open_calls"]},
        seen={(str(c), str(k)): int(m) for c, k, m in doc["seen"]},
        late=int(doc["late"]),
        duplicates=int(doc["duplicates"]),
        too_late=int(doc["too_late"]),
        expired_calls=int(doc["expired_calls"]),
        cumulative={(str(p), str(name)): int(n) for p, name, n in doc["cumulative"]},
        wait_counts=[int(n) for n in doc["wait_counts"]],
        wait_sum_seconds=float(doc["wait_sum_seconds"]),
        callback_requests={str(c): float(ts) for c, ts in doc["callback_requests"]},
        callbacks_made_early={
            str(c): (str(p), float(ts)) for c, p, ts in doc["callbacks_made_early"]
        },
    )
    _reindex(state)
    return state
