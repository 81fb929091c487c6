"""The rota index: the plan covering an instant, the latest record per key, None outside."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.rota import Planned, RotaIndex
from streams.contract.rota import RotaInterval

T0 = 1364544000  # 2013-03-29T08:00:00+00:00
NW = ("north-west", "nhs-direct")


def iv(
    start_s: int,
    minutes: int = 30,
    commissioned: int = 10,
    rostered: int = 9,
    *,
    role: str = "health_adviser",
    where: tuple[str, str] = NW,
) -> RotaInterval:
    return RotaInterval(where[0], where[1], role, start_s, minutes, commissioned, rostered)


DAY = [iv(T0 + 1800 * k, commissioned=10 + k, rostered=9 + k) for k in range(4)]  # 08:00-10:00


@pytest.mark.parametrize(
    ("ts_s", "expected"),
    [
        (T0 - 0.001, None),  # before the first interval
        (T0, Planned(10, 9, T0, T0 + 1800)),  # the start is inside
        (T0 + 1799.999, Planned(10, 9, T0, T0 + 1800)),
        (T0 + 1800, Planned(11, 10, T0 + 1800, T0 + 3600)),  # the end is the next one's
        (T0 + 7199, Planned(13, 12, T0 + 5400, T0 + 7200)),
        (T0 + 7200, None),  # after the last
    ],
)
def test_the_interval_containing_the_instant_answers(ts_s: float, expected: Planned) -> None:
    """[start, start + minutes) holds the instant; outside every interval there is no plan."""
    assert RotaIndex(DAY).lookup("north-west", "nhs-direct", "health_adviser", ts_s) == expected


@pytest.mark.parametrize(
    ("region", "provider", "role"),
    [
        ("london", "nhs-direct", "health_adviser"),
        ("north-west", "lcw", "health_adviser"),
        ("north-west", "nhs-direct", "clinician"),
    ],
)
def test_another_region_provider_or_role_has_no_plan(region: str, provider: str, role: str) -> None:
    """An interval answers only for its own region, provider and role."""
    assert RotaIndex(DAY).lookup(region, provider, role, T0 + 60) is None


def test_a_gap_between_intervals_has_no_plan() -> None:
    """Between two intervals that do not touch, None: a missing rota is not zero handlers."""
    index = RotaIndex([iv(T0, 15), iv(T0 + 3600, 15)])
    assert index.lookup(*NW, "health_adviser", T0 + 1800) is None
    assert index.lookup(*NW, "health_adviser", T0 + 3600) == Planned(10, 9, T0 + 3600, T0 + 4500)


def test_a_republished_interval_replaces_the_old_one() -> None:
    """The latest record for a key wins, its length included."""
    index = RotaIndex([iv(T0, 60, 10, 9), iv(T0, 30, 12, 4)])
    assert len(index) == 1
    assert index.lookup(*NW, "health_adviser", T0 + 60) == Planned(12, 4, T0, T0 + 1800)
    assert index.lookup(*NW, "health_adviser", T0 + 2400) is None  # the 60 min are gone
    later = index.updated([iv(T0, 60, 20, 19)])
    assert later.lookup(*NW, "health_adviser", T0 + 2400) == Planned(20, 19, T0, T0 + 3600)
    assert index.lookup(*NW, "health_adviser", T0 + 60) == Planned(12, 4, T0, T0 + 1800)  # as was


def test_of_overlapping_intervals_the_one_starting_last_answers() -> None:
    """Two publications that overlap: the covering interval that starts last answers."""
    index = RotaIndex([iv(T0, 60, 10, 10), iv(T0 + 900, 15, 3, 3)])
    assert index.lookup(*NW, "health_adviser", T0 + 1000) == Planned(3, 3, T0 + 900, T0 + 1800)
    # past the short one's end, the long one still covers the instant
    assert index.lookup(*NW, "health_adviser", T0 + 2000) == Planned(10, 10, T0, T0 + 3600)


# --- properties ------------------------------------------------------------------------------

entries = st.lists(
    st.builds(
        iv,
        start_s=st.integers(0, 12).map(lambda k: T0 + 900 * k),
        minutes=st.sampled_from([15, 30, 60]),
        commissioned=st.integers(0, 50),
        rostered=st.integers(0, 50),
        role=st.sampled_from(["health_adviser", "clinician"]),
        where=st.sampled_from([NW, ("london", "lcw")]),
    ),
    max_size=40,
)
instants = st.one_of(
    st.floats(T0 - 3600, T0 + 8 * 3600, allow_nan=False),
    st.integers(-4, 40).map(lambda k: float(T0 + 900 * k)),  # exactly on boundaries
)
GROUPS = [(*w, r) for w in (NW, ("london", "lcw")) for r in ("health_adviser", "clinician")]
groups = st.sampled_from(GROUPS)


def brute_force(
    items: list[RotaInterval], group: tuple[str, str, str], ts_s: float
) -> Planned | None:
    latest: dict[str, RotaInterval] = {}
    for item in items:
        latest[item.key] = item
    covering = [
        i
        for i in latest.values()
        if (i.region, i.provider, i.role) == group and i.start_s <= ts_s < i.end_s
    ]
    if not covering:
        return None
    best = max(covering, key=lambda i: i.start_s)
    return Planned(best.commissioned, best.rostered, best.start_s, best.end_s)


@given(entries, st.lists(instants, max_size=20))
def test_lookup_equals_a_brute_force_scan(items: list[RotaInterval], times: list[float]) -> None:
    """The bisecting lookup answers as a scan of every latest interval does, on every edge."""
    index = RotaIndex(items)
    edges = [t for i in items for t in (i.start_s - 1, i.start_s, i.end_s - 1, i.end_s)]
    for group in GROUPS:
        for ts_s in [*times, *edges]:
            assert index.lookup(*group, ts_s) == brute_force(items, group, ts_s)


@given(entries, entries, groups, instants)
def test_updating_equals_building_from_everything_in_order(
    first: list[RotaInterval], then: list[RotaInterval], group: tuple[str, str, str], ts_s: float
) -> None:
    """An index updated with later intervals answers as one built from all of them in order."""
    assert RotaIndex(first).updated(then).lookup(*group, ts_s) == RotaIndex(first + then).lookup(
        *group, ts_s
    )


@given(entries, st.randoms(use_true_random=False), groups, instants)
def test_the_order_of_different_keys_does_not_matter(
    items: list[RotaInterval], rnd: random.Random, group: tuple[str, str, str], ts_s: float
) -> None:
    """Only the order within a key counts: shuffling the latest intervals changes nothing."""
    latest = list({i.key: i for i in items}.values())
    shuffled = list(latest)
    rnd.shuffle(shuffled)
    assert RotaIndex(shuffled).lookup(*group, ts_s) == RotaIndex(items).lookup(*group, ts_s)
