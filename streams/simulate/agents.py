"""The handlers behind the generated calls: their ACD state events, and the rota they were planned
on (DESIGN.md: AgentStateEvent, RotaInterval).

The queue (streams.simulate.generator) answers each call with one handler's shift, so the agent
states follow from the calls themselves: a handler logs in (`ready`) when the shift starts, goes
`on_call` when it answers, `wrap_up` after the talk, `ready` when the handle time is over, and logs
out at the end of the shift (or after the call in progress). The handle time the monitor measures
from these states is therefore exactly the generator's handle time. A break (Scenario.breaks) is
`not_ready` with reason "break" from the end of the call in progress, then `ready` 30 minutes
later, so the monitor sees the staffed count dip where a real centre's would. The rota is what was
planned before any failure, breaks included (streams.simulate.shifts): a failing provider's
handlers are rostered and commissioned as on a normal day, but fewer of them log in or stay.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.contract.records import AgentStateEvent, format_ts
from streams.simulate.truth import TARGET_ANSWER_S, Emitted

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

MEAN_HANDLE_S: Final = 480.0
TALK_SHARE: Final = 0.8  # of a call's handle time on the phone; the rest is wrap-up (notes)
ROLE: Final = "health_adviser"  # the generator models the call handlers, not the clinicians
ROTA_MINUTES: Final = 30
BREAK_MS: Final = 30 * 60_000
BREAK_REASON: Final = "break"
NEVER_MS: Final = 2**62


def agent_events(
    region: str,
    provider: str,
    prefix: str,
    *,
    shifts: list[tuple[int, int]],
    handler: npt.NDArray[np.int64],
    answer_ms: npt.NDArray[np.int64],
    handle_ms: npt.NDArray[np.int64],
    end_ms: int,
    breaks: Sequence[int] = (),
) -> list[Emitted]:
    """Each handler's states through its shift, in its own time order, before `end_ms`;
    `breaks[k]` is when handler k went on its break (-1: none, or no `breaks` at all)."""
    order = np.lexsort((answer_ms, handler))
    calls: dict[int, list[tuple[int, int]]] = {}
    for i in order.tolist():
        k = int(handler[i])
        if k >= 0:
            calls.setdefault(k, []).append((int(answer_ms[i]), int(handle_ms[i])))
    out: list[Emitted] = []
    for k, (on_ms, off_ms) in enumerate(shifts):
        agent = f"{prefix.lower()}.{provider}.{k:04d}"
        states = [(on_ms, "ready")]
        last_ms = on_ms
        rest = breaks[k] if breaks else -1
        for start, handle in calls.get(k, []):
            if 0 <= rest < start:
                last_ms = _take_break(states, rest, off_ms)
                rest = -1
            talk = max(1, round(handle * TALK_SHARE))
            states += [(start, "on_call"), (start + talk, "wrap_up"), (start + handle, "ready")]
            last_ms = start + handle
        if rest >= 0:
            last_ms = _take_break(states, rest, off_ms)
        if off_ms != NEVER_MS:
            states.append((max(off_ms, last_ms), "logged_out"))
        for ms, state in states:
            if ms < end_ms:
                reason = BREAK_REASON if state == "not_ready" else None
                ev = AgentStateEvent(agent, ms / 1000, region, provider, ROLE, state, None, reason)
                out.append(Emitted("agent-states", region, ms / 1000, ev))
    return out


def _take_break(states: list[tuple[int, str]], start_ms: int, off_ms: int) -> int:
    """Append a break from `start_ms` (straight from wrap-up when the last call ends then) and
    return the handler's last state time; a break running past the shift ends in the log out."""
    if states[-1] == (start_ms, "ready"):
        states.pop()
    states.append((start_ms, "not_ready"))
    if start_ms + BREAK_MS < off_ms:
        states.append((start_ms + BREAK_MS, "ready"))
        return start_ms + BREAK_MS
    return start_ms


def rota_rows(
    region: str, provider: str, rostered: npt.NDArray[np.int64], start_ms: int, end_ms: int
) -> list[dict[str, object]]:
    """The planned handlers as RotaInterval rows (CSV columns of `surge-monitor rota publish`):
    30-minute intervals covering the window, each with the fewest handlers planned in any of its
    minutes; commissioned = rostered (a provider that planned what was commissioned)."""
    rows: list[dict[str, object]] = []
    n = math.ceil((end_ms - start_ms) / 60_000)
    for first in range(0, n, ROTA_MINUTES):
        planned = int(rostered[first : first + ROTA_MINUTES].min())
        rows.append(
            {
                "region": region,
                "provider": provider,
                "role": ROLE,
                "start": format_ts((start_ms + 60_000 * first) / 1000),
                "minutes": ROTA_MINUTES,
                "commissioned": planned,
                "rostered": planned,
            }
        )
    return rows


# Erlang C ignores abandonment (callers who hang up free the queue), so a rota built to 75 % on
# paper measures 94-96 % answered within 60 s with MEAN_PATIENCE_S (tuned: test_simulate.py).
ERLANG_C_TARGET: Final = 0.75


def erlang_c_handlers(calls_per_s: float, mean_handle_s: float = MEAN_HANDLE_S) -> int:
    """Fewest handlers for which Erlang C gives `ERLANG_C_TARGET` answered within 60 s."""
    load = calls_per_s * mean_handle_s
    if load <= 0:
        return 1
    blocking = 1.0  # Erlang B by the stable recursion B(n) = a B(n-1) / (n + a B(n-1))
    n = 0
    while True:
        n += 1
        blocking = load * blocking / (n + load * blocking)
        if n <= load:
            continue
        waiting = n * blocking / (n - load * (1 - blocking))
        late = waiting * math.exp(-(n - load) * TARGET_ANSWER_S / mean_handle_s)
        if 1 - late >= ERLANG_C_TARGET:
            return n


def plan_rota(
    rate_per_min: FloatArray, staffing: float, failed: npt.NDArray[np.bool_], left: float
) -> tuple[IntArray, IntArray]:
    """Handlers rostered each minute (Erlang C to the forecast, scaled) and those actually on
    duty: the rostered, cut after a failure (who did not log in, or left).

    A failed rota keeps at least one handler unless `left` is 0: a night shift of three at 30 %
    is one person struggling, not a closed service.
    """
    unique, inverse = np.unique(rate_per_min, return_inverse=True)
    erlang = np.array([erlang_c_handlers(r / 60) for r in unique], dtype=np.float64)[inverse]
    on_duty = np.maximum(1, np.rint(erlang * staffing)).astype(np.int64)
    return on_duty, cut_rota(on_duty, failed, left)


def cut_rota(rostered: IntArray, failed: npt.NDArray[np.bool_], left: float) -> IntArray:
    """The head count on duty when the failed minutes keep `left` of the rostered (at least one
    handler unless `left` is 0: a night shift of three at 30 % is one person struggling)."""
    cut = np.maximum(float(left > 0), np.rint(rostered * left))
    return np.where(failed, cut, rostered).astype(np.int64)


def shifts_of(
    on_duty: IntArray, start_ms: int, longest_ms: int | None = None
) -> list[tuple[int, int]]:
    """Stack the per-minute head count into shifts (on_ms, off_ms): the last ones in leave first.

    With `longest_ms` (whole minutes) a handler on that long hands over to a new shift. Those on
    at the start came in before it, at staggered times: seat i of n hands over first after
    `longest_ms * (n - i) / n` (whole rota intervals), as a centre's overlapping shifts do.
    """
    shifts: list[tuple[int, int]] = []
    opened: list[int] = []
    due: dict[int, list[tuple[int, int]]] = {}  # handover time -> (seat, its shift's on_ms)
    first = on_duty.tolist()[0] if on_duty.size else 0
    for m, n in enumerate(on_duty.tolist()):
        t = start_ms + 60_000 * m
        while len(opened) > n:
            shifts.append((opened.pop(), t))
        for seat, on in due.pop(t, []):  # a seat left since, or taken by a later shift: no handover
            if seat < len(opened) and opened[seat] == on:
                shifts.append((on, t))
                opened[seat] = t
                due.setdefault(t + (longest_ms or 0), []).append((seat, t))
        while len(opened) < n:
            if longest_ms is not None:
                early = 0 if m else _whole_intervals(longest_ms * len(opened) // first)
                due.setdefault(t + longest_ms - early, []).append((len(opened), t))
            opened.append(t)
    shifts.extend((t, NEVER_MS) for t in opened)
    return shifts


def _whole_intervals(ms: int) -> int:
    return ms // (ROTA_MINUTES * 60_000) * ROTA_MINUTES * 60_000
