"""The handlers behind the generated calls: their ACD state events, and the rota they were planned
on (DESIGN.md: AgentStateEvent, RotaInterval).

The queue (streams.simulate.generator) answers each call with one handler's shift, so the agent
states follow from the calls themselves: a handler logs in (`ready`) when the shift starts, goes
`on_call` when it answers, `wrap_up` after the talk, `ready` when the handle time is over, and logs
out at the end of the shift (or after the call in progress). The handle time the monitor measures
from these states is therefore exactly the generator's handle time. The rota is what was planned
before any failure: a failing provider's handlers are rostered and commissioned as on a normal
day, but fewer of them log in.
"""

from __future__ import annotations

import math
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
) -> list[Emitted]:
    """Each handler's states through its shift, in its own time order, before `end_ms`."""
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
        for start, handle in calls.get(k, []):
            talk = max(1, round(handle * TALK_SHARE))
            states += [(start, "on_call"), (start + talk, "wrap_up"), (start + handle, "ready")]
            last_ms = start + handle
        if off_ms != NEVER_MS:
            states.append((max(off_ms, last_ms), "logged_out"))
        for ms, state in states:
            if ms < end_ms:
                ev = AgentStateEvent(agent, ms / 1000, region, provider, ROLE, state)
                out.append(Emitted("agent-states", region, ms / 1000, ev))
    return out


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
    on_duty = np.maximum(1, np.rint(erlang * staffing))
    cut = np.maximum(float(left > 0), np.rint(on_duty * left))
    return on_duty.astype(np.int64), np.where(failed, cut, on_duty).astype(np.int64)


def shifts_of(on_duty: IntArray, start_ms: int) -> list[tuple[int, int]]:
    """Stack the per-minute head count into shifts (on_ms, off_ms): the last ones in leave first."""
    shifts: list[tuple[int, int]] = []
    opened: list[int] = []
    for m, n in enumerate(on_duty.tolist()):
        t = start_ms + 60_000 * m
        while len(opened) < n:
            opened.append(t)
        while len(opened) > n:
            shifts.append((opened.pop(), t))
    shifts.extend((t, NEVER_MS) for t in opened)
    return shifts
