r"""Sufficient conditions computable from the data (SPEC §3.4), evaluated on an operator.

**Convergence (resist).**  With :math:`A\succ0` on :math:`V` and
:math:`K=\tilde w_r\sum_i\lambda_{\max}(H^r_i)H^r_i+\tilde w_f\sum_k\lambda_{\max}(H^f_k)H^f_k`,

.. math:: \eta<\eta_{\rm conv}=\frac{2}{\lambda_{\max}(A)+c^\star},\qquad
   c^\star=\lambda_{\max}(A^{-1/2}KA^{-1/2})\ \Longrightarrow\ \text{mean-square stable}.

Here :math:`\tilde w=w^2a` with :math:`w\in\{1-\alpha,\alpha\}` and :math:`a` the diagonal
coefficient of :math:`\mathcal C` (:func:`theory.moments.covariance_coefficients`): for all three
sampling models the mean coefficient :math:`b\le0`, so
:math:`\mathcal C(I)\preceq a\sum_iH_i^2\preceq a\sum_i\lambda_{\max}(H_i)H_i`.  For signed
(indefinite) curvature :math:`H_i=F_iS_iF_i^\top` the last step uses
:math:`H_i^2\preceq\|F_i\|_2^2F_iF_i^\top` instead
(:meth:`~numerics.core.pools.CurvaturePool.square_majorant`), which is the same for PSD pools.

**Divergence (escape).**  For a unit :math:`v\in V`, with :math:`a_v=v^\top Av` and
:math:`s_v=\langle vv^\top,\mathcal N(vv^\top)\rangle`,

.. math:: a_v\le0\ (s_v>0)\quad\text{or}\quad\eta>\eta_{\rm div}(v)=\frac{2a_v}{a_v^2+s_v}
   \ \Longrightarrow\ \text{mean-square unstable},

the Rayleigh quotient of the self-adjoint :math:`\mathcal T` at :math:`M=vv^\top`.  Candidate
directions: the eigenvectors of :math:`A` and the top eigenvector of every :math:`H_i`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.core.operator import SecondMomentOperator
from theory.bounds import eta_conv_value, eta_div_value

__all__ = ["SufficientBounds", "sufficient_bounds", "candidate_directions", "quadratic_forms"]


@dataclass(frozen=True)
class SufficientBounds:
    """The two sufficient thresholds: stable below ``eta_conv``, unstable above ``eta_div``."""

    eta_conv: float
    eta_div: float
    c_star: float
    best_direction: np.ndarray
    escapes_at_every_eta: bool


def candidate_directions(op: SecondMomentOperator) -> np.ndarray:
    """Unit columns: eigenvectors of :math:`A` and top eigenvectors of every :math:`H_i`."""
    cols = [op.eig_A()[1], op.retain.top_directions()]
    if op.forget is not None:
        cols.append(op.forget.top_directions())
    return np.concatenate(cols, axis=1)


def quadratic_forms(op: SecondMomentOperator, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Vectorised :math:`a_v=v^\top Av` and :math:`s_v=\langle vv^\top,\mathcal N(vv^\top)\rangle`.

    With :math:`h_{iv}=v^\top H_iv` (:meth:`~numerics.core.pools.CurvaturePool.quadratic_forms`):
    :math:`\langle vv^\top,\mathcal C(vv^\top)\rangle=a\sum_ih_{iv}^2+b\,(v^\top\bar Hv)^2`.
    """
    a_v = np.einsum("rc,rs,sc->c", V, op.A, V)
    s_v = np.zeros(V.shape[1])
    terms = [(op.weight_retain, op.retain, op.coef_retain, op.mean_retain)]
    if op.forget is not None and op.weight_forget != 0.0:
        terms.append((op.weight_forget, op.forget, op.coef_forget, op.mean_forget))
    for w, pool, (a, b), mean in terms:
        h = pool.quadratic_forms(V)  # (n, c), signs included
        hbar = np.einsum("rc,rs,sc->c", V, mean, V)
        s_v += w**2 * (a * (h**2).sum(axis=0) + b * hbar**2)
    return a_v, s_v


def sufficient_bounds(op: SecondMomentOperator, directions: np.ndarray | None = None,
                      rtol: float = 1e-12) -> SufficientBounds:
    r"""Evaluate :math:`\eta_{\rm conv}` and :math:`\min_v\eta_{\rm div}(v)` (SPEC §3.4)."""
    V = candidate_directions(op) if directions is None else directions
    a_v, s_v = quadratic_forms(op, V)
    scale = max(float(np.abs(op.A).max()), np.finfo(float).tiny)
    escape_dirs = (a_v <= rtol * scale) & (s_v > rtol * scale**2)
    evals, evecs = op.eig_A()
    if escape_dirs.any() or evals[0] <= 0:
        j = int(np.flatnonzero(escape_dirs)[0]) if escape_dirs.any() else 0
        return SufficientBounds(0.0, 0.0, float("nan"), op.basis @ V[:, j], True)
    div = np.where(a_v > 0, eta_div_value(a_v, s_v), np.inf)
    j = int(np.argmin(div))
    # K and c* = lambda_max(A^{-1/2} K A^{-1/2})
    K = np.zeros_like(op.A)
    terms = [(op.weight_retain, op.retain, op.coef_retain[0])]
    if op.forget is not None and op.weight_forget != 0.0:
        terms.append((op.weight_forget, op.forget, op.coef_forget[0]))
    for w, pool, a in terms:
        F = pool.square_majorant()  # H_i^2 <= G_i G_i^T
        Fs = F.transpose(1, 0, 2).reshape(op.dim, -1)
        K += w**2 * a * (Fs @ Fs.T)
    inv_sqrt = evecs / np.sqrt(evals)
    c_star = float(np.linalg.eigvalsh(inv_sqrt.T @ K @ inv_sqrt)[-1])
    return SufficientBounds(float(eta_conv_value(evals[-1], c_star)), float(div[j]), c_star,
                            op.basis @ V[:, j], False)
