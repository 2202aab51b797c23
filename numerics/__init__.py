"""Numeric side of unlearnstab: operators, simulation, curvature and the claim checks."""

__version__ = "0.1.0"
