"""Harness helpers: Prometheus queries, Kafka reads, consumer-group
assignment and lag, worker memory, deadline polling."""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, OffsetSpec
from kafka.errors import KafkaError

from streams.contract.kafka_security import client_kwargs
from streams.contract.settings import Settings

T = TypeVar("T")


def poll(
    fn: Callable[[], T], done: Callable[[T], bool], timeout_s: float, interval_s: float = 0.5
) -> T:
    """Call `fn` until `done(result)` or the deadline; returns the last result either way."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = fn()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(interval_s)


def prom_query(settings: Settings, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query through Prometheus' HTTP API, now or at Unix time `at`."""
    params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query?" + urllib.parse.urlencode(
        params
    )
    with urllib.request.urlopen(url, timeout=5) as resp:
        doc = json.loads(resp.read())
    assert doc["status"] == "success", doc
    result: list[dict[str, Any]] = doc["data"]["result"]
    return result


def prom_vector(
    settings: Settings, expr: str, *labels: str, at: float | None = None
) -> dict[tuple[str, ...], float]:
    """An instant vector as {label values: value}; empty when Prometheus is unreachable."""
    try:
        rows = prom_query(settings, expr, at)
    except OSError:
        return {}
    return {tuple(r["metric"].get(k, "") for k in labels): float(r["value"][1]) for r in rows}


def first_sample_times(
    settings: Settings, selector: str, labels: tuple[str, ...], since_s: float, step_s: float = 1
) -> dict[tuple[str, ...], float]:
    """When the series of `selector` first had a sample since Unix time `since_s`, the earliest
    per value of `labels` (to `step_s`): `ALERTS{alertstate="firing"}` gives when each alert
    first fired, `ALERTS{alertstate="pending"}` when its condition first held."""
    span_s = max(1, math.ceil(time.time() - since_s))
    expr = (
        f"min by ({', '.join(labels)}) "
        f"(min_over_time(timestamp({selector})[{span_s}s:{step_s:g}s]))"
    )
    return {k: v for k, v in prom_vector(settings, expr, *labels).items() if v >= since_s}


def read_topic(settings: Settings, topic: str, expected: int, timeout_s: float) -> list[Any]:
    """Read a topic from the beginning until `expected` messages arrived or the deadline passed."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        **client_kwargs(settings),
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in parts])
        consumer.seek_to_beginning()
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend(batch)
        return out
    finally:
        consumer.close()


def group_assignment(settings: Settings, topic: str) -> dict[str, list[int]] | None:
    """{member id: its partitions of `topic`} of the app's consumer group (group id = app id),
    as Kafka's group coordinator holds it; None unless the group is Stable (not rebalancing)."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers, **client_kwargs(settings)
        )
    except KafkaError:
        return None
    try:
        group = admin.describe_groups([settings.app_id])[settings.app_id]
    except KafkaError:  # no coordinator yet: the first member is still joining
        return None
    finally:
        admin.close()
    if group["group_state"] != "Stable":
        return None
    out: dict[str, list[int]] = {}
    for member in group["members"]:
        assigned = member["member_assignment"]["assigned_partitions"]
        out[member["member_id"]] = sorted(
            p for entry in assigned if entry["topic"] == topic for p in entry["partitions"]
        )
    return out


def consumer_lag(settings: Settings, topics: list[str]) -> int:
    """Messages in `topics` the app's consumer group has not committed yet (end offset minus
    committed offset, summed over partitions; a partition never committed counts in full)."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **client_kwargs(settings)
    )
    try:
        partitions = [
            TopicPartition(t["name"], p["partition_index"])
            for t in admin.describe_topics(topics)
            for p in t["partitions"]
        ]
        ends = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
        committed = admin.list_group_offsets(settings.app_id)[settings.app_id]
    finally:
        admin.close()
    lag = 0
    for tp in partitions:
        done = committed[tp].offset if tp in committed else 0
        lag += ends[tp].offset - max(done, 0)
    return lag


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM of /proc/<pid>/status), in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")
