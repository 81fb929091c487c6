"""The calibrated NHS 111 traffic generator, its scenarios and ground truth, playing events onto
the topics or into files, and the history baselines learnt from generated weeks.

Imports `contract` and `detectors/` only.
"""
