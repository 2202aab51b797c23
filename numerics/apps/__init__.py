"""Application layer: ``diagnose`` (a user's model), the two-layer CNN experiment and the examples.

Imports the core, curvature and sweep layers; never the verification layer or the command line.
"""
