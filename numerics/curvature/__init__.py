"""Curvature layer: a model and a loss become a pool of per-sample curvature, and its coherence.

Imports :mod:`numerics.core` (and :mod:`theory`); never an application, the verification layer
or the command line.
"""
