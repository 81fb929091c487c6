"""The staffing metrics of the design (DESIGN.md, Metrics), read from each owned region's
StaffingView at scrape time like the call figures (streams.live.metrics): exact, continuing from
the checkpoint on another worker, and exported only by the region's owner."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detectors import capacity
from detectors.answer_rates import RegionView
from detectors.rota import RotaIndex
from detectors.staffing import ROLES, ROLES_ANSWERING, StaffingView


def staffing_families(views: dict[str, StaffingView]) -> Iterator[Metric]:
    agents = GaugeMetricFamily(
        "surge_agents",
        "Handlers in each state now (logged_out includes agents silent past the stale limit).",
        labels=["region", "provider", "role", "state"],
    )
    stale = GaugeMetricFamily(
        "surge_agents_stale",
        "Agents counted as logged out because nothing was heard from them for "
        "SURGE_AGENT_STALE_SECONDS of event time.",
        labels=["region", "provider", "role"],
    )
    seconds = CounterMetricFamily(
        "surge_staff_seconds",
        "Staff time by state (event time): ready + on_call + wrap_up are staff-hours delivered.",
        labels=["region", "provider", "role", "state"],
    )
    handle = GaugeMetricFamily(
        "surge_handle_time_seconds",
        "Mean on_call + wrap_up time of the calls handled in the window (agents' own states).",
        labels=["region", "provider", "window"],
    )
    for region, view in sorted(views.items()):
        for provider, role, state, n in view.agents:
            agents.add_metric([region, provider, role, state], n)
        for provider, role, n in view.stale:
            stale.add_metric([region, provider, role], n)
        for provider, role, state, x in view.seconds:
            seconds.add_metric([region, provider, role, state], x)
        for h in view.handle_times:
            if h.seconds is not None:  # no handled call: absent, never 0
                handle.add_metric([region, h.provider, f"{h.window_minutes}m"], h.seconds)
    yield from (agents, stale, seconds, handle)


class CapacityCollector(Collector):
    """What the owned regions' demand needs and what their rota plans, at scrape time:
    `surge_agents_required` from two views at once (the calls offered in the hour, the agents'
    handle time), `surge_agents_rostered` and `surge_agents_commissioned` from the rota interval
    covering the region's event time (absent where no interval covers it)."""

    def __init__(
        self,
        calls: Callable[[], dict[str, RegionView]],
        agents: Callable[[], dict[str, StaffingView]],
        rota: Callable[[], RotaIndex],
        providers: Mapping[str, tuple[str, ...]],
        *,
        service_level: float,
        target_seconds: float,
        patience_seconds: float | None,
    ) -> None:
        self._calls, self._agents, self._rota, self._providers = calls, agents, rota, providers
        self._service_level, self._target_seconds = service_level, target_seconds
        self._patience_seconds = patience_seconds

    def describe(self) -> list[Metric]:
        return []  # label sets follow ownership

    def collect(self) -> Iterator[Metric]:
        yield self._required()
        yield from self._planned()

    def _planned(self) -> Iterator[Metric]:
        rostered = GaugeMetricFamily(
            "surge_agents_rostered",
            "Handlers the provider scheduled for the rota interval covering the region's event "
            "time (surge-monitor rota publish).",
            labels=["region", "provider", "role"],
        )
        commissioned = GaugeMetricFamily(
            "surge_agents_commissioned",
            "Handlers the contract requires on the phones in that rota interval.",
            labels=["region", "provider", "role"],
        )
        rota, agents, calls = self._rota(), self._agents(), self._calls()
        for region in sorted(agents.keys() | calls.keys()):
            staff, view = agents.get(region), calls.get(region)
            now = staff.now_s if staff is not None and staff.now_s is not None else None
            if now is None and view is not None:
                now = view.watermark_s
            if now is None:
                continue
            for provider in self._providers.get(region, ()):
                for role in ROLES:
                    plan = rota.lookup(region, provider, role, now)
                    if plan is not None:
                        rostered.add_metric([region, provider, role], plan.rostered)
                        commissioned.add_metric([region, provider, role], plan.commissioned)
        yield rostered
        yield commissioned

    def _required(self) -> Metric:
        family = GaugeMetricFamily(
            "surge_agents_required",
            "Health advisers Erlang A needs to answer the service-level standard within the "
            "target, for the last hour's calls and handle time (absent with too little traffic).",
            labels=["region", "provider", "role"],
        )
        agents = self._agents()
        for region, view in sorted(self._calls().items()):
            staff = agents.get(region)
            if staff is None:
                continue
            handle = {h.provider: h for h in staff.handle_times if h.window_minutes == 60}
            for w in view.windows:
                h = handle.get(w.provider)
                if w.window != "60m" or w.provider == "all" or h is None:
                    continue
                n = capacity.required(
                    w.offered,
                    h.calls,
                    h.seconds,
                    service_level=self._service_level,
                    target_seconds=self._target_seconds,
                    patience_seconds=self._patience_seconds,
                )
                if n is not None:
                    family.add_metric([region, w.provider, ROLES_ANSWERING], n)
        return family
