"""The staffing metrics on /metrics, from views a replay of generated handlers gives."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from detectors.rota import RotaIndex
from streams.contract.catalogue import default_catalogue
from streams.contract.config import load_settings
from streams.contract.errors import ConfigError
from streams.contract.rota import parse_rota_csv
from streams.contract.settings import Settings
from streams.live.metrics import Metrics
from streams.offline.replayer import Replayer, route
from streams.simulate import generator, scenarios
from streams.simulate.play import write_jsonl, write_rota

START = 1364544000.0  # Good Friday 2013, 08:00 UTC


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> CollectorRegistry:
    catalogue = default_catalogue()
    day = replace(scenarios.launch_day(START, 3 * 3600, failure_after_s=3600), agent_states=True)
    path = tmp_path_factory.mktemp("day") / "day.jsonl"
    write_jsonl(generator.generate(day, catalogue, 11), path)
    replayer = Replayer(Settings(), catalogue)
    for line in path.read_bytes().splitlines():
        replayer.routed(route(line, catalogue))
    result = replayer.finish()
    registry = CollectorRegistry()
    providers = {r.code: tuple(p.id for p in r.providers) for r in catalogue.regions}
    m = Metrics(registry, ("calls", "dispatches", "agents"), providers=providers)
    rota = tmp_path_factory.mktemp("rota") / "rota.csv"
    write_rota(generator.rota(day, catalogue), rota)
    m.rota = RotaIndex(parse_rota_csv(rota.read_text(), catalogue, str(rota)))
    for region, view in result.views.items():
        m.regions.publish(region, view)
    for region, staff in result.staffing.items():
        m.staffing.publish(region, staff)
    return registry


def staffed(registry: CollectorRegistry, region: str, provider: str) -> float:
    return sum(
        registry.get_sample_value(
            "surge_agents",
            {"region": region, "provider": provider, "role": "health_adviser", "state": s},
        )
        or 0.0
        for s in ("ready", "on_call", "wrap_up")
    )


def required(registry: CollectorRegistry, region: str, provider: str) -> float | None:
    labels = {"region": region, "provider": provider, "role": "health_adviser"}
    return registry.get_sample_value("surge_agents_required", labels)


def test_failing_regions_staff_well_below_required_and_healthy_ones_near_it(
    metrics: CollectorRegistry,
) -> None:
    """Two hours into the launch-day failure north-west has about a third of the handlers its
    demand needs; a healthy region has about what it needs (within 25 %)."""
    nw = staffed(metrics, "north-west", "nhs-direct") / (
        required(metrics, "north-west", "nhs-direct") or 1
    )
    assert nw < 0.5
    yas = staffed(metrics, "yorkshire", "yas") / (required(metrics, "yorkshire", "yas") or 1)
    assert 0.75 <= yas <= 1.3


def test_the_rota_shows_the_failing_provider_short_of_what_was_commissioned(
    metrics: CollectorRegistry,
) -> None:
    """From the generator's own rota: north-west staffed under half of commissioned, Yorkshire
    within 10 % of it; every region shows its rota interval."""

    def planned(name: str, region: str, provider: str) -> float | None:
        labels = {"region": region, "provider": provider, "role": "health_adviser"}
        return metrics.get_sample_value(name, labels)

    nw = planned("surge_agents_commissioned", "north-west", "nhs-direct")
    yas = planned("surge_agents_commissioned", "yorkshire", "yas")
    assert nw and yas
    assert planned("surge_agents_rostered", "north-west", "nhs-direct") == nw
    assert staffed(metrics, "north-west", "nhs-direct") / nw < 0.5
    assert 0.9 <= staffed(metrics, "yorkshire", "yas") / yas <= 1.1
    labels = {"region": "london", "provider": "lcw", "role": "clinician"}
    assert metrics.get_sample_value("surge_agents_commissioned", labels) is None  # no plan


def test_staff_seconds_and_handle_time_are_exported(metrics: CollectorRegistry) -> None:
    """Staff seconds by state and the hour's mean handle time (near the generator's 480 s)."""
    labels = {
        "region": "yorkshire",
        "provider": "yas",
        "role": "health_adviser",
        "state": "on_call",
    }
    assert (metrics.get_sample_value("surge_staff_seconds_total", labels) or 0) > 3600
    handle = metrics.get_sample_value(
        "surge_handle_time_seconds", {"region": "yorkshire", "provider": "yas", "window": "60m"}
    )
    assert handle is not None and 380 <= handle <= 580


@pytest.mark.parametrize(
    ("name", "value"),
    [("SURGE_AGENT_STALE_SECONDS", "0"), ("SURGE_CALLER_PATIENCE_SECONDS", "-1")],
)
def test_bad_staffing_settings_fail_at_start_up(name: str, value: str) -> None:
    """A stale limit of 0 or a negative patience is refused with the variable named."""
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})
