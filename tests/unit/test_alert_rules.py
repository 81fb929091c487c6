"""The alert rules, their promtool tests, runbooks and the Alertmanager routing stay in step."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from string import Template

import pytest

from streams.contract.alert_rules import ALERT_NAMES, ALERTS, build_alerts, render
from streams.contract.catalogue import load_catalogue
from streams.contract.rule_format import RUNBOOK_BASE_URL, TEAM_PIPELINE, AlertRule, duration
from streams.contract.thresholds import EVENT_TIME_WINDOWS, THRESHOLDS, Thresholds, accelerated
from tests.design import DESIGN_METRICS

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"

# ../shared/DESIGN.md, section Alerts.
DESIGN_ALERTS = (
    "ServiceLevelBelowStandard",
    "AbandonmentAboveStandard",
    "CallsWaitingHigh",
    "AmbulanceReferralSpike",
    "EDReferralSpike",
    "ServiceLevelBreachForecast",
    "StaffingBelowCommissioned",
    "StaffingBelowRequired",
    "RegionFeedSilent",
    "PipelineLagging",
    "DeadLetterRateHigh",
)
HISTOGRAMS = frozenset({"surge_answer_wait_seconds", "surge_event_lag_seconds"})
TEMPLATE_VARIABLES = {"webhook_url", "group_wait", "group_interval"}


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not on PATH: `make setup` installs it from Debian's packages")
    return path


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def metric_names(expr: str) -> set[str]:
    names = set()
    for name in re.findall(r"\bsurge_[a-z0-9_]+", expr):
        base = re.sub(r"_(bucket|count|sum)$", "", name)
        names.add(base if base in HISTOGRAMS else name)
    return names


def test_checked_in_rule_file_is_the_rendered_one() -> None:
    """deploy/prometheus/rules/surge.yml equals render(): regenerate it, never edit it by hand."""
    checked_in = (RULES / "surge.yml").read_text(encoding="utf-8")
    assert checked_in == render(), (
        "surge.yml is stale: "
        "python -m streams.contract.alert_rules > deploy/prometheus/rules/surge.yml"
    )


def test_promtool_accepts_the_rules_and_every_rule_test_passes() -> None:
    """`promtool check rules` and `promtool test rules` pass, as in `make rules-test`."""
    promtool = need("promtool")
    check = run([promtool, "check", "rules", *map(str, sorted(RULES.glob("*.yml")))])
    assert check.returncode == 0, check.stdout + check.stderr
    tests = run([promtool, "test", "rules", *map(str, sorted(RULE_TESTS.glob("*.yml")))])
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_every_design_alert_is_defined_and_nothing_else() -> None:
    """The alert names are exactly DESIGN.md's, the same names the in-stream alerts use."""
    assert set(ALERT_NAMES) == set(DESIGN_ALERTS)


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: f"{r.name}-{r.severity}")
def test_every_rule_has_the_design_labels_and_annotations(rule: AlertRule) -> None:
    """Labels severity, region (or `by (region)`), team; the four annotations; the runbook."""
    assert rule.labels["severity"] in {"warning", "critical"}
    assert rule.labels["team"]
    assert "region" in rule.labels or "by (region)" in rule.expr
    annotations = rule.annotations
    assert set(annotations) == {"summary", "description", "runbook_url", "dashboard_url"}
    assert all(annotations.values())
    if rule.name != "RegionFeedSilent":  # its value is only the count it compared with 0
        assert "{{ $value" in annotations["summary"] + annotations["description"]
    assert annotations["runbook_url"] == f"{RUNBOOK_BASE_URL}{rule.name}.md"
    assert (ROOT / annotations["runbook_url"]).is_file(), f"write {annotations['runbook_url']}"


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: f"{r.name}-{r.severity}")
def test_rules_read_only_design_metrics(rule: AlertRule) -> None:
    """Every metric a rule expression reads is one of DESIGN.md's metric names."""
    used = metric_names(rule.expr)
    assert used, rule.expr
    assert used <= DESIGN_METRICS, used - DESIGN_METRICS


def test_rule_tests_feed_only_design_metrics() -> None:
    """The promtool tests' input series use DESIGN.md's metric names too (no dead test data)."""
    for path in RULE_TESTS.glob("*.yml"):
        series = re.findall(r"series: '([a-z0-9_]+)", path.read_text(encoding="utf-8"))
        assert metric_names(" ".join(series)) <= DESIGN_METRICS, path.name


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: f"{r.name}-{r.severity}")
def test_every_rule_has_a_promtool_test_of_its_severity(rule: AlertRule) -> None:
    """Each alert has its test file, which expects the alert at each of its severities."""
    path = RULE_TESTS / f"{rule.name}-test.yml"
    assert path.is_file(), f"write {path.relative_to(ROOT)}"
    text = path.read_text(encoding="utf-8")
    assert f"alertname: {rule.name}" in text
    assert f"severity: {rule.severity}" in text


def test_critical_thresholds_are_beyond_the_warnings() -> None:
    """A critical condition implies its warning's, so the inhibition hides a real warning."""
    t = THRESHOLDS
    assert t.service_level_critical < t.service_level_warning < t.service_level_standard
    assert t.abandon_standard <= t.abandon_warning < t.abandon_critical
    assert t.longest_wait_warning_seconds < t.longest_wait_critical_seconds
    assert t.longest_wait_critical_seconds < 17.5 * 60  # Good Friday 2013 is critical
    assert t.referral_spike_warning < t.referral_spike_critical
    assert t.lag_warning_seconds < t.lag_critical_seconds
    assert t.staffing_commissioned_critical_ratio < t.staffing_commissioned_warning_ratio < 1


@pytest.mark.parametrize(
    ("seconds", "text"), [(30, "30s"), (120, "2m"), (900, "15m"), (3600, "1h"), (86400, "1d")]
)
def test_durations_render_in_the_largest_whole_unit(seconds: int, text: str) -> None:
    """Durations print as Prometheus writes them."""
    assert duration(seconds) == text


@pytest.mark.parametrize("bad", [0, -60, 1.5])
def test_durations_must_be_whole_positive_seconds(bad: float) -> None:
    """A fractional or non-positive duration is refused."""
    with pytest.raises(ValueError, match="whole positive seconds"):
        duration(bad)


FOR_FIELDS = [f.name for f in fields(Thresholds) if f.name.endswith("_for_seconds")]


@pytest.mark.parametrize(("scale", "floor"), [(1 / 300, 2.0), (1 / 300, 1.5), (0.02, 10.0)])
def test_accelerated_rules_scale_every_for_but_never_under_the_floor(
    scale: float, floor: float
) -> None:
    """Each `for:` is scaled, rounded, at least the floor (rounded up) and at most unscaled."""
    fast = accelerated(THRESHOLDS, scale, min_for_seconds=floor)
    for name in FOR_FIELDS:
        full, scaled = getattr(THRESHOLDS, name), getattr(fast, name)
        assert min(full, math.ceil(floor)) <= scaled <= full, name
        if full * scale >= floor:
            assert scaled == round(full * scale), name
    # The event-counting windows scale by the same rule (their floor is 1 s here); every other
    # threshold is production's.
    for name in EVENT_TIME_WINDOWS:
        full, scaled = getattr(THRESHOLDS, name), getattr(fast, name)
        assert scaled == min(full, max(1, round(full * scale))), name
    others = [
        f.name
        for f in fields(Thresholds)
        if f.name not in FOR_FIELDS and f.name not in EVENT_TIME_WINDOWS
    ]
    assert all(getattr(fast, n) == getattr(THRESHOLDS, n) for n in others)


def test_unscaled_rules_are_production_s_byte_for_byte() -> None:
    """Scale 1 (production, `make demo --speed 1`) renders exactly the checked-in rule file."""
    checked_in = (RULES / "surge.yml").read_text(encoding="utf-8")
    assert render(build_alerts(accelerated(THRESHOLDS, 1, 10, 20))) == checked_in


def test_demo_speed_rules_count_an_event_hour_and_promtool_accepts_them(tmp_path: Path) -> None:
    """At the demo's speed (120, scrapes every second) the KPI rules' minimum-calls window is one
    event hour in wall time (30 s) and the rendered file is valid for Prometheus."""
    fast = accelerated(THRESHOLDS, 1 / 120, min_for_seconds=2, min_window_seconds=4)
    text = render(build_alerts(fast))
    assert "[30s])) >= 60" in text and "[1h])) >= 60" not in text
    assert fast.kpi_for_seconds == 15 and fast.feed_silent_seconds == 8
    (tmp_path / "surge.yml").write_text(text, encoding="utf-8")
    check = run([need("promtool"), "check", "rules", str(tmp_path / "surge.yml")])
    assert check.returncode == 0, check.stdout + check.stderr


def test_at_the_suite_s_scale_the_kpi_for_lasts_as_long_as_at_launch_day_speed() -> None:
    """At 1/300 (the launch day at speed 300), 30 minutes is 6 s and no `for:` is under 2 s."""
    fast = accelerated(THRESHOLDS, 1 / 300, min_for_seconds=2.0)
    assert fast.kpi_for_seconds == THRESHOLDS.kpi_for_seconds // 300
    rendered = re.findall(r"for: (\d+)s\n", render(build_alerts(fast)))
    assert len(rendered) == len(ALERTS) and min(map(int, rendered)) >= 2


@pytest.mark.parametrize(("scale", "floor"), [(0.0, 1.0), (1.5, 1.0), (0.5, 0.0)])
def test_accelerated_refuses_a_bad_scale_or_floor(scale: float, floor: float) -> None:
    """A scale outside (0, 1] or a non-positive floor is refused."""
    with pytest.raises(ValueError, match="must be"):
        accelerated(THRESHOLDS, scale, min_for_seconds=floor)
    with pytest.raises(ValueError, match="must be"):
        accelerated(THRESHOLDS, 0.5, min_window_seconds=0.0)


# ---- Alertmanager ----------------------------------------------------------------------------


def test_alertmanager_template_has_exactly_the_launcher_variables() -> None:
    """Only webhook_url, group_wait and group_interval: any other dollar breaks substitute()."""
    template = Template(ALERTMANAGER.read_text(encoding="utf-8"))
    assert template.is_valid()
    assert set(template.get_identifiers()) == TEMPLATE_VARIABLES


@pytest.fixture(scope="module")
def alertmanager_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template rendered as streams/stack/launcher.py:start_alertmanager renders it."""
    text = Template(ALERTMANAGER.read_text(encoding="utf-8")).substitute(
        webhook_url="http://127.0.0.1:9095/alerts", group_wait="10s", group_interval="1m"
    )
    path = tmp_path_factory.mktemp("alertmanager") / "alertmanager.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_amtool_accepts_the_rendered_config(alertmanager_config: Path) -> None:
    """`amtool check-config` accepts the rendered Alertmanager configuration."""
    amtool = need("amtool")
    result = run([amtool, "check-config", str(alertmanager_config)])
    assert result.returncode == 0, result.stdout + result.stderr


def routes(config: Path, *labels: str) -> str:
    amtool = need("amtool")
    result = run([amtool, "config", "routes", "test", f"--config.file={config}", *labels])
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("region", load_catalogue().codes())
def test_each_catalogue_region_routes_to_its_on_call_receiver(
    alertmanager_config: Path, region: str
) -> None:
    """A regional alert of any severity reaches on-call-<region>, at <webhook_url>/<region>."""
    for severity in ("warning", "critical"):
        labels = (f"region={region}", "alertname=ServiceLevelBelowStandard", f"severity={severity}")
        assert routes(alertmanager_config, *labels) == f"on-call-{region}"
    text = alertmanager_config.read_text(encoding="utf-8")
    assert f'url: "http://127.0.0.1:9095/alerts/{region}"' in text


REGIONAL = [rule for rule in ALERTS if rule.region is None]


@pytest.mark.parametrize("rule", REGIONAL, ids=lambda r: f"{r.name}-{r.severity}")
def test_every_regional_rule_routes_by_its_labels_to_the_region_s_on_call(
    alertmanager_config: Path, rule: AlertRule
) -> None:
    """A `by (region)` rule's own labels reach on-call-<region>, and `national` for the pipeline."""
    own = [f"{key}={value}" for key, value in rule.labels.items()]
    labels = (f"alertname={rule.name}", "region=west-midlands", *own)
    expected = "on-call-west-midlands"
    if rule.team == TEAM_PIPELINE:
        expected = f"national,{expected}"
    assert routes(alertmanager_config, *labels) == expected


def test_national_pipeline_and_unknown_alerts_route_as_documented(
    alertmanager_config: Path,
) -> None:
    """Pipeline-wide to `national`, a region's feed fault to both, an unknown region to default."""
    national = ("region=national", "alertname=PipelineLagging", "team=pipeline")
    assert routes(alertmanager_config, *national) == "national"
    silent = ("region=london", "alertname=RegionFeedSilent", "team=pipeline", "severity=critical")
    assert routes(alertmanager_config, *silent) == "national,on-call-london"
    assert routes(alertmanager_config, "region=atlantis", "alertname=X") == "default"
