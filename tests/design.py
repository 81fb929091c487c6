"""Names fixed by ../shared/DESIGN.md that several tests check code against."""

from __future__ import annotations

# DESIGN.md, section Metrics: the names rules, dashboards and users may rely on.
DESIGN_METRICS = frozenset(
    {
        "surge_calls_total",
        "surge_calls_answered_within_target_total",
        "surge_calls_abandoned_after_threshold_total",
        "surge_answer_wait_seconds",
        "surge_answer_rate_ratio",
        "surge_service_level_ratio",
        "surge_abandon_rate_ratio",
        "surge_calls_waiting",
        "surge_longest_wait_seconds",
        "surge_dispositions_total",
        "surge_dispatches_total",
        "surge_referral_rate_ratio",
        "surge_referrals_expected",
        "surge_referral_spike_score",
        "surge_callbacks_total",
        "surge_callbacks_within_target_total",
        "surge_callback_within_target_ratio",
        "surge_agents",
        "surge_agents_rostered",
        "surge_agents_commissioned",
        "surge_agents_required",
        "surge_staff_seconds_total",
        "surge_handle_time_seconds",
        "surge_breach_forecast_seconds",
        "surge_alert_active",
        "surge_overflow_active",
        "surge_events_total",
        "surge_event_lag_seconds",
        "surge_watermark_seconds",
    }
)
