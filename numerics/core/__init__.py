"""Core layer: configuration, validation, pools, the operator, simulation and families.

Imports only :mod:`theory` and third-party libraries; never the curvature, sweep, application,
verification or command-line layers.
"""
