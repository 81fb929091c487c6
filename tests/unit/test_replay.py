"""Replay and backtest without a broker: the live detectors over a file, order of alerts, the
thresholds file, bad lines counted by reason, minute rows that add up to the truth."""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from streams import play, replay, replay_cli, simulate
from streams.alert_rules import THRESHOLDS
from streams.catalogue import default_catalogue
from streams.cli import _parser, main
from streams.config import load_settings
from streams.errors import ConfigError

CATALOGUE = default_catalogue()
GOOD_FRIDAY_2013_08Z = 1364544000.0


@pytest.fixture(scope="module")
def launch_day_file(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[simulate.Emitted]]:
    scenario = simulate.launch_day(GOOD_FRIDAY_2013_08Z, 3 * 3600, failure_after_s=3600)
    events = simulate.generate(scenario, CATALOGUE, seed=2013)
    path = tmp_path_factory.mktemp("replay") / "launch-day.jsonl"
    play.write_jsonl(events, path)
    return path, events


def test_minute_rows_add_up_to_the_generators_truth(
    launch_day_file: tuple[Path, list[simulate.Emitted]],
) -> None:
    path, events = launch_day_file
    got: Counter[tuple[str, str, str]] = Counter()

    def on_minute(row: replay.MinuteRow) -> None:
        for name in ("offered", "answered", "abandoned", "callbacks_requested"):
            got[(row.region, row.provider, name)] += getattr(row.bucket, name)

    result = replay.replay_file(path, load_settings({}), CATALOGUE, on_minute=on_minute)
    want: Counter[tuple[str, str, str]] = Counter()
    for (region, provider, _, name), n in simulate.ground_truth(events).counts.items():
        key = {"callback_requested": "callbacks_requested"}.get(name, name)
        if key in ("offered", "answered", "abandoned", "callbacks_requested"):
            want[(region, provider, key)] += n
    assert +got == +want
    assert result.counts["ok"] == sum(1 for e in events if e.topic == "calls")
    assert result.counts["dispatch:ok"] == sum(1 for e in events if e.topic == "dispatches")


def test_the_failing_regions_alert_and_each_episode_fires_once(
    launch_day_file: tuple[Path, list[simulate.Emitted]],
) -> None:
    path, _ = launch_day_file
    result = replay.replay_file(path, load_settings({}), CATALOGUE)
    firing = [a for a in result.alerts if a.state == "firing"]
    assert len({a.alert_id for a in firing}) == len(firing)
    sl = {a.region for a in firing if a.alert == "ServiceLevelBelowStandard"}
    assert sl == {"north-west", "west-midlands"}
    # Event time only moves forward within a region's alerts.
    for region in sl:
        times = [a.ts_s for a in result.alerts if a.region == region]
        assert times == sorted(times)


def test_bad_lines_are_counted_by_reason_and_the_rest_replayed() -> None:
    good = {
        "call_id": "c1",
        "event": "offered",
        "ts": "2013-03-29T08:00:00Z",
        "region": "london",
        "provider": "lcw",
    }
    lines = [
        b"not json",
        b"[1, 2]",
        orjson.dumps({**good, "nhs_number": "943 476 5919"}),
        orjson.dumps({**good, "region": "atlantis"}),
        orjson.dumps({"topic": "calls", "key": "london", "value": good}),
        orjson.dumps(good),  # the same call event again: a duplicate, counted once
        b"",
    ]
    result = replay.replay_lines(lines, load_settings({}), CATALOGUE)
    assert result.counts == Counter(
        {
            "invalid:bad_json": 1,
            "invalid:not_object": 1,
            "invalid:unknown_field": 1,
            "invalid:unknown_region": 1,
            "ok": 1,
            "duplicate": 1,
        }
    )


def test_thresholds_file_overrides_and_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text("service_level_warning = 0.8\nkpi_for_seconds = 1200\n")
    t = replay_cli.load_thresholds(path)
    assert t == replace(THRESHOLDS, service_level_warning=0.8, kpi_for_seconds=1200)
    path.write_text("service_level_warnin = 0.8\n")
    with pytest.raises(ConfigError, match="unknown service_level_warnin; known: "):
        replay_cli.load_thresholds(path)
    path.write_text("kpi_for_seconds = 12.5\n")
    with pytest.raises(ConfigError, match="whole number"):
        replay_cli.load_thresholds(path)
    path.write_text('service_level_warning = "high"\n')
    with pytest.raises(ConfigError, match="must be a number"):
        replay_cli.load_thresholds(path)


def test_backtest_reports_fewer_episodes_with_laxer_thresholds(
    launch_day_file: tuple[Path, list[simulate.Emitted]],
    tmp_path: Path,
) -> None:
    path, _ = launch_day_file
    shipped = tmp_path / "shipped.csv"
    assert main(["backtest", str(path), "--no-progress", "--out", str(shipped)]) == 0
    rows = list(csv.DictReader(shipped.open()))
    table = replay_cli.render_table(rows)
    assert len(table.splitlines()) == len(rows) + 1
    assert all(r["fired_at"] in table for r in rows)
    assert {r["region"] for r in rows if r["alert"] == "ServiceLevelBelowStandard"} == {
        "north-west",
        "west-midlands",
    }
    lax = tmp_path / "lax.toml"
    lax.write_text("service_level_warning = 0.3\nservice_level_critical = 0.2\n")
    laxer = tmp_path / "lax.csv"
    assert main(["backtest", str(path), "--thresholds", str(lax), "--out", str(laxer)]) == 0
    lax_rows = list(csv.DictReader(laxer.open()))

    def first_warning(table: list[dict[str, str]]) -> dict[str, str]:
        fired = [r for r in table if r["alert"] == "ServiceLevelBelowStandard"]
        return {r["region"]: r["fired_at"] for r in reversed(fired) if r["severity"] == "warning"}

    shipped_at, lax_at = first_warning(rows), first_warning(lax_rows)
    assert set(lax_at) <= set(shipped_at)
    assert all(lax_at[r] > shipped_at[r] for r in lax_at)  # a deeper fall takes longer
    assert all(float(r["value"]) < 0.3 for r in lax_rows if r["threshold"] == "0.3")


def test_replay_writes_figures_and_the_alert_records(
    launch_day_file: tuple[Path, list[simulate.Emitted]], tmp_path: Path
) -> None:
    path, _ = launch_day_file
    figures, alerts = tmp_path / "figures.csv", tmp_path / "alerts.jsonl"
    argv = ["replay", str(path), "--figures", str(figures), "--alerts", str(alerts)]
    assert main([*argv, "--no-progress"]) == 0
    rows = list(csv.DictReader(figures.open()))
    assert {r["window"] for r in rows} == {"15m", "60m"}
    assert {r["region"] for r in rows} == set(CATALOGUE.codes())
    records = [orjson.loads(line) for line in alerts.read_bytes().splitlines()]
    assert {r["state"] for r in records} <= {"firing", "resolved"}
    assert any(r["alert"] == "ServiceLevelBelowStandard" for r in records)


def test_replay_needs_exactly_one_source(tmp_path: Path) -> None:
    assert main(["replay", "--no-progress"]) == 2
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--no-progress"]) == 2
    with pytest.raises(ConfigError, match="select a topic range"):
        args = replay_cli_args(["replay", str(tmp_path), "--from", "2013-03-29T00:00:00+00:00"])
        replay_cli._run(args, load_settings({}), THRESHOLDS)


def replay_cli_args(argv: list[str]) -> argparse.Namespace:
    return _parser().parse_args(argv)
