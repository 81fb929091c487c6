"""The contract with the outside world: event records and their validation, the region catalogue,
topic names, settings, Kafka security and shared Kafka I/O, alert thresholds and rules, errors.

Imports only `detectors/` and itself: every feature of `streams/` may depend on it.
"""
