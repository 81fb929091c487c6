"""National overview (uid `surge-national`): every region against the standards, at a glance.

Region-level series are the `provider="all"` rows of the ratio gauges. Aggregations (`min by`,
`max by`) only drop the `instance`/`job` labels, so a region whose partition moves to another
worker stays one line; they take the worse value if two workers briefly export the same region.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, table, timeseries
from grafana_foundation_sdk.models import dashboard as dashboard_models

from grafana.dashboards import national_staffing
from grafana.dashboards.panels import (
    COUNT,
    PER_MINUTE,
    RATIO,
    SECONDS,
    TAG,
    TIMEZONE,
    abandonment_thresholds,
    column,
    finish,
    instant_table_query,
    longest_wait_thresholds,
    merge_and_name,
    query,
    region_link,
    service_level_thresholds,
    surge_links,
    table_panel,
    timeseries_panel,
    with_threshold_lines,
)

UID: Final = "surge-national"
TITLE: Final = "National overview"


def regional_status() -> table.Panel:
    service_level, answer_rate, abandonment = "Service level", "Answer rate", "Abandonment"
    waiting, longest = "Calls waiting", "Longest wait"
    panel = (
        table_panel(
            "Regional status (last 60 min)",
            "One row a region, worst service level first: service level (answered within 60 s "
            "/ answered), answer rate and abandonment (abandoned after 30 s / offered) over the "
            "last 60 minutes of event time, calls waiting now and the oldest waiting call. "
            "Red: service level under 85 % or abandonment at 5 % or more; amber: service level "
            "under the 95 % standard or a call waiting past 60 s. Click a region to open it.",
            RATIO,
        )
        .with_target(
            instant_table_query(
                'min by (region) (surge_service_level_ratio{provider="all", window="60m"})', "A"
            )
        )
        .with_target(
            instant_table_query(
                'min by (region) (surge_answer_rate_ratio{provider="all", window="60m"})', "B"
            )
        )
        .with_target(
            instant_table_query(
                'max by (region) (surge_abandon_rate_ratio{provider="all", window="60m"})', "C"
            )
        )
        .with_target(
            instant_table_query('max by (region) (surge_calls_waiting{provider="all"})', "D")
        )
        .with_target(instant_table_query("max by (region) (surge_longest_wait_seconds)", "E"))
        .transformations(
            merge_and_name(
                {
                    "region": "Region",
                    "Value #A": service_level,
                    "Value #B": answer_rate,
                    "Value #C": abandonment,
                    "Value #D": waiting,
                    "Value #E": longest,
                }
            )
        )
        .override_by_name("Region", [region_link()])
        .override_by_name(*column(service_level, RATIO, service_level_thresholds()))
        .override_by_name(*column(answer_rate, RATIO))
        .override_by_name(*column(abandonment, RATIO, abandonment_thresholds()))
        .override_by_name(*column(waiting, COUNT))
        .override_by_name(*column(longest, SECONDS, longest_wait_thresholds()))
        .sort_by([common_builders.TableSortByFieldState().display_name(service_level).desc(False)])
    )
    return panel


def _share_by_provider(numerator: str, denominator: str) -> str:
    """Increase of one counter over another's since the panel's start, per region and provider.
    `sum by` drops instance/job: a region that moved worker is one row, its counters carried on."""
    window = "[$__range]"
    return (
        f"sum by (region, provider) (increase({numerator}{window})) / "
        f"sum by (region, provider) (increase({denominator}{window}))"
    )


def provider_scorecard() -> table.Panel:
    offered, service_level = "Offered", "Service level"
    abandonment, callbacks = "Abandonment", "Callbacks within 10 min"
    return (
        table_panel(
            "Provider scorecard (today)",
            "One row a provider in a region, since local midnight: service level (answered within "
            "60 s / answered), abandonment (abandoned after 30 s / offered) and clinical callbacks "
            "made within 10 minutes / requested, from the exact counters. Red: service level "
            "under 85 % or abandonment at 5 % or more; amber: service level under the 95 % "
            "standard. Counted when the workers processed the events; `surge-monitor scorecard` "
            "gives the same figures by event time for any past day, week or month.",
            RATIO,
        )
        .time_from("now/d")
        .with_target(
            instant_table_query(
                "sum by (region, provider) "
                '(increase(surge_calls_total{outcome="offered"}[$__range]))',
                "A",
            )
        )
        .with_target(
            instant_table_query(
                _share_by_provider(
                    "surge_calls_answered_within_target_total",
                    'surge_calls_total{outcome="answered"}',
                ),
                "B",
            )
        )
        .with_target(
            instant_table_query(
                _share_by_provider(
                    "surge_calls_abandoned_after_threshold_total",
                    'surge_calls_total{outcome="offered"}',
                ),
                "C",
            )
        )
        .with_target(
            instant_table_query(
                _share_by_provider(
                    "surge_callbacks_within_target_total",
                    'surge_callbacks_total{outcome="requested"}',
                ),
                "D",
            )
        )
        .transformations(
            merge_and_name(
                {
                    "region": "Region",
                    "provider": "Provider",
                    "Value #A": offered,
                    "Value #B": service_level,
                    "Value #C": abandonment,
                    "Value #D": callbacks,
                }
            )
        )
        .override_by_name(*column(offered, COUNT))
        .override_by_name(*column(service_level, RATIO, service_level_thresholds()))
        .override_by_name(*column(abandonment, RATIO, abandonment_thresholds()))
        .override_by_name(*column(callbacks, RATIO))
        .sort_by([common_builders.TableSortByFieldState().display_name(service_level).desc(False)])
    )


def active_alerts() -> table.Panel:
    return (
        table_panel(
            "Active alerts",
            "Surge alerts firing now (surge_alert_active = 1), as published on the surge.alerts "
            "topic: region, alert name and severity. Empty when every region is within the "
            "standards.",
            COUNT,
        )
        .with_target(
            instant_table_query(
                "max by (region, alert, severity) (surge_alert_active) > 0",
                "A",
            )
        )
        .transformations(
            merge_and_name(
                {"region": "Region", "alert": "Alert", "severity": "Severity"},
                hidden=("Time", "Value"),
            )
        )
        .sort_by([common_builders.TableSortByFieldState().display_name("Region").desc(False)])
    )


def active_overflow() -> table.Panel:
    return (
        table_panel(
            "Active overflow",
            "Overflow routing in force now (surge_overflow_active > 0): the overloaded region "
            "and the region or provider taking a share of its new calls.",
            COUNT,
        )
        .with_target(
            instant_table_query("max by (region, target) (surge_overflow_active) > 0", "A")
        )
        .transformations(
            merge_and_name(
                {"region": "Overloaded region", "target": "Overflow to"},
                hidden=("Time", "Value"),
            )
        )
        .sort_by(
            [common_builders.TableSortByFieldState().display_name("Overloaded region").desc(False)]
        )
    )


def service_level_by_region() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Service level by region (15 min)",
            "Calls answered within 60 s / calls answered, rolling 15 minutes of event time, one "
            "line a region. Dashed lines: 85 % and the 95 % standard.",
            RATIO,
        ).with_target(
            query(
                'min by (region) (surge_service_level_ratio{provider="all", window="15m"})',
                "{{region}}",
            )
        ),
        service_level_thresholds(),
    )


def answer_rate_by_region() -> timeseries.Panel:
    return timeseries_panel(
        "Answer rate by region (15 min)",
        "Calls answered / calls offered, rolling 15 minutes of event time, one line a region.",
        RATIO,
    ).with_target(
        query(
            'min by (region) (surge_answer_rate_ratio{provider="all", window="15m"})',
            "{{region}}",
        )
    )


def abandonment_by_region() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Abandonment by region (15 min)",
            "Calls abandoned after waiting 30 s / calls offered, rolling 15 minutes of event "
            "time, one line a region. Dashed line: the 5 % standard.",
            RATIO,
        ).with_target(
            query(
                'max by (region) (surge_abandon_rate_ratio{provider="all", window="15m"})',
                "{{region}}",
            )
        ),
        abandonment_thresholds(),
    )


def calls_waiting_by_region() -> timeseries.Panel:
    return timeseries_panel(
        "Calls waiting by region",
        "Calls offered and not yet answered or abandoned (event time), one line a region.",
        COUNT,
    ).with_target(
        query('max by (region) (surge_calls_waiting{provider="all"})', "{{region}}"),
    )


def longest_wait_by_region() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Longest wait by region",
            "Age of the oldest call still waiting, in event time, one line a region. Dashed "
            "line: the 60 s answer target.",
            SECONDS,
        ).with_target(query("max by (region) (surge_longest_wait_seconds)", "{{region}}")),
        longest_wait_thresholds(),
    )


def calls_offered_england() -> timeseries.Panel:
    return timeseries_panel(
        "Calls offered per minute, England",
        "Calls offered to NHS 111 in all regions, per minute, averaged over 5 minutes "
        "(counted when the worker processes them). A normal day averages about 22-38 a "
        "minute (32k-54k calls a day).",
        PER_MINUTE,
    ).with_target(
        query('sum(rate(surge_calls_total{outcome="offered"}[5m])) * 60', "England"),
    )


def dashboard_builder() -> dashboard.Dashboard:
    """The national overview: status now, alerts and overflow, staffing, then the trends."""
    return (
        dashboard.Dashboard(TITLE)
        .uid(UID)
        .description("Every NHS 111 region against the national standards, live.")
        .tags([TAG])
        .timezone(TIMEZONE)
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .link(surge_links())
        .annotations([])
        .variables([])
        .with_row(dashboard.Row("Now"))
        .with_panel(regional_status().span(24).height(11))
        .with_panel(active_alerts().span(12).height(7))
        .with_panel(active_overflow().span(12).height(7))
        .with_row(dashboard.Row("Staffing"))
        .with_panel(national_staffing.staffing_shortfall().span(24).height(11))
        .with_panel(national_staffing.staffed_commissioned_by_region().span(12).height(8))
        .with_panel(national_staffing.staffed_required_by_region().span(12).height(8))
        .with_row(dashboard.Row("Scorecard"))
        .with_panel(provider_scorecard().span(24).height(12))
        .with_row(dashboard.Row("Trends"))
        .with_panel(service_level_by_region().span(12).height(8))
        .with_panel(abandonment_by_region().span(12).height(8))
        .with_panel(answer_rate_by_region().span(12).height(8))
        .with_panel(calls_waiting_by_region().span(12).height(8))
        .with_panel(longest_wait_by_region().span(12).height(8))
        .with_panel(calls_offered_england().span(12).height(8))
    )


def build() -> dashboard_models.Dashboard:
    return finish(dashboard_builder())
