"""surge-monitor's I/O side, in packages by concern that import one way (DESIGN.md, Layout):

    cli  ->  live | overflow | offline | simulate | stack  ->  engine  ->  contract  ->  detectors

tests/unit/test_layout.py reads the imports from the sources and fails on a circle or on an
import against this direction.
"""
