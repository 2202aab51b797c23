"""Symbolic side of unlearnstab: exact expressions for the linearised unlearning model.

Nothing in this package imports torch or :mod:`numerics`.  Every closed form is a sympy
expression with a lambdified float callable beside it.
"""
