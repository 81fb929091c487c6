"""Referral spikes of one region: each closed quarter-hour's ambulance (or ED) dispositions
against what the hour of the week makes normal. The Poisson CUSUM (the default of
benchmarks/detection.py) flags the quarter-hours that look like a surge; the exported score is the
exact-Poisson z of the last SCORE_INTERVALS quarter-hours pooled, which the alerts watch.

The expected count is a *rate* times the calls triaged in that quarter-hour: the seasonal
baseline learns both the kind's count and all dispositions per hour of week, and their ratio is
the normal referral rate. A struggling 111 service triages fewer calls but sends a larger share of
them to ambulances and EDs (DESIGN.md); a count-only baseline would see the volume fall and miss
it. Intervals alarmed are not learned, so a surge cannot teach the baseline that surges are normal.
Late events for a quarter-hour already evaluated update the windows but not this detector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors import baseline
from detectors.spikes import cusum, poisson
from detectors.windows import RegionState, oldest_minute, window_totals

INTERVAL_SECONDS = 900
# The score (surge_referral_spike_score) pools the last hour: one quarter-hour holds two or three
# ambulance referrals in a small region, too few for any z to mean much; four hold enough.
SCORE_INTERVALS = 4
KINDS = ("ambulance", "ed")
ALL = "all"  # the baseline of every disposition (the denominator of the rate)
BASELINE = baseline.Params()
CUSUM = cusum.Params()


@dataclass(slots=True)
class KindState:
    cusum: cusum.State = field(default_factory=cusum.State)
    expected: float | None = None  # last evaluated quarter-hour's expected count
    score: float = 0.0  # standardised excess (one-sided z) of the last SCORE_INTERVALS
    alarmed: bool = False  # the CUSUM alarmed on the last quarter-hour
    # (count, expected) of the last SCORE_INTERVALS quarter-hours with a baseline, oldest first
    recent: list[tuple[int, float]] = field(default_factory=list)


@dataclass(slots=True)
class ReferralState:
    baselines: dict[str, baseline.State] = field(default_factory=dict)  # kind or ALL -> baseline
    kinds: dict[str, KindState] = field(default_factory=dict)
    next_interval_s: int | None = None  # start of the next quarter-hour to evaluate


def step(state: ReferralState, windows: RegionState, closed_minute: int | None) -> None:
    """Evaluate, IN PLACE, every quarter-hour that the watermark has closed since the last call
    and whose buckets are still retained."""
    if closed_minute is None:
        return
    complete_until = (closed_minute + 60) // INTERVAL_SECONDS * INTERVAL_SECONDS
    oldest = oldest_minute(windows)
    oldest_retained = complete_until if oldest is None else oldest
    first = oldest_retained // INTERVAL_SECONDS * INTERVAL_SECONDS  # a region's first quarter
    start = first if state.next_interval_s is None else max(state.next_interval_s, first)
    while start + INTERVAL_SECONDS <= complete_until:
        _evaluate(state, windows, start)
        start += INTERVAL_SECONDS
    state.next_interval_s = start


def _evaluate(state: ReferralState, windows: RegionState, start: int) -> None:
    totals = window_totals(windows, None, start + INTERVAL_SECONDS - 60, INTERVAL_SECONDS // 60)
    counts = dict(totals.dispositions)
    triaged = sum(counts.values())
    how = baseline.hour_of_week(start)
    all_base = state.baselines.get(ALL, baseline.initial())
    alarmed_any = False
    for kind in KINDS:
        kind_base = state.baselines.get(kind, baseline.initial())
        k = state.kinds.setdefault(kind, KindState())
        mean_all = baseline.expected(all_base, how, BASELINE)
        mean_kind = baseline.expected(kind_base, how, BASELINE)
        rate = mean_kind / mean_all if mean_all > 0 else math.nan  # NaN while warming up
        expected = rate * triaged
        count = counts.get(kind, 0)
        k.cusum, score = cusum.update(k.cusum, count, expected, CUSUM)
        k.alarmed = score.alarm
        k.expected = None if math.isnan(expected) else expected
        if k.expected is not None:
            k.recent = [*k.recent, (count, k.expected)][-SCORE_INTERVALS:]
        k.score = _z(sum(c for c, _ in k.recent), sum(e for _, e in k.recent))
        state.baselines[kind] = baseline.update(kind_base, how, count, BASELINE, alarmed=k.alarmed)
        alarmed_any = alarmed_any or k.alarmed
    state.baselines[ALL] = baseline.update(all_base, how, triaged, BASELINE, alarmed=alarmed_any)


def _z(count: int, expected: float) -> float:
    """One-sided z of the exact Poisson upper tail: ~0 normal, > 3 a spike; 0 without baseline."""
    if math.isnan(expected) or expected <= 0:
        return 0.0
    log_p = poisson.log_upper_tail(np.array([float(count)]), np.array([expected]))
    return float(max(0.0, poisson.upper_z(log_p)[0]))


def to_json(state: ReferralState) -> dict[str, Any]:
    return {
        "baselines": {k: baseline.to_json(b) for k, b in sorted(state.baselines.items())},
        "kinds": {
            k: {
                "cusum": cusum.to_json(s.cusum),
                "expected": s.expected,
                "score": s.score,
                "alarmed": s.alarmed,
                "recent": [[c, e] for c, e in s.recent],
            }
            for k, s in sorted(state.kinds.items())
        },
        "next_interval_s": state.next_interval_s,
    }


def from_json(doc: dict[str, Any]) -> ReferralState:
    kinds = {
        k: KindState(
            cusum.from_json(s["cusum"]),
            s["expected"],
            float(s["score"]),
            s["alarmed"],
            [(int(c), float(e)) for c, e in s.get("recent", [])],
        )
        for k, s in doc["kinds"].items()
    }
    baselines = {k: baseline.from_json(b) for k, b in doc["baselines"].items()}
    return ReferralState(baselines, kinds, doc["next_interval_s"])


def spikes(state: ReferralState) -> tuple[tuple[str, float | None, float, bool], ...]:
    """(kind, expected count, score, alarmed) of the last evaluated quarter-hour, per kind."""
    return tuple((k, s.expected, s.score, s.alarmed) for k, s in sorted(state.kinds.items()))


def warm_start(counts: dict[str, list[tuple[int, float]]]) -> dict[str, baseline.State]:
    """Baselines learned from history: {kind or ALL: [(quarter-hour start, count), ...]}."""
    out = {}
    for kind, series in counts.items():
        hows = np.array([baseline.hour_of_week(t) for t, _ in series], dtype=np.int64)
        values = np.array([c for _, c in series], dtype=np.float64)
        out[kind] = baseline.learn(baseline.initial(), hows, values, BASELINE)
    return out
