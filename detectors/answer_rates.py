"""What a region's answer-rate state shows: its rolling-window KPIs at the last closed minute.

Pure: from a RegionState to plain values. The stream layer turns a RegionView into Prometheus
samples; a replay turns it into rows. Both therefore show the same figures for the same state.
Windows end at the last minute the watermark has closed, so a figure does not move once shown
except through late events, which are counted (DESIGN.md, Rolling windows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from detectors import forecast
from detectors.staffing import StaffedAt
from detectors.windows import (
    Kpis,
    RegionState,
    Totals,
    WindowConfig,
    calls_waiting,
    closed_minute,
    kpis,
    longest_wait_seconds,
    oldest_minute,
    providers,
    watermark,
    window_totals,
)

ALL_PROVIDERS = "all"  # the `provider` label of region-wide figures
REFERRAL_KINDS = ("ambulance", "ed")  # dispositions that send the caller on to a 999/ED service
FORECAST_PARAMS = forecast.Params()  # the breach forecast's documented defaults


@dataclass(frozen=True, slots=True)
class WindowKpis:
    provider: str  # a provider id or ALL_PROVIDERS
    window: str  # "15m", "60m"
    end_minute: int  # start of the last minute in the window (epoch seconds)
    offered: int
    answered: int
    kpis: Kpis


@dataclass(frozen=True, slots=True)
class RegionView:
    watermark_s: float | None
    windows: tuple[WindowKpis, ...]
    # (kind, window, dispositions of the kind / all dispositions); absent without dispositions
    referral_rates: tuple[tuple[str, str, float], ...]
    calls_waiting: tuple[tuple[str, int], ...]  # (provider or ALL_PROVIDERS, n)
    longest_wait_seconds: float | None
    cumulative: tuple[tuple[str, str, int], ...]  # (provider, name, n), sorted
    wait_buckets: tuple[tuple[float, int], ...]  # (le, cumulative count), last le = +inf
    wait_sum_seconds: float
    late: int
    duplicates: int
    too_late: int
    expired_calls: int
    alerts_active: tuple[tuple[str, str, int], ...] = ()  # (alert, severity, 0|1), in-stream
    history_minutes: int = 0  # minutes of retained history up to the view's end (warm-up)
    # (kind, expected count or None while warming up, score, alarmed), last closed quarter-hour
    referral_spikes: tuple[tuple[str, float | None, float, bool], ...] = ()
    # Seconds until the service level breaches (detectors.forecast): 0 already, +inf none within
    # the forecast's horizon, None without a closed minute.
    breach_forecast_seconds: float | None = None


def window_label(minutes: int) -> str:
    return f"{minutes}m"


def region_view(
    state: RegionState,
    config: WindowConfig,
    end_minute: int | None = None,
    *,
    per_provider: bool = True,
    referral_spikes: tuple[tuple[str, float | None, float, bool], ...] = (),
    staffed: tuple[StaffedAt, ...] | None = None,
) -> RegionView:
    """The figures at the last closed minute, or at `end_minute` (an earlier closed minute whose
    buckets are retained: how alerts are evaluated minute by minute, whatever the batching).
    `per_provider=False` gives the region-wide figures alone, what the alerts, the overflow
    status and a replay's figures read: no providers' own windows or calls waiting, and no
    `_total` counters or wait histogram (empty), which only the metrics publish. It is computed
    for every region every closed minute, so it skips what nobody reads there. The referral
    spikes are the referral detector's (detectors.referrals.spikes), passed through; `staffed`,
    the region's call handlers at its newest event, feeds the breach forecast's capacity."""
    end = closed_minute(state, config) if end_minute is None else end_minute
    names: list[str] = []
    if per_provider:
        names = sorted(providers(state) | {p for p, _ in state.open_calls.values()})
    windows: list[WindowKpis] = []
    referrals: list[tuple[str, str, float]] = []
    if end is not None:
        for minutes in config.windows_minutes:
            for provider in [*names, None]:
                totals = window_totals(state, provider, end, minutes)
                if provider is None:
                    referrals.extend(_referral_rates(totals, window_label(minutes)))
                windows.append(
                    WindowKpis(
                        provider=provider or ALL_PROVIDERS,
                        window=window_label(minutes),
                        end_minute=end,
                        offered=totals.offered,
                        answered=totals.answered,
                        kpis=kpis(totals),
                    )
                )
    waiting = [(p, calls_waiting(state, p)) for p in names]
    waiting.append((ALL_PROVIDERS, calls_waiting(state)))
    oldest = oldest_minute(state)
    history = 0 if end is None or oldest is None else (end - oldest) // 60 + 1
    return RegionView(
        history_minutes=history,
        watermark_s=watermark(state, config) if end_minute is None else end_minute + 60.0,
        windows=tuple(windows),
        referral_rates=tuple(referrals),
        calls_waiting=tuple(waiting),
        longest_wait_seconds=longest_wait_seconds(state),
        cumulative=tuple((p, n, c) for (p, n), c in sorted(state.cumulative.items()))
        if per_provider
        else (),
        wait_buckets=_cumulative_buckets(state, config) if per_provider else (),
        wait_sum_seconds=state.wait_sum_seconds,
        late=state.late,
        duplicates=state.duplicates,
        too_late=state.too_late,
        expired_calls=state.expired_calls,
        referral_spikes=referral_spikes,
        breach_forecast_seconds=None
        if end is None
        else forecast.forecast(state, config, end, FORECAST_PARAMS, staffed).seconds,
    )


def _referral_rates(totals: Totals, window: str) -> list[tuple[str, str, float]]:
    """Referral rate per triaged call (DESIGN.md KPIs): a kind's share of all dispositions."""
    triaged = dict(totals.dispositions)
    total = sum(triaged.values())
    if not total:
        return []
    return [(kind, window, triaged.get(kind, 0) / total) for kind in REFERRAL_KINDS]


def _cumulative_buckets(state: RegionState, config: WindowConfig) -> tuple[tuple[float, int], ...]:
    counts = state.wait_counts or [0] * (len(config.wait_buckets_seconds) + 1)
    out: list[tuple[float, int]] = []
    running = 0
    for le, n in zip([*config.wait_buckets_seconds, float("inf")], counts, strict=True):
        running += n
        out.append((float(le), running))
    return tuple(out)


def region_status(view: RegionView) -> dict[str, float | int | None]:
    """The figures other regions' decisions need (overflow routing): region-wide, latest.

    `breach_forecast_seconds` is the view's forecast (0: breached already), or null when no breach
    is forecast: JSON has no +inf, so null stands for +inf, and also for "no forecast" (no closed
    minute yet, or under an hour of history, when the ServiceLevelBreachForecast alert does not
    read it either); a reader takes null as "no breach coming"."""
    forecast_s = view.breach_forecast_seconds
    if view.history_minutes < 60 or forecast_s is None or math.isinf(forecast_s):
        forecast_s = None
    figures: dict[str, float | int | None] = {
        "watermark_s": view.watermark_s,
        "calls_waiting": dict(view.calls_waiting).get(ALL_PROVIDERS, 0),
        "longest_wait_seconds": view.longest_wait_seconds,
        "breach_forecast_seconds": forecast_s,
    }
    for w in view.windows:
        if w.provider == ALL_PROVIDERS:
            figures[f"service_level_{w.window}"] = w.kpis.service_level
            figures[f"abandon_rate_{w.window}"] = w.kpis.abandon_rate
            figures[f"offered_{w.window}"] = w.offered
    return figures
