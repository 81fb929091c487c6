"""`surge-monitor erlang`: one JSON object on stdout; bad arguments exit 2 naming the argument."""

from __future__ import annotations

import orjson
import pytest

from detectors import erlang
from streams.cli.main import main

BASE = ["erlang", "--calls", "100", "--interval-minutes", "30", "--aht-seconds", "180"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main([*BASE, *argv]) == 0
    doc: dict[str, object] = orjson.loads(capsys.readouterr().out)
    return doc


def test_agents_gives_that_staff_s_erlang_c_service(capsys: pytest.CaptureFixture[str]) -> None:
    """--agents K prints Erlang C's figures for K handlers, without abandon_ratio."""
    doc = run(capsys, "--target-seconds", "20", "--agents", "14")
    p = erlang.erlang_c(
        calls=100, interval_seconds=1800, aht_seconds=180, target_seconds=20, agents=14
    )
    assert doc == {
        "agents": 14,
        "service_level": p.service_level,
        "p_wait": p.p_wait,
        "asa_seconds": p.asa_seconds,
        "occupancy": p.occupancy,
    }


def test_service_level_finds_the_fewest_handlers_and_patience_adds_abandonment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--service-level X with --patience-seconds: Erlang A's fewest handlers, abandon_ratio too."""
    doc = run(capsys, "--service-level", "0.9", "--patience-seconds", "300")
    assert isinstance(doc["agents"], int) and isinstance(doc["service_level"], float)
    assert doc["service_level"] >= 0.9
    kw = {"calls": 100, "interval_seconds": 1800, "aht_seconds": 180, "target_seconds": 60}
    below = erlang.erlang_a(agents=doc["agents"] - 1, patience_seconds=300, **kw)
    assert below.service_level < 0.9
    assert isinstance(doc["abandon_ratio"], float) and 0 < doc["abandon_ratio"] < 0.1


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--agents", "0"], "agents"),
        (["--agents", "3", "--target-seconds", "-5"], "target_seconds"),
        (["--service-level", "1.0"], "service_level_target"),
        (["--agents", "3", "--patience-seconds", "0"], "patience_seconds"),
    ],
)
def test_bad_arguments_exit_2_and_name_the_argument(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An impossible argument is refused with its name in the message, nothing on stdout."""
    assert main([*BASE, *argv]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert named in out.err


def test_both_or_neither_of_agents_and_service_level_is_a_usage_error() -> None:
    """--agents and --service-level are one required choice."""
    with pytest.raises(SystemExit) as exc:
        main([*BASE, "--agents", "3", "--service-level", "0.8"])
    assert exc.value.code == 2
