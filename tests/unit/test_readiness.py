"""Readiness: the per-interval prediction (Erlang A, simulation, required, shortfall) and the
verdict taken on the alerts' own conditions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import erlang
from detectors import readiness as model
from detectors import readiness_verdict as judge
from detectors.queue_sim import Estimate, Interval95
from detectors.readiness import Interval, Prediction

T0 = 1_364_544_000  # 2013-03-29T08:00:00+00:00
FAST = model.Model(replications=4)


def interval(
    k: int = 0, calls: float = 120.0, rostered: int | None = 40, commissioned: int | None = 40,
    *, provider: str = "p", minutes: int = 30,
) -> Interval:  # fmt: skip
    return Interval("r", provider, T0 + k * 60 * minutes, minutes, calls, 480.0,
                    commissioned, rostered)  # fmt: skip


# --- the prediction -------------------------------------------------------------------------


def test_a_prediction_is_erlang_a_with_the_simulation_beside_it() -> None:
    """Erlang A's figures, the simulation's intervals and the requirement at 95 % in 60 s."""
    p = model.predict(interval(rostered=32), FAST)
    a = erlang.erlang_a(calls=120, interval_seconds=1800, aht_seconds=480, target_seconds=60,
                        agents=32, patience_seconds=300)  # fmt: skip
    assert (p.staffed, p.service_level, p.abandon_ratio) == (32, a.service_level, a.abandon_ratio)
    assert p.required == 36
    assert p.shortfall == 4
    assert p.simulation is not None
    assert p.simulation.replications == 4


@pytest.mark.parametrize(
    ("rostered", "shrinkage", "staffed"),
    [(40, 0.0, 40), (40, 0.3, 28), (41, 0.3, 28), (10, 0.25, 7), (None, 0.0, 0), (0, 0.5, 0)],
)
def test_staffed_is_the_rostered_less_the_shrinkage_rounded_down(
    rostered: int | None, shrinkage: float, staffed: int
) -> None:
    """A fraction of a handler answers no calls; no rota interval is nobody."""
    assert model.staffed(rostered, shrinkage) == staffed


def test_shrinkage_outside_a_share_is_refused() -> None:
    """Shrinkage of 1 or more leaves nobody by definition, below 0 invents handlers."""
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="shrinkage"):
            model.staffed(10, bad)


def test_nobody_staffed_answers_nobody() -> None:
    """With callers and no handler every caller hangs up; no model is run."""
    p = model.predict(interval(rostered=0), FAST)
    figures = (p.service_level, p.abandon_ratio, p.asa_seconds, p.simulation)
    assert figures == (None, 1.0, None, None)
    assert p.shortfall == p.required == 36


def test_the_prediction_does_not_depend_on_its_company() -> None:
    """An interval's simulation is seeded by its own key: alone or among others, the same."""
    alone = model.predict(interval(3), FAST)
    among = model.predict_all([interval(k) for k in range(5)], FAST)
    assert among[3] == alone
    assert among[2].simulation != alone.simulation


# --- the verdict ----------------------------------------------------------------------------


def made(
    k: int, sl: float | None, ab: float, *, calls: float = 60.0, staffed: int = 20,
    commissioned: int | None = None, required: int = 0, sim: Estimate | None = None,
    minutes: int = 15,
) -> Prediction:  # fmt: skip
    """A prediction with the figures given (no model run): a 15-minute interval k."""
    i = interval(k, calls, staffed, commissioned, minutes=minutes)
    return Prediction(i, staffed, sl, ab, 5.0, 0.1, sim, required, max(0, required - staffed))


def day(figures: list[tuple[float, float]], **kw: object) -> list[Prediction]:
    return [made(k, sl, ab, **kw) for k, (sl, ab) in enumerate(figures)]  # type: ignore[arg-type]


HEALTHY = (0.96, 0.01)
LOW = (0.70, 0.05)  # under the 85 % warning, abandonment under 8 %


def test_a_healthy_day_is_go() -> None:
    """Predicted figures at the standard all day: go, nothing named."""
    v = judge.verdict("r", day([HEALTHY] * 16), judge.Rules())
    assert (v.verdict, v.stretches, v.no_go_hours) == (judge.GO, (), ())


def test_a_service_level_under_the_warning_for_the_alerts_for_is_no_go() -> None:
    """70 % from 09:00 to 11:00 after 96 %: the 60-minute window falls under 85 % once 26 of its
    minutes are low (09:25) and the 15-minute window is back at 85 % at 11:08; held over 30
    minutes, so it pages: no-go, naming the hours the condition holds in."""
    v = judge.verdict("r", day([HEALTHY] * 4 + [LOW] * 8 + [HEALTHY] * 4), judge.Rules())
    assert v.verdict == judge.NO_GO
    (s,) = v.stretches
    assert s.alert == "ServiceLevelBelowStandard"
    assert s.pages
    assert (s.from_s, s.to_s) == (T0 + 85 * 60, T0 + 188 * 60)
    assert v.no_go_hours == (T0 + 3600, T0 + 7200, T0 + 10800)


def test_a_dip_shorter_than_the_for_is_at_risk() -> None:
    """Under 85 % for half an hour: the 60-minute window dips under for less than 30 minutes:
    seen, not paged."""
    v = judge.verdict("r", day([HEALTHY] * 4 + [LOW] * 2 + [HEALTHY] * 4), judge.Rules())
    assert v.verdict == judge.AT_RISK
    assert v.no_go_hours == ()
    assert v.at_risk_hours == (T0 + 3600,)
    assert not v.stretches[0].pages


def test_too_few_callers_never_page_on_a_share() -> None:
    """Under 60 callers an hour a low service level is not a page (the alert's minimum)."""
    v = judge.verdict("r", day([LOW] * 16, calls=14.0), judge.Rules())
    assert v.verdict == judge.GO


def test_abandonment_over_the_warning_pages() -> None:
    """Over 8 % abandoned in both windows for 30 minutes: AbandonmentAboveStandard, no-go."""
    v = judge.verdict("r", day([(0.9, 0.12)] * 12), judge.Rules())
    assert {s.alert for s in v.stretches} == {"AbandonmentAboveStandard"}
    assert v.verdict == judge.NO_GO


@pytest.mark.parametrize(
    ("staffed", "verdict"), [(20, judge.GO), (18, judge.GO), (17, judge.NO_GO), (10, judge.NO_GO)]
)
def test_staffed_under_commissioned_pages_as_the_staffing_alert(staffed: int, verdict: str) -> None:
    """Under 90 % of 20 commissioned and at least 2 short for 15 minutes pages (18 is 90 %)."""
    preds = [made(k, *HEALTHY, staffed=staffed, commissioned=20) for k in range(4)]
    v = judge.verdict("r", preds, judge.Rules())
    assert v.verdict == verdict
    if verdict == judge.NO_GO:
        assert {s.alert for s in v.stretches} == {"StaffingBelowCommissioned"}


def test_one_short_of_required_is_not_a_page() -> None:
    """One handler under the requirement is within the alert's minimum of two short."""
    preds = [made(k, *HEALTHY, staffed=9, required=10) for k in range(8)]
    assert judge.verdict("r", preds, judge.Rules()).verdict == judge.GO
    preds = [made(k, *HEALTHY, staffed=8, required=10) for k in range(8)]
    assert judge.verdict("r", preds, judge.Rules()).verdict == judge.NO_GO


def test_the_simulations_pessimistic_end_makes_a_region_at_risk() -> None:
    """Erlang A at 90 % but the simulation's interval reaching down to 70 %: at risk."""
    sim = Estimate(Interval95(0.85, 0.70, 0.95, 4), Interval95(0.02, 0.0, 0.04, 4), None, None, 4)
    v = judge.verdict("r", day([(0.9, 0.02)] * 12, sim=sim), judge.Rules())
    assert v.verdict == judge.AT_RISK
    assert all(s.pessimistic and s.pages for s in v.stretches)
    assert v.no_go_hours == ()


def test_providers_are_summed_into_their_region() -> None:
    """A small provider collapsing beside a big healthy one is weighed by its callers."""
    big = [made(k, *HEALTHY, calls=200.0) for k in range(12)]
    thin = [interval(k, 10.0, 1, None, provider="q", minutes=15) for k in range(12)]
    small = [Prediction(i, 1, 0.3, 0.05, 9.0, 0.9, None, 0, 0) for i in thin]
    assert judge.verdict("r", big + small, judge.Rules()).verdict == judge.GO
    assert judge.verdict("r", small, judge.Rules()).verdict == judge.GO  # too few calls


@given(
    st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1, max_size=24),
    st.floats(0.0, 0.5),
)
@settings(max_examples=60, deadline=None)
def test_a_better_service_level_is_never_judged_worse(
    figures: list[tuple[float, float]], lift: float
) -> None:
    """Raising every interval's service level (abandonment as it was) never makes the verdict
    worse. (Lowering abandonment alone can: more of a bad interval's callers get answered.)"""
    order = {judge.GO: 0, judge.AT_RISK: 1, judge.NO_GO: 2}
    before = judge.verdict("r", day(figures, calls=90.0), judge.Rules()).verdict
    better = [(min(1.0, sl + lift), ab) for sl, ab in figures]
    after = judge.verdict("r", day(better, calls=90.0), judge.Rules()).verdict
    assert order[after] <= order[before]
