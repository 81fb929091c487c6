"""The live path: the Faust app, its topic handles, the per-region engine that batches,
checkpoints and owns regions, the answer-rate and dispatch agents, dead letters and /metrics.

Imports `engine`, `contract` and `detectors/`; never another feature.
"""
