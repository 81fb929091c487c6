"""The scenario on a minute grid, shared by every region: the demand curve (Europe/London local
hour, weekend lift) and the minutes of the failure, in integer milliseconds.

The curve's figures are the generator's calibration (streams.simulate.generator's docstring)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from streams.simulate.agents import NEVER_MS
from streams.simulate.scenarios import Scenario, validate

FloatArray = npt.NDArray[np.float64]

LONDON: Final = ZoneInfo("Europe/London")
# Relative calls per local hour 00..23: quiet 01-07, rising through the morning, peak 19:00.
HOUR_WEIGHTS: Final = (3.0, 2.0, 1.5, 1.2, 1.1, 1.2, 1.6, 2.4, 3.6, 4.2, 4.3, 4.3,
                       4.2, 4.1, 4.0, 4.1, 4.5, 5.2, 6.4, 7.2, 6.6, 5.6, 4.4, 3.4)  # fmt: skip
WEEKEND_FACTOR: Final = 2.2
STAFFED_TAIL_MIN: Final = 240  # rota kept past the window so queued calls still get answered


@dataclass(frozen=True)
class Window:
    """The scenario on a minute grid, shared by every region: times in integer milliseconds."""

    start_ms: int
    end_ms: int
    day_share: FloatArray  # fraction of an average day's calls falling in each minute
    hour_share: FloatArray  # fraction of a day's 999 dispatches in each minute (no weekend lift)
    failed: npt.NDArray[np.bool_]  # minute starts in [failure, recovery) (failing regions only)
    failure_ms: int
    recovery_ms: int


def window(s: Scenario) -> Window:
    validate(s)
    n_min = math.ceil(s.duration_s / 60) + STAFFED_TAIL_MIN
    hour_fraction = np.asarray(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS)
    weekday_share = 7 / (5 + 2 * WEEKEND_FACTOR)
    hour_share = np.empty(n_min)
    day_share = np.empty(n_min)
    for m in range(n_min):
        local = datetime.fromtimestamp(s.start_s + 60 * m, tz=LONDON)
        hour_share[m] = hour_fraction[local.hour] / 60
        weekend = WEEKEND_FACTOR if local.weekday() >= 5 else 1.0
        day_share[m] = hour_share[m] * weekday_share * weekend
    start_ms = round(s.start_s * 1000)
    failure_ms = NEVER_MS if s.failure_start_s is None else round(s.failure_start_s * 1000)
    recovery_ms = NEVER_MS if s.recovery_start_s is None else round(s.recovery_start_s * 1000)
    minute_ms = start_ms + 60_000 * np.arange(n_min, dtype=np.int64)
    return Window(
        start_ms, start_ms + round(s.duration_s * 1000), day_share, hour_share,
        (minute_ms >= failure_ms) & (minute_ms < recovery_ms), failure_ms, recovery_ms,
    )  # fmt: skip
