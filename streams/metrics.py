"""Every Prometheus metric of the design, named once (../shared/DESIGN.md, section Metrics).

Built on a registry passed in, so tests use a fresh `CollectorRegistry()` each. Label sets known at
start-up are pre-initialised: a region that has sent nothing yet shows 0, not a missing series, so
`rate()` and `RegionFeedSilent` work from the first scrape. Children are cached in dicts so the hot
path does no label lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from streams.catalogue import Catalogue

CALL_OUTCOMES = ("offered", "answered", "abandoned")
EVENT_RESULTS = ("ok", "invalid", "late", "duplicate")


@dataclass(frozen=True, slots=True)
class Metrics:
    calls_total: Counter
    events_total: Counter
    _calls: dict[tuple[str, str, str], Counter]
    _events: dict[tuple[str, str], Counter]

    @classmethod
    def create(
        cls, registry: CollectorRegistry, catalogue: Catalogue, topics: tuple[str, ...]
    ) -> Metrics:
        calls_total = Counter(
            "surge_calls_total",
            "111 calls by outcome, counted at the event's own time (offered, answered, abandoned).",
            ["region", "provider", "outcome"],
            registry=registry,
        )
        events_total = Counter(
            "surge_events_total",
            "Events read from each input topic by validation result.",
            ["topic", "result"],
            registry=registry,
        )
        calls = {
            (region, provider, outcome): calls_total.labels(region, provider, outcome)
            for region, provider in catalogue.pairs()
            for outcome in CALL_OUTCOMES
        }
        events = {
            (topic, result): events_total.labels(topic, result)
            for topic in topics
            for result in EVENT_RESULTS
        }
        return cls(calls_total, events_total, calls, events)

    def count_call(self, region: str, provider: str, outcome: str) -> None:
        """Count one call outcome; events that are not outcomes (dispositions, callbacks) pass."""
        child = self._calls.get((region, provider, outcome))
        if child is not None:
            child.inc()

    def count_event(self, topic: str, result: str) -> None:
        self._events[(topic, result)].inc()
