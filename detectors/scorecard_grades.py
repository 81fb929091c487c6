"""The scorecard's standards and its grade scale: what a provider's figures are judged against,
and how a figure becomes PASS, WARNING or FAIL.

Apart from :mod:`detectors.scorecard` (which counts the minutes into rows) so that the
commissioned numbers and the rules that apply them can be read, and changed, in one short place
without the accumulation around them.

Each KPI is graded with the numbers of the alerts and dashboards: PASS meets the standard;
WARNING misses it but not as far as an alert would page (service level 85-95 %, abandonment
5-8 %: a normal month hovers at 94-96 % and 1-2 %, so a small provider's short period often lands
there); FAIL is where the alerts page (service level under 85 %, where the dashboards turn red;
abandonment at 8 % or more; referrals with a spike score above 3). A row's result is its worst
grade.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

PASS: Final = "pass"  # noqa: S105  # a grade, not a password
WARNING: Final = "warning"  # misses the standard
FAIL: Final = "fail"  # past the critical level
_ORDER: Final = {PASS: 0, WARNING: 1, FAIL: 2}


@dataclass(frozen=True, slots=True)
class Standards:
    """The commissioned standards (DESIGN.md KPIs; NHS 111 minimum data set).

    Callbacks have no standard unless one is given: DESIGN.md and issue 8 ask for callbacks
    within 10 minutes but name no share, and NHS England's 111 statistics report the share
    (41-51 % of callbacks in 2014-15) without a target. A contract that sets one (90 %, say)
    is passed as ``callback_within_target_min`` (`surge-monitor scorecard --callback-standard`);
    without it the figure is shown, not judged, rather than judged against a made-up number.
    """

    # Defaults: DESIGN.md and the alert rules' thresholds (streams.contract.thresholds.THRESHOLDS,
    # which the stream layer passes in so that the numbers have one source).
    service_level_min: float = 0.95  # answered within 60 s / answered: at least
    service_level_fail_below: float = 0.85  # FAIL under this
    abandon_rate_max: float = 0.05  # abandoned after 30 s / offered: below
    abandon_rate_fail_at: float = 0.08  # FAIL at or above this
    callback_within_target_min: float | None = None  # callbacks within 10 min / requested
    # Referrals above the region's baseline, as the one-sided Poisson z of the spike score:
    # FAIL above this.
    referral_z_max: float = 3.0

    def __post_init__(self) -> None:
        shares = (
            "service_level_min",
            "service_level_fail_below",
            "abandon_rate_max",
            "abandon_rate_fail_at",
            "callback_within_target_min",
        )
        for name in shares:
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"standard {name} is {value}; give a share between 0 and 1")
        if not (
            self.service_level_fail_below <= self.service_level_min
            and self.abandon_rate_max <= self.abandon_rate_fail_at
            and self.referral_z_max > 0
        ):
            raise ValueError("each failing level must be at or beyond its standard")


def worst(grades: Iterable[str | None]) -> str | None:
    """The worst of the grades given, ignoring None (no data); None if there is none."""
    known = [g for g in grades if g is not None]
    return max(known, key=_ORDER.__getitem__) if known else None


def at_least(value: float | None, standard: float | None, fail: float | None) -> str | None:
    """Grade a share that must be at least `standard`; under `fail` it fails."""
    if value is None or standard is None or fail is None:
        return None
    return PASS if value >= standard else WARNING if value >= fail else FAIL


def below(value: float | None, standard: float, fail: float) -> str | None:
    """Grade a share that must be below `standard`; at or above `fail` it fails."""
    if value is None:
        return None
    return PASS if value < standard else WARNING if value < fail else FAIL
