"""Expected figures computed from the generator's ground truth, the oracle of the pipeline tests."""

from __future__ import annotations

from collections.abc import Sequence

from streams.contract.records import CallEvent
from streams.simulate.truth import Emitted, GroundTruth

WINDOWS_MINUTES = (15, 60)
GRACE_SECONDS = 120.0


def closed_minute(events: Sequence[Emitted], region: str) -> int:
    """The last minute the region's watermark closes once every event is in (DESIGN.md)."""
    max_ts = max(e.ts_s for e in events if e.topic == "calls" and e.key == region)
    return int((max_ts - GRACE_SECONDS) // 60) * 60 - 60


def window_counts(
    truth: GroundTruth, region: str, provider: str | None, end: int, minutes: int
) -> dict[str, int]:
    start = end - (minutes - 1) * 60
    out: dict[str, int] = {}
    for (r, p, minute, name), n in truth.counts.items():
        if r == region and (provider is None or p == provider) and start <= minute <= end:
            out[name] = out.get(name, 0) + n
    return out


def expected_ratios(
    truth: GroundTruth, events: Sequence[Emitted], region: str, providers: Sequence[str]
) -> dict[tuple[str, ...], float]:
    """{(metric, region, provider, window): value} for the three ratio gauges at window close;
    a ratio without denominator is left out, as the workers leave it out."""
    end = closed_minute(events, region)
    out: dict[tuple[str, ...], float] = {}
    for minutes in WINDOWS_MINUTES:
        for provider in [*providers, None]:
            c = window_counts(truth, region, provider, end, minutes)
            label = (region, provider or "all", f"{minutes}m")
            offered, answered = c.get("offered", 0), c.get("answered", 0)
            if offered:
                out[("surge_answer_rate_ratio", *label)] = answered / offered
                out[("surge_abandon_rate_ratio", *label)] = c.get("abandoned_after_30", 0) / offered
            if answered:
                out[("surge_service_level_ratio", *label)] = (
                    c.get("answered_within_60", 0) / answered
                )
    return out


def expected_referral_rates(
    truth: GroundTruth, events: Sequence[Emitted], region: str
) -> dict[tuple[str, ...], float]:
    """{(region, kind, window): dispositions of the kind / all dispositions} at window close."""
    end = closed_minute(events, region)
    out: dict[tuple[str, ...], float] = {}
    for minutes in WINDOWS_MINUTES:
        c = window_counts(truth, region, None, end, minutes)
        triaged = sum(n for name, n in c.items() if name.startswith("disposition:"))
        if triaged:
            for kind in ("ambulance", "ed"):
                share = c.get(f"disposition:{kind}", 0) / triaged
                out[(region, kind, f"{minutes}m")] = share
    return out


def expected_dispatches(truth: GroundTruth) -> dict[tuple[str, ...], int]:
    """{(region, source, category): n} of every dispatch in the truth."""
    out: dict[tuple[str, ...], int] = {}
    for (region, _, _, name), n in truth.counts.items():
        if name.startswith("dispatch:"):
            _, source, category = name.split(":")
            key = (region, source, category)
            out[key] = out.get(key, 0) + n
    return out


def expected_open_calls(events: Sequence[Emitted], limit_s: float) -> dict[str, tuple[int, int]]:
    """{region: (expired, waiting)} once every event is in: a call offered and never answered or
    abandoned expires once the region's newest event is more than `limit_s` after the offer.

    Exact only when every call that is resolved is resolved within `limit_s` (a slower one could
    expire before its answer arrives), so that is checked rather than assumed.
    """
    offered: dict[str, tuple[str, float]] = {}
    resolved: dict[str, float] = {}
    newest: dict[str, float] = {}
    for e in events:
        ev = e.event
        if e.topic != "calls" or not isinstance(ev, CallEvent):
            continue
        newest[ev.region] = max(newest.get(ev.region, ev.ts_s), ev.ts_s)
        if ev.event == "offered":
            offered[ev.call_id] = (ev.region, ev.ts_s)
        elif ev.event in ("answered", "abandoned"):
            resolved[ev.call_id] = ev.ts_s
    slow = [c for c, ts in resolved.items() if c in offered and ts - offered[c][1] > limit_s]
    if slow:
        raise ValueError(f"{len(slow)} calls resolved after more than {limit_s} s, e.g. {slow[0]}")
    out = dict.fromkeys(newest, (0, 0))
    for call_id, (region, ts) in offered.items():
        if call_id not in resolved:
            expired, waiting = out[region]
            if ts < newest[region] - limit_s:
                out[region] = (expired + 1, waiting)
            else:
                out[region] = (expired, waiting + 1)
    return out
