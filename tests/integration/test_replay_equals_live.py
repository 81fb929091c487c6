"""Replay == live: `surge-monitor replay` of an event file gives the live workers' figures and the
very same alert episodes (ids, event times, values), whatever batching the live path saw."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from detectors.answer_rates import ALL_PROVIDERS
from streams.contract.settings import Settings
from streams.engine.alerting import encode_alert
from streams.offline import replay, replayer
from streams.simulate import generator, history, play, scenarios
from streams.stack import processes, services
from tests.harness import poll, read_topic
from tests.integration.test_answer_rates import (
    CATALOGUE,
    GOOD_FRIDAY_2013_08Z,
    RATIOS,
    assert_ratios_equal,
    expected_counts,
    read_ratios,
    wait_for_counts,
)

WEEK = 7 * 86400


def _order(alert: dict[str, object]) -> tuple[str, str, str]:
    return (str(alert["ts"]), str(alert["alert_id"]), str(alert["state"]))


def test_replay_of_the_launch_day_file_equals_the_live_workers(
    isolated: Settings, tmp_path: Path
) -> None:
    # Referral baselines from the same hours a week before, so the referral detectors and their
    # alerts take part too (as an operator's warm start would).
    before = scenarios.normal(GOOD_FRIDAY_2013_08Z - WEEK - 3600, 5 * 3600)
    baseline = tmp_path / "baseline.json"
    history.write_baselines(
        history.learn_baselines(generator.generate(before, CATALOGUE, 5)), baseline
    )
    s = replace(isolated, referral_baseline=str(baseline))
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, 4 * 3600, failure_after_s=3600)
    events = generator.generate(scenario, CATALOGUE, seed=2013)
    path = tmp_path / "launch-day.jsonl"
    play.write_jsonl(events, path)

    rows: list[replayer.MinuteRow] = []
    result = replay.replay_file(path, s, CATALOGUE, on_minute=rows.append)
    assert result.counts["ok"] == sum(1 for e in events if e.topic == "calls")
    assert {a.alert for a in result.alerts} >= {"ServiceLevelBelowStandard"}

    # Live: two workers, the whole day sent as fast as possible (batches span many minutes).
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    services.start_worker(s, paths, 1)
    play.produce(events, s)
    wait_for_counts(s, expected_counts(events))

    # The same alert episodes, to the byte: ids, states, values, event times.
    want_alerts = sorted((orjson.loads(encode_alert(a)) for a in result.alerts), key=_order)
    got = read_topic(s, s.topic_alerts, len(want_alerts), 60)
    got_alerts = sorted((orjson.loads(m.value) for m in got), key=_order)
    print(f"alert events: replay {len(want_alerts)}, live {len(got_alerts)}")
    for a in want_alerts:
        print(f"  {a['ts']} {a['region']:16} {a['alert']:26} {a['severity']:8} {a['state']}")
    assert got_alerts == want_alerts

    # The same closed-window ratios for every region, provider and window.
    want_ratios: dict[tuple[str, ...], float] = {}
    for region, view in result.views.items():
        for w in view.windows:
            figures = zip(
                RATIOS, (w.kpis.answer_rate, w.kpis.service_level, w.kpis.abandon_rate), strict=True
            )
            for metric, value in figures:
                if value is not None:
                    want_ratios[(metric, region, w.provider, w.window)] = value
    got_ratios = poll(
        lambda: read_ratios(s), lambda g: g.keys() == want_ratios.keys(), timeout_s=30
    )
    assert_ratios_equal(got_ratios, want_ratios)

    # The minute rows add up to the generator's truth (what the scorecard reads).
    totals: dict[tuple[str, ...], int] = {}
    for r in rows:
        for outcome in ("offered", "answered", "abandoned"):
            n = getattr(r.bucket, outcome)
            if n:
                key = (r.region, r.provider, outcome)
                totals[key] = totals.get(key, 0) + n
    assert totals == expected_counts(events)
    assert ALL_PROVIDERS not in {r.provider for r in rows}
