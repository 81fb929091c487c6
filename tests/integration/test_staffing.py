"""Agent states through the real stack: handlers by state and staff seconds exact in Prometheus,
bad agent events dead-lettered, and the counts unchanged by a kill -9 of the worker."""

from __future__ import annotations

import random
from collections import Counter

import orjson
from kafka import KafkaProducer

from streams.contract.records import AGENT_STATES
from streams.contract.settings import Settings
from streams.stack import processes, services
from tests.harness import poll, prom_vector, read_topic

T0 = 1364544000  # Good Friday 2013, 08:00 UTC
REGION = "north-west"
PROVIDER = "nhs-direct"
STAFFED_STATES = ("ready", "on_call", "wrap_up")


def shift(
    rng: random.Random, agent: str, start: int, end: int, log_out: bool
) -> list[dict[str, object]]:
    """One handler's shift: log in, calls with wrap-up, breaks, and a log-out unless the shift
    is still on at the end of the data (a seeded sequence)."""
    events = [(start, "ready")]
    t = start
    while t < end - 900:
        t += rng.randint(5, 120)
        events.append((t, "on_call"))
        t += rng.randint(180, 900)
        events.append((t, "wrap_up"))
        t += rng.randint(20, 120)
        events.append((t, "not_ready" if rng.random() < 0.1 else "ready"))
        if events[-1][1] == "not_ready":
            t += rng.randint(300, 900)
            events.append((t, "ready"))
    if log_out:
        events.append((max(end, t + 60), "logged_out"))
    role = "clinician" if agent.endswith("c") else "health_adviser"
    return [
        {"agent_id": agent, "ts": ts, "region": REGION, "provider": PROVIDER, "role": role,
         "state": state, **({"reason": "break"} if state == "not_ready" else {})}
        for ts, state in events
    ]  # fmt: skip


def oracle(events: list[dict[str, object]]) -> tuple[Counter[tuple[str, str]], dict[str, float]]:
    """Independent of the detector: each agent's last state, and staff seconds as the sum of the
    spans between its consecutive events (open spans run to the newest event time)."""
    now = max(float(e["ts"]) for e in events)  # type: ignore[arg-type]
    by_agent: dict[str, list[dict[str, object]]] = {}
    for e in events:
        by_agent.setdefault(str(e["agent_id"]), []).append(e)
    states: Counter[tuple[str, str]] = Counter()
    seconds: dict[str, float] = {}
    for evs in by_agent.values():
        evs.sort(key=lambda e: float(e["ts"]))  # type: ignore[arg-type]
        for a, b in zip(evs, [*evs[1:], None], strict=True):
            end = now if b is None else float(b["ts"])  # type: ignore[arg-type]
            state = str(a["state"])
            if state != "logged_out":
                seconds[state] = seconds.get(state, 0.0) + end - float(a["ts"])  # type: ignore[arg-type]
        states[(str(evs[-1]["role"]), str(evs[-1]["state"]))] += 1
    return states, seconds


def send(s: Settings, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all")
    for value in values:
        producer.send(s.topic_agent_states, key=REGION.encode(), value=value)
    producer.flush()
    producer.close()


def test_agents_by_state_and_staff_seconds_are_exact_across_a_kill_9(isolated: Settings) -> None:
    """12 seeded shifts, a kill -9 halfway and re-delivered events: Prometheus shows exactly each
    handler's last state and the staff seconds of the spans between its events."""
    s = isolated
    rng = random.Random(17)
    events: list[dict[str, object]] = []
    for i in range(12):
        agent = f"nw-{i:03d}" + ("c" if i % 4 == 3 else "")
        start = T0 + 60 * rng.randint(0, 30)
        events += shift(rng, agent, start, start + (4 if i < 8 else 9) * 3600, log_out=i < 8)
    events.sort(key=lambda e: (e["ts"], e["agent_id"]))
    half = len(events) // 2
    bad = [
        orjson.dumps({**events[0], "state": "asleep"}),
        orjson.dumps({**events[0], "name": "Jane Doe"}),
        orjson.dumps({**events[0], "state": "ready", "reason": "break"}),
    ]
    send(s, [orjson.dumps(e) for e in events[:half]] + bad)
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)

    def ok() -> dict[tuple[str, ...], float]:
        return prom_vector(s, f'surge_events_total{{topic="{s.topic_agent_states}"}}', "result")

    before = poll(ok, lambda v: v.get(("ok",)) == half and ("invalid",) in v, timeout_s=90)
    assert before.get(("ok",)) == half
    assert before.get(("invalid",)) == len(bad)
    processes.kill_service(paths, "worker-0")
    # The rest, plus the last 40 events of the first half again (a producer retrying).
    send(s, [orjson.dumps(e) for e in events[half - 40 :]])
    services.start_worker(s, paths, 0)

    states, seconds = oracle(events)
    roles = ("health_adviser", "clinician")
    want_states = {(r, x): float(states.get((r, x), 0)) for r in roles for x in AGENT_STATES}

    def agents() -> dict[tuple[str, ...], float]:
        return prom_vector(s, f'surge_agents{{region="{REGION}"}}', "role", "state")

    got = poll(agents, lambda v: v == want_states, timeout_s=120)
    assert got == want_states
    staff = prom_vector(
        s, f'sum by (state) (surge_staff_seconds_total{{region="{REGION}"}})', "state"
    )
    assert staff.keys() == {(k,) for k in seconds}
    for state, value in seconds.items():
        assert abs(staff[(state,)] - value) < 1e-6, state
    handle = prom_vector(
        s, f'surge_handle_time_seconds{{region="{REGION}",provider="all",window="60m"}}', "window"
    )
    assert handle and 180 <= handle[("60m",)] <= 1020  # on_call 180-900 s + wrap-up 20-120 s
    dead = read_topic(s, s.topic_dead_letter, expected=len(bad), timeout_s=60)
    reasons = {dict(m.headers)["reason"].decode() for m in dead}
    assert reasons == {"bad_state", "unexpected_field", "unknown_field"}
