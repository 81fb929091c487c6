"""Seasonal baseline: the expected count of an interval for each hour of the week, learned online.

One state per (region, kind) series, keyed like the stream's tables. It holds, for each of the
168 hours of the week, the mean count per interval seen in that hour, and how many intervals it
has seen. The spike tests (:mod:`detectors.spikes`) compare each new interval with it.

- Hour of the week is Europe/London wall-clock time (DESIGN.md, Time zone): Monday 09:00 is the
  same bucket in January and in July, so the two DST changes neither shift the diurnal curve by
  an hour nor make a 23- or 25-hour day look like a surge. In the repeated October hour the bucket
  simply gets two hours' intervals; in the skipped March hour it gets none that week.
- Learning: the plain mean of the first ``memory`` intervals of a bucket, then an exponentially
  weighted mean with weight 1/``memory`` (an exponential window of about ``memory`` intervals),
  so it follows slow drift over weeks. The state is O(1) per bucket and restores exactly.
- Warm start: :func:`learn` folds the same update over history (a replayed file or the
  generator's normal weeks), so a replay and the live worker reach the same state.
- Warm-up: a bucket with fewer than ``min_samples`` intervals has no expected value (NaN), which
  the spike tests treat as "not yet" and skip.
- A surge must not teach the baseline that surges are normal (river's
  ``protect_anomaly_detector``): an interval the caller marks ``alarmed`` is not learned at all,
  and every other count is winsorised at ``mean + clip_sd * sqrt(max(mean, 1))`` (about four
  Poisson standard deviations) before it is learned, which limits what the first, not yet
  alarmed, intervals of a surge can add. The price, stated plainly: a lasting step up that keeps
  alarming is never learned; the operator must see it and reset or re-seed the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

LONDON: Final = ZoneInfo("Europe/London")
HOURS_PER_WEEK: Final = 168
STATE_VERSION: Final = 1


def hour_of_week(ts_s: float) -> int:
    """0 = Monday 00:00-00:59 Europe/London local time, .., 167 = Sunday 23:00-23:59."""
    local = datetime.fromtimestamp(ts_s, tz=LONDON)
    return local.weekday() * 24 + local.hour


def hours_of_week(ts_s: FloatArray) -> IntArray:
    """:func:`hour_of_week` of many instants. UK offsets are whole hours, so one conversion per
    UTC hour is enough."""
    utc_hours, inverse = np.unique(
        np.floor_divide(np.asarray(ts_s, np.float64), 3600.0), return_inverse=True
    )
    table = np.array([hour_of_week(h * 3600.0) for h in utc_hours.tolist()], dtype=np.int64)
    out: IntArray = table[inverse.reshape(-1)].reshape(np.shape(ts_s))
    return out


@dataclass(frozen=True, slots=True)
class Params:
    # Intervals a bucket averages over. 32 = 8 weeks of 15-minute intervals (4 a week per hour):
    # long enough that a bucket's noise is small beside a x2 surge, short enough to follow a
    # season. (Our choice; the EARS and Farrington families use a few weeks to a few years.)
    memory: int = 32
    # Intervals a bucket needs before it gives an expected value: 4 = one week of quarter-hours.
    min_samples: int = 4
    # Winsorising of learned counts, in Poisson standard deviations above the mean; None = off.
    # 4.0 clips under 0.1 % of normal quarter-hours at the generator's volumes (negligible bias).
    clip_sd: float | None = 4.0

    def __post_init__(self) -> None:
        if self.memory < 1 or self.min_samples < 1:
            raise ValueError("memory and min_samples must be at least 1")
        if self.clip_sd is not None and not self.clip_sd > 0:
            raise ValueError("clip_sd must be positive (or None to learn counts unclipped)")


@dataclass(frozen=True, slots=True)
class State:
    mean: tuple[float, ...] = (0.0,) * HOURS_PER_WEEK  # mean count per interval, per hour of week
    samples: tuple[int, ...] = (0,) * HOURS_PER_WEEK  # intervals learned, per hour of week


def initial() -> State:
    return State()


def _check_hour(how: int) -> None:
    if not 0 <= how < HOURS_PER_WEEK:
        raise ValueError(f"hour of week {how} must be in 0..167; use hour_of_week(ts_s)")


def expected(state: State, how: int, params: Params) -> float:
    """The expected count of an interval in hour of week ``how``; NaN while it warms up."""
    _check_hour(how)
    return state.mean[how] if state.samples[how] >= params.min_samples else math.nan


def expected_series(state: State, hows: IntArray, params: Params) -> FloatArray:
    """:func:`expected` for each hour of week in ``hows`` (the state does not change)."""
    hows = np.asarray(hows, dtype=np.int64)
    if hows.size and not (hows.min() >= 0 and hows.max() < HOURS_PER_WEEK):
        raise ValueError("hours of week must be in 0..167")
    mean = np.asarray(state.mean, dtype=np.float64)
    ready = np.asarray(state.samples) >= params.min_samples
    out: FloatArray = np.where(ready[hows], mean[hows], np.nan)
    return out


def _learned(mean: float, n: int, count: float, params: Params) -> tuple[float, int]:
    """A bucket's (mean, samples) after learning one count; update() and learn() share it."""
    if not 0 <= count < math.inf:
        raise ValueError(f"count {count!r} must be finite and >= 0 (NaN for a missing interval)")
    if params.clip_sd is not None and n >= params.min_samples:
        count = min(count, mean + params.clip_sd * math.sqrt(max(mean, 1.0)))
    n += 1
    return mean + (count - mean) / min(n, params.memory), n


def update(state: State, how: int, count: float, params: Params, *, alarmed: bool = False) -> State:
    """Learn one interval's count in its hour of week; alarmed or missing (NaN) ones are skipped."""
    _check_hour(how)
    if math.isnan(count) or alarmed:
        return state
    mean, n = _learned(state.mean[how], state.samples[how], count, params)
    return State(
        (*state.mean[:how], mean, *state.mean[how + 1 :]),
        (*state.samples[:how], n, *state.samples[how + 1 :]),
    )


def learn(
    state: State,
    hows: IntArray,
    counts: FloatArray,
    params: Params,
    alarmed: BoolArray | None = None,
) -> State:
    """Fold :func:`update` over history in order: the warm start from a replay or normal weeks."""
    hows_list = np.asarray(hows, dtype=np.int64).tolist()
    counts_list = np.asarray(counts, dtype=np.float64).tolist()
    if len(hows_list) != len(counts_list):
        raise ValueError("hows and counts must have the same length")
    flags = [False] * len(hows_list) if alarmed is None else np.asarray(alarmed).tolist()
    mean = list(state.mean)
    samples = list(state.samples)
    for how, count, flag in zip(hows_list, counts_list, flags, strict=True):
        _check_hour(how)
        if not (math.isnan(count) or flag):
            mean[how], samples[how] = _learned(mean[how], samples[how], count, params)
    return State(tuple(mean), tuple(samples))


def to_json(state: State) -> dict[str, Any]:
    return {"version": STATE_VERSION, "mean": list(state.mean), "samples": list(state.samples)}


def from_json(doc: Mapping[str, Any]) -> State:
    """Restore a :func:`to_json` snapshot exactly."""
    if doc.get("version") != STATE_VERSION:
        raise ValueError(
            f"baseline state has version {doc.get('version')!r}, this code reads "
            f"{STATE_VERSION}; warm-start it again from history with learn()"
        )
    mean = tuple(float(v) for v in doc["mean"])
    samples = tuple(int(v) for v in doc["samples"])
    if len(mean) != HOURS_PER_WEEK or len(samples) != HOURS_PER_WEEK:
        raise ValueError(f"baseline state must have {HOURS_PER_WEEK} hours of the week")
    return State(mean, samples)
