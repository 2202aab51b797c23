"""One report dictionary for an operator: the quantities every command prints."""

from __future__ import annotations

from typing import Any

from numerics.core.operator import SecondMomentOperator


def verdict_text(escapes_every: bool, eta_star: float | None, eta: float | None,
                 rho: float | None) -> str:
    """Human verdict in the mean-square sense (SPEC §2.3)."""
    if escapes_every:
        return "escapes at every step size (mean escape: lambda_min(A|V) <= 0)"
    if eta is None or rho is None:
        return f"resists below eta = {eta_star:.6g}; escapes above it (mean-square)"
    if rho < 1.0:
        return f"resists at eta = {eta:g} (mean-square stable below eta* = {eta_star:.6g})"
    return f"escapes at eta = {eta:g} (mean-square unstable above eta* = {eta_star:.6g})"


def operator_report(op: SecondMomentOperator, eta: float | None = None,
                    method: str = "auto") -> dict[str, Any]:
    """``rho``, ``eta_star_ms``, ``eta_star_as``, ``escapes_at_every_eta``, ``lambda_min_A``, ...

    ``eta_star_ms`` is ``None`` when the mean escapes (no step size is mean-square stable);
    ``eta_star_as`` is given only where it is exactly computable (commuting families).
    """
    from numerics.core.commuting import exact_eta_star_as

    esc = op.mean_escape()
    eta_ms = None if esc.escapes_at_every_eta else op.eta_star_ms(method)
    rho = op.rho(eta, method) if eta is not None else None
    eta_as = None if esc.escapes_at_every_eta else exact_eta_star_as(op)
    return {
        "notion": "mean-square (rho of the second-moment operator T)",
        "active_dim": op.dim,
        "ambient_dim": op.ambient_dim,
        "eta": eta,
        "rho": rho,
        "eta_star_ms": eta_ms,
        "eta_star_as": eta_as,
        "escapes_at_every_eta": esc.escapes_at_every_eta,
        "lambda_min_A": esc.lambda_min,
        "lambda_max_A": esc.lambda_max,
        "witness": esc.witness,
        "verdict": verdict_text(esc.escapes_at_every_eta, eta_ms, eta, rho),
    }
