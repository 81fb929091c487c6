"""Faults injected for real while events flow; the generator's ground truth is the oracle.

Each case prints its ground-truth comparison (run pytest with -s to see it in the log)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace

from streams.contract.catalogue import default_catalogue
from streams.contract.settings import Settings
from streams.simulate import generator, play, scenarios
from streams.simulate.truth import Emitted, ground_truth
from streams.stack import processes, services
from tests.harness import poll, prom_vector

GOOD_FRIDAY_2013_08Z = 1364544000.0
OUTAGE_SECONDS = 30


def traffic(seed: int) -> list[Emitted]:
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, 3 * 3600, failure_after_s=3600)
    return generator.generate(scenario, default_catalogue(), seed)


def truth_counts(events: list[Emitted]) -> dict[tuple[str, ...], int]:
    out: Counter[tuple[str, ...]] = Counter()
    for (region, provider, _, name), n in ground_truth(events).counts.items():
        if name in ("offered", "answered", "abandoned"):
            out[(region, provider, name)] += n
    return dict(out)


def counted(s: Settings) -> dict[tuple[str, ...], int]:
    got = prom_vector(s, "surge_calls_total > 0", "region", "provider", "outcome")
    return {k: int(v) for k, v in got.items()}


def processed(s: Settings) -> float:
    return prom_vector(s, f'sum(surge_events_total{{topic="{s.topic_calls}"}})').get((), 0.0)


def report(case: str, want: dict[tuple[str, ...], int], got: dict[tuple[str, ...], int]) -> None:
    wrong = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    print(  # the issue asks each case to print its comparison
        f"\n[{case}] ground truth {sum(want.values())} call outcomes in {len(want)} series; "
        f"counted {sum(got.values())}; series differing: {len(wrong)} {list(wrong.items())[:3]}"
    )


def test_rebalance_two_to_one_and_back_to_two_counts_exactly(isolated: Settings) -> None:
    """Stop one of two workers mid-stream (its partitions move), start it again: exact counts."""
    s = replace(isolated, batch_max_events=200)
    events = traffic(seed=21)
    calls = sum(1 for e in events if e.topic == "calls")
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    services.start_worker(s, paths, 1)
    producer = threading.Thread(target=play.produce, args=(events, s), kwargs={"speed": 400.0})
    producer.start()
    assert poll(lambda: processed(s), lambda n: n > calls / 4, 120, 0.5) > calls / 4
    processes.stop_service(paths, "worker-1")  # 2 -> 1: its partitions move to worker-0
    assert poll(lambda: processed(s), lambda n: n > calls / 2, 120, 0.5) > calls / 2
    services.start_worker(s, paths, 1)  # 1 -> 2: half of them move back
    producer.join(timeout=120)
    want = truth_counts(events)
    got = poll(lambda: counted(s), lambda g: g == want, timeout_s=180, interval_s=1)
    report("rebalance 2->1->2", want, got)
    assert got == want


def test_broker_down_for_30_seconds_mid_stream_workers_reconnect_and_count_exactly(
    isolated: Settings,
) -> None:
    """Stop Kafka for 30 s while events flow, start it again: workers recover, counts exact."""
    s = replace(isolated, batch_max_events=200)
    events = traffic(seed=22)
    calls = sum(1 for e in events if e.topic == "calls")
    half = len(events) // 2
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    services.start_worker(s, paths, 1)
    play.produce(events[:half], s)
    first = sum(1 for e in events[:half] if e.topic == "calls")
    assert poll(lambda: processed(s), lambda n: n >= first, 120, 0.5) >= first
    processes.stop_service(paths, "kafka")
    time.sleep(OUTAGE_SECONDS)  # the fault itself lasts 30 s; not a wait for a condition
    services.start_kafka(s, paths)
    play.produce(events[half:], s)
    want = truth_counts(events)
    got = poll(lambda: counted(s), lambda g: g == want, timeout_s=240, interval_s=1)
    report("broker down 30 s", want, got)
    assert got == want
    assert processed(s) >= calls


def test_prometheus_restart_keeps_series_and_counters_never_reset(isolated: Settings) -> None:
    """Restart Prometheus mid-stream: the series continue and no counter goes backwards."""
    s = isolated
    events = traffic(seed=23)
    half = len(events) // 2
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)

    # Earlier tests' workers exported the same series on this port: look only after this one's.
    def fresh() -> bool:
        scraped = prom_vector(s, f'surge_events_total{{topic="{s.topic_calls}"}}', "result")
        return bool(scraped) and counted(s) == {}

    assert poll(fresh, bool, timeout_s=60, interval_s=0.5)
    since = time.time()
    play.produce(events[:half], s)
    first = truth_counts(events[:half])
    assert poll(lambda: counted(s), lambda g: g == first, timeout_s=120, interval_s=1) == first
    processes.stop_service(paths, "prometheus")
    services.start_prometheus(s, paths)
    play.produce(events[half:], s)
    want = truth_counts(events)
    got = poll(lambda: counted(s), lambda g: g == want, timeout_s=180, interval_s=1)
    report("prometheus restart", want, got)
    assert got == want
    # rate() sees no counter reset across the restart: the series carry on from the same values.
    # (An instant query at a time before the restart came back empty in the full run although
    # Prometheus replayed its WAL; not yet understood, so not asserted: see the issue note.)
    window = f"{int(time.time() - since) + 1}s"
    resets = prom_vector(s, f"sum(resets(surge_calls_total[{window}]))")
    assert resets.get((), 0) == 0
