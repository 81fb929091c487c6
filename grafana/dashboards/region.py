"""Region (uid `surge-region`): one region, templated by `$region`, provider by provider.

`provider="all"` is the whole region; per-provider charts keep it as a line for comparison.
Stats and charts aggregate only to drop the `instance`/`job` labels (see national.py).
Here the call-handling rows (the standards now, providers, waits), the annotations and the layout;
the staffing row's panels are in region_staffing.py, the last row's (referrals, dispatches and
callbacks) in region_referrals.py.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard, heatmap, stat, timeseries
from grafana_foundation_sdk.models import dashboard as dashboard_models

from grafana.dashboards import region_referrals, region_staffing
from grafana.dashboards.panels import (
    AMBER,
    COUNT,
    PROMETHEUS,
    RATIO,
    SECONDS,
    TAG,
    TIMEZONE,
    PrometheusAnnotation,
    abandonment_thresholds,
    finish,
    heatmap_panel,
    heatmap_query,
    longest_wait_thresholds,
    neutral_thresholds,
    query,
    service_level_thresholds,
    stat_panel,
    steps,
    surge_links,
    timeseries_panel,
    with_threshold_lines,
)

UID: Final = "surge-region"
TITLE: Final = "Region"

REGION_QUERY: Final = "label_values(surge_calls_total, region)"


def region_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("region")
        .label("Region")
        .description("Region code from the catalogue (as exported in surge_calls_total).")
        .datasource(PROMETHEUS)
        .query(REGION_QUERY)
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
        .multi(False)
        .include_all(False)
    )


# --- Now: the region against the standards ----------------------------------------------------


def service_level_now() -> stat.Panel:
    return (
        stat_panel(
            "Service level (60 min)",
            "Calls answered within 60 s / calls answered, last 60 minutes of event time. "
            "Standard 95 %; red under 85 %.",
            RATIO,
        )
        .thresholds(service_level_thresholds())
        .with_target(
            query(
                'min(surge_service_level_ratio{region="$region", provider="all", window="60m"})',
                "service level",
            )
        )
    )


def answer_rate_now() -> stat.Panel:
    return (
        stat_panel(
            "Answer rate (60 min)",
            "Calls answered / calls offered, last 60 minutes of event time.",
            RATIO,
        )
        .thresholds(neutral_thresholds())
        .with_target(
            query(
                'min(surge_answer_rate_ratio{region="$region", provider="all", window="60m"})',
                "answer rate",
            )
        )
    )


def abandonment_now() -> stat.Panel:
    return (
        stat_panel(
            "Abandonment (60 min)",
            "Calls abandoned after waiting 30 s / calls offered, last 60 minutes of event time. "
            "Red at the 5 % standard or above.",
            RATIO,
        )
        .thresholds(abandonment_thresholds())
        .with_target(
            query(
                'max(surge_abandon_rate_ratio{region="$region", provider="all", window="60m"})',
                "abandonment",
            )
        )
    )


def calls_waiting_now() -> stat.Panel:
    return (
        stat_panel(
            "Calls waiting now",
            "Calls offered to the region and not yet answered or abandoned.",
            COUNT,
        )
        .thresholds(neutral_thresholds())
        .with_target(query('max(surge_calls_waiting{region="$region", provider="all"})', "waiting"))
    )


def longest_wait_now() -> stat.Panel:
    return (
        stat_panel(
            "Longest wait now",
            "Age of the oldest call still waiting (event time). Amber past the 60 s target.",
            SECONDS,
        )
        .thresholds(longest_wait_thresholds())
        .with_target(query('max(surge_longest_wait_seconds{region="$region"})', "longest wait"))
    )


def breach_forecast_now() -> stat.Panel:
    return (
        stat_panel(
            "Breach forecast now",
            "Predicted time until the service level falls under the standard at the current "
            "demand and answering rate. Empty (no breach forecast) while the forecast is +Inf.",
            SECONDS,
        )
        .thresholds(steps((None, AMBER)))
        .no_value("No breach forecast")
        .with_target(
            query('min(surge_breach_forecast_seconds{region="$region"}) < +Inf', "forecast")
        )
    )


# --- Providers ----------------------------------------------------------------------------------


def service_level_by_provider() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Service level by provider",
            "Calls answered within 60 s / answered, per provider over 15 and 60 minutes "
            "(`all` is the whole region). Dashed lines: 85 % and the 95 % standard.",
            RATIO,
        ).with_target(
            query(
                'min by (provider, window) (surge_service_level_ratio{region="$region"})',
                "{{provider}} ({{window}})",
            )
        ),
        service_level_thresholds(),
    )


def answer_rate_by_provider() -> timeseries.Panel:
    return timeseries_panel(
        "Answer rate by provider",
        "Calls answered / offered, per provider over 15 and 60 minutes (`all` is the region).",
        RATIO,
    ).with_target(
        query(
            'min by (provider, window) (surge_answer_rate_ratio{region="$region"})',
            "{{provider}} ({{window}})",
        )
    )


def abandonment_by_provider() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Abandonment by provider",
            "Calls abandoned after 30 s / offered, per provider over 15 and 60 minutes (`all` "
            "is the region). Dashed line: the 5 % standard.",
            RATIO,
        ).with_target(
            query(
                'max by (provider, window) (surge_abandon_rate_ratio{region="$region"})',
                "{{provider}} ({{window}})",
            )
        ),
        abandonment_thresholds(),
    )


def calls_waiting_by_provider() -> timeseries.Panel:
    return timeseries_panel(
        "Calls waiting by provider",
        "Calls offered and not yet answered or abandoned, per provider (`all` is the region).",
        COUNT,
    ).with_target(
        query('max by (provider) (surge_calls_waiting{region="$region"})', "{{provider}}")
    )


def longest_wait() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Longest wait",
            "Age of the oldest call still waiting in the region (event time). Dashed line: the "
            "60 s answer target.",
            SECONDS,
        ).with_target(
            query('max(surge_longest_wait_seconds{region="$region"})', "oldest waiting call")
        ),
        longest_wait_thresholds(),
    )


def breach_forecast() -> timeseries.Panel:
    return timeseries_panel(
        "Breach forecast",
        "Predicted seconds until the service level breaches the standard; no line while none "
        "is forecast (+Inf). A falling line is a queue outgrowing its staff.",
        SECONDS,
    ).with_target(
        query('min(surge_breach_forecast_seconds{region="$region"}) < +Inf', "time to breach")
    )


# --- Waits --------------------------------------------------------------------------------------


def answer_wait_percentiles() -> timeseries.Panel:
    bucket_rate = (
        'sum by (le) (rate(surge_answer_wait_seconds_bucket{region="$region"}[$__rate_interval]))'
    )
    return with_threshold_lines(
        timeseries_panel(
            "Answer wait percentiles",
            "Median, 90th and 99th percentile wait of the calls answered (from the answer-wait "
            "histogram; precision is that of its buckets). Dashed line: the 60 s target.",
            SECONDS,
        )
        .with_target(query(f"histogram_quantile(0.5, {bucket_rate})", "p50", "A"))
        .with_target(query(f"histogram_quantile(0.9, {bucket_rate})", "p90", "B"))
        .with_target(query(f"histogram_quantile(0.99, {bucket_rate})", "p99", "C")),
        longest_wait_thresholds(),
    )


def answer_wait_distribution() -> heatmap.Panel:
    return heatmap_panel(
        "Answer wait distribution",
        "Calls answered in each wait band (histogram bucket upper bound, seconds) over time; "
        "a band climbing upwards is a queue building.",
        COUNT,
        SECONDS,
    ).with_target(
        heatmap_query(
            "sum by (le) (increase("
            'surge_answer_wait_seconds_bucket{region="$region"}[$__rate_interval]))'
        )
    )


# --- Annotations --------------------------------------------------------------------------------


def alert_annotations() -> PrometheusAnnotation:
    return PrometheusAnnotation(
        name="Surge alerts",
        expr='max by (alert, severity) (surge_alert_active{region="$region"}) > 0',
        title_format="{{alert}} ({{severity}})",
        tag_keys="alert,severity",
        color="red",
    )


def overflow_annotations() -> PrometheusAnnotation:
    return PrometheusAnnotation(
        name="Overflow",
        expr='max by (target) (surge_overflow_active{region="$region"}) > 0',
        title_format="Overflow to {{target}}",
        tag_keys="target",
        color="orange",
    )


def dashboard_builder() -> dashboard.Dashboard:
    """The region dashboard: the standards now, providers, waits, staffing, then referrals."""
    return (
        dashboard.Dashboard(TITLE)
        .uid(UID)
        .description("One NHS 111 region, provider by provider, with alerts and overflow marked.")
        .tags([TAG])
        .timezone(TIMEZONE)
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .link(surge_links())
        .with_variable(region_variable())
        .annotation(alert_annotations())
        .annotation(overflow_annotations())
        .with_row(dashboard.Row("Now: $region against the standards"))
        .with_panel(service_level_now().span(4).height(5))
        .with_panel(answer_rate_now().span(4).height(5))
        .with_panel(abandonment_now().span(4).height(5))
        .with_panel(calls_waiting_now().span(4).height(5))
        .with_panel(longest_wait_now().span(4).height(5))
        .with_panel(breach_forecast_now().span(4).height(5))
        .with_row(dashboard.Row("Providers"))
        .with_panel(service_level_by_provider().span(8).height(8))
        .with_panel(answer_rate_by_provider().span(8).height(8))
        .with_panel(abandonment_by_provider().span(8).height(8))
        .with_panel(calls_waiting_by_provider().span(8).height(8))
        .with_panel(longest_wait().span(8).height(8))
        .with_panel(breach_forecast().span(8).height(8))
        .with_row(dashboard.Row("Waits"))
        .with_panel(answer_wait_percentiles().span(12).height(8))
        .with_panel(answer_wait_distribution().span(12).height(8))
        .with_row(dashboard.Row("Staffing"))
        .with_panel(region_staffing.staffed_commissioned_now().span(4).height(8))
        .with_panel(region_staffing.staffed_required_now().span(4).height(8))
        .with_panel(region_staffing.handlers_against_plan().span(16).height(8))
        .with_panel(region_staffing.occupancy().span(6).height(8))
        .with_panel(region_staffing.handle_time().span(6).height(8))
        .with_panel(region_staffing.agents_by_state().span(6).height(8))
        .with_panel(region_staffing.stale_agents().span(6).height(8))
        .with_row(dashboard.Row("Referrals, dispatches and callbacks"))
        .with_panel(region_referrals.referral_rate().span(8).height(8))
        .with_panel(region_referrals.referrals_against_expected().span(8).height(8))
        .with_panel(region_referrals.referral_spike_score().span(8).height(8))
        .with_panel(region_referrals.dispatches_by_source().span(12).height(8))
        .with_panel(region_referrals.callbacks_within_target().span(12).height(8))
    )


def build() -> dashboard_models.Dashboard:
    return finish(dashboard_builder())
