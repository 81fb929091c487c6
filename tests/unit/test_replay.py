"""Replay and backtest without a broker: the live detectors over a file, order of alerts, the
thresholds file, bad lines counted by reason, minute rows that add up to the truth."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import pickle
import random
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from detectors.answer_rates import RegionView
from streams.cli import replay as replay_cmd
from streams.cli.main import _parser, main
from streams.contract import thresholds
from streams.contract.catalogue import default_catalogue
from streams.contract.config import load_settings
from streams.contract.errors import ConfigError
from streams.contract.thresholds import THRESHOLDS
from streams.engine.alerting import encode_alert
from streams.offline import parallel, replay, replayer, tables
from streams.simulate import generator, play, scenarios
from streams.simulate.truth import Emitted, ground_truth

CATALOGUE = default_catalogue()
GOOD_FRIDAY_2013_08Z = 1364544000.0


@pytest.fixture(scope="module")
def launch_day_file(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[Emitted]]:
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, 3 * 3600, failure_after_s=3600)
    events = generator.generate(scenario, CATALOGUE, seed=2013)
    path = tmp_path_factory.mktemp("replay") / "launch-day.jsonl"
    play.write_jsonl(events, path)
    return path, events


def test_minute_rows_add_up_to_the_generators_truth(
    launch_day_file: tuple[Path, list[Emitted]],
) -> None:
    path, events = launch_day_file
    got: Counter[tuple[str, str, str]] = Counter()

    def on_minute(row: replayer.MinuteRow) -> None:
        for name in ("offered", "answered", "abandoned", "callbacks_requested"):
            got[(row.region, row.provider, name)] += getattr(row.bucket, name)

    result = replay.replay_file(path, load_settings({}), CATALOGUE, on_minute=on_minute)
    want: Counter[tuple[str, str, str]] = Counter()
    for (region, provider, _, name), n in ground_truth(events).counts.items():
        key = {"callback_requested": "callbacks_requested"}.get(name, name)
        if key in ("offered", "answered", "abandoned", "callbacks_requested"):
            want[(region, provider, key)] += n
    assert +got == +want
    assert result.counts["ok"] == sum(1 for e in events if e.topic == "calls")
    assert result.counts["dispatch:ok"] == sum(1 for e in events if e.topic == "dispatches")


def test_the_failing_regions_alert_and_each_episode_fires_once(
    launch_day_file: tuple[Path, list[Emitted]],
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
    result = replayer.replay_lines(lines, load_settings({}), CATALOGUE)
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
    t = thresholds.load_thresholds(path)
    assert t == replace(THRESHOLDS, service_level_warning=0.8, kpi_for_seconds=1200)
    path.write_text("service_level_warnin = 0.8\n")
    with pytest.raises(ConfigError, match="unknown service_level_warnin; known: "):
        thresholds.load_thresholds(path)
    path.write_text("kpi_for_seconds = 12.5\n")
    with pytest.raises(ConfigError, match="whole number"):
        thresholds.load_thresholds(path)
    path.write_text('service_level_warning = "high"\n')
    with pytest.raises(ConfigError, match="must be a number"):
        thresholds.load_thresholds(path)


def test_backtest_reports_fewer_episodes_with_laxer_thresholds(
    launch_day_file: tuple[Path, list[Emitted]],
    tmp_path: Path,
) -> None:
    path, _ = launch_day_file
    shipped = tmp_path / "shipped.csv"
    assert main(["backtest", str(path), "--no-progress", "--out", str(shipped)]) == 0
    rows = list(csv.DictReader(shipped.open()))
    table = tables.render_table(rows)
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
    launch_day_file: tuple[Path, list[Emitted]], tmp_path: Path
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
        replay_cmd._run(args, load_settings({}), THRESHOLDS)


def replay_cli_args(argv: list[str]) -> argparse.Namespace:
    return _parser().parse_args(argv)


@pytest.fixture(scope="module")
def messy_file(
    launch_day_file: tuple[Path, list[Emitted]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The launch day with lines moved later (late events), lines repeated, and invalid lines."""
    path, _ = launch_day_file
    lines = path.read_bytes().splitlines(keepends=True)
    rng = random.Random(29)
    for _ in range(300):
        i = rng.randrange(len(lines) - 2000)
        lines.insert(i + rng.randrange(50, 2000), lines.pop(i))
    for _ in range(100):
        i = rng.randrange(len(lines) - 500)
        lines.insert(i + rng.randrange(1, 500), lines[i])
    good = orjson.loads(lines[0])["value"]
    bad = [
        b"not json\n",
        b"[1, 2]\n",
        b"\n",
        b'{"topic": "calls", "key": "x", "value": "' + b"x" * 5000 + b'"}\n',
        orjson.dumps({**good, "region": "atlantis"}) + b"\n",
        orjson.dumps({**good, "region": ["london"]}) + b"\n",
        orjson.dumps({"topic": "calls", "key": "london", "value": {**good, "nhs_number": "1"}})
        + b"\n",
        orjson.dumps({"topic": "dispatches", "key": "london", "value": {"region": "london"}})
        + b"\n",
        *tricky_region_lines(good),
    ]
    for i, line in enumerate(bad * 3):
        lines.insert(rng.randrange(len(lines)) if i else 0, line)
    out = tmp_path_factory.mktemp("replay") / "messy.jsonl"
    out.write_bytes(b"".join(lines))
    return out


def tricky_region_lines(good: dict[str, object]) -> list[bytes]:
    """Lines whose region key is escaped, spaced, nested or in broken JSON: a parallel replay
    must count each once, in the region's worker if valid, as one process does."""
    region = str(good["region"])
    other = next(code for code in CATALOGUE.codes() if code != region)
    escaped = orjson.dumps({"topic": "calls", "key": region, "value": {**good, "call_id": "E1"}})
    spaced = json.dumps({**good, "call_id": "S1"}).encode()  # '"region": "..."', with a space
    nested = {k: v for k, v in good.items() if k != "region"} | {"site": {"region": other}}
    return [
        escaped.replace(
            f'"{region}"'.encode(), f'"{region[0]}\\u{ord(region[1]):04x}{region[2:]}"'.encode()
        )
        + b"\n",
        spaced + b"\n",
        orjson.dumps({"topic": "calls", "key": region, "value": nested}) + b"\n",
        b'{"topic":"calls","value":{"region":"' + other.encode() + b'"\n',  # not JSON
        b'{"topic":"calls","value":{"region":"' + region.encode() + b"\n",  # nor this
    ]


def replay_recorded(path: Path, jobs: int) -> tuple[replayer.ReplayResult, list[object]]:
    """The replay's result, and every on_minute and on_view call in the order they came."""
    calls: list[object] = []
    result = replay.replay_file(
        path,
        load_settings({}),
        CATALOGUE,
        jobs=jobs,
        on_minute=calls.append,
        on_view=lambda region, view: calls.append((region, view)),
    )
    return result, calls


@pytest.fixture(scope="module")
def messy_sequential(messy_file: Path) -> tuple[replayer.ReplayResult, list[object]]:
    return replay_recorded(messy_file, jobs=1)


@pytest.mark.parametrize("jobs", [2, 3])
def test_jobs_give_the_sequential_result_and_callbacks(
    messy_file: Path, messy_sequential: tuple[replayer.ReplayResult, list[object]], jobs: int
) -> None:
    """Replaying the regions in several processes changes no alert, view, count or callback."""
    want, want_calls = messy_sequential
    assert len({a.region for a in want.alerts}) >= 2
    for name in ("late", "duplicate", "dispatch:duplicate", "invalid:bad_json"):
        assert want.counts[name] > 0, name
    for name in ("not_object", "too_large", "unknown_region", "unknown_field", "missing_field"):
        assert want.counts[f"invalid:{name}"] > 0, name
    assert len({type(c) for c in want_calls}) == 2  # minute rows and views
    assert sorted(set(parallel.region_owners(CATALOGUE, jobs).values())) == list(range(jobs))
    got, got_calls = replay_recorded(messy_file, jobs)
    assert got.alerts == want.alerts
    assert list(got.views.items()) == list(want.views.items())
    assert list(got.dispatches.items()) == list(want.dispatches.items())
    assert got.counts == want.counts
    assert got_calls == want_calls


def test_cli_jobs_writes_the_same_alerts_and_figures(
    messy_file: Path,
    messy_sequential: tuple[replayer.ReplayResult, list[object]],
    tmp_path: Path,
) -> None:
    """`replay --jobs 2` writes the sequential replay's alert records and figures."""
    want, want_calls = messy_sequential
    figures, alerts = tmp_path / "figures.csv", tmp_path / "alerts.jsonl"
    argv = ["replay", str(messy_file), "--figures", str(figures), "--alerts", str(alerts)]
    assert main([*argv, "--no-progress", "--jobs", "2"]) == 0
    assert alerts.read_bytes() == b"".join(encode_alert(a) + b"\n" for a in want.alerts)
    expected = io.StringIO(newline="")
    writer = csv.DictWriter(expected, tables.FIGURE_COLUMNS)
    writer.writeheader()
    for call in want_calls:
        if isinstance(call, tuple):
            writer.writerows(tables.figure_rows(*call))
    assert figures.read_bytes() == expected.getvalue().encode()


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_jobs_must_be_a_whole_number_at_least_one(bad: str, tmp_path: Path) -> None:
    """--jobs below one or not a number is a usage error, before any replay."""
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["backtest", str(tmp_path), "--jobs", bad])
    assert exc.value.code == 2


def test_a_failing_worker_fails_the_replay(
    launch_day_file: tuple[Path, list[Emitted]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's exception is raised by replay_file, and a worker that dies is an error too."""
    path, _ = launch_day_file
    real_call = replayer.Replayer.call

    def call(self: replayer.Replayer, doc: object | bytes) -> None:
        if isinstance(doc, dict) and doc.get("region") == "london":
            raise ValueError("london is broken")
        real_call(self, doc)

    monkeypatch.setattr(replayer.Replayer, "call", call)
    with pytest.raises(ValueError, match="london is broken") as exc:
        replay.replay_file(path, load_settings({}), CATALOGUE, jobs=2)
    assert "raised in replay worker 0" in "".join(exc.value.__notes__)

    def die(self: replayer.Replayer, doc: object | bytes) -> None:
        if isinstance(doc, dict) and doc.get("region") == "london":
            os._exit(3)
        real_call(self, doc)

    monkeypatch.setattr(replayer.Replayer, "call", die)
    with pytest.raises(RuntimeError, match="replay worker 0 exited with code 3"):
        replay.replay_file(path, load_settings({}), CATALOGUE, jobs=2)


def spilled_names(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.glob("surge-replay-*/*"))


def test_the_spill_directory_is_removed_however_the_replay_ends(
    launch_day_file: tuple[Path, list[Emitted]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The workers' spill files exist while the parent merges them, and are gone afterwards:
    after a success, a worker's failure, and an interrupt in the parent's callbacks."""
    path, _ = launch_day_file
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(parallel, "SPILL_CHUNK", 16)  # every worker spills within minutes
    during: list[list[str]] = []

    def on_view(region: str, view: RegionView) -> None:
        if not during:
            during.append(spilled_names(tmp_path))

    replay.replay_file(path, load_settings({}), CATALOGUE, jobs=2, on_view=on_view)
    assert during == [["worker-0.pickle", "worker-1.pickle"]]
    assert list(tmp_path.iterdir()) == []

    real_call = replayer.Replayer.call

    def call(self: replayer.Replayer, doc: object | bytes) -> None:
        if isinstance(doc, dict) and doc.get("region") == "london" and doc["ts"] > "2013-03-29T09":
            raise ValueError(f"london is broken after spilling {spilled_names(tmp_path)}")
        real_call(self, doc)

    monkeypatch.setattr(replayer.Replayer, "call", call)
    with pytest.raises(ValueError, match=r"london is broken after spilling \[.*'worker-0.pickle'"):
        replay.replay_file(path, load_settings({}), CATALOGUE, jobs=2, on_view=on_view)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(replayer.Replayer, "call", real_call)

    def interrupted(region: str, view: RegionView) -> None:
        assert len(spilled_names(tmp_path)) == 2
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replay.replay_file(path, load_settings({}), CATALOGUE, jobs=2, on_view=interrupted)
    assert list(tmp_path.iterdir()) == []


def test_no_callbacks_no_spill(
    launch_day_file: tuple[Path, list[Emitted]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without on_minute or on_view a parallel replay makes no temporary directory or file."""
    path, events = launch_day_file

    def no_directory(*args: object, **kwargs: object) -> None:
        raise AssertionError("a temporary directory without callbacks")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_directory)
    result = replay.replay_file(path, load_settings({}), CATALOGUE, jobs=2)
    assert result.counts["ok"] == sum(1 for e in events if e.topic == "calls")


def test_the_merge_reads_each_spill_file_a_chunk_at_a_time(
    messy_file: Path,
    messy_sequential: tuple[replayer.ReplayResult, list[object]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With small chunks each worker's file holds many, and the parent reads them as the merge
    needs them (one per worker ahead of the callbacks), with the sequential callbacks still."""
    chunk = 50
    monkeypatch.setattr(parallel, "SPILL_CHUNK", chunk)
    parts: list[parallel._Part] = []
    real_merge = parallel._merge

    def merge(got: list[parallel._Part], *args: object) -> replayer.ReplayResult:
        parts.extend(got)
        return real_merge(got, *args)  # type: ignore[arg-type]

    loads = 0
    real_load = pickle.load

    def load(f: object) -> object:
        nonlocal loads
        loads += 1
        return real_load(f)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "_merge", merge)
    monkeypatch.setattr(pickle, "load", load)
    calls: list[object] = []
    loaded: list[int] = []  # chunks read when each callback ran

    def record(call: object) -> None:
        calls.append(call)
        loaded.append(loads)

    result = replay.replay_file(
        messy_file,
        load_settings({}),
        CATALOGUE,
        jobs=2,
        on_minute=record,
        on_view=lambda region, view: record((region, view)),
    )
    want, want_calls = messy_sequential
    assert calls == want_calls
    assert result.alerts == want.alerts
    assert result.counts == want.counts
    assert len(parts) == 2
    assert all(p.rows > 5 * chunk for p in parts)
    assert sum(p.rows for p in parts) == len(calls)
    # Each file read to its end: its chunks, and one load more that finds the end.
    assert loads == sum(-(-p.rows // chunk) + 1 for p in parts)
    assert loaded[0] == 2  # the first chunk of each file, not the files
    assert all(n <= i // chunk + 5 for i, n in enumerate(loaded, start=1))


def test_bad_attempt_fields_are_counted_invalid_by_reason_and_good_ones_count() -> None:
    """The live path's validation refuses each bad attempt field by its reason, as a worker does,
    and first attempts, repeat attempts and events with neither field all count."""
    r = replayer.Replayer(load_settings({}), CATALOGUE)
    base = {"event": "offered", "ts": "2013-03-29T10:00:00Z", "region": "north-west",
            "provider": "nhs-direct"}  # fmt: skip
    first = "2013-03-29T09:30:00Z"
    docs = [
        {**base, "call_id": "ok1"},
        {**base, "call_id": "ok2", "attempt": 1},
        {**base, "call_id": "ok3", "attempt": 2, "first_attempt_ts": first},
        {**base, "call_id": "b1", "attempt": 0},
        {**base, "call_id": "b2", "attempt": 2},
        {**base, "call_id": "b3", "attempt": 1, "first_attempt_ts": first},
        {**base, "call_id": "b4", "attempt": 2, "first_attempt_ts": "2013-03-29T11:00:00Z"},
        {**base, "call_id": "b5", "attempt": 2, "first_attempt_ts": "2013-03-28T23:00:00Z"},
    ]
    for doc in docs:
        r.call(orjson.dumps(doc))
    invalid = {k: n for k, n in r.result.counts.items() if k.startswith("invalid:")}
    assert invalid == {
        "invalid:bad_attempt": 1,
        "invalid:missing_first_attempt": 1,
        "invalid:unexpected_field": 1,
        "invalid:first_attempt_after_offer": 1,
        "invalid:first_attempt_not_today": 1,
    }
    assert r.result.counts["ok"] == 3
