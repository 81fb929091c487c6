"""Sums over the buckets: window totals rolled on a minute at a time, per-minute region sums, KPIs.

Why a module of its own: the detectors and the forecast read these for every region every closed
minute, so the region-wide windows are rolled on (``_Rolling``) and each minute's sums are summed
once (``_Sums``); :func:`_touched` is how every change to a bucket marks them stale. Floats are
added in a fixed order (providers sorted), so equal states give equal sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from itertools import chain
from operator import add
from typing import Any, NamedTuple

from detectors.windows.state import RegionState, _Rolling, _Sums


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
