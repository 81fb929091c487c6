"""The 2013 launch day as a readiness check's input: the rota and the demand forecast of the
generator's launch-day scenario (`surge-monitor readiness --scenario launch-2013`, and the
example files deploy/readiness/launch-2013-*.csv).

How the planned day reflects the 2013 shortfall: in the generator the failing providers (North
West, West Midlands) are rostered and commissioned as on a normal day, and from the failure
(09:00 UTC) only about 30 % of those handlers are on duty (streams.simulate.scenarios). A rota
that showed everyone would be a plan nobody could have worked, and a readiness check of it would
say go. So the rota written here keeps `commissioned` as planned and gives as `rostered` the
handlers actually on duty in each 30-minute interval (the fewest in any of its minutes, as
agents.rota_rows counts): the providers who could not staff the contract, as in 2013. The
healthy providers' rostered equal their commissioned.

The demand is the generator's own forecast: the expected callers of each interval (its rate
curve summed over the minutes) and the mean handle time it draws (480 s), times the launch
day's slower triage (x1.25) in the failing regions from the failure on, which the generator
also plays.
"""

from __future__ import annotations

from typing import Final

from streams.contract.catalogue import Catalogue
from streams.contract.records import parse_ts
from streams.contract.rota import format_start
from streams.simulate import generator, scenarios
from streams.simulate.agents import MEAN_HANDLE_S, ROTA_MINUTES, rota_rows

START: Final = "2013-03-29T08:00:00+00:00"  # Good Friday 2013, as `simulate` defaults to
HOURS: Final = 12.0
FAILURE_AFTER_HOURS: Final = 1.0  # 09:00 UTC, as `simulate --scenario launch-day`


def launch_2013() -> scenarios.Scenario:
    start_s = parse_ts(START)
    return scenarios.launch_day(start_s, HOURS * 3600, FAILURE_AFTER_HOURS * 3600)


def launch_2013_plan(
    catalogue: Catalogue,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(rota rows, demand rows): the CSV rows of `rota publish` and of the demand file."""
    day = launch_2013()
    failure_ms = round((day.failure_start_s or 0.0) * 1000)
    rota: list[dict[str, object]] = []
    demand: list[dict[str, object]] = []
    for p in generator.planned(day, catalogue):
        planned = rota_rows(p.region, p.provider, p.rostered, p.start_ms, p.end_ms)
        worked = rota_rows(p.region, p.provider, p.on_duty, p.start_ms, p.end_ms)
        failing = p.region in day.failing_regions
        for k, (plan, work) in enumerate(zip(planned, worked, strict=True)):
            first = k * ROTA_MINUTES
            start_ms = p.start_ms + 60_000 * first
            start = format_start(start_ms // 1000)  # the rota's canonical form
            rota.append({**plan, "start": start, "rostered": work["rostered"]})
            slower = failing and start_ms >= failure_ms
            handle = MEAN_HANDLE_S * (day.handle_factor if slower else 1.0)
            calls = float(p.rate_per_min[first : first + ROTA_MINUTES].sum())
            demand.append(
                {
                    "region": p.region,
                    "provider": p.provider,
                    "start": start,
                    "minutes": ROTA_MINUTES,
                    "calls": round(calls, 3),
                    "handle_seconds": round(handle, 1),
                }
            )
    return rota, demand
