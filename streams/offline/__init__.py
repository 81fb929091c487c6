"""The live detectors over recordings: replay (one process or `--jobs N`), the signals a backtest
reruns alert machines on, the rows replay and backtest write, and the providers' scorecard.

Imports `engine`, `contract` and `detectors/`; never another feature.
"""
