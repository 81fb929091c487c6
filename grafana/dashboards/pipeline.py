"""Pipeline health (uid `surge-pipeline`): is the monitor itself keeping up and telling the truth?

The DeadLetterRateHigh rule links here (`dashboard_url: /d/surge-pipeline/pipeline-health`), so the
title stays "Pipeline health" (Grafana derives the URL slug from it).
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard, stat, timeseries
from grafana_foundation_sdk.models import dashboard as dashboard_models

from grafana.dashboards.panels import (
    COUNT,
    DEAD_LETTER_SHARE_MAX,
    GREEN,
    PER_SECOND,
    RATIO,
    RED,
    SECONDS,
    TAG,
    TIMEZONE,
    finish,
    query,
    stat_panel,
    steps,
    surge_links,
    timeseries_panel,
    up_down_mappings,
    with_threshold_lines,
)

UID: Final = "surge-pipeline"
TITLE: Final = "Pipeline health"


def events_by_topic_and_result() -> timeseries.Panel:
    return timeseries_panel(
        "Events by topic and result",
        "Events consumed per second, by input topic and result: ok, invalid (dead-lettered), "
        "late (after the watermark, still counted in their bucket) or duplicate (counted once).",
        PER_SECOND,
    ).with_target(
        query(
            "sum by (topic, result) (rate(surge_events_total[$__rate_interval]))",
            "{{topic}} {{result}}",
        )
    )


def dead_letters_per_second() -> timeseries.Panel:
    return timeseries_panel(
        "Dead letters per second",
        "Events that broke the contract and went to surge.dead-letter, per second and input "
        "topic. The `reason` header of the newest dead letters names the cause.",
        PER_SECOND,
    ).with_target(
        query(
            'sum by (topic) (rate(surge_events_total{result="invalid"}[$__rate_interval]))',
            "{{topic}}",
        )
    )


def dead_letter_share() -> timeseries.Panel:
    return with_threshold_lines(
        timeseries_panel(
            "Dead-letter share",
            "Invalid events / all events per input topic over 5 minutes: the DeadLetterRateHigh "
            "expression. Dashed line: its 5 % threshold (it fires after 10 minutes above).",
            RATIO,
        ).with_target(
            query(
                'sum by (topic) (rate(surge_events_total{result="invalid"}[5m]))'
                " / sum by (topic) (rate(surge_events_total[5m]))",
                "{{topic}}",
            )
        ),
        steps((None, GREEN), (DEAD_LETTER_SHARE_MAX, RED)),
    )


def event_lag_percentiles() -> timeseries.Panel:
    bucket_rate = "sum by (le, topic) (rate(surge_event_lag_seconds_bucket[$__rate_interval]))"
    return (
        timeseries_panel(
            "Event lag percentiles",
            "Processing time minus event time, per input topic: median, 95th and 99th percentile. "
            "Producer delay plus Kafka plus the worker; a climb means the workers fall behind.",
            SECONDS,
        )
        .with_target(query(f"histogram_quantile(0.5, {bucket_rate})", "p50 {{topic}}", "A"))
        .with_target(query(f"histogram_quantile(0.95, {bucket_rate})", "p95 {{topic}}", "B"))
        .with_target(query(f"histogram_quantile(0.99, {bucket_rate})", "p99 {{topic}}", "C"))
    )


def event_time_lag_by_region() -> timeseries.Panel:
    return timeseries_panel(
        "Event-time lag by region",
        "Wall clock minus each region's watermark (max event time minus the grace, default "
        "120 s): how far behind now the closed buckets are. Flat near the grace is healthy; a "
        "rising line is a region whose feed went silent or a worker that fell behind.",
        SECONDS,
    ).with_target(
        query("time() - max by (region) (surge_watermark_seconds)", "{{region}}"),
    )


def workers_up() -> stat.Panel:
    return (
        stat_panel(
            "Workers scraped",
            'Prometheus scrape health of each worker\'s /metrics (up{job="surge-workers"}): '
            "UP or DOWN a worker. A worker down stops its partitions' counts until the group "
            "rebalances.",
            COUNT,
        )
        .thresholds(steps((None, RED), (1, GREEN)))
        .mappings(up_down_mappings())
        .with_target(query('up{job="surge-workers"}', "{{instance}}"))
    )


def dashboard_builder() -> dashboard.Dashboard:
    """Pipeline health: throughput and dead letters, lag, and the workers' scrape health."""
    return (
        dashboard.Dashboard(TITLE)
        .uid(UID)
        .description("Is the surge monitor keeping up: event rates, dead letters, lag, workers.")
        .tags([TAG])
        .timezone(TIMEZONE)
        .time("now-1h", "now")
        .refresh("30s")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .link(surge_links())
        .annotations([])
        .variables([])
        .with_row(dashboard.Row("Workers"))
        .with_panel(workers_up().span(24).height(4))
        .with_row(dashboard.Row("Throughput and dead letters"))
        .with_panel(events_by_topic_and_result().span(8).height(8))
        .with_panel(dead_letters_per_second().span(8).height(8))
        .with_panel(dead_letter_share().span(8).height(8))
        .with_row(dashboard.Row("Lag"))
        .with_panel(event_lag_percentiles().span(12).height(8))
        .with_panel(event_time_lag_by_region().span(12).height(8))
    )


def build() -> dashboard_models.Dashboard:
    return finish(dashboard_builder())
