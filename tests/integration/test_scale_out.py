"""Scale-out on one machine: three workers of one app share the call-events partitions, as Kafka's
group coordinator assigns them, and together count exactly what the generator emitted.

Prints the assignment and the ground-truth comparison (run pytest with -s to see them)."""

from __future__ import annotations

from collections import defaultdict

from streams.contract.settings import Settings
from streams.contract.topics import design_topics, partition_for
from streams.simulate import play
from streams.stack import processes, services
from tests.faults.test_faults import report
from tests.harness import group_assignment, poll, prom_vector
from tests.integration.test_answer_rates import (
    CATALOGUE,
    all_expected_ratios,
    assert_ratios_equal,
    expected_counts,
    launch_day,
    read_counts,
    read_ratios,
)

WORKERS = 3


def test_three_workers_share_the_partitions_and_count_exactly(isolated: Settings) -> None:
    """3 workers: each owns call-events partitions, each partition one owner; counts exact."""
    s = isolated
    partitions = {t.name: t.partitions for t in design_topics(s)}[s.topic_calls]
    paths = processes.stack_paths(s)
    for index in range(WORKERS):
        services.start_worker(s, paths, index)

    assignment = poll(
        lambda: group_assignment(s, s.topic_calls),
        lambda a: a is not None and len(a) == WORKERS,
        timeout_s=90,
        interval_s=0.5,
    )
    assert assignment is not None and len(assignment) == WORKERS, assignment
    print(f"\n[scale-out] group {s.app_id}, {s.topic_calls} ({partitions} partitions):")
    for member, owned in sorted(assignment.items(), key=lambda item: item[1]):
        regions = sorted(r for r in CATALOGUE.codes() if partition_for(r, partitions) in owned)
        print(f"  {member}: partitions {owned} regions {regions}")
    assert all(assignment.values()), "a worker owns no call-events partition"
    owned_all = sorted(p for owned in assignment.values() for p in owned)
    assert owned_all == list(range(partitions)), "a partition is unowned or owned twice"

    events = launch_day(seed=14)
    play.produce(events, s)
    want = expected_counts(events)
    got = poll(lambda: read_counts(s), lambda g: g == want, timeout_s=120, interval_s=1)
    report("3 workers", want, got)
    assert got == want
    want_ratios = all_expected_ratios(events)
    ratios = poll(lambda: read_ratios(s), lambda g: set(g) == set(want_ratios), 30, 1)
    print(f"[3 workers] closed-window ratios: {len(want_ratios)} expected, {len(ratios)} exported")
    assert_ratios_equal(ratios, want_ratios)

    # No rebalance happened meanwhile, and each worker exports the regions of the partitions
    # Kafka gave it, each region by one worker only.
    assert group_assignment(s, s.topic_calls) == assignment
    exported: dict[str, set[str]] = defaultdict(set)
    for instance, region in prom_vector(s, "surge_watermark_seconds", "instance", "region"):
        exported[instance].add(region)
    by_member = [
        frozenset(r for r in CATALOGUE.codes() if partition_for(r, partitions) in owned)
        for owned in assignment.values()
    ]
    assert sorted(map(sorted, exported.values())) == sorted(sorted(r) for r in by_member if r)
