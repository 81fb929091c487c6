"""The region dashboard's row "Staffing": the handlers on the phones of `$region` against the rota
and against what the demand needs (region.py lays the row out).

Staffed = agents ready, on a call or in wrap-up; occupancy = (on a call + wrap-up) / staffed;
handle time from the agents' own state changes (DESIGN.md, KPIs). The two "now" figures are the
values of StaffingBelowCommissioned and StaffingBelowRequired, coloured at their levels; the
charts are health advisers (the role that answers 111 calls, the one Erlang A sizes), per provider.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat, timeseries

from grafana.dashboards.panels import (
    COUNT,
    RATIO,
    SECONDS,
    STAFFED_COMMISSIONED_CRITICAL,
    STAFFED_COMMISSIONED_WARNING,
    STAFFED_REQUIRED_WARNING,
    dashed_line,
    query,
    stacked,
    staffed_commissioned_thresholds,
    staffed_required_thresholds,
    stat_panel,
    timeseries_panel,
)
from grafana.dashboards.staffing import staffed_against_commissioned, staffed_against_required
from streams.contract.rule_format import pct  # the alert rules' own way of writing a share


def staffed_commissioned_now() -> stat.Panel:
    return (
        stat_panel(
            "Staffed / commissioned now",
            "Handlers staffed (ready, on a call or in wrap-up) / handlers the rota commissions "
            "for the current interval, both roles, over the providers that send agent states: "
            "the value of StaffingBelowCommissioned. Amber under "
            f"{pct(STAFFED_COMMISSIONED_WARNING)}, red under {pct(STAFFED_COMMISSIONED_CRITICAL)}.",
            RATIO,
        )
        .thresholds(staffed_commissioned_thresholds())
        .with_target(query(staffed_against_commissioned("$region").share, "staffed / commissioned"))
    )


def staffed_required_now() -> stat.Panel:
    return (
        stat_panel(
            "Staffed / required now",
            "Health advisers staffed / the number Erlang A needs to answer the service-level "
            "standard within 60 s for the last hour's calls and handle time: the value of "
            f"StaffingBelowRequired. Amber under {pct(STAFFED_REQUIRED_WARNING)}.",
            RATIO,
        )
        .thresholds(staffed_required_thresholds())
        .with_target(query(staffed_against_required("$region").share, "staffed / required"))
    )


def handlers_against_plan() -> timeseries.Panel:
    plan = [dashed_line()]
    return (
        timeseries_panel(
            "Health advisers staffed, rostered, commissioned and required",
            "Per provider: health advisers staffed (ready, on a call or in wrap-up; solid) "
            "against the rota's rostered and commissioned handlers for the interval and the "
            "number Erlang A requires for the 60 s standard at the last hour's calls and "
            "handle time (dashed). A solid line under its dashed ones is a shortfall.",
            COUNT,
        )
        .with_target(
            query(
                'sum by (provider) (surge_agents{region="$region", role="health_adviser", '
                'state=~"ready|on_call|wrap_up"})',
                "{{provider}} staffed",
                "A",
            )
        )
        .with_target(
            query(
                "max by (provider) "
                '(surge_agents_rostered{region="$region", role="health_adviser"})',
                "{{provider}} rostered",
                "B",
            )
        )
        .with_target(
            query(
                "max by (provider) "
                '(surge_agents_commissioned{region="$region", role="health_adviser"})',
                "{{provider}} commissioned",
                "C",
            )
        )
        .with_target(
            query(
                "max by (provider) "
                '(surge_agents_required{region="$region", role="health_adviser"})',
                "{{provider}} required",
                "D",
            )
        )
        .override_by_query("B", plan)
        .override_by_query("C", plan)
        .override_by_query("D", plan)
    )


def occupancy() -> timeseries.Panel:
    return (
        timeseries_panel(
            "Occupancy",
            "Health advisers on a call or in wrap-up / health advisers staffed, per provider "
            "and for the region (`all`). Near 100 % nobody is free for the next caller: the "
            "queue grows with any rise in demand.",
            RATIO,
        )
        .min(0)
        .max(1)
        .with_target(
            query(
                'sum by (provider) (surge_agents{region="$region", role="health_adviser", '
                'state=~"on_call|wrap_up"})\n  / (sum by (provider) (surge_agents'
                '{region="$region", role="health_adviser", state=~"ready|on_call|wrap_up"}) > 0)',
                "{{provider}}",
                "A",
            )
        )
        .with_target(
            query(
                'sum(surge_agents{region="$region", role="health_adviser", '
                'state=~"on_call|wrap_up"})\n  / (sum(surge_agents{region="$region", '
                'role="health_adviser", state=~"ready|on_call|wrap_up"}) > 0)',
                "all",
                "B",
            )
        )
    )


def handle_time() -> timeseries.Panel:
    return timeseries_panel(
        "Handle time",
        "Mean time on a call plus wrap-up of the 111 calls health advisers finished, per "
        "provider over 15 and 60 minutes (`all` is the region), from the agents' own states. "
        "Longer triage takes staff away as surely as fewer staff do.",
        SECONDS,
    ).with_target(
        query(
            'max by (provider, window) (surge_handle_time_seconds{region="$region"})',
            "{{provider}} ({{window}})",
        )
    )


def agents_by_state() -> timeseries.Panel:
    return stacked(
        timeseries_panel(
            "Agents by state",
            "Agents logged in, stacked by role and state (ready, on a call, wrap-up, not "
            "ready): the top of the stack is everyone logged in; ready + on a call + wrap-up "
            "is the staffed count. Logged-out agents are not drawn.",
            COUNT,
        )
    ).with_target(
        query(
            'sum by (role, state) (surge_agents{region="$region", state!="logged_out"})',
            "{{role}} {{state}}",
        )
    )


def stale_agents() -> timeseries.Panel:
    return timeseries_panel(
        "Stale agents",
        "Agents counted as logged out because their ACD sent nothing for longer than the "
        "stale limit (SURGE_AGENT_STALE_SECONDS), per provider and role. Above 0 the agent-"
        "state feed may be broken: staffed figures are then too low.",
        COUNT,
    ).with_target(
        query(
            'max by (provider, role) (surge_agents_stale{region="$region"})',
            "{{provider}} {{role}}",
        )
    )
