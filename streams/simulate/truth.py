"""What the generator emitted, and its exact counts per region, provider, minute and outcome: the
ground truth the integration and fault tests compare the pipeline's figures with.

It keeps callers as well as attempts (DESIGN.md, "callers, not attempts"): the offered attempts
per minute split into first and repeat (`attempt` > 1), and each caller (the generator's
`Emitted.caller`, else the call id: a call of its own) with its attempts, its first offer and
its first answer, so a caller's wait to get through is the answer time minus the first offer.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from streams.contract.records import AgentStateEvent, CallEvent, DispatchEvent, format_ts

TARGET_ANSWER_S: Final = 60.0  # NHS 111 minimum data set: answered within 60 s


ABANDON_AFTER_S: Final = 30.0  # and abandoned after 30 s


@dataclass(frozen=True)
class Emitted:
    topic: str
    key: str
    ts_s: float
    event: CallEvent | DispatchEvent | AgentStateEvent
    # The generator's caller behind a call event (the call id of the caller's first attempt):
    # ground truth only, never on the wire (the contract carries no caller identifier).
    caller: str | None = None


@dataclass(slots=True)
class Caller:
    """One caller's attempts as emitted (times in UTC epoch seconds)."""

    region: str
    first_s: float  # the first offer (or the first_attempt_ts an attempt carries, if earlier)
    attempts: int = 0  # offered attempts
    repeats: int = 0  # of which attempt > 1
    answered_s: float | None = None  # the first answer, None while never answered

    @property
    def wait_s(self) -> float | None:
        """First attempt to answer, across attempts; None when never answered."""
        return None if self.answered_s is None else self.answered_s - self.first_s


@dataclass(frozen=True)
class CallerCounts:
    """A region's callers and attempts (DESIGN.md KPIs: unique callers = offered first
    attempts; repeat attempts = offered with attempt > 1)."""

    callers: int  # callers with an offered attempt
    first_attempts: int
    repeat_attempts: int
    never_answered: int  # callers with an offered attempt and no answer
    waits_s: tuple[float, ...]  # each answered caller's wait from first attempt to answer


@dataclass
class GroundTruth:
    """Exact counts of what was emitted: the oracle the integration tests compare metrics with."""

    counts: Counter[tuple[str, str, int, str]] = field(default_factory=Counter)
    # offered attempts per (region, provider, minute, "first" | "repeat")
    attempts: Counter[tuple[str, str, int, str]] = field(default_factory=Counter)
    callers: dict[str, Caller] = field(default_factory=dict)

    def add(self, e: Emitted) -> None:
        minute = math.floor(e.ts_s / 60) * 60
        ev = e.event
        if isinstance(ev, DispatchEvent):
            self.counts[(ev.region, "-", minute, f"dispatch:{ev.source}:{ev.category}")] += 1
            return
        if isinstance(ev, AgentStateEvent):
            self.counts[(ev.region, ev.provider, minute, f"agent:{ev.state}")] += 1
            return
        name = f"disposition:{ev.disposition}" if ev.event == "disposition" else ev.event
        self.counts[(ev.region, ev.provider, minute, name)] += 1
        if ev.event in ("offered", "answered"):
            self._add_caller(e.caller or ev.call_id, ev, minute)
        wait = ev.wait_seconds
        if wait is not None and ev.event == "answered" and wait <= TARGET_ANSWER_S:
            self.counts[(ev.region, ev.provider, minute, "answered_within_60")] += 1
        elif wait is not None and ev.event == "abandoned" and wait > ABANDON_AFTER_S:
            self.counts[(ev.region, ev.provider, minute, "abandoned_after_30")] += 1

    def _add_caller(self, key: str, ev: CallEvent, minute: int) -> None:
        first_s = ev.ts_s if ev.first_attempt_ts_s is None else ev.first_attempt_ts_s
        caller = self.callers.get(key)
        if caller is None:
            caller = self.callers[key] = Caller(ev.region, first_s)
        caller.first_s = min(caller.first_s, first_s)
        if ev.event == "answered":
            if caller.answered_s is None or ev.ts_s < caller.answered_s:
                caller.answered_s = ev.ts_s
            return
        caller.attempts += 1
        caller.repeats += ev.repeat
        kind = "repeat" if ev.repeat else "first"
        self.attempts[(ev.region, ev.provider, minute, kind)] += 1

    def caller_counts(self, region: str | None = None) -> CallerCounts:
        """The callers (all regions when None) and their attempts."""
        mine = [c for c in self.callers.values() if c.attempts and region in (None, c.region)]
        waits = tuple(w for c in mine if (w := c.wait_s) is not None)
        return CallerCounts(
            callers=len(mine),
            first_attempts=self.total_attempts(region, "first"),
            repeat_attempts=self.total_attempts(region, "repeat"),
            never_answered=sum(c.answered_s is None for c in mine),
            waits_s=waits,
        )

    def total_attempts(
        self,
        region: str | None,
        kind: str,
        *,
        since_s: float | None = None,
        until_s: float | None = None,
    ) -> int:
        """Offered attempts of `kind` ("first" or "repeat") in minutes [since, until)."""
        return sum(
            n
            for (r, _p, minute, k), n in self.attempts.items()
            if k == kind
            and (region is None or r == region)
            and (since_s is None or minute >= since_s)
            and (until_s is None or minute < until_s)
        )

    def repeat_share(self, region: str, since_s: float, until_s: float) -> float | None:
        """Repeat attempts / offered attempts in [since, until); None when nothing was offered."""
        repeat = self.total_attempts(region, "repeat", since_s=since_s, until_s=until_s)
        offered = repeat + self.total_attempts(region, "first", since_s=since_s, until_s=until_s)
        return repeat / offered if offered else None

    def total(
        self,
        region: str | None = None,
        name: str = "offered",
        *,
        since_s: float | None = None,
        until_s: float | None = None,
    ) -> int:
        """Sum over providers and minutes; `since_s`/`until_s` select minutes in [since, until)."""
        return sum(
            n
            for (r, _p, minute, nm), n in self.counts.items()
            if nm == name
            and (region is None or r == region)
            and (since_s is None or minute >= since_s)
            and (until_s is None or minute < until_s)
        )

    def series(self, region: str, name: str) -> dict[int, int]:
        """Per-minute counts of one region (all providers), for comparing with 1-minute buckets."""
        out: Counter[int] = Counter()
        for (r, _p, minute, nm), n in self.counts.items():
            if r == region and nm == name:
                out[minute] += n
        return dict(sorted(out.items()))

    def to_rows(self) -> list[dict[str, object]]:
        return [
            {"region": r, "provider": p, "minute": format_ts(m), "name": nm, "count": n}
            for (r, p, m, nm), n in sorted(self.counts.items())
        ]


def ground_truth(events: Iterable[Emitted]) -> GroundTruth:
    truth = GroundTruth()
    for e in events:
        truth.add(e)
    return truth
