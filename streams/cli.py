"""The `surge-monitor` command: worker, stack, simulate, demo, baseline, scorecard, alert-sink."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from streams import stack
from streams.catalogue import load_catalogue
from streams.config import Settings, load_settings
from streams.errors import ConfigError, SurgeError
from streams.logs import configure_logging
from streams.overflow_cli import add_commands as add_overflow_commands
from streams.replay_cli import add_commands as add_replay_commands
from streams.replay_cli import instant, jobs_arg

log = structlog.get_logger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "workers", None) is not None:
            overrides["workers"] = args.workers
        settings = load_settings(**overrides)
        configure_logging(settings.log_level, settings.log_format)
        result: int = args.func(args, settings)
        return result
    except SurgeError as exc:
        configure_logging("error", "console" if sys.stderr.isatty() else "json")
        log.error(type(exc).__name__, message=str(exc))
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="surge-monitor", description=__doc__)
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    w = sub.add_parser("worker", help="run one Faust worker (settings from SURGE_*)")
    w.set_defaults(func=cmd_worker)

    s = sub.add_parser("stack", help="the local stack on loopback: up | down | status")
    s.add_argument("action", choices=["up", "down", "status"])
    s.add_argument(
        "--workers", type=int, default=None, help="Faust workers (default SURGE_WORKERS)"
    )
    s.set_defaults(func=cmd_stack)

    g = sub.add_parser("simulate", help="generate NHS 111 traffic; produce it and/or write files")
    _simulate_args(g)
    g.set_defaults(func=cmd_simulate)

    d = sub.add_parser("demo", help="stack up, play the launch-day scenario, wait for Ctrl-C")
    d.add_argument("--workers", type=int, default=2)
    d.add_argument("--speed", type=float, default=120.0, help="event time per wall time")
    d.add_argument("--seed", type=int, default=2013)
    d.set_defaults(func=cmd_demo)

    b = sub.add_parser("baseline", help="learn referral baselines from normal generated weeks")
    b.add_argument("--weeks", type=int, default=2, help="normal weeks to learn from")
    b.add_argument("--start", default="2013-02-04T00:00:00+00:00", help="a Monday, ISO-8601")
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--out", type=Path, required=True, help="JSON for SURGE_REFERRAL_BASELINE")
    b.set_defaults(func=cmd_baseline)

    c = sub.add_parser(
        "scorecard", help="each provider against its standards per day/week/month: CSV and HTML"
    )
    _scorecard_args(c)
    c.set_defaults(func=cmd_scorecard)

    a = sub.add_parser("alert-sink", help="Alertmanager webhook receiver (the stack starts one)")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--out", type=Path, required=True)
    a.set_defaults(func=cmd_alert_sink)
    add_overflow_commands(sub)
    add_replay_commands(sub)
    return p


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


def _scorecard_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("--from", dest="from_", required=True, help="ISO-8601 instant with offset")
    c.add_argument("--to", required=True, help="ISO-8601 instant with offset (exclusive)")
    c.add_argument("--provider", help="one provider id (default: every provider)")
    c.add_argument("--period", choices=["day", "week", "month"], default="day",
                   help="Europe/London days, Monday-Sunday weeks or calendar months")  # fmt: skip
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="events as JSON lines (simulate --out)")
    source.add_argument("--topic", help="a call-events topic, read from its start")
    c.add_argument(
        "--baseline",
        type=Path,
        help="referral baselines (surge-monitor baseline); default SURGE_REFERRAL_BASELINE",
    )
    c.add_argument(
        "--callback-standard",
        type=float,
        help="share of clinical callbacks the contract wants made within 10 min, e.g. 0.9 "
        "(no national figure exists; without it the share is shown, not judged)",
    )
    c.add_argument("--out", type=Path, required=True, help="folder for scorecard.csv and .html")
    c.add_argument("--progress", action="store_true", help="show a progress bar")
    c.add_argument(
        "--jobs",
        type=jobs_arg,
        default=1,
        metavar="N",
        help="--file: replay the regions in N processes (default 1): the same scorecard, faster "
        "with N free cores",
    )
    overflow = c.add_mutually_exclusive_group()
    overflow.add_argument(
        "--overflow", type=Path, help="OverflowCommand records as JSON lines: adds overflow figures"
    )
    overflow.add_argument(
        "--overflow-topic",
        nargs="?",
        const="",
        metavar="TOPIC",
        help="read the OverflowCommands from the overflow topic (default SURGE_TOPIC_OVERFLOW)",
    )


def cmd_scorecard(args: argparse.Namespace, settings: Settings) -> int:
    from streams import scorecard

    try:
        standards = scorecard.commissioned_standards(args.callback_standard)
    except ValueError as exc:
        raise ConfigError(f"--callback-standard: {exc}") from None
    baseline = args.baseline or (
        Path(settings.referral_baseline) if settings.referral_baseline else None
    )
    request = scorecard.Request(
        from_s=instant(args.from_, "--from"),
        to_s=instant(args.to, "--to"),
        period=args.period,
        provider=args.provider,
        standards=standards,
        baseline_path=baseline,
    )
    catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    overflow_topic = args.overflow_topic
    if overflow_topic == "":  # --overflow-topic without a name
        overflow_topic = settings.topic_overflow
    result = scorecard.compute(
        request,
        settings,
        catalogue,
        file=args.file,
        topic=args.topic,
        progress=args.progress,
        overflow_file=args.overflow,
        overflow_topic=overflow_topic,
        jobs=args.jobs,
    )
    scorecard.write(result, catalogue, args.out)
    failing = sorted({f"{r.region}/{r.provider}" for r in result.rows if r.result == "fail"})
    below = sorted({f"{r.region}/{r.provider}" for r in result.rows if r.result == "warning"})
    log.info("scorecard_done", rows=len(result.rows), failing=failing, below_standard=below)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker  # Faust is heavy to import: only the worker needs it

    run_worker(settings)
    return 0


def cmd_stack(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "up":
        stack.up(settings)
        _print_where_to_look(settings)
    elif args.action == "down":
        stopped = stack.down(settings)
        log.info("stack_down", stopped=stopped)
    else:
        rows = stack.status(settings)
        for row in rows:
            log.info(
                "service_status",
                service=row.name,
                pid=row.pid,
                running=row.running,
                healthy=row.healthy,
                url=row.url,
            )
        return 0 if rows and all(r.healthy for r in rows) else 1
    return 0


def _scenario(args: argparse.Namespace) -> Any:
    from streams import simulate

    start_s = instant(args.start, "--start") // 60 * 60
    if args.hours <= 0:
        raise ConfigError("--hours must be > 0")
    duration = args.hours * 3600
    if args.scenario == "launch-day":
        return simulate.launch_day(
            start_s, duration, args.failure_after_hours * 3600, daily_calls=args.daily_calls
        )
    return simulate.normal(start_s, duration, daily_calls=args.daily_calls)


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from streams import play, simulate

    catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    events = simulate.generate(_scenario(args), catalogue, args.seed)
    log.info("simulate_generated", events=len(events), scenario=args.scenario, seed=args.seed)
    if args.out:
        play.write_jsonl(events, args.out)
        log.info("simulate_wrote_events", path=str(args.out))
    if args.truth:
        play.write_truth(simulate.ground_truth(events), args.truth)
        log.info("simulate_wrote_truth", path=str(args.truth))
    if not args.no_produce:
        play.produce(events, settings, speed=args.speed)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from streams import play, simulate

    settings = load_settings(workers=args.workers)
    stack.up(settings)
    _print_where_to_look(settings)
    sim = _parser().parse_args(["simulate", "--seed", str(args.seed)])
    events = simulate.generate(_scenario(sim), load_catalogue(None), args.seed)
    log.info("demo_playing", scenario="launch-day", events=len(events), speed=args.speed)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops the stack like Ctrl-C
    # And Ctrl-C itself, even when started with SIGINT ignored (a background job of a shell without
    # job control, as `nohup ... &` or a CI runner makes one), where Python leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        play.produce(events, settings, speed=args.speed)
        log.info("demo_played", hint="stack stays up; Ctrl-C or `make down` stops everything")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.down(settings)
    return 0


def _print_where_to_look(settings: Settings) -> None:
    prom = f"http://127.0.0.1:{settings.prometheus_port}"
    log.info(
        "stack_up",
        prometheus=prom,
        try_query=f"{prom}/graph?g0.expr=sum+by+(region,outcome)+(surge_calls_total)",
        alertmanager=f"http://127.0.0.1:{settings.alertmanager_port}/api/v2/alerts",
        alerts_received=f"http://127.0.0.1:{settings.alert_sink_port}/alerts",
        metrics=[f"http://127.0.0.1:{p}/metrics" for p in settings.worker_metrics_ports()],
        dead_letter_topic=settings.topic_dead_letter,
        logs=str(stack.stack_paths(settings).logs),
    )


def cmd_baseline(args: argparse.Namespace, settings: Settings) -> int:
    from streams import history, simulate

    start = instant(args.start, "--start") // 60 * 60
    if args.weeks < 1:
        raise ConfigError("--weeks must be at least 1")
    catalogue = load_catalogue(Path(settings.catalogue) if settings.catalogue else None)
    scenario = simulate.normal(start, args.weeks * 7 * 86400)
    events = simulate.generate(scenario, catalogue, args.seed)
    history.write_baselines(history.learn_baselines(events), args.out)
    return 0


def cmd_alert_sink(args: argparse.Namespace, settings: Settings) -> int:
    from streams.alert_sink import make_server

    server = make_server(args.host, args.port, args.out)
    log.info("alert_sink_listening", url=f"http://{args.host}:{args.port}/alerts")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
