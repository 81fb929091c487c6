"""End to end: generator -> real Kafka -> real Faust worker -> Prometheus equals ground truth."""

from __future__ import annotations

from collections import Counter

from streams.contract.catalogue import default_catalogue
from streams.contract.settings import Settings
from streams.simulate import generator, play, scenarios
from streams.simulate.truth import ground_truth
from streams.stack import processes, services
from tests.harness import poll, prom_vector

GOOD_FRIDAY_2013_08Z = 1364544000.0


def test_calls_total_in_prometheus_equals_the_generators_ground_truth(isolated: Settings) -> None:
    """Per region and outcome, surge_calls_total read through Prometheus equals the truth."""
    s = isolated
    scenario = scenarios.launch_day(GOOD_FRIDAY_2013_08Z, 3 * 3600, failure_after_s=3600)
    events = generator.generate(scenario, default_catalogue(), seed=7)
    truth = ground_truth(events)
    expected = {
        (region, outcome): truth.total(region, outcome)
        for region in default_catalogue().codes()
        for outcome in ("offered", "answered", "abandoned")
    }
    calls = sum(1 for e in events if e.topic == "calls")
    assert sum(expected.values()) > 5000  # a real volume, not a handful

    assert play.produce(events, s) == len(events)
    services.start_worker(s, processes.stack_paths(s), 0)

    def events_ok() -> dict[tuple[str, ...], float]:
        return prom_vector(s, f'surge_events_total{{topic="{s.topic_calls}"}}', "result")

    seen = poll(events_ok, lambda v: v.get(("ok",)) == calls, timeout_s=120, interval_s=1)
    assert seen.get(("ok",)) == calls
    assert seen.get(("invalid",)) == 0

    # A batch's events are counted as they are read, its regions' views published after its
    # checkpoint: a scrape in between sees every event but not yet every call, so poll.
    def calls_by_outcome() -> dict[tuple[str, ...], int]:
        got = prom_vector(s, "sum by (region, outcome) (surge_calls_total)", "region", "outcome")
        return {k: int(v) for k, v in got.items()}

    assert poll(calls_by_outcome, lambda v: v == expected, timeout_s=60, interval_s=1) == expected
    # The failing regions really fail in the truth the metrics are compared with.
    abandon_share = Counter(
        {r: expected[(r, "abandoned")] / expected[(r, "offered")] for r in ("north-west", "london")}
    )
    assert abandon_share["north-west"] > 3 * abandon_share["london"]
