"""Configuration fails fast with a message that says what to fix."""

from __future__ import annotations

import pytest

from streams.contract.catalogue import default_catalogue, parse_catalogue
from streams.contract.config import load_settings
from streams.contract.errors import ConfigError
from streams.contract.settings import settings_env


def test_defaults_run_on_loopback_at_the_design_ports() -> None:
    """With no SURGE_* variables every port is the design's default on 127.0.0.1."""
    s = load_settings({})
    assert s.kafka_broker == "kafka://127.0.0.1:9092"
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert (s.prometheus_port, s.alertmanager_port, s.metrics_port) == (9090, 9093, 9108)
    assert s.metrics_host == "127.0.0.1"


def test_environment_overrides_and_round_trips_through_settings_env() -> None:
    """SURGE_* variables set fields, and settings_env hands the same settings to a child."""
    s = load_settings({"SURGE_WORKERS": "3", "SURGE_TOPIC_CALLS": "calls", "PATH": "/bin"})
    assert s.workers == 3
    assert s.worker_metrics_ports() == [9108, 9109, 9110]
    assert load_settings(settings_env(s)) == s


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SURGE_KAFKA_BROKERS": "x"}, "unknown setting SURGE_KAFKA_BROKERS"),
        ({"SURGE_KAFKA_BROKER": "localhost:9092"}, "kafka://host:port"),
        ({"SURGE_KAFKA_BROKER": "kafka://localhost"}, "kafka://host:port"),
        ({"SURGE_METRICS_PORT": "99999"}, "not a TCP port"),
        ({"SURGE_METRICS_PORT": "nine"}, "not a valid int"),
        ({"SURGE_LOG_LEVEL": "loud"}, "SURGE_LOG_LEVEL"),
        ({"SURGE_SESSION_TIMEOUT_SECONDS": "1"}, "at least 6"),
        ({"SURGE_CATALOGUE": "/nonexistent.toml"}, "is not a file"),
        ({"SURGE_TOPIC_ALERTS": "nhs111.call-events"}, "must all differ"),
        ({"SURGE_EVENT_LOOP": "trio"}, "SURGE_EVENT_LOOP='trio': use uvloop or asyncio"),
    ],
)
def test_bad_settings_fail_with_a_message_that_says_what_to_fix(
    env: dict[str, str], message: str
) -> None:
    """Each bad setting is refused at start-up, naming the variable or the fix."""
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


@pytest.mark.parametrize("name", ["asyncio", "uvloop"])
def test_event_loop_setting_picks_the_workers_loop(name: str) -> None:
    """SURGE_EVENT_LOOP is accepted for both loops and gives the worker a loop of that kind."""
    from streams.live.worker import new_event_loop

    settings = load_settings({"SURGE_EVENT_LOOP": name})
    loop = new_event_loop(settings.event_loop)
    try:
        assert type(loop).__module__.split(".")[0] == name
    finally:
        loop.close()


def test_default_catalogue_has_the_ten_design_regions() -> None:
    """The packaged catalogue holds the design's region codes, one provider for NW and WM."""
    cat = default_catalogue()
    assert set(cat.codes()) == {
        "north-west",
        "west-midlands",
        "east-midlands",
        "yorkshire",
        "north-east",
        "east-of-england",
        "london",
        "south-east",
        "south-central",
        "south-west",
    }
    assert cat.region("north-west").provider_ids() == cat.region("west-midlands").provider_ids()
    assert abs(sum(r.population_share for r in cat.regions) - 1.0) < 0.01


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("regions = 3", "needs a"),
        ("[regions.Bad_Code]\nname='x'", "lower-case"),
        (
            "[regions.a]\nname='A'\npopulation_share=0.5\nneighbours=['b']\n"
            "providers=[{id='p', name='P', share=1.0}]",
            "neighbours",
        ),
        (
            "[regions.a]\nname='A'\npopulation_share=0.5\n"
            "providers=[{id='p', name='P', share=0.5}]",
            "sum to 1",
        ),
        ("[regions.a]\nname='A'\npopulation_share=0.5\nproviders=[]", "at least one provider"),
        ("[regions.a]\nname='A'\ncolour='red'", "unknown keys"),
        ("not toml ===", "not valid TOML"),
    ],
)
def test_bad_catalogues_are_refused(text: str, message: str) -> None:
    """A catalogue with a typo is refused with the region and the problem named."""
    with pytest.raises(ConfigError, match=message):
        parse_catalogue(text, "test.toml")
