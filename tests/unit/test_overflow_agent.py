"""The overflow agent's core (streams.overflow.Policy): status and requests in, commands out."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import orjson
import pytest
import structlog

from detectors import windows
from detectors.answer_rates import region_status, region_view
from detectors.windows import WindowConfig
from streams.contract.catalogue import default_catalogue
from streams.contract.records import format_ts
from streams.overflow.policy import Policy, command_json, latest_commands
from streams.overflow.requests import OverflowRequestError, parse_request

CATALOGUE = default_catalogue()
NEIGHBOURS = {r.code: r.neighbours for r in CATALOGUE.regions}
T0 = 1_364_544_000.0
MIN = 60.0
JO = {"operator": "jo"}
FIELDS = {
    "command_id", "region", "action", "target", "share", "reason", "issued_at", "expires_at",
    "issued_by", "acknowledged_by",
}  # fmt: skip


def status(
    region: str,
    sl: float | None,
    at_s: float,
    waiting: int = 0,
    forecast_s: float | None = None,
) -> dict[str, Any]:
    """A region status record as streams.live.answer_rates publishes it (3 calls a minute)."""
    return {
        "region": region,
        "watermark_s": at_s,
        "calls_waiting": waiting,
        "longest_wait_seconds": None,
        "breach_forecast_seconds": forecast_s,
        "service_level_15m": sl,
        "service_level_60m": sl,
        "abandon_rate_15m": None,
        "offered_15m": 45,
        "offered_60m": 180,
    }


def minute(policy: Policy, at_s: float, failing: dict[str, float]) -> list[dict[str, Any]]:
    """Every region reports once: the failing ones at their level, the rest at 99 %."""
    out: list[dict[str, Any]] = []
    for region in sorted(NEIGHBOURS):
        out += policy.on_status(status(region, failing.get(region, 0.99), at_s))
    return out


def run(policy: Policy, minutes: range, failing: dict[str, float]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in minutes:
        out += minute(policy, T0 + m * MIN, failing)
    return out


def test_a_sustained_breach_activates_once_to_a_healthy_neighbour() -> None:
    """15 min below 75 % activates the first fit neighbour, as a complete OverflowCommand."""
    policy = Policy(NEIGHBOURS)
    with structlog.testing.capture_logs() as logs:
        commands = run(policy, range(30), {"north-west": 0.5})
    assert [(c["region"], c["action"], c["target"]) for c in commands] == [
        ("north-west", "activate", "yorkshire")
    ]
    (cmd,) = commands
    assert set(cmd) == FIELDS
    assert cmd["issued_by"] == "auto" and cmd["acknowledged_by"] is None
    assert cmd["issued_at"] == format_ts(T0 + 15 * MIN)
    assert cmd["expires_at"] == format_ts(T0 + 75 * MIN)
    assert [e["command_id"] for e in logs if e["event"] == "overflow_command"] == ["north-west:1"]
    assert policy.active()[("north-west", "yorkshire")] == 1.0
    assert policy.active()[("west-midlands", "east-midlands")] == 0.0


def test_the_checkpoint_restores_mid_timer() -> None:
    """A policy restored from its checkpoint mid-breach decides exactly as the uninterrupted one."""
    straight, interrupted = Policy(NEIGHBOURS), Policy(NEIGHBOURS)
    run(straight, range(10), {"north-west": 0.5})
    run(interrupted, range(10), {"north-west": 0.5})
    restored = Policy(NEIGHBOURS)
    restored.restore(json.loads(json.dumps(interrupted.to_json())))
    assert run(restored, range(10, 60), {"north-west": 0.5}) == run(
        straight, range(10, 60), {"north-west": 0.5}
    )


def test_an_operator_activate_is_published_and_wins_until_it_expires() -> None:
    """An operator's activate becomes a command by operator:<id>, expiring on the event clock,
    and the policy leaves the region alone until then."""
    policy = Policy(NEIGHBOURS)
    run(policy, range(5), {})
    req = parse_request(
        {"action": "activate", "region": "london", "target": "south-east", "share": 0.2,
         "ttl_seconds": 1800, "operator": "jo", "request_id": "abc"},
        CATALOGUE,
    )  # fmt: skip
    (cmd,) = policy.on_request(req)
    assert cmd["command_id"] == "london:operator:abc"
    assert (cmd["action"], cmd["target"], cmd["share"]) == ("activate", "south-east", 0.2)
    assert cmd["issued_by"] == "operator:jo"
    assert cmd["issued_at"] == format_ts(T0 + 4 * MIN)
    assert cmd["expires_at"] == format_ts(T0 + 34 * MIN)
    assert policy.active()[("london", "south-east")] == 1.0
    # London is healthy: the policy issues nothing for it while the override holds ...
    assert [c for c in run(policy, range(5, 34), {}) if c["region"] == "london"] == []
    # ... then resumes from the operator's choice (re-issued as an auto adjust).
    after = [c for c in run(policy, range(34, 36), {}) if c["region"] == "london"]
    assert [(c["action"], c["issued_by"]) for c in after] == [("adjust", "auto")]


def test_a_request_before_any_status_is_rejected() -> None:
    """With no event time yet there is no clock for the TTL: the request is logged, not acted on."""
    policy = Policy(NEIGHBOURS)
    req = parse_request({"action": "deactivate", "region": "london", "operator": "jo"}, CATALOGUE)
    with structlog.testing.capture_logs() as logs:
        assert policy.on_request(req) == []
    assert [e["event"] for e in logs] == ["overflow_request_rejected"]


def test_ack_republishes_the_current_command_with_acknowledged_by() -> None:
    """An ack republishes the region's current command with acknowledged_by; others are refused."""
    policy = Policy(NEIGHBOURS)
    (cmd,) = run(policy, range(20), {"north-west": 0.5})
    ack = {"action": "ack", "command_id": cmd["command_id"], "operator": "sam"}
    (acked,) = policy.on_request(parse_request(ack, CATALOGUE))
    assert acked == {**cmd, "acknowledged_by": "operator:sam"}
    unknown = {**ack, "command_id": "north-west:99"}
    assert policy.on_request(parse_request(unknown, CATALOGUE)) == []
    assert latest_commands([cmd, acked])["north-west"]["acknowledged_by"] == "operator:sam"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"action": "explode", "operator": "jo"}, "action"),
        ({"action": "activate", "region": "london", "target": "london", **JO}, "target"),
        ({"action": "activate", "region": "atlantis", "target": "london", **JO}, "region"),
        ({"action": "activate", "region": "london", "target": "south-east"}, "operator"),
        ({"action": "activate", "region": "london", "target": "south-east", "operator": "jo",
          "share": 1.5}, "share"),
        ({"action": "deactivate", "region": "london", "operator": "jo", "ttl_seconds": 0}, "ttl"),
        ({"action": "deactivate", "region": "london", "operator": "jo", "ttl_seconds": "1h"},
         "ttl_seconds"),
        ({"action": "ack", "operator": "jo"}, "command_id"),
        ({"action": "ack", "operator": "jo", "command_id": "x", "colour": "red"}, "unknown"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_with_a_reason(doc: dict[str, Any], message: str) -> None:
    """Each malformed request is refused with a message naming what to fix."""
    with pytest.raises(OverflowRequestError, match=message):
        parse_request(doc, CATALOGUE)


def test_command_json_has_the_design_fields() -> None:
    """An OverflowCommand record carries exactly the fields of DESIGN.md."""
    from detectors.overflow_records import Command

    doc = command_json(Command("a:1", "a", "deactivate", "b", 0.0, "why", T0, T0 + 60))
    assert set(doc) == FIELDS


def test_a_region_is_decided_on_its_own_clock_with_the_others_as_they_were() -> None:
    """A neighbour whose figures arrive hours ahead is judged as it was at the deciding region's
    event time: North West, failing at 08:00-08:30, goes to Yorkshire (fit then, strained
    later), and its breach is timed on its own clock, not the newest one."""
    policy = Policy(NEIGHBOURS)
    for m in range(180):  # every region but North West reports three hours first
        for region in sorted(NEIGHBOURS):
            level = 0.85 if region == "yorkshire" and m >= 60 else 0.99
            if region != "north-west":
                assert policy.on_status(status(region, level, T0 + m * MIN)) == []
    commands: list[dict[str, Any]] = []
    for m in range(30):
        commands += policy.on_status(status("north-west", 0.5, T0 + m * MIN))
    assert [(c["region"], c["action"], c["target"], c["issued_at"]) for c in commands] == [
        ("north-west", "activate", "yorkshire", format_ts(T0 + 15 * MIN))
    ]


def test_region_status_carries_the_forecast_with_null_for_none() -> None:
    """The status record has the view's breach forecast; +inf, no forecast and a region warming up
    (under an hour of history) are all null, so the record is plain JSON."""
    view = replace(region_view(windows.initial(), WindowConfig()), history_minutes=60)
    cases = [(view, 420.0, 420.0), (view, 0.0, 0.0), (view, math.inf, None), (view, None, None)]
    cases.append((replace(view, history_minutes=59), 420.0, None))
    for v, forecast_s, published in cases:
        doc = region_status(replace(v, breach_forecast_seconds=forecast_s))
        assert doc["breach_forecast_seconds"] == published
        assert orjson.loads(orjson.dumps(doc)) == doc


def test_a_confident_forecast_in_the_status_activates_before_any_breach() -> None:
    """North West at 90 % (no breach of 75 %) with a breach forecast in 5 minutes and a standing
    queue activates after 15 minutes; the same figures without a forecast never do."""
    forecast, plain = Policy(NEIGHBOURS), Policy(NEIGHBOURS)
    early: list[dict[str, Any]] = []
    for m in range(40):
        at = T0 + m * MIN
        for region in sorted(NEIGHBOURS):
            if region == "north-west":
                early += forecast.on_status(status(region, 0.9, at, waiting=8, forecast_s=300.0))
                assert plain.on_status(status(region, 0.9, at, waiting=8)) == []
            else:
                early += forecast.on_status(status(region, 0.99, at))
                plain.on_status(status(region, 0.99, at))
    assert [(c["region"], c["action"], c["target"], c["issued_at"]) for c in early] == [
        ("north-west", "activate", "yorkshire", format_ts(T0 + 15 * MIN))
    ]
    assert "forecast to breach in 5 min" in early[0]["reason"]


def test_a_neighbour_forecast_to_breach_is_not_the_target() -> None:
    """Yorkshire, North West's first choice, answers well but is forecast to breach: skipped."""
    policy = Policy(NEIGHBOURS)
    commands: list[dict[str, Any]] = []
    for m in range(20):
        at = T0 + m * MIN
        for region in sorted(NEIGHBOURS):
            sl, forecast_s = {"north-west": (0.5, 0.0), "yorkshire": (0.99, 600.0)}.get(
                region, (0.99, None)
            )
            commands += policy.on_status(status(region, sl, at, forecast_s=forecast_s))
    (cmd,) = commands
    assert cmd["region"] == "north-west" and cmd["target"] not in ("yorkshire", None)
    assert cmd["target"] in NEIGHBOURS["north-west"]


def test_a_checkpoint_saved_before_the_forecast_restores() -> None:
    """History snapshots of four fields (saved before the forecast was read) restore, and the
    policy carries on as one that was never interrupted."""
    straight, interrupted = Policy(NEIGHBOURS), Policy(NEIGHBOURS)
    run(straight, range(10), {"north-west": 0.5})
    run(interrupted, range(10), {"north-west": 0.5})
    doc = json.loads(json.dumps(interrupted.to_json()))
    doc["history"] = {r: [snap[:4] for snap in h] for r, h in doc["history"].items()}
    restored = Policy(NEIGHBOURS)
    restored.restore(doc)
    assert run(restored, range(10, 60), {"north-west": 0.5}) == run(
        straight, range(10, 60), {"north-west": 0.5}
    )
