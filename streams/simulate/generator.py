"""Scenario generator: the NHS 111 call events and ambulance dispatches of a normal or launch day.

Pure logic (no Kafka, clock or I/O) so a replay, a test and the demo see the same day for a seed.
The model, and the published figures it is calibrated to (../shared/DESIGN.md, "What realistic
traffic looks like"):

- Demand: `daily_calls` England calls per average day (32k-54k a day, 2014-2017), split by region
  `population_share` and provider `share`; a diurnal shape by Europe/London local hour (quiet
  01:00-07:00, evening peak 18:00-22:00); weekend days 2.2x weekdays, normalised so a week averages
  `daily_calls`. Arrivals are Poisson with a rate that is constant within each minute.
- Queue per (region, provider): FIFO, multi-server, impatient callers (M/M/N+M), simulated call by
  call: lognormal handle time (mean 8 min), exponential patience (mean 5 min). Handlers are staffed
  each local hour by Erlang C to the forecast, tuned so a normal day measures the normal month's
  94-96 % answered within 60 s and 1-2 % abandoned after 30 s; times provider `staffing`, times
  `capacity_left` in failing regions from the failure on. The default 0.3 is a collapse (about
  half the callers hang up); 0.8-0.85 gives a day near West Midlands on Good Friday 2013 (75 %
  within 60 s, 13 % abandoned): 62-73 % and 7-9 %, at handle_factor 1. The launch day's longer
  triage (handle_factor 1.25) takes a further fifth off the capacity: there 0.9-0.95 gives 42-74 %
  and 8-15 %, and 0.3 has 60-64 % of the callers hang up. How the capacity goes (handlers leaving
  or not logging in), longer triage, a demand surge on the forecast's rota and breaks are Scenario
  knobs; the shifts, breaks and queue that carry them are in streams.simulate.shifts.
- Retrials (Scenario.retrials, off by default): callers who abandon try again on the same queue
  and carry `attempt` and `first_attempt_ts` (streams.simulate.retrials has the calibration).
- Triage: a disposition after the handle time, 11 % ambulance and 8 % ED (published 10-13 % and
  7-9 %); overwhelmed staff refer more (x2.5 ambulance, x2 ED: an assumption, no published
  figure; non-clinical call handlers without clinical back-up fall back on the safest
  disposition, the "inappropriate ambulance call-outs" of the 2013 launch). 10 % of answered
  calls get a clinical callback, most within 10 minutes.
- Dispatches: one `111` dispatch per ambulance disposition, plus background `999` (about 20k a day
  in England at 45k calls a day) and a few `hcp`; 999 rises 6 % where 111 fails (pilots: ~3 %,
  callers giving up on 111).

Times are whole milliseconds (integers internally) so every `ts` survives `format_ts` and parsing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.contract.catalogue import Catalogue, Provider, Region
from streams.contract.errors import ConfigError
from streams.contract.records import CallEvent, DispatchEvent
from streams.simulate import retrials
from streams.simulate.agents import MEAN_HANDLE_S, NEVER_MS, agent_events, rota_rows
from streams.simulate.scenarios import Scenario
from streams.simulate.shifts import serve, staff
from streams.simulate.truth import Emitted
from streams.simulate.window import Window, window

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

HANDLE_SIGMA: Final = 0.5  # lognormal shape of the call handler's triage time
HANDLE_MU: Final = math.log(MEAN_HANDLE_S * 1000) - HANDLE_SIGMA**2 / 2  # of ms: mean MEAN_HANDLE_S
MEAN_PATIENCE_S: Final = 300.0
DISPOSITION_MIX: Final = {"ambulance": 0.11, "ed": 0.08, "primary_care": 0.40, "pharmacy": 0.06,
                           "dental": 0.04, "self_care": 0.21, "other": 0.10}  # fmt: skip
DISPOSITION_KINDS: Final = tuple(DISPOSITION_MIX)
FAILURE_REFERRAL_LIFT: Final = {"ambulance": 2.5, "ed": 2.0}  # risk-averse, overwhelmed staff
CALLBACK_SHARE: Final = 0.10
CALLBACK_DELAY_S: Final = (2.0, 150.0)  # gamma shape, scale: mean 5 min, 91 % within 10 min
CALLBACK_SLOWDOWN_CAP: Final = 4.0  # overwhelmed clinicians call back 1/capacity_left times later
DISPATCH_DELAY_S: Final = (3.0, 60.0)  # gamma: a 111 ambulance disposition to a dispatch
CATEGORIES: Final = ("C1", "C2", "C3", "C4")
CATEGORY_MIX: Final = (0.10, 0.55, 0.30, 0.05)
DISPATCHES_999_PER_CALL: Final = 20_000 / 45_000  # England 999 dispatches per 111 call
HCP_SHARE_OF_999: Final = 0.04
REDIAL_999_UPLIFT: Final = 0.06
_DispatchRow = tuple[int, str, str | None, int]  # ms, source, linked call_id, category index


@dataclass(frozen=True)
class _Calls:
    """One provider's calls in arrival order; times in ms, answer_ms = -1 when abandoned."""

    provider: str
    arrival_ms: IntArray
    answer_ms: IntArray
    patience_ms: IntArray
    done_ms: IntArray  # end of triage: disposition (and callback request) time
    disposition: IntArray  # index into DISPOSITION_KINDS
    callback_ms: IntArray  # callback made, or -1 when none was requested
    dispatch_ms: IntArray  # 111 ambulance dispatch, or -1
    category: IntArray
    handle_ms: IntArray  # on_call + wrap_up time of each answered call
    handler: IntArray  # index into `shifts` of who answered, -1 when abandoned
    shifts: list[tuple[int, int]]  # each handler's (on_ms, off_ms)
    rostered: IntArray  # handlers the rota plans each minute (before any failure)
    breaks: list[int]  # when each handler went on its break, -1 for none
    # With retrials: each call's attempt number, its caller's first offer, and the index of that
    # first attempt (the caller); None without retrials (no attempt fields emitted).
    attempt: IntArray | None = None
    first_ms: IntArray | None = None
    caller: IntArray | None = None


def _arrivals(rng: np.random.Generator, rate_per_min: FloatArray, w: Window) -> IntArray:
    """Poisson arrivals, uniform on the millisecond grid within each minute, sorted, in window."""
    n_min = math.ceil((w.end_ms - w.start_ms) / 60_000)
    counts = rng.poisson(rate_per_min[:n_min])
    minute = np.repeat(np.arange(n_min, dtype=np.int64), counts)
    offset = rng.integers(0, 60_000, size=minute.size, dtype=np.int64)
    times = np.sort(w.start_ms + 60_000 * minute + offset)
    return times[times < w.end_ms]


def _mix_index(rng: np.random.Generator, probabilities: Iterable[float], n: int) -> IntArray:
    cumulative = np.cumsum(np.asarray(tuple(probabilities)))
    picks = np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right")
    return np.minimum(picks, cumulative.size - 1).astype(np.int64)


def failure_mix() -> dict[str, float]:
    """The disposition mix of overwhelmed staff: ambulance and ED lifted, the rest scaled down."""
    lifted = {
        k: p * FAILURE_REFERRAL_LIFT[k]
        for k, p in DISPOSITION_MIX.items()
        if k in FAILURE_REFERRAL_LIFT
    }
    scale = (1 - sum(lifted.values())) / (1 - sum(DISPOSITION_MIX[k] for k in lifted))
    return {k: lifted.get(k, p * scale) for k, p in DISPOSITION_MIX.items()}


def _provider_calls(
    rng: np.random.Generator, s: Scenario, w: Window, region: Region, provider: Provider
) -> _Calls:
    """Draw one provider's day in numpy batches, then run its queue call by call."""
    failing = region.code in s.failing_regions
    failed = w.failed if failing else np.zeros_like(w.failed)
    rate = s.daily_calls * region.population_share * provider.share * w.day_share
    surge = rate * np.where(failed, s.demand_factor, 1.0) if s.demand_factor != 1 else rate
    arrival = _arrivals(rng, surge, w)
    n = arrival.size
    patience = np.rint(rng.exponential(MEAN_PATIENCE_S * 1000, n)).astype(np.int64)
    drawn = np.maximum(1, np.rint(rng.lognormal(HANDLE_MU, HANDLE_SIGMA, n))).astype(np.int64)
    team = staff(rate, provider.staffing, failed, s, w.start_ms)
    slow_ms = (w.failure_ms, w.recovery_ms) if failing else (NEVER_MS, NEVER_MS)
    tried: retrials.Attempts | None = None
    if s.retrials:
        tried = retrials.serve_with_retrials(
            rng, arrival, patience, drawn, team, draw=_draw_attempt, end_ms=w.end_ms,
            slow_ms=slow_ms, handle_factor=s.handle_factor,
        )  # fmt: skip
        arrival, patience, n = tried.arrival_ms, tried.patience_ms, tried.arrival_ms.size
        answer, handler, handle, breaks = (
            tried.answer_ms,
            tried.handler,
            tried.handle_ms,
            tried.breaks,
        )
    else:
        answer, handler, handle, breaks = serve(
            arrival, patience, drawn, team, slow_ms=slow_ms, handle_factor=s.handle_factor
        )
    answered = answer >= 0
    overwhelmed = answered & (answer >= slow_ms[0]) & (answer < slow_ms[1])
    base, lifted = (
        _mix_index(rng, DISPOSITION_MIX.values(), n),
        _mix_index(rng, failure_mix().values(), n),
    )
    disposition = np.where(overwhelmed, lifted, base)
    done = np.where(answered, answer + handle, -1)
    slow = np.where(overwhelmed, min(CALLBACK_SLOWDOWN_CAP, 1 / max(s.capacity_left, 1e-9)), 1.0)
    callback_delay = np.rint(rng.gamma(CALLBACK_DELAY_S[0], CALLBACK_DELAY_S[1] * 1000, n) * slow)
    callback = answered & (rng.random(n) < CALLBACK_SHARE)
    dispatch_delay = np.rint(rng.gamma(DISPATCH_DELAY_S[0], DISPATCH_DELAY_S[1] * 1000, n))
    ambulance = answered & (disposition == 0)
    callback_ms = np.where(callback, done + callback_delay.astype(np.int64), -1)
    dispatch_ms = np.where(ambulance, done + dispatch_delay.astype(np.int64), -1)
    category = _mix_index(rng, CATEGORY_MIX, n)
    return _Calls(
        provider.id,
        arrival,
        answer,
        patience,
        done,
        disposition,
        callback_ms,
        dispatch_ms,
        category,
        handle,
        handler,
        team.shifts,
        team.rostered,
        breaks,
        *((tried.attempt, tried.first_ms, tried.caller) if tried else (None, None, None)),
    )


def _draw_attempt(rng: np.random.Generator, patience_factor: float) -> tuple[int, int]:
    """A retry's patience (mean x `patience_factor`) and drawn handle time, in ms."""
    patience = round(rng.exponential(MEAN_PATIENCE_S * 1000 * patience_factor))
    return patience, max(1, round(rng.lognormal(HANDLE_MU, HANDLE_SIGMA)))


def _call_ids(batches: list[_Calls], prefix: str) -> list[list[str]]:
    """Region-wide ids numbered in arrival order across providers."""
    arrivals = np.concatenate([b.arrival_ms for b in batches])
    seq = np.empty(arrivals.size, dtype=np.int64)
    seq[np.argsort(arrivals, kind="stable")] = np.arange(1, arrivals.size + 1)
    out: list[list[str]] = []
    first = 0
    for b in batches:
        out.append([f"{prefix}{k:08d}" for k in seq[first : first + b.arrival_ms.size].tolist()])
        first += b.arrival_ms.size
    return out


def _call_events(region: str, b: _Calls, ids: list[str], end_ms: int) -> list[Emitted]:
    out: list[Emitted] = []
    tried: tuple[int | None, float | None, str | None] = (None, None, None)

    def emit(
        ms: int, call_id: str, kind: str, wait_ms: int | None = None, disp: str | None = None
    ) -> None:
        if ms < end_ms:
            wait = None if wait_ms is None else wait_ms / 1000
            attempt, first_s, caller = tried
            ev = CallEvent(
                call_id, kind, ms / 1000, region, b.provider, None, wait, disp, attempt, first_s
            )
            out.append(Emitted("calls", region, ms / 1000, ev, caller))

    attempts = _attempt_fields(b, ids)
    rows = zip(
        ids, b.arrival_ms.tolist(), b.answer_ms.tolist(), b.patience_ms.tolist(),
        b.done_ms.tolist(), b.disposition.tolist(), b.callback_ms.tolist(), strict=True,
    )  # fmt: skip
    for k, (call_id, arrival, answer, patience, done, disposition, callback) in enumerate(rows):
        if attempts is not None:
            tried = attempts[k]
        emit(arrival, call_id, "offered")
        if answer < 0:
            emit(arrival + patience, call_id, "abandoned", patience)
            continue
        emit(answer, call_id, "answered", answer - arrival)
        emit(done, call_id, "disposition", disp=DISPOSITION_KINDS[disposition])
        if callback >= 0:
            emit(done, call_id, "callback_requested")
            emit(callback, call_id, "callback_made")
    return out


def _attempt_fields(
    b: _Calls, ids: list[str]
) -> list[tuple[int | None, float | None, str | None]] | None:
    """Per call: its attempt, its caller's first offer (seconds, from the second attempt on) and
    the caller (the call id of the first attempt); None without retrials."""
    if b.attempt is None or b.first_ms is None or b.caller is None:
        return None
    return [
        (n, first / 1000 if n > 1 else None, ids[c])
        for n, first, c in zip(
            b.attempt.tolist(), b.first_ms.tolist(), b.caller.tolist(), strict=True
        )
    ]


def _background_dispatches(
    rng: np.random.Generator, s: Scenario, w: Window, region: Region
) -> list[_DispatchRow]:
    """999 and hcp dispatches by population; 999 rises where 111 has failed (callers give up)."""
    failed = w.failed & (region.code in s.failing_regions)
    rate = s.daily_calls * DISPATCHES_999_PER_CALL * region.population_share * w.hour_share
    rows: list[_DispatchRow] = []
    for source, lifted in (
        ("999", rate * (1 + REDIAL_999_UPLIFT * failed)),
        ("hcp", rate * HCP_SHARE_OF_999),
    ):
        times = _arrivals(rng, lifted, w)
        categories = _mix_index(rng, CATEGORY_MIX, times.size).tolist()
        rows.extend((ms, source, None, k) for ms, k in zip(times.tolist(), categories, strict=True))
    return rows


def _region_events(
    rng: np.random.Generator, s: Scenario, w: Window, region: Region, prefix: str
) -> list[Emitted]:
    """One region's calls (ids numbered across its providers) and dispatches (incident ids)."""
    batches = [_provider_calls(rng, s, w, region, p) for p in region.providers]
    events: list[Emitted] = []
    dispatches: list[_DispatchRow] = []
    for b, ids in zip(batches, _call_ids(batches, prefix), strict=True):
        events.extend(_call_events(region.code, b, ids, w.end_ms))
        if s.agent_states:
            events.extend(
                agent_events(
                    region.code, b.provider, prefix, shifts=b.shifts, handler=b.handler,
                    answer_ms=b.answer_ms, handle_ms=b.handle_ms, end_ms=w.end_ms,
                    breaks=b.breaks,
                )
            )  # fmt: skip
        for i in np.flatnonzero(b.dispatch_ms >= 0).tolist():
            dispatches.append((int(b.dispatch_ms[i]), "111", ids[i], int(b.category[i])))
    dispatches.extend(_background_dispatches(rng, s, w, region))
    dispatches.sort(key=lambda row: row[0])
    for seq, (ms, source, call_id, k) in enumerate(dispatches, start=1):
        if ms < w.end_ms:
            incident = f"inc-{prefix.lower()}-{seq:07d}"
            ev = DispatchEvent(incident, ms / 1000, region.code, source, CATEGORIES[k], call_id)
            events.append(Emitted("dispatches", region.code, ms / 1000, ev))
    return events


def _prefixes(catalogue: Catalogue) -> dict[str, str]:
    """Short id prefixes (north-west -> NW, london -> LO); numbered if initials would clash."""
    short = {r.code: "".join(p[0] for p in r.code.split("-")) for r in catalogue.regions}
    short = {c: (p if len(p) > 1 else c[:2]).upper() for c, p in short.items()}
    if len(set(short.values())) < len(short):
        return {r.code: f"R{i:02d}" for i, r in enumerate(catalogue.regions)}
    return short


@dataclass(frozen=True)
class PlannedProvider:
    """One provider's day as planned and as worked, per minute of the scenario's window."""

    region: str
    provider: str
    start_ms: int
    end_ms: int
    rate_per_min: FloatArray  # callers expected each minute (the forecast the rota is planned on)
    rostered: IntArray  # handlers the rota plans each minute (before any failure)
    on_duty: IntArray  # handlers working each minute (shifts on duty: a failure's cut shows)


def planned(scenario: Scenario, catalogue: Catalogue) -> list[PlannedProvider]:
    """Every provider's forecast, rota and worked head count, as the generator draws its day."""
    w = window(scenario)
    n = math.ceil((w.end_ms - w.start_ms) / 60_000)
    minutes = w.start_ms + 60_000 * np.arange(n, dtype=np.int64)
    out = []
    for region in catalogue.regions:
        failed = w.failed if region.code in scenario.failing_regions else np.zeros_like(w.failed)
        for p in region.providers:
            rate = scenario.daily_calls * region.population_share * p.share * w.day_share
            team = staff(rate, p.staffing, failed, scenario, w.start_ms)
            ons = np.sort(np.array([on for on, _ in team.shifts], dtype=np.int64))
            offs = np.sort(np.array([off for _, off in team.shifts], dtype=np.int64))
            on_duty = np.searchsorted(ons, minutes, "right") - np.searchsorted(
                offs, minutes, "right"
            )
            out.append(
                PlannedProvider(
                    region.code, p.id, w.start_ms, w.end_ms, rate[:n], team.rostered[:n],
                    on_duty.astype(np.int64),
                )
            )  # fmt: skip
    return out


def rota(scenario: Scenario, catalogue: Catalogue) -> list[dict[str, object]]:
    """The scenario's rota as planned (RotaInterval rows), the one its handlers were drawn from."""
    rows: list[dict[str, object]] = []
    for p in planned(scenario, catalogue):
        rows += rota_rows(p.region, p.provider, p.rostered, p.start_ms, p.end_ms)
    return rows


def generate(scenario: Scenario, catalogue: Catalogue, seed: int) -> list[Emitted]:
    """Every event of the scenario in event-time order (ties keep generation order).

    Each region draws from its own child of `default_rng(seed)`, so the same seed gives the same
    list and a change to one region's traffic leaves the others' draws alone.
    """
    unknown = set(scenario.failing_regions) - set(catalogue.codes())
    if unknown:
        raise ConfigError(
            f"scenario {scenario.name!r}: failing regions {sorted(unknown)} not in the catalogue"
        )
    w = window(scenario)
    prefixes = _prefixes(catalogue)
    rngs = np.random.default_rng(seed).spawn(len(catalogue.regions))
    events: list[Emitted] = []
    for region, rng in zip(catalogue.regions, rngs, strict=True):
        events.extend(_region_events(rng, scenario, w, region, prefixes[region.code]))
    events.sort(key=lambda e: e.ts_s)
    return events
