"""Malformed events reach the dead-letter topic with their reason; valid ones around them count."""

from __future__ import annotations

import orjson
from kafka import KafkaProducer

from streams.contract.settings import Settings
from streams.stack import launcher, processes, services
from tests.harness import poll, prom_vector, read_topic

VALID = {
    "call_id": "nw00000001",
    "event": "offered",
    "ts": "2013-03-29T10:00:00Z",
    "region": "north-west",
    "provider": "nhs-direct",
}

# (payload, expected reason)
BAD: list[tuple[bytes, str]] = [
    (b'{"call_id": "x1", "event": "offered", ', "bad_json"),
    (orjson.dumps({**VALID, "call_id": "x2", "nhs_number": "9434765919"}), "unknown_field"),
    (orjson.dumps({**VALID, "call_id": "x3", "region": "atlantis"}), "unknown_region"),
    (orjson.dumps({**VALID, "call_id": "x4", "event": "answered"}), "missing_wait"),
    (
        orjson.dumps({**VALID, "call_id": "x5", "event": "abandoned", "wait_seconds": -3}),
        "negative_wait",
    ),
    (orjson.dumps({**VALID, "call_id": "x6", "ts": "yesterday at ten"}), "bad_timestamp"),
    (orjson.dumps({**VALID, "call_id": "x7", "attempt": 0}), "bad_attempt"),
    (orjson.dumps({**VALID, "call_id": "x8", "attempt": 2}), "missing_first_attempt"),
    (
        orjson.dumps(
            {**VALID, "call_id": "x9", "attempt": 2, "first_attempt_ts": "2013-03-29T10:05:00Z"}
        ),
        "first_attempt_after_offer",
    ),
]
# Repeat attempts of the valid kind count like any call (and neither field is needed).
REPEAT = {**VALID, "attempt": 3, "first_attempt_ts": "2013-03-29T09:31:00Z"}


def test_each_malformed_event_is_dead_lettered_with_its_reason_and_valid_ones_count(
    isolated: Settings,
) -> None:
    """Nine kinds of bad event reach the dead-letter topic with a reason; the valid ones count
    (first and repeat attempts alike)."""
    s = isolated
    producer = KafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all")
    valid_sent = 0
    for i, (payload, _) in enumerate(BAD):
        for j in range(10):
            event = {**(REPEAT if j % 2 else VALID), "call_id": f"nw{i:02d}{j:06d}"}
            producer.send(s.topic_calls, key=b"north-west", value=orjson.dumps(event))
            valid_sent += 1
        producer.send(s.topic_calls, key=b"north-west", value=payload)
    producer.flush()
    producer.close()

    services.start_worker(s, processes.stack_paths(s), 0)

    dead = read_topic(s, s.topic_dead_letter, expected=len(BAD), timeout_s=90)
    got = {bytes(m.value): dict(m.headers) for m in dead}
    assert len(dead) == len(BAD)
    for payload, reason in BAD:
        assert payload in got, f"{reason} event not dead-lettered"
        headers = got[payload]
        assert headers["reason"] == reason.encode()
        assert headers["detail"]
        assert headers["source_topic"] == s.topic_calls.encode()

    def counted() -> dict[tuple[str, ...], float]:
        return prom_vector(s, f'surge_events_total{{topic="{s.topic_calls}"}}', "result")

    values = poll(counted, lambda v: v.get(("ok",)) == valid_sent, timeout_s=60)
    assert values.get(("ok",)) == valid_sent
    assert values.get(("invalid",)) == len(BAD)

    def offered() -> dict[tuple[str, ...], float]:  # published after the batch's checkpoint
        expr = 'surge_calls_total{region="north-west",outcome="offered"}'
        return prom_vector(s, expr, "provider")

    want = {("nhs-direct",): valid_sent}
    assert poll(offered, lambda v: v == want, timeout_s=60) == want
    pid = processes.read_pid(processes.stack_paths(s), "worker-0")
    assert pid is not None and launcher.status(s)  # the worker is still there after bad input
    assert any(r.name == "worker-0" and r.running and r.healthy for r in launcher.status(s))
