"""What the generator emitted, and its exact counts per region, provider, minute and outcome: the
ground truth the integration and fault tests compare the pipeline's figures with."""

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


@dataclass
class GroundTruth:
    """Exact counts of what was emitted: the oracle the integration tests compare metrics with."""

    counts: Counter[tuple[str, str, int, str]] = field(default_factory=Counter)

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
        wait = ev.wait_seconds
        if wait is not None and ev.event == "answered" and wait <= TARGET_ANSWER_S:
            self.counts[(ev.region, ev.provider, minute, "answered_within_60")] += 1
        elif wait is not None and ev.event == "abandoned" and wait > ABANDON_AFTER_S:
            self.counts[(ev.region, ev.provider, minute, "abandoned_after_30")] += 1

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
