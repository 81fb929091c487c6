"""Overflow routing for the contingency teams: the policy agent (region status and operator
requests in, OverflowCommands out), operator requests, command reads and the HTTP API.

Imports `contract` and `detectors/` only; the worker composes it with `live` (streams.cli).
"""
