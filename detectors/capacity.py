"""Handlers the demand needs, from what the monitor sees: the calls offered in the last hour and
the handle time the agents' own states give (DESIGN.md, KPIs: required handlers).

Erlang A (M/M/N+M) with the callers' mean patience as configured (SURGE_CALLER_PATIENCE_SECONDS):
estimating it from abandonment needs the waits of the abandoned calls, which the windows do not
keep yet. Without a patience, Erlang C, which lets nobody hang up and so asks for at least as
many handlers. Measured on generated normal days (benchmarks figures in the issue note), the
healthy providers' staffed handlers were 0-3 below Erlang A's figure at 95 % within 60 s and 2-5
below Erlang C's: a rota that meets the standard in practice sits near, not above, the model.
"""

from __future__ import annotations

from typing import Final

from detectors import erlang

MIN_OFFERED: Final = 10  # fewer calls in the hour than this: too little to size a rota on
MIN_HANDLED: Final = 5  # handled calls the mean handle time is taken over


def required(
    offered_60m: int,
    handled_60m: int,
    handle_time_seconds: float | None,
    *,
    service_level: float,
    target_seconds: float,
    patience_seconds: float | None = None,
) -> int | None:
    """Smallest number of handlers meeting `service_level` within `target_seconds` for the last
    hour's callers and handle time; None while there is too little traffic to say."""
    if offered_60m < MIN_OFFERED or handled_60m < MIN_HANDLED or not handle_time_seconds:
        return None
    return erlang.required_agents(
        calls=offered_60m,
        interval_seconds=3600.0,
        aht_seconds=handle_time_seconds,
        target_seconds=target_seconds,
        service_level_target=service_level,
        patience_seconds=patience_seconds,
    )
