"""Warm-start baselines from history: normal weeks of the generator (or a replayed event file)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import structlog

from detectors import baseline, referrals
from streams.contract.records import CallEvent
from streams.simulate.truth import Emitted

log = structlog.get_logger(__name__)


def quarter_hour_counts(
    events: Iterable[Emitted],
) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """{region: {kind or "all": [(quarter-hour start, dispositions), ...]}}, gaps as zeros."""
    counts: dict[tuple[str, str, int], int] = defaultdict(int)
    spans: dict[str, tuple[int, int]] = {}
    step = referrals.INTERVAL_SECONDS
    for e in events:
        ev = e.event
        if not isinstance(ev, CallEvent) or ev.event != "disposition" or ev.disposition is None:
            continue
        start = int(ev.ts_s // step) * step
        counts[(ev.region, referrals.ALL, start)] += 1
        if ev.disposition in referrals.KINDS:
            counts[(ev.region, ev.disposition, start)] += 1
        lo, hi = spans.get(ev.region, (start, start))
        spans[ev.region] = (min(lo, start), max(hi, start))
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for region, (lo, hi) in spans.items():
        out[region] = {
            kind: [(t, float(counts.get((region, kind, t), 0))) for t in range(lo, hi + 1, step)]
            for kind in (*referrals.KINDS, referrals.ALL)
        }
    return out


def learn_baselines(events: Iterable[Emitted]) -> dict[str, dict[str, Any]]:
    """Per region and kind, the baseline JSON that SURGE_REFERRAL_BASELINE loads."""
    return {
        region: {k: baseline.to_json(b) for k, b in referrals.warm_start(series).items()}
        for region, series in quarter_hour_counts(events).items()
    }


def write_baselines(baselines: dict[str, dict[str, Any]], path: Path) -> None:
    path.write_bytes(orjson.dumps(baselines, option=orjson.OPT_SORT_KEYS))
    log.info("baseline_written", path=str(path), regions=len(baselines))
