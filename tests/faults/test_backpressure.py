"""Back-pressure and memory: a burst of 10x normal traffic and a stream of calls that never resolve,
through one real worker.

The worker falls behind during the burst and must catch up (consumer lag back to 0) with every
count exact; calls neither answered nor abandoned must expire after the open-call limit (counted
in surge_calls_expired_total) so the open-call state shrinks back; peak memory is measured.
Prints its figures and ground-truth comparison (run pytest with -s to see them)."""

from __future__ import annotations

import time
from dataclasses import replace

from streams.contract.records import CallEvent, DispatchEvent
from streams.contract.settings import Settings
from streams.simulate import generator, play, scenarios
from streams.simulate.truth import Emitted
from streams.stack import processes, services
from tests.faults.test_faults import counted, report, truth_counts
from tests.harness import consumer_lag, group_assignment, peak_rss_mb, poll, prom_vector
from tests.integration.test_answer_rates import (
    CATALOGUE,
    all_expected_ratios,
    assert_ratios_equal,
    read_ratios,
)
from tests.truth import expected_open_calls

SATURDAY_18Z = 1364666400.0  # 2013-03-30 18:00 UTC: a weekend evening, the busiest hours
NORMAL_DAILY_CALLS = 45_000.0
BURST_FACTOR = 10
OPEN_CALL_LIMIT_S = 600.0  # the production default is 4 h; short so expiry happens in the test
NEVER_RESOLVED_EVERY_S = 30.0  # per region
SPEED = 240.0  # event time per wall time, the same for normal traffic and the burst
RSS_LIMIT_MB = 400


def stretch(tag: str, start_s: float, minutes: int, daily_calls: float, seed: int) -> list[Emitted]:
    """Generated traffic with its ids prefixed by `tag`: each generation numbers its calls and
    incidents from 1, so stretches generated apart would share ids (and be deduplicated)."""
    scenario = scenarios.normal(start_s, minutes * 60.0, daily_calls=daily_calls)
    out: list[Emitted] = []
    for e in generator.generate(scenario, CATALOGUE, seed):
        ev = e.event
        if isinstance(ev, CallEvent):
            ev = replace(ev, call_id=f"{tag}-{ev.call_id}")
        elif isinstance(ev, DispatchEvent):
            linked = None if ev.call_id is None else f"{tag}-{ev.call_id}"
            ev = replace(ev, incident_id=f"{tag}-{ev.incident_id}", call_id=linked)
        out.append(replace(e, event=ev))
    return out


def never_resolved(start_s: float, end_s: float) -> list[Emitted]:
    """A call offered every 30 s in each region and never answered or abandoned (as if the
    telephony feed lost its answer events): valid `offered` events of the catalogue."""
    out: list[Emitted] = []
    for i, region in enumerate(CATALOGUE.regions):
        providers = region.provider_ids()
        k, ts = 0, start_s + i  # regions a second apart
        while ts < end_s:
            call_id = f"open-{region.code}-{k:04d}"
            ev = CallEvent(call_id, "offered", ts, region.code, providers[k % len(providers)])
            out.append(Emitted("calls", region.code, ts, ev))
            k, ts = k + 1, ts + NEVER_RESOLVED_EVERY_S
    return out


def by_region(s: Settings, expr: str) -> dict[str, int]:
    return {k[0]: int(v) for k, v in prom_vector(s, expr, "region").items()}


def test_burst_of_10x_traffic_and_unresolved_calls_drain_expire_and_stay_bounded(
    isolated: Settings,
) -> None:
    """10x burst and never-resolved calls: lag drains, counts exact, calls expire, RSS bounded."""
    s = replace(isolated, open_call_limit_seconds=OPEN_CALL_LIMIT_S)
    normal = stretch("a", SATURDAY_18Z, 30, NORMAL_DAILY_CALLS, seed=31)
    burst_start = SATURDAY_18Z + 30 * 60
    burst = stretch("b", burst_start, 10, BURST_FACTOR * NORMAL_DAILY_CALLS, seed=32)
    after = stretch("c", burst_start + 10 * 60, 20, NORMAL_DAILY_CALLS, seed=33)
    unresolved = never_resolved(SATURDAY_18Z, burst_start + 10 * 60)
    played = sorted(normal + burst + unresolved, key=lambda e: e.ts_s)
    before_burst = [e for e in played if e.ts_s < burst_start]
    in_burst = [e for e in played if e.ts_s >= burst_start]
    normal_per_min, burst_per_min = len(normal) / 30, len(burst) / 10
    assert 8 < burst_per_min / normal_per_min < 12  # the generator gives a 10x burst

    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    joined = poll(lambda: group_assignment(s, s.topic_calls), bool, 60)
    assert joined, "the worker did not join its consumer group"
    since = time.time()
    inputs = [s.topic_calls, s.topic_dispatches]

    play.produce(before_burst, s, speed=SPEED)
    started = time.monotonic()
    play.produce(in_burst, s, speed=SPEED)
    produced = time.monotonic()
    lags: list[int] = []

    def lag() -> int:
        lags.append(consumer_lag(s, inputs))
        return lags[-1]

    assert poll(lag, lambda n: n == 0, timeout_s=120, interval_s=0.25) == 0
    drain_s = time.monotonic() - produced
    want = truth_counts(played)
    got = poll(lambda: counted(s), lambda g: g == want, timeout_s=60, interval_s=1)
    report("after the 10x burst", want, got)
    assert got == want

    play.produce(after, s, speed=SPEED)  # event time moves on past the open-call limit
    everything = played + after
    want = truth_counts(everything)
    got = poll(lambda: counted(s), lambda g: g == want, timeout_s=60, interval_s=1)
    report("burst and 20 minutes after", want, got)
    assert got == want
    want_ratios = all_expected_ratios(everything)
    ratios = poll(lambda: read_ratios(s), lambda g: set(g) == set(want_ratios), 30, 1)
    assert_ratios_equal(ratios, want_ratios)

    # Every never-resolved call is older than the limit by the end: all expired, none waiting.
    want_open = expected_open_calls(everything, OPEN_CALL_LIMIT_S)
    want_expired = {r: expired for r, (expired, _) in want_open.items()}
    want_waiting = {r: waiting for r, (_, waiting) in want_open.items()}
    assert sum(want_expired.values()) >= len(unresolved)
    expired = poll(
        lambda: by_region(s, "surge_calls_expired_total"), lambda g: g == want_expired, 30, 1
    )
    waiting_expr = 'surge_calls_waiting{provider="all"}'
    waiting = poll(lambda: by_region(s, waiting_expr), lambda g: g == want_waiting, 30, 1)
    window = f"{int(time.time() - since) + 1}s"
    peak = prom_vector(s, f"max_over_time(sum({waiting_expr})[{window}:1s])").get((), 0.0)
    assert poll(lambda: consumer_lag(s, inputs), lambda n: n == 0, 60) == 0
    pid = processes.read_pid(paths, "worker-0")
    assert pid is not None
    rss_mb = peak_rss_mb(pid)

    events = len(everything)
    print(  # the issue asks for the figures
        f"[backpressure] events {events} (normal {len(normal)} in 30 min, burst {len(burst)} in "
        f"10 min, after {len(after)} in 20 min, never resolved {len(unresolved)}); "
        f"normal {normal_per_min:.0f}/min vs burst {burst_per_min:.0f}/min of event time; "
        f"burst produced at {len(in_burst) / (produced - started):.0f} events/s; "
        f"peak lag {max(lags)} messages, drained {drain_s:.1f} s after the burst was produced; "
        f"expired {sum(expired.values())} (limit {OPEN_CALL_LIMIT_S:.0f} s), calls waiting "
        f"peak {peak:.0f} -> {sum(waiting.values())}; worker peak RSS {rss_mb:.0f} MB"
    )
    assert expired == want_expired
    assert waiting == want_waiting
    assert peak > sum(waiting.values())  # the open calls piled up and came back down
    assert rss_mb < RSS_LIMIT_MB
