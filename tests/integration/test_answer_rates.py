"""Answer rates through the real broker and two workers: exact against the generator's truth,
after a rebalance, after kill -9, and whatever the replay speed and order within the grace."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import replace
from functools import partial

import orjson

from streams.contract.catalogue import default_catalogue
from streams.contract.settings import Settings
from streams.simulate import generator, play, scenarios
from streams.simulate.truth import Emitted, ground_truth
from streams.stack import processes, services
from tests.harness import poll, prom_vector, read_topic
from tests.truth import expected_dispatches, expected_ratios, expected_referral_rates

GOOD_FRIDAY_2013_08Z = 1364544000.0
RATIOS = ("surge_answer_rate_ratio", "surge_service_level_ratio", "surge_abandon_rate_ratio")
CATALOGUE = default_catalogue()


def launch_day(seed: int = 11, hours: float = 3.0) -> list[Emitted]:
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, hours * 3600, failure_after_s=3600)
    return generator.generate(scenario, CATALOGUE, seed)


def expected_counts(events: list[Emitted]) -> dict[tuple[str, ...], int]:
    """{(region, provider, outcome): n} of the non-zero call outcomes in the truth."""
    out: Counter[tuple[str, ...]] = Counter()
    for (region, provider, _, name), n in ground_truth(events).counts.items():
        if name in ("offered", "answered", "abandoned"):
            out[(region, provider, name)] += n
    return dict(out)


def all_expected_ratios(events: list[Emitted]) -> dict[tuple[str, ...], float]:
    truth = ground_truth(events)
    out: dict[tuple[str, ...], float] = {}
    for region in CATALOGUE.regions:
        out.update(expected_ratios(truth, events, region.code, region.provider_ids()))
    return out


def read_counts(s: Settings) -> dict[tuple[str, ...], int]:
    got = prom_vector(s, "surge_calls_total > 0", "region", "provider", "outcome")
    return {k: int(v) for k, v in got.items()}


def read_ratios(s: Settings) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for metric in RATIOS:
        for k, v in prom_vector(s, metric, "region", "provider", "window").items():
            out[(metric, *k)] = v
    return out


def assert_ratios_equal(
    got: dict[tuple[str, ...], float], want: dict[tuple[str, ...], float]
) -> None:
    assert set(got) == set(want)
    for key, value in want.items():
        assert abs(got[key] - value) <= 1e-9, (key, got[key], value)


def wait_for_counts(s: Settings, want: dict[tuple[str, ...], int], timeout_s: float = 180) -> None:
    got = poll(lambda: read_counts(s), lambda g: g == want, timeout_s=timeout_s, interval_s=1)
    missing = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    assert got == want, f"{len(missing)} series differ, e.g. {list(missing.items())[:5]}"


def test_two_workers_export_exact_counts_and_window_ratios(isolated: Settings) -> None:
    """Launch day through 2 workers: counts exact, every window ratio equal to the truth's."""
    s = isolated
    events = launch_day()
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    services.start_worker(s, paths, 1)
    play.produce(events, s)

    wait_for_counts(s, expected_counts(events))
    want = all_expected_ratios(events)
    got = poll(lambda: read_ratios(s), lambda g: set(g) == set(want), timeout_s=30, interval_s=1)
    assert_ratios_equal(got, want)
    # Referral rates and dispatch counts, the downstream side, equal the truth as well.
    truth = ground_truth(events)
    want_referrals: dict[tuple[str, ...], float] = {}
    for region in CATALOGUE.codes():
        want_referrals.update(expected_referral_rates(truth, events, region))
    referrals = prom_vector(s, "surge_referral_rate_ratio", "region", "kind", "window")
    assert set(referrals) == set(want_referrals)
    for key, value in want_referrals.items():
        assert abs(referrals[key] - value) <= 1e-9, key
    want_dispatched = expected_dispatches(truth)

    def dispatched() -> dict[tuple[str, ...], int]:
        got = prom_vector(s, "surge_dispatches_total", "region", "source", "category")
        return {k: int(v) for k, v in got.items()}

    assert poll(dispatched, lambda g: g == want_dispatched, timeout_s=60) == want_dispatched
    # In-stream alerts: the failing regions' service level fires once per episode, no healthy
    # region fires it, and the gauge agrees.
    records = [orjson.loads(m.value) for m in read_topic(s, s.topic_alerts, 10_000, 5)]
    episodes = [(r["alert_id"], r["state"]) for r in records]
    assert len(episodes) == len(set(episodes))  # one firing and at most one resolved each
    sl_firing = {
        r["region"]
        for r in records
        if r["alert"] == "ServiceLevelBelowStandard" and r["state"] == "firing"
    }
    assert sl_firing == {"north-west", "west-midlands"}
    active = prom_vector(s, 'surge_alert_active{alert="ServiceLevelBelowStandard"} == 1', "region")
    assert set(active) == {("north-west",), ("west-midlands",)}
    # Each region is exported by exactly one worker, and both workers own some.
    assert prom_vector(s, "count by (region) (surge_watermark_seconds) > 1", "region") == {}
    owners = prom_vector(s, "count by (instance) (surge_watermark_seconds)", "instance")
    assert len(owners) == 2 and sum(owners.values()) == len(CATALOGUE.regions)
    # The failing regions fail and the healthy ones do not, as the control room should see.
    sl = {k[1]: v for k, v in got.items() if k[0] == RATIOS[1] and k[2:] == ("all", "60m")}
    assert sl["north-west"] < 0.5 and sl["west-midlands"] < 0.5
    assert min(v for r, v in sl.items() if r not in ("north-west", "west-midlands")) > 0.85


def test_kill_9_a_worker_mid_stream_and_restart_loses_and_doubles_nothing(
    isolated: Settings,
) -> None:
    """kill -9 one of two workers while events flow, restart it: final counts equal the truth."""
    s = replace(isolated, batch_max_events=200)
    events = launch_day(seed=12)
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    services.start_worker(s, paths, 1)
    producer = threading.Thread(target=play.produce, args=(events, s), kwargs={"speed": 600.0})
    producer.start()

    def processed() -> float:
        return sum(
            prom_vector(s, f'surge_events_total{{topic="{s.topic_calls}"}}', "result").values()
        )

    calls = sum(1 for e in events if e.topic == "calls")
    # Kill once a third of the traffic has been processed, with most of it still to come.
    assert poll(processed, lambda n: n > calls / 3, timeout_s=120, interval_s=0.5) > calls / 3
    processes.kill_service(paths, "worker-1")
    services.start_worker(s, paths, 1)
    producer.join(timeout=120)
    assert not producer.is_alive()

    wait_for_counts(s, expected_counts(events))
    assert_ratios_equal(
        poll(lambda: read_ratios(s), lambda g: set(g) == set(all_expected_ratios(events)), 30, 1),
        all_expected_ratios(events),
    )


def shuffled_within_grace(events: list[Emitted], seed: int) -> list[Emitted]:
    """Events reordered so none arrives 60 s or more behind the newest before it, and 5 % of them
    delivered twice (a producer retry): the duplicates must be counted once."""
    rng = random.Random(seed)
    again = [(e.ts_s + rng.uniform(0, 60), e) for e in events if rng.random() < 0.05]
    once = [(e.ts_s + rng.uniform(0, 60), e) for e in events]
    return [e for _, e in sorted(once + again, key=lambda pair: pair[0])]


def test_replay_fast_and_shuffled_within_grace_gives_the_same_figures(isolated: Settings) -> None:
    """The same events in order, live at x1000, and shuffled within the grace: equal figures."""
    events = launch_day(seed=13, hours=2.0)
    want_counts = expected_counts(events)
    want_ratios = all_expected_ratios(events)
    for tag, played, speed in (
        ("ordered", events, 0.0),
        ("x1000", events, 1000.0),
        ("shuffled", shuffled_within_grace(events, 5), 0.0),
    ):
        app_id, topic = f"{isolated.app_id}-{tag}", f"{isolated.topic_calls}-{tag}"
        s = replace(isolated, app_id=app_id, topic_calls=topic)
        services.create_topics(s)
        paths = processes.stack_paths(s)
        services.start_worker(s, paths, 0)
        play.produce(played, s, speed=speed)  # the worker consumes while events arrive
        wait_for_counts(s, want_counts)
        ratios = poll(partial(read_ratios, s), lambda g: set(g) == set(want_ratios), 30, 1)
        assert_ratios_equal(ratios, want_ratios)
        processes.stop_service(paths, "worker-0")
        # The stopped worker's series go stale in Prometheus before the next one starts.
        assert poll(partial(read_counts, s), lambda g: g == {}, timeout_s=30, interval_s=1) == {}
