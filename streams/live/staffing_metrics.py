"""The staffing metrics of the design (DESIGN.md, Metrics), read from each owned region's
StaffingView at scrape time like the call figures (streams.live.metrics): exact, continuing from
the checkpoint on another worker, and exported only by the region's owner."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from detectors.staffing import StaffingView


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
