"""The rota through the real broker: publish, read back, the latest record per key wins, a bad
file produces nothing and a bad record is skipped."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import structlog
from kafka import KafkaProducer

from streams.cli.main import main
from streams.contract.catalogue import default_catalogue
from streams.contract.kafka_io import read_records, read_rota
from streams.contract.logs import configure_logging
from streams.contract.rota import ROTA_COLUMNS, encode_rota, parse_rota_csv
from streams.contract.settings import Settings, settings_env

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "rota" / "example.csv"
CAT = default_catalogue()
HEADER = ",".join(ROTA_COLUMNS)


def test_a_record_that_does_not_decode_is_skipped_with_a_warning(isolated: Settings) -> None:
    """Garbage, a value under another key and a tombstone: the rest of the rota still reads."""
    s = isolated
    first, second = parse_rota_csv(EXAMPLE.read_text(), CAT, str(EXAMPLE))[:2]
    producer = KafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all")
    producer.send(s.topic_rota, key=first.key.encode(), value=encode_rota(first))
    producer.send(s.topic_rota, key=second.key.encode(), value=encode_rota(second))
    producer.send(s.topic_rota, key=b"north-west/x", value=b'{"region": "north-west", ')
    producer.send(s.topic_rota, key=b"north-west/y", value=encode_rota(first))  # wrong key
    producer.send(s.topic_rota, key=first.key.encode(), value=b'{"minutes": 45}')
    producer.send(s.topic_rota, key=second.key.encode(), value=None)  # tombstone: deleted
    producer.flush()
    producer.close()

    configure_logging("info", "console")
    with structlog.testing.capture_logs() as logs:
        latest = read_rota(s, CAT)
    assert latest == {first.key: first}  # the bad newer record did not replace the good one
    skipped = {(e["key"], e["reason"]) for e in logs if e["event"] == "rota_record_skipped"}
    assert skipped == {
        ("north-west/x", "bad_json"),
        ("north-west/y", "key_mismatch"),
        (first.key, "missing_field"),
    }
    assert all(e["log_level"] == "warning" for e in logs if e["event"] == "rota_record_skipped")


def test_publish_reads_back_a_correction_wins_and_a_bad_file_sends_nothing(
    isolated: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """publish then read_rota gives the file; a re-published interval replaces its key; a bad
    file, or a missing topic, exits 2 and the topic gets no record."""
    s = isolated
    for name, value in settings_env(s).items():
        monkeypatch.setenv(name, value)
    expected = {i.key: i for i in parse_rota_csv(EXAMPLE.read_text(), CAT, str(EXAMPLE))}

    assert main(["rota", "publish", str(EXAMPLE)]) == 0
    assert read_rota(s, CAT) == expected

    target = expected["london/lcw/clinician/2013-03-29T12:00:00+00:00"]
    corrected = tmp_path / "correction.csv"
    line = f"london,lcw,clinician,2013-03-29T13:00:00+01:00,30,{target.commissioned + 2},0"
    corrected.write_text(f"{HEADER}\n{line}\n")
    assert main(["rota", "publish", str(corrected)]) == 0
    latest = read_rota(s, CAT)
    assert len(latest) == len(expected)
    assert latest[target.key].commissioned == target.commissioned + 2
    assert latest[target.key].rostered == 0
    assert {k: v for k, v in latest.items() if k != target.key} == {
        k: v for k, v in expected.items() if k != target.key
    }

    records_before = len(read_records(s, s.topic_rota))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\n{line}\nlondon,lcw,nurse,2013-03-29T13:30:00+00:00,30,1,1\n")
    assert main(["rota", "publish", str(bad)]) == 2
    assert len(read_records(s, s.topic_rota)) == records_before == len(expected) + 1
    capsys.readouterr()
    assert main(["rota", "show", "--json"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert len(shown) == len(expected)
    assert {"start": "2013-03-29T12:00:00+00:00", "rostered": 0}.items() <= next(
        d
        for d in shown
        if d["region"] == "london"
        and d["role"] == "clinician"
        and d["start"] == "2013-03-29T12:00:00+00:00"
    ).items()

    monkeypatch.setenv("SURGE_TOPIC_ROTA", f"{s.topic_rota}-missing")  # no such topic
    assert main(["rota", "publish", str(corrected), "--timeout-seconds", "2"]) == 2
