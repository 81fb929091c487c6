"""The staffing figures both dashboards show, written the way the StaffingBelowCommissioned and
StaffingBelowRequired alerts compute them (streams.contract.alert_rules, `_staffed_share`), so a
panel's share is the alert's `$value` and tests/unit/test_dashboards.py can check they agree.

Only the (provider, role) pairs that have both agent states and a positive target count, on
either side: a provider whose ACD is not connected, or a role with no rota, neither shows a
shortfall nor hides one. Sums by region, as the alerts: a rebalance that briefly exports a region
from two workers doubles both sides of a share alike, and the head counts, for a scrape or two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class StaffedAgainst:
    """Two PromQL expressions by region: handlers staffed and their target. `share` is the
    alert's value (staffed / target), `short` the handlers short (target - staffed)."""

    staffed: str
    target: str

    @property
    def share(self) -> str:
        return f"{self.staffed}\n  / {self.target}"

    @property
    def short(self) -> str:
        return f"{self.target}\n  - {self.staffed}"


# Staffed = agents ready, on a call or in wrap-up (DESIGN.md, KPIs); the targets are per provider
# (never a region-wide `all`), and Erlang A's requirement is for health advisers only.
_STAFFED_STATES: Final = "ready|on_call|wrap_up"
_PAIRS: Final = "on (region, provider, role)"


def _staffed_against(target: str, matchers: str, region: str | None) -> StaffedAgainst:
    where = f'region="{region}", ' if region else ""
    staffed = f'surge_agents{{{where}state=~"{_STAFFED_STATES}"}}'
    planned = f"{target}{{{where}{matchers}}} > 0"
    return StaffedAgainst(
        staffed=f"sum by (region) ({staffed} and {_PAIRS} {planned})",
        target=f"sum by (region) ({planned} and {_PAIRS} surge_agents)",
    )


def staffed_against_commissioned(region: str | None = None) -> StaffedAgainst:
    """Staffed against the rota's commissioned handlers (both roles), of one region or all."""
    return _staffed_against("surge_agents_commissioned", 'provider!="all"', region)


def staffed_against_required(region: str | None = None) -> StaffedAgainst:
    """Health advisers staffed against Erlang A's requirement, of one region or all."""
    return _staffed_against(
        "surge_agents_required", 'provider!="all", role="health_adviser"', region
    )
