"""`surge-monitor scorecard`: each provider against its commissioned standards, as CSV and HTML.

The events are replayed through the live path (streams.offline.replay: the same validation, windows
and in-stream alerts as a worker), each (region, provider, minute)'s final counts are scored by
detectors.scorecard, and the rows are written as `scorecard.csv` (one row per provider, region
and period) and `scorecard.html`, a single self-contained file (inline CSS, plots as base64 PNG)
that can be mailed to a commissioner and opened offline. Optionally the OverflowCommands of the
range (a JSON-lines file of the records, or the overflow topic) add each region's overflow
activations, minutes under overflow and who started them
(detectors.scorecard_overflow.overflow_episodes).

Staff-hours (detectors.staff_hours): with agent states in the replayed events, the hours each
provider's agents were staffed (ready, on a call, in wrap-up) per role and period, and with a rota
(`--rota FILE.csv`, the CSV of `surge-monitor rota publish`) the rostered and commissioned hours
against them. They are `Scorecard.staff_hours`, one per (region, provider, role, period), which
the report joins onto the provider's row as `<role>_staff_hours`, `<role>_rostered_hours`,
`<role>_commissioned_hours`, `<role>_delivered_ratio` (delivered / commissioned) and
`<role>_delivered_rostered_ratio` (delivered / rostered). Without agent states the delivered
figures are unknown (empty), without a rota the planned ones, and the report says which.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog

from detectors import baseline, staff_hours
from detectors import scorecard as card
from detectors.scorecard import Row
from detectors.scorecard_grades import Standards
from detectors.scorecard_overflow import OverflowCommand
from detectors.staff_hours import StaffHours
from streams.contract.catalogue import Catalogue
from streams.contract.errors import ConfigError
from streams.contract.records import InvalidEvent, parse_ts
from streams.contract.rota import RotaInterval
from streams.contract.settings import Settings
from streams.contract.thresholds import THRESHOLDS
from streams.offline.replay import replay_file, replay_topic
from streams.offline.replayer import MinuteRow, ReplayResult

log = structlog.get_logger(__name__)


def commissioned_standards(callback_within_target_min: float | None = None) -> Standards:
    """The standards, failing where the alert rules page (one source for both)."""
    t = THRESHOLDS
    return Standards(
        service_level_min=t.service_level_standard,
        service_level_fail_below=t.service_level_warning,
        abandon_rate_max=t.abandon_standard,
        abandon_rate_fail_at=t.abandon_warning,
        callback_within_target_min=callback_within_target_min,
        referral_z_max=t.referral_spike_warning,
    )


@dataclass(frozen=True, slots=True)
class Request:
    """What to score: the range, the period, optionally one provider, and the standards."""

    from_s: float
    to_s: float
    period: str = "day"
    provider: str | None = None
    standards: Standards = field(default_factory=commissioned_standards)
    baseline_path: Path | None = None  # `surge-monitor baseline` JSON; None: no referral check


@dataclass(frozen=True, slots=True)
class Scorecard:
    request: Request
    rows: list[Row]
    source: str  # the file or topic replayed
    counts: Counter[str]  # the replay's event results (ok, late, duplicate, invalid:...)
    overflow_source: str | None = None  # where the OverflowCommands came from; None: not given
    # per (region, provider, role, period); empty when neither agent states nor a rota were given
    staff_hours: list[StaffHours] = field(default_factory=list)
    agent_states: bool = False  # the replay applied agent-state events (delivered is known)
    rota_source: str | None = None  # the rota file; None: none given (planned hours unknown)


def compute(
    request: Request,
    settings: Settings,
    catalogue: Catalogue,
    *,
    file: Path | None = None,
    topic: str | None = None,
    progress: bool = False,
    overflow_file: Path | None = None,
    overflow_topic: str | None = None,
    jobs: int = 1,
    rota: Sequence[RotaInterval] | None = None,
    rota_source: str | None = None,
) -> Scorecard:
    """Replay `file` (JSON lines of `surge-monitor simulate --out`) or all of `topic`, and score.

    A topic is read from its start: Kafka's timestamps are when events were produced, which for
    a replayed history is not when they happened; the range applies to event time. The overflow
    commands (`overflow_file` or all of `overflow_topic`, at most one) are read whole too.
    `jobs` > 1 replays a file's regions in that many processes (streams.offline.replay.replay_file).
    `rota`: the intervals of a rota file (`rota_source` names it) for the staff-hours.
    """
    if (file is None) == (topic is None):
        raise ConfigError("give exactly one of --file or --topic")
    if overflow_file is not None and overflow_topic is not None:
        raise ConfigError("give at most one of --overflow or --overflow-topic")
    if not request.from_s < request.to_s:
        raise ConfigError("--from must be before --to")
    if topic is not None and jobs != 1:
        raise ConfigError("--jobs splits a file's replay; a topic is replayed in one process")
    acc = card.Accumulator(request.from_s, request.to_s)

    def on_minute(row: MinuteRow) -> None:
        if request.provider is None or row.provider == request.provider:
            card.add_minute(acc, row.region, row.provider, row.minute, row.bucket)

    result: ReplayResult
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"--file {file} does not exist")
        result = replay_file(
            file, settings, catalogue, on_minute=on_minute, progress=progress, jobs=jobs
        )
        source = str(file)
    else:
        assert topic is not None
        result = replay_topic(settings, catalogue, topic, on_minute=on_minute, progress=progress)
        source = f"topic {topic}"
    overflow: list[OverflowCommand] | None = None
    overflow_source = None
    if overflow_file is not None:
        overflow, overflow_source = load_overflow(overflow_file)
    elif overflow_topic is not None:
        overflow, overflow_source = read_overflow_topic(settings, overflow_topic)
    rows = card.build(
        acc,
        period=request.period,
        standards=request.standards,
        alerts=result.alerts,
        baselines=load_baselines(request.baseline_path) if request.baseline_path else None,
        overflow=overflow,
    )
    if request.provider is not None and not rows:
        known = sorted({p.id for r in catalogue.regions for p in r.providers})
        if request.provider not in known:
            raise ConfigError(f"--provider {request.provider!r} is not one of {known}")
    staff = staff_figures(request, result, rota)
    return Scorecard(
        request,
        rows,
        source,
        result.counts,
        overflow_source,
        staff_hours=staff,
        agent_states=bool(result.staffing),
        rota_source=None if rota is None else (rota_source or "the rota given"),
    )


def staff_figures(
    request: Request, result: ReplayResult, rota: Sequence[RotaInterval] | None
) -> list[StaffHours]:
    """The staff-hours rows of the request's providers: delivered for every (region, provider,
    role) that sent an agent state in the replay, planned for those of the rota."""
    reporting: set[staff_hours.Group] = set()
    for region, view in result.staffing.items():
        reporting |= {(region, p, r) for p, r, _, _ in view.agents}
        reporting |= {(region, p, r) for p, r, _, _ in view.seconds}
    rows = staff_hours.build(
        result.staff_seconds,
        reporting=reporting,
        rota=rota,
        from_s=request.from_s,
        to_s=request.to_s,
        period=request.period,
    )
    return [r for r in rows if request.provider in (None, r.provider)]


def overflow_command(doc: object) -> OverflowCommand:
    """The scorecard's fields of an OverflowCommand record (DESIGN.md); ValueError says what is
    wrong with it."""
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    try:
        command_id, region, issued_by = doc["command_id"], doc["region"], doc["issued_by"]
        action, target = doc["action"], doc.get("target")
        issued_at_s, expires_at_s = parse_ts(doc["issued_at"]), parse_ts(doc["expires_at"])
    except KeyError as exc:
        raise ValueError(f"no {exc.args[0]!r} field") from None
    except InvalidEvent as exc:
        raise ValueError(exc.detail) from None
    texts = (command_id, region, issued_by)
    if not all(isinstance(x, str) and x for x in texts) or not isinstance(target, str | None):
        raise ValueError("command_id, region and issued_by must be strings, target one or null")
    if action not in ("activate", "adjust", "deactivate"):
        raise ValueError(f"action {action!r} is not activate, adjust or deactivate")
    if expires_at_s < issued_at_s:
        raise ValueError("expires_at is before issued_at")
    return OverflowCommand(command_id, region, action, target, issued_at_s, expires_at_s, issued_by)


def parse_overflow(docs: Iterable[object], source: str) -> tuple[list[OverflowCommand], str]:
    """The valid commands of `docs`, and a description of the source for the report; a record
    that is not an OverflowCommand is skipped and logged (one bad record should not cost the
    whole scorecard its overflow figures)."""
    commands: list[OverflowCommand] = []
    skipped = 0
    for i, doc in enumerate(docs, 1):
        try:
            commands.append(overflow_command(doc))
        except ValueError as exc:
            skipped += 1
            log.warning("scorecard_overflow_skipped", source=source, record=i, error=str(exc))
    note = f"{source}: {len(commands)} commands" + (f", {skipped} skipped" if skipped else "")
    return commands, note


def load_overflow(path: Path) -> tuple[list[OverflowCommand], str]:
    """OverflowCommand records from a JSON-lines file (one record a line, as on the topic)."""
    if not path.is_file():
        raise ConfigError(f"--overflow {path} does not exist")

    def docs() -> Iterable[object]:
        with path.open("rb") as f:
            for line in f:
                if line.strip():
                    try:
                        yield orjson.loads(line)
                    except orjson.JSONDecodeError:
                        yield None  # counted as skipped

    return parse_overflow(docs(), f"file {path}")


def read_overflow_topic(settings: Settings, topic: str) -> tuple[list[OverflowCommand], str]:
    """Every OverflowCommand on `topic` (the overflow topic), read from its start."""
    from streams.contract.kafka_io import read_topic  # kafka-python: only when asked for

    try:
        docs = read_topic(settings, topic, timeout_s=60.0)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"topic {topic!r} holds a record that is not JSON ({exc})") from None
    return parse_overflow(docs, f"topic {topic}")


def load_baselines(path: Path) -> dict[str, dict[str, baseline.State]]:
    """The referral baselines per region and kind, from `surge-monitor baseline --out`."""
    try:
        doc: dict[str, dict[str, Any]] = orjson.loads(path.read_bytes())
        return {
            region: {kind: baseline.from_json(state) for kind, state in kinds.items()}
            for region, kinds in doc.items()
        }
    except (OSError, orjson.JSONDecodeError, ValueError, KeyError, AttributeError) as exc:
        raise ConfigError(
            f"--baseline {path} is not a baseline file ({exc}); make one with "
            "`surge-monitor baseline --out FILE`"
        ) from exc


# --- CSV ----------------------------------------------------------------------------------------


# --- HTML ---------------------------------------------------------------------------------------
