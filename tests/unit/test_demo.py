"""`surge-monitor demo`'s settings and its record of the pages that reached the webhook."""

from __future__ import annotations

import pytest

from streams.cli.demo import Pages, demo_settings
from streams.contract.errors import ConfigError
from streams.simulate import scenarios

GOOD_FRIDAY_2013_08Z = 1364544000.0


def test_demo_scales_the_rules_to_its_speed_and_scrapes_every_second() -> None:
    s = demo_settings(workers=2, speed=120)
    assert s.rule_for_scale == pytest.approx(1 / 120)
    assert s.scrape_interval_seconds == 1.0
    assert demo_settings(workers=1, speed=1).rule_for_scale == 1.0  # production's rules


@pytest.mark.parametrize("speed", [0.5, 0.0, -3.0, float("nan")])
def test_demo_refuses_a_speed_under_one(speed: float) -> None:
    with pytest.raises(ConfigError, match="--speed must be at least 1"):
        demo_settings(workers=2, speed=speed)


def _note(name: str, region: str, status: str = "firing") -> dict[str, object]:
    labels = {"alertname": name, "region": region, "severity": "critical"}
    return {"path": region, "alerts": [{"status": status, "labels": labels}]}


def test_pages_keep_the_first_firing_notification_of_each_alert_and_region() -> None:
    day = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, 6 * 3600, failure_after_s=3600)
    pages = Pages(day, speed=120)
    pages.see([_note("ServiceLevelBelowStandard", "north-west", status="resolved")])
    assert pages.first == {}  # a resolution is not a page
    pages.see([_note("ServiceLevelBelowStandard", "north-west")])
    first = dict(pages.first)
    pages.see([_note("ServiceLevelBelowStandard", "north-west"), _note("X", "west-midlands")])
    assert (
        pages.first[("ServiceLevelBelowStandard", "north-west")]
        == first[("ServiceLevelBelowStandard", "north-west")]
    )  # a repeat notification does not move the first page
    assert set(pages.first) == {
        ("ServiceLevelBelowStandard", "north-west"),
        ("X", "west-midlands"),
    }
    page = pages.first[("X", "west-midlands")]
    assert page["severity"] == "critical" and page["seconds_after_start"] >= 0
    assert isinstance(page["event_minutes_after_failure"], int)
