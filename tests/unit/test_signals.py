"""The signals file: a replay's alert inputs recorded once, backtested for any thresholds with the
same episodes as a full replay; round trip, version check, --jobs, and the CLI both ways."""

from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import replace
from operator import attrgetter
from pathlib import Path

import numpy as np
import pytest

from detectors import region_alerts
from detectors.answer_rates import RegionView
from detectors.region_alerts import signal
from streams.cli.main import main
from streams.contract.config import load_settings
from streams.contract.errors import ConfigError
from streams.contract.settings import Settings
from streams.contract.thresholds import THRESHOLDS, load_thresholds
from streams.engine.alerting import alert_specs
from streams.offline import replay, replayer, signals
from streams.offline.tables import episodes
from streams.simulate import generator, history, play, scenarios
from tests.unit.test_replay import CATALOGUE, GOOD_FRIDAY_2013_08Z

WEEK = 7 * 86400

# Besides the shipped thresholds, files that move every kind of machine: the KPI ones, the
# abandonment, longest wait, referral spike and breach forecast ones (fields of Thresholds).
VARIANTS = {
    "shipped": "",
    "service-level": "service_level_warning = 0.9\nkpi_for_seconds = 600\n",
    "everything-else": (
        "abandon_warning = 0.03\nabandon_critical = 0.3\n"
        "longest_wait_warning_seconds = 300\nlongest_wait_min_calls_waiting = 1\n"
        "referral_spike_warning = 1.0\nreferral_spike_critical = 2.0\n"
        "referral_spike_for_seconds = 300\n"
        "breach_forecast_seconds = 3600\nbreach_forecast_for_seconds = 300\n"
    ),
}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """5 h of launch day (NW and WM fail after an hour), as tests/unit/test_replay.py's, with
    referral baselines from the same hours a week before so the referral machines take part
    (as tests/integration/test_replay_equals_live.py): the event file and the baselines."""
    tmp = tmp_path_factory.mktemp("signals")
    before = scenarios.normal(GOOD_FRIDAY_2013_08Z - WEEK - 3600, 5 * 3600)
    baselines = tmp / "baseline.json"
    history.write_baselines(
        history.learn_baselines(generator.generate(before, CATALOGUE, 5)), baselines
    )
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, 5 * 3600, failure_after_s=3600)
    path = tmp / "launch-day.jsonl"
    play.write_jsonl(generator.generate(scenario, CATALOGUE, seed=2013), path)
    return path, baselines


def settings_for(day: tuple[Path, Path]) -> Settings:
    return replace(load_settings({}), referral_baseline=str(day[1]))


@pytest.fixture(scope="module")
def recorded(
    day: tuple[Path, Path],
) -> tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult]:
    """The shipped replay's signals, the step views they came from, and its result."""
    recorder = signals.SignalRecorder()
    seen: list[tuple[str, RegionView]] = []

    def on_view(region: str, view: RegionView) -> None:
        seen.append((region, view))
        recorder(region, view)

    result = replay.replay_file(day[0], settings_for(day), CATALOGUE, on_view=on_view)
    return recorder.signals(), seen, result


def thresholds_of(name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(VARIANTS[name])
    return path


@pytest.mark.parametrize("name", list(VARIANTS))
def test_backtest_from_signals_equals_a_full_replay(
    name: str,
    day: tuple[Path, Path],
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
    tmp_path: Path,
) -> None:
    """Signals recorded with the shipped thresholds give any thresholds' replay alerts."""
    recording, _, shipped = recorded
    thresholds = load_thresholds(thresholds_of(name, tmp_path))
    want = replay.replay_file(day[0], settings_for(day), CATALOGUE, thresholds=thresholds).alerts
    got = signals.backtest(recording, thresholds)
    assert episodes(got) == episodes(want)
    key = attrgetter("ts_s", "alert_id", "state")
    assert sorted(got, key=key) == sorted(want, key=key)
    assert got == want  # and in the replay's emission order
    # The case is worth something: episodes, some resolved, and each file changes them.
    assert any(e.resolved_s is not None for e in episodes(want))
    assert any(e.resolved_s is None for e in episodes(want))
    if name != "shipped":
        assert episodes(want) != episodes(shipped.alerts)


def test_everything_else_fires_every_kind_of_machine(
    day: tuple[Path, Path], tmp_path: Path
) -> None:
    """The second file's episodes cover every alert, so every column is exercised above."""
    thresholds = load_thresholds(thresholds_of("everything-else", tmp_path))
    alerts = replay.replay_file(day[0], settings_for(day), CATALOGUE, thresholds=thresholds).alerts
    assert {a.alert for a in alerts} == {s.alert for s in alert_specs(thresholds)}


@pytest.mark.parametrize("chunk", [signals.VIEW_CHUNK_ROWS, 333])
def test_rebuilt_views_give_every_spec_the_same_signal(
    chunk: int,
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Row by row, each machine of each file reads the same value from the rebuilt view, also
    when the rows are read in several chunks (333: a few, the last one short)."""
    monkeypatch.setattr(signals, "VIEW_CHUNK_ROWS", chunk)
    recording, seen, _ = recorded
    rebuilt = list(signals.views(recording))
    assert [r for r, _ in rebuilt] == [r for r, _ in seen]
    assert len(seen) == len(recording) > 1000
    specs = {
        spec
        for name in VARIANTS
        for spec in alert_specs(load_thresholds(thresholds_of(name, tmp_path)))
    }
    for (_, view), (_, original) in zip(rebuilt, seen, strict=True):
        assert view.watermark_s == original.watermark_s
        for spec in specs:
            a, b = signal(view, spec), signal(original, spec)
            assert a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


def test_none_figures_are_rebuilt_as_none(
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
    tmp_path: Path,
) -> None:
    """Views with the Nones this day lacks (no service level, no abandon rate, no spikes, no
    watermark, nobody waiting) give every spec the same signal rebuilt; and no step at all."""
    _, seen, _ = recorded
    region, view = next((r, v) for r, v in seen if v.history_minutes > 60 and v.referral_spikes)
    none_kpis = replace(view.windows[0].kpis, service_level=None, abandon_rate=None)
    edited = [
        view,
        replace(view, windows=(replace(view.windows[0], kpis=none_kpis), *view.windows[1:])),
        replace(view, windows=tuple(replace(w, kpis=none_kpis) for w in view.windows)),
        replace(view, referral_spikes=view.referral_spikes[1:]),
        replace(view, referral_spikes=()),
        replace(view, longest_wait_seconds=None, calls_waiting=()),
        replace(view, breach_forecast_seconds=None),
        replace(view, watermark_s=None),
    ]
    recorder = signals.SignalRecorder()
    for v in edited:
        recorder(region, v)
    rebuilt = [v for _, v in signals.views(recorder.signals())]
    specs = [
        s for name in VARIANTS for s in alert_specs(load_thresholds(thresholds_of(name, tmp_path)))
    ]
    for original, view_back in zip(edited, rebuilt, strict=True):
        assert view_back.watermark_s == original.watermark_s
        assert [signal(view_back, s) for s in specs] == [signal(original, s) for s in specs]
    assert region_alerts.evaluate({}, tuple(specs), rebuilt[-1], region) == []
    assert signals.backtest(signals.SignalRecorder().signals()) == []


def assert_same(a: signals.Signals, b: signals.Signals) -> None:
    want = a.arrays()
    got = b.arrays()
    assert list(got) == list(want)
    for name, column in want.items():
        assert got[name].dtype == column.dtype, name
        np.testing.assert_array_equal(got[name], column, err_msg=name)


def test_write_read_round_trip(
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
    tmp_path: Path,
) -> None:
    """What is read back is what was written, None (NaN) and +inf included, at the path given."""
    recording, _, _ = recorded
    path = tmp_path / "day.signals"  # no .npz: numpy must not add one
    signals.write(recording, path)
    back = signals.read(path)
    assert_same(recording, back)
    assert back.windows == ("15m", "60m")
    assert back.kinds == ("ambulance", "ed")
    assert set(back.regions) == set(CATALOGUE.codes())
    assert np.isnan(back.longest_wait_seconds).any() and np.isnan(back.spike_expected).any()
    assert not back.spike_present.all()
    assert np.isinf(back.breach_forecast_seconds).any()
    assert np.isfinite(back.breach_forecast_seconds).any()
    assert signals.backtest(back) == signals.backtest(recording)


def test_another_format_version_or_a_foreign_file_is_refused(
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
    tmp_path: Path,
) -> None:
    """A file of another version, or not a signals file, fails with what to do about it."""
    recording, _, _ = recorded
    path = tmp_path / "s.npz"
    signals.write(recording, path)
    with np.load(path) as z:
        doc = dict(z)
    doc["format_version"] = np.array(signals.FORMAT_VERSION + 1)
    with path.open("wb") as f:
        np.savez_compressed(f, **doc)
    with pytest.raises(ConfigError, match=r"format version 2, this surge-monitor reads 1; make"):
        signals.read(path)
    assert main(["backtest", "--signals", str(path)]) == 2
    other = tmp_path / "events.jsonl"
    other.write_text('{"a": 1}\n')
    with pytest.raises(ConfigError, match="unreadable"):
        signals.read(other)
    del doc["spike_score"]
    doc["format_version"] = np.array(signals.FORMAT_VERSION)
    with path.open("wb") as f:
        np.savez_compressed(f, **doc)
    with pytest.raises(ConfigError, match="lacks or adds columns"):
        signals.read(path)


def test_a_nan_the_file_would_read_back_as_none_is_refused(
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
) -> None:
    """None is stored as NaN, so a NaN where None is possible cannot be stored faithfully."""
    _, seen, _ = recorded
    region, view = seen[-1]
    with pytest.raises(ValueError, match="longest_wait_seconds is NaN"):
        signals.SignalRecorder()(region, replace(view, longest_wait_seconds=math.nan))


def test_replay_jobs_writes_the_same_signals_file(day: tuple[Path, Path], tmp_path: Path) -> None:
    """`replay --signals` with --jobs 2 writes the file --jobs 1 writes (with --figures too)."""
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    figures, alerts = tmp_path / "figures.csv", tmp_path / "alerts.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SURGE_REFERRAL_BASELINE", str(day[1]))
        argv = ["replay", str(day[0]), "--no-progress", "--signals"]
        assert main([*argv, str(one), "--figures", str(figures), "--alerts", str(alerts)]) == 0
        assert main([*argv, str(two), "--jobs", "2"]) == 0
    first, second = signals.read(one), signals.read(two)
    assert_same(first, second)
    assert len(first) == sum(1 for _ in csv.DictReader(figures.open())) // 2  # 15m and 60m rows


@pytest.mark.parametrize("name", list(VARIANTS))
def test_cli_backtest_writes_the_same_table_both_ways(
    name: str,
    day: tuple[Path, Path],
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
    tmp_path: Path,
) -> None:
    """`backtest FILE` and `backtest --signals S.npz` print and write the same episodes."""
    recording, _, _ = recorded
    path = tmp_path / "s.npz"
    signals.write(recording, path)
    thresholds = thresholds_of(name, tmp_path)
    out = {}
    tables = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SURGE_REFERRAL_BASELINE", str(day[1]))
        for way, source in (("replay", [str(day[0])]), ("signals", ["--signals", str(path)])):
            out[way] = tmp_path / f"{way}.csv"
            argv = ["backtest", *source, "--thresholds", str(thresholds), "--out", str(out[way])]
            stdout = io.StringIO()  # not capsys: the cached loggers would keep its closed stderr
            mp.setattr(sys, "stdout", stdout)
            assert main([*argv, "--no-progress"]) == 0
            tables[way] = stdout.getvalue()
    assert out["signals"].read_bytes() == out["replay"].read_bytes()
    assert tables["signals"] == tables["replay"]
    assert len(tables["replay"].splitlines()) > 5


def test_backtest_needs_exactly_one_source(
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
    day: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    """FILE, --topic, --signals: exactly one; --jobs and --from/--to do not go with --signals;
    replay refuses a --signals path it could not write before it replays."""
    path = tmp_path / "s.npz"
    signals.write(recorded[0], path)
    assert main(["backtest", "--no-progress"]) == 2
    assert main(["backtest", str(day[0]), "--signals", str(path)]) == 2
    assert main(["backtest", "--topic", "calls", "--signals", str(path)]) == 2
    assert main(["backtest", "--signals", str(path), "--jobs", "2"]) == 2
    assert main(["backtest", "--signals", str(path), "--from", "2013-03-29T00:00:00+00:00"]) == 2
    assert main(["backtest", "--signals", str(tmp_path / "missing.npz")]) == 2
    assert main(["backtest", "--signals", str(path)]) == 0
    assert main(["replay", str(day[0]), "--signals", str(tmp_path / "no" / "s.npz")]) == 2


def test_thresholds_do_not_reach_the_recorded_figures(
    day: tuple[Path, Path],
    recorded: tuple[signals.Signals, list[tuple[str, RegionView]], replayer.ReplayResult],
) -> None:
    """The breach forecast and referral detector take no thresholds: another file records the
    same signals, which is why one recording serves every thresholds file."""
    recorder = signals.SignalRecorder()
    other = replace(THRESHOLDS, service_level_warning=0.9, breach_forecast_seconds=3600)
    replay.replay_file(day[0], settings_for(day), CATALOGUE, thresholds=other, on_view=recorder)
    assert_same(recorded[0], recorder.signals())
