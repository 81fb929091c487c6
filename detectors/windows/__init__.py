"""Event-time windows for one region: 1-minute buckets, a watermark, rolling totals and KPIs.

Why this exists: Faust's windowed tables expire windows by the wall clock and never see the event's
own ``ts`` (DESIGN.md, "Faust caveat"). Here every count lands in the bucket of the minute the event
happened in; a per-region watermark (max event time seen - grace) says which minutes are closed; and
the state is plain data with an exact JSON round trip, so a plain Faust table and its changelog can
hold it and a replay at any speed gives the numbers of the live day.

This is the package's face: it re-exports what importers use, so ``from detectors.windows import
apply`` and ``windows.apply`` need not know which module holds a name. One responsibility a module
(each imports its siblings directly, never this face):

- :mod:`.state`: the plain data: the config, a call event, a bucket, a region's state and the
  indexes derived from it; result codes and event kinds.
- :mod:`.buckets`: the bucket store: :func:`apply` counts an event into its minute's bucket IN
  PLACE (why, and its order independence, are in that module's doc).
- :mod:`.retention`: the watermark, the closed minute, and eviction behind retention.
- :mod:`.open_calls`: open calls and unpaired callbacks, and the heaps that expire them.
- :mod:`.sums`: window totals rolled on a minute at a time, the per-minute region sums, the KPIs.
- :mod:`.snapshot`: the exact, versioned JSON round trip of a region's state.
"""

from __future__ import annotations

from detectors.windows.buckets import apply, initial, providers
from detectors.windows.open_calls import calls_waiting, longest_wait_seconds
from detectors.windows.retention import closed_minute, oldest_minute, watermark
from detectors.windows.snapshot import from_json, to_json
from detectors.windows.state import (
    ABANDONED,
    ANSWERED,
    CALLBACK_MADE,
    CALLBACK_REQUESTED,
    DISPOSITION,
    DUPLICATE,
    KINDS,
    LATE,
    OFFERED,
    OK,
    STATE_VERSION,
    TOO_LATE,
    Bucket,
    CallObs,
    RegionState,
    WindowConfig,
)
from detectors.windows.sums import Kpis, MinuteSums, Totals, kpis, minute_sums, window_totals

__all__ = [
    "ABANDONED",
    "ANSWERED",
    "CALLBACK_MADE",
    "CALLBACK_REQUESTED",
    "DISPOSITION",
    "DUPLICATE",
    "KINDS",
    "LATE",
    "OFFERED",
    "OK",
    "STATE_VERSION",
    "TOO_LATE",
    "Bucket",
    "CallObs",
    "Kpis",
    "MinuteSums",
    "RegionState",
    "Totals",
    "WindowConfig",
    "apply",
    "calls_waiting",
    "closed_minute",
    "from_json",
    "initial",
    "kpis",
    "longest_wait_seconds",
    "minute_sums",
    "oldest_minute",
    "providers",
    "to_json",
    "watermark",
    "window_totals",
]
