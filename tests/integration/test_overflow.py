"""Overflow routing through the real broker and two workers: the launch day with a recovery gives
one activate per failing region to a healthy neighbour and a deactivate after the recovery, with
no oscillation; an operator's activate becomes a command by operator:<id>."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from detectors.overflow_records import PolicyParams
from streams.cli.overflow import add_commands, cmd_request
from streams.contract.catalogue import default_catalogue
from streams.contract.settings import Settings
from streams.offline import scorecard
from streams.overflow.commands import read_status, submit
from streams.overflow.policy import latest_commands
from streams.simulate import generator, play, scenarios
from streams.simulate.truth import Emitted
from streams.stack import processes, services
from tests.harness import poll, prom_vector, read_topic

GOOD_FRIDAY_2013_08Z = 1364544000.0
FAILING = ("north-west", "west-midlands")
CATALOGUE = default_catalogue()
DWELL_S = PolicyParams().min_dwell_seconds
RECOVERY_S = GOOD_FRIDAY_2013_08Z + 2.5 * 3600


def launch_day_with_recovery() -> list[Emitted]:
    """Failure at 09:00, capacity back at 10:30, 5 h in all. Seed 13 keeps every healthy region
    clear of a 15-minute breach at any batch size (checked offline with batches of 50-4000)."""
    scenario = replace(
        scenarios.launch_day(GOOD_FRIDAY_2013_08Z, 5 * 3600, failure_after_s=3600),
        recovery_start_s=RECOVERY_S,
    )
    return generator.generate(scenario, CATALOGUE, seed=13)


def activated(records: list[dict[str, Any]]) -> set[str]:
    return {r["region"] for r in records if r["action"] == "activate"}


def commands(s: Settings) -> list[dict[str, Any]]:
    return [orjson.loads(m.value) for m in read_topic(s, s.topic_overflow, 10_000, 3)]


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def changes(records: list[dict[str, Any]], region: str) -> list[tuple[float, str, Any, Any]]:
    """A region's diversion changes (activate, deactivate, new target or share), in order."""
    out: list[tuple[float, str, Any, Any]] = []
    current: tuple[Any, Any] = (None, 0.0)
    for r in sorted((r for r in records if r["region"] == region), key=lambda r: r["issued_at"]):
        new = (None, 0.0) if r["action"] == "deactivate" else (r["target"], r["share"])
        if new != current:
            out.append((ts(r["issued_at"]), r["action"], r["target"], r["share"]))
            current = new
    return out


def test_launch_day_activates_the_failing_regions_and_releases_them_after_recovery(
    isolated: Settings,
) -> None:
    """Two workers, killed and restarted mid-day: one activate per failing region to a healthy
    neighbour, none elsewhere, a deactivate after the recovery, no two changes closer than the
    dwell; the gauge agrees."""
    # Small batches: a region's figures reach the policy every few minutes of event time, as
    # live; at full replay speed a 2000-event batch would span most of an hour of one region.
    s = replace(isolated, batch_max_events=200)
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    services.start_worker(s, paths, 1)
    events = launch_day_with_recovery()
    # Phase 1, up to the recovery: the failing regions divert, and the gauge says so.
    play.produce([e for e in events if e.ts_s < RECOVERY_S], s)
    first = poll(lambda: commands(s), lambda rs: activated(rs) == set(FAILING), 60, 1)
    diverting = {
        (r["region"], r["target"])
        for r in latest_commands(first).values()
        if r["action"] != "deactivate"
    }
    assert diverting, first
    gauge = poll(
        lambda: prom_vector(s, "surge_overflow_active == 1", "region", "target"),
        lambda g: set(g) == diverting,
        timeout_s=30,
    )
    assert set(gauge) == diverting
    # Both workers die (kill -9) and come back: the policy resumes from its checkpoint, so it
    # neither re-activates nor forgets the diversions it has to release.
    for i in (0, 1):
        processes.kill_service(paths, services.worker_name(i))
    for i in (0, 1):
        services.start_worker(s, paths, i)
    # Phase 2, the recovery and after: both released.
    play.produce([e for e in events if e.ts_s >= RECOVERY_S], s)

    def released(records: list[dict[str, Any]]) -> bool:
        done = {r["region"] for r in records if r["action"] == "deactivate"}
        return set(FAILING) <= done

    records = poll(lambda: commands(s), released, timeout_s=120, interval_s=2)
    auto = [r for r in records if r["issued_by"] == "auto"]
    activates = [r for r in auto if r["action"] == "activate"]
    assert sorted(r["region"] for r in activates) == sorted(FAILING), activates
    for r in activates:
        assert r["target"] in CATALOGUE.region(r["region"]).neighbours
        assert r["target"] not in FAILING
    assert released(records), [(r["region"], r["action"]) for r in records]
    for region in FAILING:
        steps = changes(auto, region)
        assert steps[0][1] == "activate" and steps[-1][1] == "deactivate", steps
        assert steps[-1][0] > RECOVERY_S
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(steps)]
        assert all(g >= DWELL_S for g in gaps), steps
    # Every record is a complete OverflowCommand, and the ids are unique per decision.
    assert {len(r) for r in records} == {10}
    assert len({r["command_id"] for r in records}) == len(records)
    # After the release no pair is 1; one worker (the policy's owner) exports the gauge.
    assert (
        poll(
            lambda: prom_vector(s, "surge_overflow_active == 1", "region", "target"),
            lambda g: not g,
            timeout_s=30,
        )
        == {}
    )
    owners = prom_vector(s, "count by (instance) (surge_overflow_active)", "instance")
    assert len(owners) == 1
    # The scorecard reads the commands back from the topic (kafka-python, the project's client
    # settings): one auto activation and some minutes under overflow per failing region only.
    card = scorecard.compute(
        scorecard.Request(GOOD_FRIDAY_2013_08Z, GOOD_FRIDAY_2013_08Z + 5 * 3600),
        s,
        CATALOGUE,
        topic=s.topic_calls,
        overflow_topic=s.topic_overflow,
    )
    assert card.overflow_source is not None and "skipped" not in card.overflow_source
    for row in card.rows:
        figures = (row.overflow_activations, row.overflow_started_by, row.overflow_minutes)
        if row.region in FAILING:
            assert figures[:2] == (1, ("auto",)) and (row.overflow_minutes or 0) > 0, figures
        else:
            assert figures == (0, (), 0.0), (row.region, figures)


def test_an_operator_activate_becomes_a_command_and_shows_on_the_gauge(
    isolated: Settings,
) -> None:
    """`overflow activate` for a healthy region yields the agent's command by operator:<id>,
    `surge_overflow_active` shows it, and `ack` republishes it acknowledged."""
    s = isolated
    paths = processes.stack_paths(s)
    services.start_worker(s, paths, 0)
    events = generator.generate(scenarios.normal(GOOD_FRIDAY_2013_08Z, 1800), CATALOGUE, seed=3)
    play.produce(events, s)

    # The policy has an event clock once the status records flow.
    def has_clock() -> bool:
        return bool(prom_vector(s, "surge_overflow_active", "region", "target"))

    assert poll(has_clock, bool, timeout_s=60)
    parser = _overflow_parser()
    args = parser.parse_args(
        ["overflow", "activate", "--region", "london", "--target", "south-east",
         "--share", "0.2", "--ttl-minutes", "120", "--operator", "jo", "--reason", "drill"]
    )  # fmt: skip
    assert cmd_request(args, s) == 0

    def operator_commands() -> list[dict[str, Any]]:
        return [r for r in commands(s) if r["issued_by"] == "operator:jo"]

    got = poll(operator_commands, bool, timeout_s=60)
    assert [(r["region"], r["action"], r["target"], r["share"]) for r in got] == [
        ("london", "activate", "south-east", 0.2)
    ]
    assert got[0]["reason"] == "drill"
    gauge = poll(
        lambda: prom_vector(s, 'surge_overflow_active{region="london"} == 1', "target"),
        bool,
        timeout_s=30,
    )
    assert gauge == {("south-east",): 1.0}
    # ack: the same command again, acknowledged; status shows London diverting.
    submit(s, {"action": "ack", "command_id": got[0]["command_id"], "operator": "sam"})
    acked = poll(
        lambda: [r for r in operator_commands() if r["acknowledged_by"] == "operator:sam"],
        bool,
        timeout_s=60,
    )
    assert [r["command_id"] for r in acked] == [got[0]["command_id"]]
    status = read_status(s)
    assert "london" in status["diverting"]


def _overflow_parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    return parser
