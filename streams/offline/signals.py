"""A replay's alert inputs as numpy columns: replay once, backtest thresholds many times.

Why: a backtest replays the whole event file (windows, referral detector, breach forecast) for
every thresholds file, yet the thresholds change only the alert machines
(`streams.engine.alerting.alert_specs`), not the figures they read. The referral detector has no
thresholds, and the breach forecast runs with `detectors.forecast.Params()` defaults whatever the
thresholds file says (`detectors.answer_rates.region_view`): a file that moves
service_level_warning moves the ServiceLevelBelowStandard machines, not the forecast's own 0.85.
So a replay records, per step view (one region, one closed minute), exactly what
`detectors.region_alerts.signal` and `evaluate` read, and a backtest rebuilds a RegionView
carrying those fields (the rest empty or zero) and steps the same machines with the same
`region_alerts.evaluate`: one code path for the signal logic, none of it redone here.

Recorded per row: region, watermark, history_minutes, the region-wide ("all") windows' offered,
service level and abandon rate, calls waiting (all), longest wait, the referral spikes (present,
expected, score, alarmed per kind) and the breach forecast. None is stored as NaN; a NaN itself
is refused (it would read back as None, which a signal can treat differently). Rows keep the
order they were recorded in: per region that is event-time order, all the machines need.
"""

from __future__ import annotations

import math
import zipfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import structlog

from detectors import region_alerts
from detectors.answer_rates import ALL_PROVIDERS, RegionView, WindowKpis
from detectors.hysteresis import AlertState
from detectors.referrals import KINDS
from detectors.region_alerts import AlertEvent
from detectors.windows import Kpis
from streams.contract.errors import ConfigError
from streams.contract.thresholds import THRESHOLDS, Thresholds
from streams.engine.alerting import alert_specs

log = structlog.get_logger(__name__)

FORMAT_VERSION: Final = 1
NAN: Final = float("nan")

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Signals:
    """The columns, one row per step view; 2-D columns have one column per window or kind."""

    regions: tuple[str, ...]  # `region` indexes this
    windows: tuple[str, ...]  # the region-wide window labels, e.g. ("15m", "60m")
    kinds: tuple[str, ...]  # the referral kinds, detectors.referrals.KINDS
    region: npt.NDArray[np.int16]
    watermark_s: Floats
    history_minutes: Ints
    calls_waiting: Ints  # all providers
    longest_wait_seconds: Floats  # NaN: None
    breach_forecast_seconds: Floats  # NaN: None; +inf: no breach within the horizon
    offered: Ints  # (rows, windows)
    service_level: Floats  # (rows, windows), NaN: None
    abandon_rate: Floats  # (rows, windows), NaN: None
    spike_present: Bools  # (rows, kinds): the kind is in the view's referral_spikes
    spike_expected: Floats  # (rows, kinds), NaN: None (the baseline is warming up)
    spike_score: Floats  # (rows, kinds)
    spike_alarmed: Bools  # (rows, kinds)

    def __len__(self) -> int:
        return len(self.region)

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Every field as an array, by field name: what the .npz holds."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}


def _stored(x: float | None, what: str) -> float:
    if x is None:
        return NAN
    if math.isnan(x):
        raise ValueError(
            f"{what} is NaN: it would read back as None; the signals file can't hold it"
        )
    return x


class SignalRecorder:
    """`on_view` of a replay: appends each step view's alert inputs to typed arrays, about 130
    bytes a row (a year of England, about 5.3 M rows: 0.7 GB, twice that while `signals()`
    copies them into numpy)."""

    def __init__(self) -> None:
        self.regions: list[str] = []
        self._index: dict[str, int] = {}
        self.windows: tuple[str, ...] | None = None  # from the first view
        self._region = array("h")
        self._watermark = array("d")
        self._history = array("q")
        self._waiting = array("q")
        self._longest = array("d")
        self._forecast = array("d")
        self._offered = array("q")
        self._level = array("d")
        self._abandon = array("d")
        self._present = array("b")
        self._expected = array("d")
        self._score = array("d")
        self._alarmed = array("b")

    def __call__(self, region: str, view: RegionView) -> None:
        k = self._index.get(region)
        if k is None:
            k = self._index[region] = len(self.regions)
            self.regions.append(region)
        hour = [w for w in view.windows if w.provider == ALL_PROVIDERS]
        labels = tuple(w.window for w in hour)
        if self.windows is None:
            self.windows = labels
        elif labels != self.windows:
            raise ValueError(f"view of {region} has windows {labels}, earlier views {self.windows}")
        spikes = {s[0]: s for s in reversed(view.referral_spikes)}  # the first of a kind wins
        unknown = set(spikes) - set(KINDS)
        if unknown:
            raise ValueError(f"referral kinds {sorted(unknown)} are not in {KINDS}")
        self._region.append(k)
        self._watermark.append(_stored(view.watermark_s, "watermark_s"))
        self._history.append(view.history_minutes)
        self._waiting.append(dict(view.calls_waiting).get(ALL_PROVIDERS, 0))
        self._longest.append(_stored(view.longest_wait_seconds, "longest_wait_seconds"))
        self._forecast.append(_stored(view.breach_forecast_seconds, "breach_forecast_seconds"))
        for w in hour:
            self._offered.append(w.offered)
            self._level.append(_stored(w.kpis.service_level, "service_level"))
            self._abandon.append(_stored(w.kpis.abandon_rate, "abandon_rate"))
        for kind in KINDS:
            spike = spikes.get(kind)
            if spike is None:
                self._present.append(0)
                self._expected.append(NAN)
                self._score.append(NAN)
                self._alarmed.append(0)
            else:
                _, expected, score, alarmed = spike
                self._present.append(1)
                self._expected.append(_stored(expected, "referral expected"))
                self._score.append(score)
                self._alarmed.append(int(alarmed))

    def __len__(self) -> int:
        return len(self._region)

    def signals(self) -> Signals:
        n, windows = len(self), self.windows or ()

        def by(a: array[Any], dtype: type[np.generic], width: int) -> npt.NDArray[Any]:
            return np.array(a, dtype=dtype).reshape(n, width)

        return Signals(
            regions=tuple(self.regions),
            windows=windows,
            kinds=KINDS,
            region=np.array(self._region, dtype=np.int16),
            watermark_s=np.array(self._watermark, dtype=np.float64),
            history_minutes=np.array(self._history, dtype=np.int64),
            calls_waiting=np.array(self._waiting, dtype=np.int64),
            longest_wait_seconds=np.array(self._longest, dtype=np.float64),
            breach_forecast_seconds=np.array(self._forecast, dtype=np.float64),
            offered=by(self._offered, np.int64, len(windows)),
            service_level=by(self._level, np.float64, len(windows)),
            abandon_rate=by(self._abandon, np.float64, len(windows)),
            spike_present=by(self._present, np.bool_, len(KINDS)),
            spike_expected=by(self._expected, np.float64, len(KINDS)),
            spike_score=by(self._score, np.float64, len(KINDS)),
            spike_alarmed=by(self._alarmed, np.bool_, len(KINDS)),
        )

    def write(self, path: Path) -> Signals:
        signals = self.signals()
        write(signals, path)
        return signals


LABELS: Final = ("regions", "windows", "kinds")


def write(signals: Signals, path: Path) -> None:
    """A compressed .npz (at `path` as given: numpy would add .npz to a bare name)."""
    arrays = signals.arrays()
    for name in LABELS:
        arrays[name] = np.array(getattr(signals, name), dtype=np.str_)
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    with path.open("wb") as f:
        # the keys are column names (none is allow_pickle, which the stub's **kwds overlap)
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
    log.info("signals_written", path=str(path), rows=len(signals), regions=len(signals.regions))


def read(path: Path) -> Signals:
    """A file `write` made; another format version, or not a signals file, is a ConfigError."""
    remake = "make it again with `surge-monitor replay FILE --signals OUT.npz`"
    try:
        with np.load(path, allow_pickle=False) as z:
            doc = {name: z[name] for name in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"signals file {str(path)!r} is unreadable ({exc}); {remake}") from None
    version = doc.pop("format_version", None)
    if version is None or version.shape != () or int(version) != FORMAT_VERSION:
        found = "none" if version is None else str(version)
        raise ConfigError(
            f"signals file {str(path)!r} has format version {found}, this surge-monitor reads "
            f"{FORMAT_VERSION}; {remake}"
        )
    names = [f.name for f in fields(Signals)]
    if sorted(doc) != sorted(names):
        raise ConfigError(f"signals file {str(path)!r} lacks or adds columns; {remake}")
    columns: dict[str, Any] = dict(doc)
    for name in LABELS:
        columns[name] = tuple(str(x) for x in doc[name])
    signals = Signals(**columns)
    n = len(signals)
    widths = {"windows": len(signals.windows), "kinds": len(signals.kinds)}
    for name, a in signals.arrays().items():
        if name in LABELS:
            continue
        width = widths["kinds" if name.startswith("spike_") else "windows"]
        want = (n,) if a.ndim == 1 else (n, width)
        if a.shape != want:
            raise ConfigError(f"signals file {str(path)!r}: {name} is {a.shape}, not {want}")
    if n and not 0 <= int(signals.region.min()) <= int(signals.region.max()) < len(signals.regions):
        raise ConfigError(f"signals file {str(path)!r}: region index out of range; {remake}")
    return signals


def _none(x: float) -> float | None:
    return None if math.isnan(x) else x


# Rows turned into Python values at a time by `views`: a year's columns as lists at once would
# be some 100 million objects (about 6 GB), a chunk is a few MB.
VIEW_CHUNK_ROWS: Final = 65_536


def _rows(signals: Signals) -> Iterator[tuple[Any, ...]]:
    """The columns' values row by row, as Python values, VIEW_CHUNK_ROWS rows at a time."""
    columns = (
        signals.region,
        signals.watermark_s,
        signals.history_minutes,
        signals.calls_waiting,
        signals.longest_wait_seconds,
        signals.breach_forecast_seconds,
        signals.offered,
        signals.service_level,
        signals.abandon_rate,
        signals.spike_present,
        signals.spike_expected,
        signals.spike_score,
        signals.spike_alarmed,
    )
    for start in range(0, len(signals), VIEW_CHUNK_ROWS):
        chunk = slice(start, start + VIEW_CHUNK_ROWS)
        yield from zip(*(c[chunk].tolist() for c in columns), strict=True)


def views(signals: Signals) -> Iterator[tuple[str, RegionView]]:
    """(region, view) per row, in row order: a RegionView with the recorded fields, the rest
    empty or zero (no signal reads them)."""
    labels, kinds = signals.windows, signals.kinds
    for k, mark, history, waiting, longest, breach, *row in _rows(signals):
        offered, level, abandon, present, expected, score, alarmed = row
        watermark = _none(mark)
        end = 0 if watermark is None else int(watermark) - 60
        windows = tuple(
            WindowKpis(ALL_PROVIDERS, label, end, n, 0, Kpis(None, _none(sl), _none(ar), None))
            for label, n, sl, ar in zip(labels, offered, level, abandon, strict=True)
        )
        spikes = tuple(
            (kind, _none(e), s, a)
            for kind, p, e, s, a in zip(kinds, present, expected, score, alarmed, strict=True)
            if p
        )
        view = RegionView(
            watermark_s=watermark,
            windows=windows,
            referral_rates=(),
            calls_waiting=((ALL_PROVIDERS, waiting),),
            longest_wait_seconds=_none(longest),
            cumulative=(),
            wait_buckets=(),
            wait_sum_seconds=0.0,
            late=0,
            duplicates=0,
            too_late=0,
            expired_calls=0,
            history_minutes=history,
            referral_spikes=spikes,
            breach_forecast_seconds=_none(breach),
        )
        yield signals.regions[k], view


def backtest(signals: Signals, thresholds: Thresholds = THRESHOLDS) -> list[AlertEvent]:
    """The alert events the replay would have emitted with `thresholds`, in its order: each
    row's view through `region_alerts.evaluate`, one set of machines per region."""
    specs = alert_specs(thresholds)
    states: dict[str, dict[str, AlertState]] = {region: {} for region in signals.regions}
    alerts: list[AlertEvent] = []
    for region, view in views(signals):
        alerts.extend(region_alerts.evaluate(states[region], specs, view, region))
    return alerts
