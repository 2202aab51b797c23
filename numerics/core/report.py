"""One report dictionary for an operator: the quantities every command prints."""

from __future__ import annotations

from typing import Any

from numerics.core.operator import SecondMomentOperator

#: The sentence for a neutral direction (SPEC §2.3(c), the boundary case of the mean-escape test).
NEUTRAL_TEXT = ("neutral at every step size: lambda_min(A|V) = 0 with no batch noise along its "
                "witness, so rho(T) = 1 for every eta (that component neither grows nor decays; "
                "no step size is mean-square stable)")


def verdict_text(escapes_every: bool, eta_star: float | None, eta: float | None,
                 rho: float | None) -> str:
    r"""Human verdict in the mean-square sense (SPEC §2.3).

    ``eta_star`` 0 (or ``None``) without a mean escape is the neutral case: the stable set
    :math:`(0,\eta^\star)` is empty, yet nothing grows along the neutral direction.
    """
    if escapes_every:
        return "escapes at every step size (mean escape: lambda_min(A|V) <= 0)"
    if not eta_star:
        return NEUTRAL_TEXT
    if eta is None or rho is None:
        return f"resists below eta = {eta_star:.6g}; escapes above it (mean-square)"
    if eta < eta_star:
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
