"""`surge-monitor rota publish`: validation before any Kafka, exit status 2 on every error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.cli import rota as rota_cli
from streams.cli.main import main
from streams.contract.catalogue import default_catalogue
from streams.contract.rota import ROTA_COLUMNS
from streams.stack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "rota" / "example.csv"


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings pointing at a loopback port nothing listens on."""
    monkeypatch.setenv("SURGE_KAFKA_BROKER", f"kafka://127.0.0.1:{free_port()}")


@pytest.fixture
def never_published(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command gets as far as producing."""

    def refuse(*args: object, **kwargs: object) -> int:
        raise AssertionError("publish_rota was called")

    monkeypatch.setattr(rota_cli, "publish_rota", refuse)


def test_the_example_rota_is_valid_and_covers_two_regions_for_a_day() -> None:
    """deploy/rota/example.csv: two regions, both roles, 48 half-hour intervals each."""
    intervals = rota_cli.read_rota_file(EXAMPLE, default_catalogue())
    assert {i.region for i in intervals} == {"north-west", "london"}
    assert {i.role for i in intervals} == {"health_adviser", "clinician"}
    assert {i.minutes for i in intervals} == {30}
    assert len(intervals) == 2 * 2 * 48
    assert all(0 <= i.rostered <= i.commissioned for i in intervals)


@pytest.mark.usefixtures("no_broker", "never_published")
def test_dry_run_validates_without_touching_kafka() -> None:
    """--dry-run of a valid file exits 0 with no broker to talk to."""
    assert main(["rota", "publish", str(EXAMPLE), "--dry-run"]) == 0


@pytest.mark.usefixtures("no_broker", "never_published")
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_an_invalid_file_exits_2_before_any_kafka(tmp_path: Path, dry_run: list[str]) -> None:
    """A file with a bad line exits with status 2 and nothing is produced, dry run or not."""
    bad = tmp_path / "bad.csv"
    good_line = "north-west,nhs-direct,clinician,2013-03-29T08:00:00+00:00,30,3,3"
    bad.write_text(f"{','.join(ROTA_COLUMNS)}\n{good_line}\nnorth-west,nhs-direct,nurse,x,30,3,3\n")
    assert main(["rota", "publish", str(bad), *dry_run]) == 2


@pytest.mark.usefixtures("no_broker", "never_published")
@pytest.mark.parametrize("content", [None, b"\xff\xfe not utf-8"])
def test_a_missing_or_unreadable_file_exits_2(tmp_path: Path, content: bytes | None) -> None:
    """A path that is not there, or not UTF-8, is a clean error with status 2."""
    path = tmp_path / "rota.csv"
    if content is not None:
        path.write_bytes(content)
    assert main(["rota", "publish", str(path)]) == 2


@pytest.mark.usefixtures("no_broker")
def test_publishing_with_no_broker_fails_cleanly_within_the_timeout() -> None:
    """A valid file and no Kafka: status 2 (a StackError saying why), not a traceback or a hang."""
    started = time.monotonic()
    assert main(["rota", "publish", str(EXAMPLE), "--timeout-seconds", "1"]) == 2
    assert time.monotonic() - started < 15


@pytest.mark.usefixtures("no_broker")
def test_show_with_no_broker_fails_cleanly() -> None:
    """`rota show` with no Kafka exits with status 2."""
    assert main(["rota", "show", "--timeout-seconds", "1"]) == 2


def test_the_table_lists_every_column_and_says_when_empty() -> None:
    """The table has a header of the CSV's columns; an empty rota says so."""
    assert rota_cli.format_table([]).splitlines() == [
        "  ".join(ROTA_COLUMNS),
        "(no rota published yet)",
    ]
