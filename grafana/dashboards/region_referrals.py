"""The region dashboard's row "Referrals, dispatches and callbacks": what happens to the calls after
triage, for `$region` (region.py lays the row out).

Referral rates and counts against the hour-of-week baseline (the referral spike detector's inputs
and score), ambulance dispatches by source and clinical callbacks within target. The call-handling
rows (the standards now, providers, waits) stay in region.py.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries

from grafana.dashboards.panels import (
    COUNT,
    PER_MINUTE,
    RATIO,
    dashed_line,
    query,
    timeseries_panel,
)


def referral_rate() -> timeseries.Panel:
    return timeseries_panel(
        "Referral rate",
        "Share of triaged calls whose disposition is an ambulance or an emergency department, "
        "over 15 and 60 minutes. A normal month: about 10-13 % ambulance, 7-9 % ED.",
        RATIO,
    ).with_target(
        query(
            'max by (kind, window) (surge_referral_rate_ratio{region="$region"})',
            "{{kind}} ({{window}})",
        )
    )


def referrals_against_expected() -> timeseries.Panel:
    return (
        timeseries_panel(
            "Referrals against expected",
            "Ambulance and ED dispositions in the last hour (solid) against the baseline "
            "expected for this hour of the week (dashed, surge_referrals_expected).",
            COUNT,
        )
        .with_target(
            query(
                "sum by (disposition) (increase(surge_dispositions_total"
                '{region="$region", disposition=~"ambulance|ed"}[1h]))',
                "{{disposition}} last hour",
                "A",
            )
        )
        .with_target(
            query(
                'max by (kind) (surge_referrals_expected{region="$region"})',
                "{{kind}} expected",
                "B",
            )
        )
        .override_by_query("B", [dashed_line()])
    )


def referral_spike_score() -> timeseries.Panel:
    return timeseries_panel(
        "Referral spike score",
        "Standardised excess of referrals over the hour-of-week baseline, per kind: 0 is "
        "expected, higher is a spike (the input of AmbulanceReferralSpike and EDReferralSpike).",
        COUNT,
    ).with_target(query('max by (kind) (surge_referral_spike_score{region="$region"})', "{{kind}}"))


def dispatches_by_source() -> timeseries.Panel:
    return timeseries_panel(
        "Ambulance dispatches by source",
        "Ambulance incidents dispatched in the region per minute, by source (111, 999, HCP, "
        "other); 111-originated dispatches confirm the ambulance referrals downstream.",
        PER_MINUTE,
    ).with_target(
        query(
            "sum by (source) (rate("
            'surge_dispatches_total{region="$region"}[$__rate_interval])) * 60',
            "{{source}}",
        )
    )


def callbacks_within_target() -> timeseries.Panel:
    return timeseries_panel(
        "Clinical callbacks within 10 min",
        "Clinical callbacks made within 10 minutes of the request / callbacks requested, per "
        "provider over 15 and 60 minutes (`all` is the region).",
        RATIO,
    ).with_target(
        query(
            'min by (provider, window) (surge_callback_within_target_ratio{region="$region"})',
            "{{provider}} ({{window}})",
        )
    )
