"""`surge-monitor simulate` and `surge-monitor baseline`: generated traffic into Kafka or files,
and referral baselines learnt from generated normal weeks."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from streams.cli.args import instant
from streams.contract.catalogue import load_catalogue
from streams.contract.errors import ConfigError
from streams.contract.settings import Settings

log = structlog.get_logger(__name__)


def add_commands(sub: Any) -> None:
    """Add `simulate | baseline` to the `surge-monitor` parser."""
    g = sub.add_parser("simulate", help="generate NHS 111 traffic; produce it and/or write files")
    _simulate_args(g)
    g.set_defaults(func=cmd_simulate)

    b = sub.add_parser("baseline", help="learn referral baselines from normal generated weeks")
    b.add_argument("--weeks", type=int, default=2, help="normal weeks to learn from")
    b.add_argument("--start", default="2013-02-04T00:00:00+00:00", help="a Monday, ISO-8601")
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--out", type=Path, required=True, help="JSON for SURGE_REFERRAL_BASELINE")
    b.set_defaults(func=cmd_baseline)


def _simulate_args(g: argparse.ArgumentParser) -> None:
    g.add_argument("--scenario", choices=["launch-day", "normal"], default="launch-day")
    g.add_argument(
        "--start",
        default="2013-03-29T08:00:00+00:00",
        help="ISO-8601 instant with offset (default: Good Friday 2013, 08:00 UTC)",
    )
    g.add_argument("--hours", type=float, default=6.0, help="event time to generate")
    g.add_argument(
        "--failure-after-hours", type=float, default=1.0, help="launch-day: capacity lost after"
    )
    g.add_argument("--daily-calls", type=float, default=45_000.0, help="England calls per day")
    g.add_argument("--seed", type=int, default=2013)
    g.add_argument("--speed", type=float, default=0.0, help="event time per wall time; 0 = max")
    g.add_argument("--out", type=Path, help="write the events as JSON lines")
    g.add_argument("--truth", type=Path, help="write ground-truth counts per region and minute")
    g.add_argument("--no-produce", action="store_true", help="only write files, send nothing")
    g.add_argument(
        "--agent-states",
        action="store_true",
        help="also emit the handlers' ACD states (log in, on_call, wrap_up, ready, log out)",
    )
    g.add_argument(
        "--rota", type=Path, help="write the scenario's rota as CSV (for `rota publish`)"
    )
    k = g.add_argument_group("failure knobs (failing regions, from the failure on)")
    k.add_argument("--capacity-left", type=float, help="share of the handlers left (0..1)")
    k.add_argument(
        "--loss",
        choices=["leave", "no_login"],
        help="handlers leave at the failure, or new shifts go unfilled (give --shift-hours)",
    )
    k.add_argument("--handle-factor", type=float, help="handle time x this (longer triage)")
    k.add_argument("--demand-factor", type=float, help="arrivals x this on the planned rota")
    g.add_argument("--breaks", action="store_true", help="a 30-minute break in each shift over 4 h")
    g.add_argument("--shift-hours", type=float, help="longest shift; longer ones hand over")
    g.add_argument(
        "--retrials",
        action="store_true",
        help="callers who abandon try again (events carry attempt and first_attempt_ts)",
    )


def default_scenario_args(seed: int) -> argparse.Namespace:
    """`simulate`'s defaults (the launch-day scenario), for the demo."""
    p = argparse.ArgumentParser()
    _simulate_args(p)
    return p.parse_args(["--seed", str(seed)])


def scenario(args: argparse.Namespace) -> Any:
    from streams.simulate import scenarios

    start_s = instant(args.start, "--start") // 60 * 60
    if args.hours <= 0:
        raise ConfigError("--hours must be > 0")
    duration = args.hours * 3600
    if args.scenario == "launch-day":
        day = scenarios.launch_day(
            start_s, duration, args.failure_after_hours * 3600, daily_calls=args.daily_calls
        )
    else:
        day = scenarios.normal(start_s, duration, daily_calls=args.daily_calls)
    knobs = {
        name: getattr(args, name)
        for name in ("capacity_left", "loss", "handle_factor", "demand_factor", "shift_hours")
        if getattr(args, name) is not None
    }
    return replace(
        day, agent_states=args.agent_states, breaks=args.breaks, retrials=args.retrials, **knobs
    )


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from streams.simulate import generator, play
    from streams.simulate.truth import ground_truth

    catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    day = scenario(args)
    events = generator.generate(day, catalogue, args.seed)
    log.info("simulate_generated", events=len(events), scenario=args.scenario, seed=args.seed)
    if args.rota:
        play.write_rota(generator.rota(day, catalogue), args.rota)
        log.info("simulate_wrote_rota", path=str(args.rota))
    if args.out:
        play.write_jsonl(events, args.out)
        log.info("simulate_wrote_events", path=str(args.out))
    if args.truth:
        play.write_truth(ground_truth(events), args.truth)
        log.info("simulate_wrote_truth", path=str(args.truth))
    if not args.no_produce:
        play.produce(events, settings, speed=args.speed)
    return 0


def cmd_baseline(args: argparse.Namespace, settings: Settings) -> int:
    from streams.simulate import generator, history, scenarios

    start = instant(args.start, "--start") // 60 * 60
    if args.weeks < 1:
        raise ConfigError("--weeks must be at least 1")
    catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    scenario = scenarios.normal(start, args.weeks * 7 * 86400)
    events = generator.generate(scenario, catalogue, args.seed)
    history.write_baselines(history.learn_baselines(events), args.out)
    return 0
