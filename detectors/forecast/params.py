"""The forecast's parameters and results: Params, the Inputs it read, the Forecast it returns.

Why a module of its own: the types every step of the forecast shares (and the benchmark tunes),
apart from the steps, so that the steps import them and not one another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MINUTE = 60
MODELS = ("fluid", "erlang_a")


@dataclass(frozen=True, slots=True)
class Params:
    """Documented defaults; the threshold and timings match THRESHOLDS of the alert rules."""

    # The ServiceLevelBelowStandard warning's condition (streams/contract/thresholds.py THRESHOLDS:
    # service_level_warning, kpi_min_offered_per_hour; a unit test keeps them equal).
    threshold: float = 0.85  # 60m and 15m service level below this
    window_minutes: int = 60  # the rolling service level forecast
    recent_minutes: int = 15  # the second window the rule also needs below the threshold
    min_offered: int = 60  # calls offered in the hour for the rule to count
    horizon_seconds: float = 7200.0  # +inf beyond this
    step_seconds: float = 10.0  # fluid step; a wait is judged against the target to this
    rate_minutes: int = 15  # complete minutes the arrival and capacity rates are read from
    arrival_halflife_minutes: float = 5.0
    capacity_halflife_minutes: float = 5.0
    # A minute that starts with this many calls waiting, and at least busy_queue_minutes of
    # arrivals, keeps every handler busy: its answers measure capacity.
    busy_queue_calls: int = 2
    busy_queue_minutes: float = 0.5
    min_busy_minutes: int = 3  # such minutes before capacity counts as observed
    # Rates are taken this many standard errors towards "no breach" (arrivals lower, capacity
    # higher): a forecast acts on the overload the counts show beyond Poisson noise.
    confidence_z: float = 0.75
    persist: bool = True  # overloaded: future answers no better than the recent ones
    # "fluid": a caller the fluid answers within target is within target. "erlang_a": only a
    # share of them, the steady-state service level of an M/M/N+M queue (Erlang A) at the
    # arrival rate, N = capacity x mean handle time, and the callers' patience: the queue's
    # randomness makes some callers wait past the target even when the mean wait is short.
    model: str = "fluid"
    mean_handle_seconds: float = 480.0  # call handling time (NHS 111: about 8 minutes)
    stale_call_seconds: float = 3600.0  # open calls older than this are lost events, not callers
    default_patience_seconds: float = 300.0  # callers' mean patience when the data cannot say
    min_patience_seconds: float = 30.0  # clamp of the estimate
    max_patience_seconds: float = 3600.0
    # Staffing (detectors.staffing.at): a provider's capacity is its staffed call handlers over
    # their mean handle time of the last handle_minutes (mean_handle_seconds with fewer than
    # min_handled_calls calls), once its agent states are no more than staffing_lag_seconds
    # behind the calls; otherwise capacity is inferred from the answers as above.
    use_staffing: bool = True
    count_breaks: bool = True  # handlers on a break under half an hour count (see estimate)
    handle_minutes: int = 60
    min_handled_calls: int = 10
    staffing_lag_seconds: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold {self.threshold} must be in (0, 1]")
        if not 1 <= self.recent_minutes <= self.window_minutes:
            raise ValueError("recent_minutes must be between 1 and window_minutes")
        if self.horizon_seconds < MINUTE or self.rate_minutes < 1:
            raise ValueError("horizon_seconds must be at least a minute and rate_minutes >= 1")
        if not 0 < self.step_seconds <= MINUTE or MINUTE % self.step_seconds:
            raise ValueError(f"step_seconds {self.step_seconds} must divide a minute")
        if not 0 < self.min_patience_seconds <= self.max_patience_seconds:
            raise ValueError("patience bounds must be positive and ordered")
        if self.model not in MODELS or self.mean_handle_seconds <= 0:
            raise ValueError(f"model {self.model!r} must be one of {MODELS}, handle time > 0")
        if self.handle_minutes < 1 or self.min_handled_calls < 1 or self.staffing_lag_seconds < 0:
            raise ValueError("handle_minutes, min_handled_calls >= 1, staffing_lag_seconds >= 0")


@dataclass(frozen=True, slots=True)
class ProviderInputs:
    """One provider's queue: providers answer their own calls, so each is run on its own."""

    provider: str
    arrivals_per_minute: float
    capacity_per_minute: float | None  # answers per minute while calls wait; None: unobserved
    calls_waiting: int
    oldest_wait_seconds: float  # 0 when nobody waits
    recent_service_level: float | None  # within target / answered, last recent_minutes
    handlers: int | None = None  # staffed call handlers (agent states); None: not streamed
    handle_seconds: float | None = None  # the mean handle time capacity was computed with


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the forecast was computed from: for the log, the dashboards and the tests."""

    now_s: float  # the region's newest event time; the queues are as of this instant
    patience_seconds: float
    service_level_60m: float | None  # at the view's end minute
    service_level_15m: float | None
    providers: tuple[ProviderInputs, ...]

    @property
    def arrivals_per_minute(self) -> float:
        return sum(p.arrivals_per_minute for p in self.providers)

    @property
    def calls_waiting(self) -> int:
        return sum(p.calls_waiting for p in self.providers)


@dataclass(frozen=True, slots=True)
class Forecast:
    seconds: float  # until the breach: 0 already breached, +inf none within the horizon
    breach_minute: int | None  # start of the first breaching minute (epoch s), None if none
    inputs: Inputs | None  # None when the state cannot say (no events, or E far behind them)


NONE_COMING = Forecast(math.inf, None, None)


@dataclass(slots=True)
class _Minutes:
    """Counts per minute from `base` on, as float lists (one provider, or the region); a list
    holds the minutes that are read of it (see _minutes)."""

    base: int
    offered: list[float]
    answered: list[float]
    within: list[float]
    abandoned: list[float]
    wait_sum: list[float]

    @classmethod
    def zeros(cls, base: int, n: int) -> _Minutes:
        return cls(base, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n)

    def index(self, minute: int) -> int:
        return (minute - self.base) // MINUTE
