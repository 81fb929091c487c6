"""Every Prometheus alert of the design with its thresholds, in one place (DESIGN.md, Alerts).

The kubernetes-mixin idea (`config.libsonnet`): `Thresholds` holds every number an alert depends on,
`build_alerts()` turns it into one `AlertRule` per alert and severity, and `render()` writes the
Prometheus rule file. Runbook and dashboard links are added in one place (`AlertRule.annotations`).

    python -m streams.contract.alert_rules > deploy/prometheus/rules/surge.yml

regenerates the checked-in file; tests/unit/test_alert_rules.py fails when the two differ, and the
promtool tests in deploy/prometheus/tests/ pin each alert's behaviour. The in-stream alerts reuse
`THRESHOLDS`, so a page from Prometheus and an event on `surge.alerts` mean the same thing. Why each
number is what it is: the alert's runbook, deploy/runbooks/<Alert>.md.

Conventions of the expressions:
- Regional alerts aggregate `by (region)`: an alert's labels are then region, severity and team
  only, so it survives a rebalance that moves a region to another worker (another `instance`)
  without resolving and firing again. Workers own disjoint regions, so the aggregation is the
  identity on the values; `min` where low is bad and `max` where high is bad take the worst view
  if a stale series of a previous owner lingers for a scrape or two.
- A ratio with no denominator is absent, never 0 or 1: no traffic, no alert, except where absence is
  itself the symptom (nothing answered for 15 minutes; a silent feed).
- Staffing compares like with like: only the (provider, role) pairs that have both agent states
  and a positive figure to compare with (a rota, Erlang A's requirement) count on either side, so
  a provider whose ACD is not connected, or a role with no rota, neither pages nor hides a
  shortfall. Duplicated series of a rebalance double both sides of the ratio alike.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Final

from streams.contract.rule_format import (
    GROUP_CALLS,
    GROUP_PIPELINE,
    GROUP_REFERRALS,
    GROUP_STAFFING,
    NATIONAL,
    PIPELINE_DASHBOARD,
    TEAM_AMBULANCE,
    TEAM_ED,
    TEAM_OPERATIONS,
    TEAM_PIPELINE,
    AlertRule,
    Severity,
    duration,
    last,
    num,
    pct,
    words,
)
from streams.contract.thresholds import THRESHOLDS, Thresholds

# Selectors and fragments used by several rules.
_OFFERED = 'surge_calls_total{outcome="offered", provider!="all"}'
_SL = 'surge_service_level_ratio{provider="all", window="%s"}'
_ABANDON = 'surge_abandon_rate_ratio{provider="all", window="%s"}'
_REGION = "{{ $labels.region }}"


def _busy_enough(t: Thresholds) -> str:
    window = duration(t.kpi_offered_window_seconds)
    return f"sum by (region) (increase({_OFFERED}[{window}])) >= {t.kpi_min_offered_per_hour}"


def _service_level(t: Thresholds, severity: Severity, threshold: float) -> AlertRule:
    sl60, sl15 = _SL % "60m", _SL % "15m"
    return AlertRule(
        name="ServiceLevelBelowStandard",
        severity=severity,
        group=GROUP_CALLS,
        expr=f"""(
  min by (region) ({sl60}) < {num(threshold)}
  unless on (region)
  min by (region) ({sl15}) >= {num(threshold)}
)
and on (region)
{_busy_enough(t)}""",
        for_=duration(t.kpi_for_seconds),
        summary=f"{_REGION}: {{{{ $value | humanizePercentage }}}} of calls answered within 60 s "
        "in the last hour",
        description=(
            f"In {_REGION} {{{{ $value | humanizePercentage }}}} of the calls answered in the last "
            f"60 minutes were answered within 60 s, and the last 15 minutes are below "
            f"{pct(threshold)} too (or nothing was answered in them), for "
            f"{words(t.kpi_for_seconds)}. The standard is {pct(t.service_level_standard)}; "
            f"{severity} below {pct(threshold)}."
        ),
        team=TEAM_OPERATIONS,
    )


def _abandonment(t: Thresholds, severity: Severity, threshold: float) -> AlertRule:
    ab60, ab15 = _ABANDON % "60m", _ABANDON % "15m"
    return AlertRule(
        name="AbandonmentAboveStandard",
        severity=severity,
        group=GROUP_CALLS,
        expr=f"""(
  max by (region) ({ab60}) > {num(threshold)}
  and on (region)
  max by (region) ({ab15}) > {num(threshold)}
)
and on (region)
{_busy_enough(t)}""",
        for_=duration(t.kpi_for_seconds),
        summary=f"{_REGION}: {{{{ $value | humanizePercentage }}}} of calls abandoned after 30 s "
        "in the last hour",
        description=(
            f"In {_REGION} {{{{ $value | humanizePercentage }}}} of the calls offered in the last "
            "60 minutes hung up after waiting more than 30 s, and the last 15 minutes are above "
            f"{pct(threshold)} too, for {words(t.kpi_for_seconds)}. The standard is below "
            f"{pct(t.abandon_standard)}; {severity} above {pct(threshold)}."
        ),
        team=TEAM_OPERATIONS,
    )


def _calls_waiting(t: Thresholds, severity: Severity, threshold: float) -> AlertRule:
    return AlertRule(
        name="CallsWaitingHigh",
        severity=severity,
        group=GROUP_CALLS,
        expr=f"""max by (region) (surge_longest_wait_seconds) > {num(threshold)}
and on (region)
max by (region) (surge_calls_waiting{{provider="all"}}) >= {t.longest_wait_min_calls_waiting}""",
        for_=duration(t.longest_wait_for_seconds),
        summary=f"{_REGION}: a caller has been waiting {{{{ $value | humanizeDuration }}}}",
        description=(
            f"The oldest call still waiting in {_REGION} has waited "
            f"{{{{ $value | humanizeDuration }}}}: more than {words(threshold)} for "
            f"{words(t.longest_wait_for_seconds)}, with at least "
            f"{t.longest_wait_min_calls_waiting} calls waiting. Callers who wait this long hang "
            "up or ring 999."
        ),
        team=TEAM_OPERATIONS,
    )


def _referral_spike(
    t: Thresholds, severity: Severity, threshold: float, *, name: str, kind: str, team: str
) -> AlertRule:
    what = "an ambulance" if kind == "ambulance" else "ED"
    return AlertRule(
        name=name,
        severity=severity,
        group=GROUP_REFERRALS,
        expr=f'max by (region) (surge_referral_spike_score{{kind="{kind}"}}) > {num(threshold)}',
        for_=duration(t.referral_spike_for_seconds),
        summary=f"{_REGION}: 111 referrals to {what} spiking (score {{{{ $value | humanize }}}})",
        description=(
            f"The share of 111 calls in {_REGION} referred to {what} is "
            "{{ $value | humanize }} standard deviations above the baseline for this hour of the "
            f"week (above {num(threshold)} for {words(t.referral_spike_for_seconds)}). "
            f"Expect more {kind.replace('ed', 'ED')} demand from 111 within the hour."
        ),
        team=team,
    )


# Staffed = agents ready, on a call or in wrap-up (DESIGN.md, KPIs). Only the rota and the
# requirement need provider!="all" (a region-wide figure beside the providers' own): pairing with
# them drops a region-wide agents series, and Erlang A's requirement is for health advisers only.
_STAFFED = 'surge_agents{state=~"ready|on_call|wrap_up"}'
_COMMISSIONED = 'surge_agents_commissioned{provider!="all"} > 0'
_REQUIRED = 'surge_agents_required{provider!="all", role="health_adviser"} > 0'
_PAIRS = "on (region, provider, role)"


def _staffed_share(staffed: str, target: str, ratio: float, min_short: int) -> str:
    """Staffed / target by region below `ratio` and at least `min_short` handlers short, over
    the (provider, role) pairs that have both agent states and a positive target (a pair with a
    target of 0 would count its staff against nobody): the value is the staffed share."""
    have = f"sum by (region) ({staffed} and {_PAIRS} {target})"
    need = f"sum by (region) ({target} and {_PAIRS} surge_agents)"
    return f"""{have}
  / {need}
< {num(ratio)}
and on (region)
{need}
  - {have}
>= {min_short}"""


def _staffing_commissioned(t: Thresholds, severity: Severity, ratio: float) -> AlertRule:
    return AlertRule(
        name="StaffingBelowCommissioned",
        severity=severity,
        group=GROUP_STAFFING,
        expr=_staffed_share(_STAFFED, _COMMISSIONED, ratio, t.staffing_min_handlers_short),
        for_=duration(t.staffing_for_seconds),
        summary=f"{_REGION}: {{{{ $value | humanizePercentage }}}} of the commissioned handlers "
        "staffed",
        description=(
            f"In {_REGION} {{{{ $value | humanizePercentage }}}} of the handlers commissioned for "
            "this rota interval are staffed (ready, on a call or in wrap-up), at least "
            f"{t.staffing_min_handlers_short} handlers short, for "
            f"{words(t.staffing_for_seconds)}; {severity} below {pct(ratio)}. Callers queue "
            "and hang up before the service level shows it."
        ),
        team=TEAM_OPERATIONS,
    )


def _staffing_required(t: Thresholds) -> AlertRule:
    ratio = t.staffing_required_warning_ratio
    return AlertRule(
        name="StaffingBelowRequired",
        severity="warning",
        group=GROUP_STAFFING,
        expr=_staffed_share(_STAFFED, _REQUIRED, ratio, t.staffing_min_handlers_short),
        for_=duration(t.staffing_required_for_seconds),
        summary=f"{_REGION}: health advisers staffed {{{{ $value | humanizePercentage }}}} of "
        "those needed for the 60 s standard",
        description=(
            f"In {_REGION} the health advisers staffed (ready, on a call or in wrap-up) are "
            f"{{{{ $value | humanizePercentage }}}} of the number Erlang A needs to answer "
            f"{pct(t.service_level_standard)} of the last hour's calls within 60 s: under "
            f"{pct(ratio)} and at least {t.staffing_min_handlers_short} advisers short, for "
            f"{words(t.staffing_required_for_seconds)}. At that staffing Erlang A expects the "
            "service level and abandonment near their alert levels."
        ),
        team=TEAM_OPERATIONS,
    )


def _breach_forecast(t: Thresholds) -> AlertRule:
    # The forecast (detectors.forecast) is of ServiceLevelBelowStandard's warning condition, and
    # is 0 once that holds: the warning stays on through the breach, so that the page about the
    # breach itself (kpi_for_seconds later) follows it without a gap.
    level = pct(t.service_level_warning)
    return AlertRule(
        name="ServiceLevelBreachForecast",
        severity="warning",
        group=GROUP_CALLS,
        expr=f"min by (region) (surge_breach_forecast_seconds) < {num(t.breach_forecast_seconds)}",
        for_=duration(t.breach_forecast_for_seconds),
        summary=f"{_REGION}: service level forecast to fall below {level} in "
        "{{ $value | humanizeDuration }}",
        description=(
            f"The queue forecast for {_REGION} predicts that the service level of the last 60 "
            f"and of the last 15 minutes will both be below {level} (the "
            f"ServiceLevelBelowStandard warning) in {{{{ $value | humanizeDuration }}}}: under "
            f"{words(t.breach_forecast_seconds)} for {words(t.breach_forecast_for_seconds)} "
            "(0s: they already are). Time to act before the hour is lost."
        ),
        team=TEAM_OPERATIONS,
    )


def _feed_silent(t: Thresholds) -> AlertRule:
    silent, quiet = duration(t.feed_silent_seconds), duration(t.feed_silent_quiet_seconds)
    live = duration(t.feed_live_lookback_seconds)
    return AlertRule(
        name="RegionFeedSilent",
        severity="critical",
        group=GROUP_CALLS,
        expr=f"""(
  sum by (region) (increase({_OFFERED}[1h] offset 1d)) >= {t.feed_busy_offered_per_hour}
  unless on (region)
  sum by (region) (increase({_OFFERED}[{silent}])) > 0
)
or
(
  sum by (region) (increase({_OFFERED}[{live}])) > 0
  unless on (region)
  sum by (region) (increase({_OFFERED}[{quiet}])) > 0
)""",
        for_=duration(t.feed_silent_for_seconds),
        summary=f"{_REGION}: no calls received",
        description=(
            f"No offered call from {_REGION} has been counted for "
            f"{words(t.feed_silent_seconds + t.feed_silent_for_seconds)} at an hour that had at "
            f"least {t.feed_busy_offered_per_hour} calls yesterday, or for "
            f"{words(t.feed_silent_quiet_seconds + t.feed_silent_for_seconds)} in a region that "
            f"sent calls in {last(t.feed_live_lookback_seconds)}. Its figures are "
            "frozen and its other alerts cannot fire: the telephony feed, the pipeline or the "
            "service itself is down."
        ),
        team=TEAM_PIPELINE,
    )


def _pipeline_lagging(t: Thresholds, severity: Severity, threshold: float) -> AlertRule:
    rate = duration(t.rate_window_seconds)
    quantile = num(t.lag_quantile * 100)
    return AlertRule(
        name="PipelineLagging",
        severity=severity,
        group=GROUP_PIPELINE,
        expr=f"""histogram_quantile(
  {num(t.lag_quantile)}, sum by (le) (rate(surge_event_lag_seconds_bucket[{rate}]))
) > {num(threshold)}
and on ()
time() - max(surge_watermark_seconds) < {t.live_watermark_max_age_seconds}""",
        for_=duration(t.lag_for_seconds),
        summary=f"Events reach the monitor {{{{ $value | humanizeDuration }}}} late (p{quantile})",
        description=(
            f"The {quantile}th percentile of processing time - event time over "
            f"{last(t.rate_window_seconds)} is {{{{ $value | humanizeDuration }}}}, more than "
            f"{words(threshold)} for {words(t.lag_for_seconds)}, while the newest watermark is "
            f"less than {words(t.live_watermark_max_age_seconds)} old (live data, not a replay "
            "of history). Every KPI, dashboard and alert is that late."
        ),
        team=TEAM_PIPELINE,
        region=NATIONAL,
        dashboard_url=PIPELINE_DASHBOARD,
    )


def _dead_letters(t: Thresholds) -> AlertRule:
    rate = duration(t.rate_window_seconds)
    return AlertRule(
        name="DeadLetterRateHigh",
        severity="warning",
        group=GROUP_PIPELINE,
        expr=f"""sum by (topic) (rate(surge_events_total{{result="invalid"}}[{rate}]))
  / sum by (topic) (rate(surge_events_total[{rate}])) > {num(t.dead_letter_ratio)}""",
        for_=duration(t.dead_letter_for_seconds),
        summary="{{ $labels.topic }}: {{ $value | humanizePercentage }} of events dead-lettered",
        description=(
            f"More than {pct(t.dead_letter_ratio)} of the events on {{{{ $labels.topic }}}} "
            f"failed validation for {words(t.dead_letter_for_seconds)}. Read the `reason` "
            "header of the newest messages on the dead-letter topic to find the producer."
        ),
        team=TEAM_PIPELINE,
        region=NATIONAL,
        dashboard_url=PIPELINE_DASHBOARD,
    )


def build_alerts(t: Thresholds = THRESHOLDS) -> tuple[AlertRule, ...]:
    """Every alert of DESIGN.md at each of its severities, in rule-file order."""
    ambulance = {"name": "AmbulanceReferralSpike", "kind": "ambulance", "team": TEAM_AMBULANCE}
    ed = {"name": "EDReferralSpike", "kind": "ed", "team": TEAM_ED}
    return (
        _service_level(t, "warning", t.service_level_warning),
        _service_level(t, "critical", t.service_level_critical),
        _abandonment(t, "warning", t.abandon_warning),
        _abandonment(t, "critical", t.abandon_critical),
        _calls_waiting(t, "warning", t.longest_wait_warning_seconds),
        _calls_waiting(t, "critical", t.longest_wait_critical_seconds),
        _breach_forecast(t),
        _feed_silent(t),
        _staffing_commissioned(t, "warning", t.staffing_commissioned_warning_ratio),
        _staffing_commissioned(t, "critical", t.staffing_commissioned_critical_ratio),
        _staffing_required(t),
        _referral_spike(t, "warning", t.referral_spike_warning, **ambulance),
        _referral_spike(t, "critical", t.referral_spike_critical, **ambulance),
        _referral_spike(t, "warning", t.referral_spike_warning, **ed),
        _referral_spike(t, "critical", t.referral_spike_critical, **ed),
        _pipeline_lagging(t, "warning", t.lag_warning_seconds),
        _pipeline_lagging(t, "critical", t.lag_critical_seconds),
        _dead_letters(t),
    )


ALERTS: Final = build_alerts()
ALERT_NAMES: Final = tuple(dict.fromkeys(a.name for a in ALERTS))
GROUPS: Final = (GROUP_CALLS, GROUP_STAFFING, GROUP_REFERRALS, GROUP_PIPELINE)


def _q(text: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(text)


def _rule_lines(rule: AlertRule) -> Iterator[str]:
    yield f"      - alert: {rule.name}"
    yield "        expr: |-"
    for line in rule.expr.splitlines():
        yield f"          {line}".rstrip()
    yield f"        for: {rule.for_}"
    yield "        labels:"
    for key, value in rule.labels.items():
        yield f"          {key}: {_q(value)}"
    yield "        annotations:"
    for key, value in rule.annotations.items():
        yield f"          {key}: {_q(value)}"


def render(alerts: Iterable[AlertRule] = ALERTS) -> str:
    """The Prometheus rule file of `alerts`, one group per GROUPS entry, as YAML text."""
    alerts = tuple(alerts)
    lines = [
        "# Generated by streams/contract/alert_rules.py: change the thresholds in",
        "# streams/contract/thresholds.py, then run",
        "#   python -m streams.contract.alert_rules > deploy/prometheus/rules/surge.yml",
        "# tests/unit/test_alert_rules.py fails when this file and render() differ.",
        "groups:",
    ]
    for group in GROUPS:
        rules = [a for a in alerts if a.group == group]
        if rules:
            lines += [f"  - name: {group}", "    rules:"]
            for rule in rules:
                lines += _rule_lines(rule)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
