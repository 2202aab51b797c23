"""Verification layer: the claim registry, golden expressions and thresholds, generated tables.

Imports every layer below it (core, curvature, sweep, applications); never the command line.
"""
