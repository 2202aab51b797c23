"""Commuting families: detection and the exact almost-sure threshold (filled in by theory)."""

from __future__ import annotations

from numerics.operator import SecondMomentOperator


def exact_eta_star_as(op: SecondMomentOperator) -> float | None:
    """Exact almost-sure threshold when the family is commuting of diagonal-law type, else None."""
    return None
