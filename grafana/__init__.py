"""Grafana dashboards for surge-monitor, generated from code (see grafana/README.md)."""
