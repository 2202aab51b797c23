r"""Least squares with outliers to forget: a case where the linearisation of ``diagnose`` is exact.

A linear model :math:`f(w,x)=x^\top w+b` at its exact least-squares fit on ``n`` samples, the
forget set being the last ``outliers`` samples (targets shifted by ``shift`` times a standard
normal draw), with the per-sample loss :math:`\ell_i=\tfrac12(f(w,x_i)-y_i)^2`.  The per-sample
Hessian :math:`\tilde x_i\tilde x_i^\top` (:math:`\tilde x=(x,1)`) does not depend on the
weights, so gradient-difference unlearning from the fit *is* the forced affine recursion of
:mod:`numerics.core.forcing` and the forget loss *is* its quadratic model: the predicted steps
to escape of ``diagnose`` (:mod:`numerics.apps.diagnose.forecast`) are exact in mean square.

Usage::

    from numerics.apps.examples import outliers
    model, retain, forget = outliers.problem()
    diagnose(model, outliers.half_squares, retain, forget, options)
"""

from __future__ import annotations

import torch

__all__ = ["problem", "half_squares"]


def problem(seed: int = 0, n: int = 40, d: int = 4, outliers: int = 4, shift: float = 3.0
            ) -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor],
                       tuple[torch.Tensor, torch.Tensor]]:
    """The fitted model, the retain set and the forget set (the outliers), float64, seeded.

    Parameters
    ----------
    seed:
        Seed of the inputs and of the outliers' shifts.
    n, d, outliers, shift:
        Samples, input dimension, forget-set size, scale of the outliers' target shift.

    Returns
    -------
    tuple
        ``(model, (X_retain, y_retain), (X_forget, y_forget))``.
    """
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    w_true = torch.tensor([1.0, -2.0, 0.5, 1.5], dtype=torch.float64).repeat(d // 4 + 1)[:d]
    y = X @ w_true
    y[-outliers:] += shift * torch.randn(outliers, generator=g, dtype=torch.float64)
    model = torch.nn.Linear(d, 1).double()
    Xa = torch.cat([X, torch.ones(n, 1, dtype=torch.float64)], 1)
    sol = torch.linalg.lstsq(Xa, y[:, None]).solution[:, 0]
    with torch.no_grad():
        model.weight.copy_(sol[:d][None])
        model.bias.copy_(sol[d:])
    return model, (X[:-outliers], y[:-outliers]), (X[-outliers:], y[-outliers:])


def half_squares(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Per-sample :math:`\tfrac12(f-y)^2` (``out`` of shape ``(n, 1)``)."""
    return 0.5 * (out[:, 0] - target) ** 2
