"""The local stack on loopback: Kafka (KRaft), Prometheus, Alertmanager, the alert sink and the
workers, started and health-checked as processes; free-port helpers for the tests.

Imports `contract` only (a worker is started as a `surge-monitor worker` process).
"""
