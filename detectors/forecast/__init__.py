"""Service-level breach forecast: the seconds until a region's rolling service level breaches.

Why: ServiceLevelBelowStandard pages once the hour is already being lost (60- and 15-minute
service level below its threshold, held for its `for:`). A queue forecast from the same windows
can warn while there is still time to bring staff forward or arrange overflow (DESIGN.md,
issue 8).

What is forecast: the first minute B after the view's end minute E at which the rolling 60-minute
service level (answered within target / answered) is below ``Params.threshold`` and the
15-minute one is too (or is absent: nothing answered), with at least ``Params.min_offered``
calls offered in the hour: the condition of the ServiceLevelBelowStandard warning
(streams/contract/thresholds.py THRESHOLDS). The result is B - E seconds (B's figures are shown B -
E after E's), 0 if the condition already holds at E, +inf if it does not come within
``Params.horizon_seconds``. A region that answers nothing has no service level, so a total
collapse alone never "breaches" (the abandonment and calls-waiting alerts speak then), and
answering a backlog of long waiters lowers the service level sooner than leaving them: more
capacity can bring the breach sooner (tests/unit/test_forecast.py has both, by hand).

The model, per provider (each answers its own queue): a fluid FIFO queue of impatient callers,
its arrival rate, capacity, calls waiting and callers' patience estimated from the state, run
forward from the region's newest event time (``state.max_ts_s``, "now") in steps of
``Params.step_seconds``. Each step of the forecast is a module (each imports its siblings
directly, never this face, which re-exports what importers use):

- :mod:`.params`: ``Params`` and the results, ``Inputs`` and ``Forecast``, that every step shares.
- :mod:`.estimate`: the inputs from the past minutes: arrivals, capacity, the queue, patience.
- :mod:`.projection`: the fluid queues run forward, and the Erlang A share within target.
- :mod:`.breach`: the warning rule's condition judged over the minutes, and :func:`forecast`.

Pure and deterministic: a RegionState in, a Forecast out; no clock (the region's event time).
"""

from __future__ import annotations

from detectors.forecast.breach import FloatArray, _breach_index, forecast
from detectors.forecast.estimate import _minutes
from detectors.forecast.params import (
    MINUTE,
    MODELS,
    NONE_COMING,
    Forecast,
    Inputs,
    Params,
    ProviderInputs,
    _Minutes,
)
from detectors.forecast.projection import _add, _fill, erlang_a_service_level

# The private helpers tests/unit/test_forecast.py exercises one by one are re-exported too.
__all__ = [
    "MINUTE",
    "MODELS",
    "NONE_COMING",
    "FloatArray",
    "Forecast",
    "Inputs",
    "Params",
    "ProviderInputs",
    "_Minutes",
    "_add",
    "_breach_index",
    "_fill",
    "_minutes",
    "erlang_a_service_level",
    "forecast",
]
