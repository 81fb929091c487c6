"""The per-region computation that the live agents and the offline replay both run (answer-rate
and dispatch state, in-stream alert machines, Alert records), so a replay equals the live day.

No Kafka and no Faust here; imports `contract` and `detectors/` only.
"""
