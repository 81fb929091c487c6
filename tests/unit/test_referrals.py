"""Referral spikes: quarter-hour referral counts against the hour-of-week rate times triage."""

from __future__ import annotations

import json

from detectors import baseline, referrals, windows
from detectors.windows import CallObs, WindowConfig, closed_minute

MONDAY_2013_03_04 = 1362355200  # 00:00 UTC = 00:00 Europe/London (GMT)
CONFIG = WindowConfig()


def warm(rate: float, triaged: float) -> referrals.ReferralState:
    """A baseline that expects `triaged` dispositions a quarter-hour, `rate` of them ambulance."""
    weeks = [
        (MONDAY_2013_03_04 - 7 * 86400 * (w + 1) + q * 900) for w in range(2) for q in range(96 * 7)
    ]
    counts = {
        "all": [(t, triaged) for t in sorted(weeks)],
        "ambulance": [(t, rate * triaged) for t in sorted(weeks)],
        "ed": [(t, 0.08 * triaged) for t in sorted(weeks)],
    }
    return referrals.ReferralState(baselines=referrals.warm_start(counts))


def quarter(state: windows.RegionState, start: int, ambulance: int, other: int) -> None:
    for i in range(ambulance + other):
        kind = "ambulance" if i < ambulance else "self_care"
        windows.apply(
            state, CallObs(f"c{start}-{i}", "disposition", start + i, "p", disposition=kind), CONFIG
        )


Spikes = tuple[tuple[str, float | None, float, bool], ...]


def run(quarters: list[tuple[int, int]], spikes: referrals.ReferralState) -> list[Spikes]:
    w = windows.initial()
    seen = []
    for n, (amb, other) in enumerate(quarters):
        quarter(w, MONDAY_2013_03_04 + 900 * n, amb, other)
    # Move the watermark past the last quarter-hour so every one of them closes.
    windows.apply(
        w, CallObs("tick", "offered", MONDAY_2013_03_04 + 900 * len(quarters) + 300, "p"), CONFIG
    )
    referrals.step(spikes, w, closed_minute(w, CONFIG))
    seen.append(referrals.spikes(spikes))
    return seen


def test_a_normal_quarter_hour_scores_near_zero_and_does_not_alarm() -> None:
    """10 ambulance of 100 triaged against a 10 % rate: expected 10, no spike."""
    spikes = warm(0.10, 100.0)
    [(amb, _ed)] = [run([(10, 90)], spikes)[0]]
    kind, expected, score, alarmed = amb
    assert kind == "ambulance"
    assert expected == 10.0
    assert score == 0.0 and not alarmed


def test_a_tripled_referral_rate_alarms_and_is_not_learned() -> None:
    """30 of 100 against 10 %: CUSUM 30 ln 2 - 10 = 10.8 nats >= 5.5 alarms; baseline unchanged."""
    spikes = warm(0.10, 100.0)
    before = baseline.to_json(spikes.baselines["ambulance"])
    [(amb, _ed)] = [run([(30, 70)], spikes)[0]]
    _, _, score, alarmed = amb
    assert alarmed and score > 3
    assert baseline.to_json(spikes.baselines["ambulance"]) == before


def test_fewer_calls_triaged_lower_the_expected_count() -> None:
    """A service triaging half its calls expects half the referrals: the rate is what is tested."""
    spikes = warm(0.10, 100.0)
    [(amb, _ed)] = [run([(5, 45)], spikes)[0]]
    assert amb[1] == 5.0 and not amb[3]


def test_without_a_baseline_nothing_is_expected_or_alarmed() -> None:
    """A cold start exports no expected value and a neutral score."""
    [(amb, _ed)] = [run([(30, 70)], referrals.ReferralState())[0]]
    assert amb[1] is None and amb[2] == 0.0 and not amb[3]


def test_state_round_trips_through_json() -> None:
    """to_json then from_json gives back an equal state."""
    spikes = warm(0.10, 100.0)
    run([(12, 88), (30, 70)], spikes)
    assert referrals.from_json(json.loads(json.dumps(referrals.to_json(spikes)))) == spikes
