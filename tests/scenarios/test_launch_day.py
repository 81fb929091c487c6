"""The launch-day story end to end: North West and West Midlands collapse, the on-call side is
paged through the real Prometheus and Alertmanager, the healthy regions are not, and every
dashboard panel's query runs against the Prometheus the pipeline fed."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from grafana.dashboards import panel_queries
from streams.contract.catalogue import default_catalogue
from streams.contract.settings import Settings
from streams.simulate import generator, history, play, scenarios
from streams.stack import processes, services
from tests.harness import poll, prom_query, prom_vector, read_topic

GOOD_FRIDAY_2013_08Z = 1364544000.0
FAILING = {"north-west", "west-midlands"}
PAGED_FOR = ("ServiceLevelBelowStandard", "AmbulanceReferralSpike")


def sink_alerts(s: Settings, since_s: float) -> list[dict[str, Any]]:
    """Alerts the on-call webhook received that started after `since_s`."""
    url = f"http://127.0.0.1:{s.alert_sink_port}/alerts"
    with urllib.request.urlopen(url, timeout=5) as resp:
        notes = json.loads(resp.read())
    out = []
    for note in notes:
        for alert in note.get("alerts", []):
            started = alert.get("startsAt", "")
            if started and _epoch(started) >= since_s:
                out.append({**alert, "receiver_path": note.get("path", "")})
    return out


def _epoch(iso: str) -> float:
    """Alertmanager's RFC 3339 time (nanoseconds, Z) as epoch seconds."""
    whole, _, frac = iso.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{frac or 0}")


def test_launch_day_pages_the_failing_regions_only_and_dashboards_have_data(
    isolated: Settings, tmp_path: Path
) -> None:
    """ServiceLevelBelowStandard reaches the on-call webhook for NW and WM and no healthy region."""
    # Referral baselines warm-started from a normal generated week, as an operator would.
    week = generator.generate(
        scenarios.normal(GOOD_FRIDAY_2013_08Z - 8 * 86400 - 8 * 3600, 7 * 86400),
        default_catalogue(),
        seed=7,
    )
    history.write_baselines(history.learn_baselines(week), tmp_path / "baseline.json")
    s = replace(isolated, referral_baseline=str(tmp_path / "baseline.json"))
    started = time.time() - 1
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, 4 * 3600, failure_after_s=3600)
    events = generator.generate(scenario, default_catalogue(), seed=2013)
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    services.start_worker(s, paths, 1)
    # Paced (4 h of event time in 48 s): the rules' `increase(...[1h])` must see the calls arrive
    # over several scrapes, as they would live, not all before the first scrape.
    play.produce(events, s, speed=300.0)

    def paged() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {name: set() for name in PAGED_FOR}
        for a in sink_alerts(s, started):
            if a["labels"].get("alertname") in out:
                out[a["labels"]["alertname"]].add(a["labels"]["region"])
        return out

    got = poll(paged, lambda p: all(r >= FAILING for r in p.values()), timeout_s=180, interval_s=2)
    print("paged:", got)
    assert got == dict.fromkeys(PAGED_FOR, FAILING)
    # Routed to each region's own on-call receiver.
    for alert in sink_alerts(s, started):
        if alert["labels"].get("alertname") in PAGED_FOR:
            assert alert["receiver_path"] == alert["labels"]["region"]
    firing = prom_vector(
        s, 'ALERTS{alertname="ServiceLevelBelowStandard", alertstate="firing"}', "region"
    )
    assert {r for (r,) in firing} == FAILING

    # The same story on surge.alerts, in-stream: one firing record per episode, no storm.
    records = [orjson.loads(m.value) for m in read_topic(s, s.topic_alerts, 10_000, 5)]
    episodes = [(r["alert_id"], r["state"]) for r in records]
    assert len(episodes) == len(set(episodes))
    for name in PAGED_FOR:
        fired = {r["region"] for r in records if r["alert"] == name and r["state"] == "firing"}
        assert fired == FAILING, name

    # Every dashboard panel's query runs against the Prometheus the pipeline fed, with data.
    empty = [
        (uid, title) for uid, title, expr in panel_queries("north-west") if not prom_query(s, expr)
    ]
    assert empty == []
