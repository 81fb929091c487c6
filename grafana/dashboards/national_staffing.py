"""The national overview's row "Staffing": which regions are short of handlers, worst first
(national.py lays the row out).

Every figure is one of the StaffingBelowCommissioned / StaffingBelowRequired alerts' sides
(panels.StaffedAgainst): staffed and target summed by region over the (provider, role) pairs that
send agent states and have a positive target, so the table shows what those alerts page on.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import table, timeseries

from grafana.dashboards.panels import (
    COUNT,
    RATIO,
    STAFFED_COMMISSIONED_CRITICAL,
    STAFFED_COMMISSIONED_WARNING,
    STAFFED_REQUIRED_WARNING,
    column,
    instant_table_query,
    merge_and_name,
    query,
    region_link,
    staffed_commissioned_thresholds,
    staffed_required_thresholds,
    table_panel,
    timeseries_panel,
    with_threshold_lines,
)
from grafana.dashboards.staffing import staffed_against_commissioned, staffed_against_required
from streams.contract.rule_format import pct  # the alert rules' own way of writing a share


def staffing_shortfall() -> table.Panel:
    staffed, commissioned, required = "Staffed", "Commissioned", "Required"
    short_commissioned, short_required = "Short of commissioned", "Short of required"
    share_commissioned, share_required = "Staffed / commissioned", "Staffed / required"
    against_commissioned, against_required = (
        staffed_against_commissioned(),
        staffed_against_required(),
    )
    return (
        table_panel(
            "Staffing shortfall by region (now)",
            "One row a region, least staffed against its rota first: handlers staffed (ready, "
            "on a call or in wrap-up) and commissioned for the current rota interval, how many "
            "short and the share staffed (StaffingBelowCommissioned: amber under "
            f"{pct(STAFFED_COMMISSIONED_WARNING)}, red under "
            f"{pct(STAFFED_COMMISSIONED_CRITICAL)}); health advisers Erlang A requires for the "
            "60 s standard at the last hour's calls, how many short and the share staffed "
            f"(StaffingBelowRequired: amber under {pct(STAFFED_REQUIRED_WARNING)}). Only "
            "providers that send agent states count. Click a region to open it.",
            COUNT,
        )
        .with_target(instant_table_query(against_commissioned.staffed, "A"))
        .with_target(instant_table_query(against_commissioned.target, "B"))
        .with_target(instant_table_query(against_commissioned.short, "C"))
        .with_target(instant_table_query(against_commissioned.share, "D"))
        .with_target(instant_table_query(against_required.target, "E"))
        .with_target(instant_table_query(against_required.short, "F"))
        .with_target(instant_table_query(against_required.share, "G"))
        .transformations(
            merge_and_name(
                {
                    "region": "Region",
                    "Value #A": staffed,
                    "Value #B": commissioned,
                    "Value #C": short_commissioned,
                    "Value #D": share_commissioned,
                    "Value #E": required,
                    "Value #F": short_required,
                    "Value #G": share_required,
                }
            )
        )
        .override_by_name("Region", [region_link()])
        .override_by_name(*column(staffed, COUNT))
        .override_by_name(*column(commissioned, COUNT))
        .override_by_name(*column(short_commissioned, COUNT))
        .override_by_name(*column(share_commissioned, RATIO, staffed_commissioned_thresholds()))
        .override_by_name(*column(required, COUNT))
        .override_by_name(*column(short_required, COUNT))
        .override_by_name(*column(share_required, RATIO, staffed_required_thresholds()))
        .sort_by(
            [common_builders.TableSortByFieldState().display_name(share_commissioned).desc(False)]
        )
    )


def staffed_commissioned_by_region() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Staffed / commissioned by region",
            "Handlers staffed / handlers commissioned for the rota interval, one line a region "
            "(the value of StaffingBelowCommissioned). Dashed lines: its critical "
            f"{pct(STAFFED_COMMISSIONED_CRITICAL)} and warning "
            f"{pct(STAFFED_COMMISSIONED_WARNING)}.",
            RATIO,
        ).with_target(query(staffed_against_commissioned().share, "{{region}}")),
        staffed_commissioned_thresholds(),
    )


def staffed_required_by_region() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Staffed / required by region",
            "Health advisers staffed / the number Erlang A requires for the 60 s standard at "
            "the last hour's calls and handle time, one line a region (the value of "
            f"StaffingBelowRequired). Dashed line: its warning {pct(STAFFED_REQUIRED_WARNING)}.",
            RATIO,
        ).with_target(query(staffed_against_required().share, "{{region}}")),
        staffed_required_thresholds(),
    )
