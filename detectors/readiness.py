"""Readiness, interval by interval: what a planned day's rota does with its forecast demand
(issue 19). Pure and deterministic: the simulation's seeds come from the caller's seed and the
interval's own key, so a prediction does not depend on the order or the company it is made in.

For one region, provider and interval: the callers expected (``calls``) and their handle time,
the health advisers staffed (the rota's rostered less the stated shrinkage, whole handlers,
rounded down), and from them

- Erlang A (detectors/erlang.py, M/M/N+M with the callers' mean patience): service level
  (answered within the target / answered), abandonment (abandoned / offered, all abandonment:
  Erlang A does not split off those who hung up within 30 s, so this is at least the KPI's
  "abandoned after 30 s"), ASA and the chance of waiting;
- the event simulation (detectors/queue_sim.py) of the same interval, with 95 % intervals over
  its replications;
- the handlers required (the smallest N for which Erlang A meets the service-level standard)
  and the shortfall, required - staffed when positive.

Nobody staffed with callers expected: nothing is answered (service level and ASA None) and
every caller hangs up (abandonment 1); no model is needed and none is run.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from detectors import erlang, queue_sim
from detectors.queue_sim import Estimate


@dataclass(frozen=True, slots=True)
class Interval:
    """One region, provider and interval of the plan: demand against the staff planned."""

    region: str
    provider: str
    start_s: int  # UTC epoch seconds, a whole minute
    minutes: int
    calls: float  # callers expected in the interval
    handle_seconds: float  # mean handle time (on a call + wrap-up) per handled call
    commissioned: int | None  # health advisers the contract requires (None: no rota interval)
    rostered: int | None  # health advisers the provider scheduled (None: no rota interval)

    @property
    def end_s(self) -> int:
        return self.start_s + 60 * self.minutes


@dataclass(frozen=True, slots=True)
class Model:
    """How the prediction is made (the defaults are the monitor's own numbers)."""

    target_seconds: float = 60.0  # answered within this counts towards the service level
    patience_seconds: float = 300.0  # callers' mean patience (SURGE_CALLER_PATIENCE_SECONDS)
    service_level_standard: float = 0.95  # what the required handlers must meet
    shrinkage: float = 0.0  # share of the rostered not on the phones
    replications: int = 20
    seed: int = 2013


@dataclass(frozen=True, slots=True)
class Prediction:
    """The prediction for one Interval (module docstring); None where there is no figure."""

    interval: Interval
    staffed: int
    service_level: float | None
    abandon_ratio: float | None  # None only without callers
    asa_seconds: float | None
    p_wait: float | None
    simulation: Estimate | None  # None when nobody is staffed or no one calls
    required: int
    shortfall: int

    @property
    def answered(self) -> float:
        """Callers expected to be answered."""
        return self.interval.calls * (1.0 - (self.abandon_ratio or 0.0))

    @property
    def answered_within_target(self) -> float:
        return self.answered * (self.service_level or 0.0)

    @property
    def abandoned(self) -> float:
        return self.interval.calls * (self.abandon_ratio or 0.0)


def staffed(rostered: int | None, shrinkage: float) -> int:
    """Whole handlers on the phones: the rostered less the shrinkage, rounded down (a fraction of
    a handler answers no calls); no rota interval is nobody."""
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError(f"shrinkage must be a share in [0, 1), got {shrinkage!r}")
    if rostered is None:
        return 0
    return math.floor(rostered * (1.0 - shrinkage) + 1e-9)


def seed_of(model_seed: int, interval: Interval) -> list[int]:
    """The interval's own seed: the model's and a checksum of region/provider/start (not
    Python's hash, which changes between processes)."""
    key = f"{interval.region}/{interval.provider}/{interval.start_s}".encode()
    return [model_seed, zlib.crc32(key)]


def predict(interval: Interval, model: Model) -> Prediction:
    """Erlang A, the simulation and the requirement for one interval."""
    n = staffed(interval.rostered, model.shrinkage)
    span = 60.0 * interval.minutes
    common: dict[str, float] = {
        "calls": interval.calls,
        "interval_seconds": span,
        "aht_seconds": interval.handle_seconds,
        "target_seconds": model.target_seconds,
    }
    required = erlang.required_agents(
        calls=interval.calls,
        interval_seconds=span,
        aht_seconds=interval.handle_seconds,
        target_seconds=model.target_seconds,
        service_level_target=model.service_level_standard,
        patience_seconds=model.patience_seconds,
    )
    shortfall = max(0, required - n)
    if interval.calls == 0:
        return Prediction(interval, n, None, None, None, None, None, required, shortfall)
    if n == 0:
        return Prediction(interval, n, None, 1.0, None, 1.0, None, required, shortfall)
    a = erlang.erlang_a(**common, agents=n, patience_seconds=model.patience_seconds)
    sim = queue_sim.replicate(
        **common,
        patience_seconds=model.patience_seconds,
        agents=n,
        replications=model.replications,
        seed=seed_of(model.seed, interval),
    )
    return Prediction(
        interval, n, a.service_level, a.abandon_ratio, a.asa_seconds, a.p_wait, sim, required,
        shortfall,
    )  # fmt: skip


def predict_all(
    intervals: Iterable[Interval],
    model: Model,
    progress: Callable[[Prediction], None] | None = None,
) -> list[Prediction]:
    """Every interval's prediction in the given order; `progress` is told of each as it is made
    (the command's progress bar)."""
    out = []
    for interval in intervals:
        p = predict(interval, model)
        out.append(p)
        if progress is not None:
            progress(p)
    return out
