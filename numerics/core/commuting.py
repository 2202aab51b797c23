r"""Commuting families: detection and the exact almost-sure threshold (SPEC §2.4, §4.1).

A family is of *diagonal-law type* when there is an orthonormal set of common eigen-axes
:math:`e_1,\dots,e_K` (spanning the active subspace) such that every sample's Hessian is
:math:`\lambda_ie_{k(i)}e_{k(i)}^\top` (or zero), and on each axis all retain samples share one
curvature :math:`\lambda_r(k)` and all forget samples one curvature :math:`\lambda_f(k)`.  Then the
recursion decouples into the scalar multipliers of :mod:`theory.lyapunov` and the top Lyapunov
exponent is exactly :math:`\max_k\mathbb E\log|J_k|`.

Detection, vectorised over samples:

1. every sample is rank :math:`\le1`: the second eigenvalue of the ``k x k`` Gram
   :math:`F_i^\top F_i` is negligible; its direction is :math:`u_i=F_iv_i`, its curvature
   :math:`\|u_i\|^2`;
2. unit directions of the non-zero samples are pairwise parallel or orthogonal:
   :math:`|\langle\hat u_i,\hat u_j\rangle|\in\{0,1\}` up to ``AXIS_TOL``;
3. the classes of parallel directions (the axes) number at most :math:`\dim V` (a basis direction
   that carries no curvature is inert: its multiplier is :math:`J\equiv1`);
4. within each (set, axis) the curvatures agree to ``CURVATURE_RTOL``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.core.operator import SecondMomentOperator
from theory.families import AxisLaw, DiagonalFamily
from theory.lyapunov import eta_star_as

__all__ = ["diagonal_family", "diagonal_axes", "DiagonalAxes", "exact_eta_star_as", "AXIS_TOL",
           "CURVATURE_RTOL", "ZERO_RTOL"]

#: Tolerance on :math:`|\cos|` being 0 or 1: float64 rotations and QR keep it near 1e-15, and a
#: genuinely non-commuting family is far from both (a generic random pair has :math:`|\cos|` of
#: order :math:`1/\sqrt d`).
AXIS_TOL = 1e-8
#: Relative tolerance for equal curvatures on one axis (accumulated round-off of the projection).
CURVATURE_RTOL = 1e-8
#: A sample whose curvature is below this fraction of the largest one counts as a zero Hessian;
#: the second eigenvalue of a rank-one sample must be below the same fraction.
ZERO_RTOL = 1e-10


def _directions(factors: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Rank-one direction and curvature of each sample; ``ok`` False if some sample has rank > 1."""
    gram = np.einsum("ndk,ndl->nkl", factors, factors)
    evals, evecs = np.linalg.eigh(gram)
    ok = bool(factors.shape[2] == 1 or (evals[:, -2] <= ZERO_RTOL * scale).all())
    u = np.einsum("ndk,nk->nd", factors, evecs[:, :, -1])
    return u, np.clip(evals[:, -1], 0.0, None), ok


def _merge_close(values: np.ndarray) -> np.ndarray:
    """Snap values equal up to ``CURVATURE_RTOL`` to one representative (fewer distinct axes)."""
    order = np.argsort(values)
    v = values[order]
    new = np.ones(v.size, bool)
    new[1:] = v[1:] > v[:-1] * (1.0 + CURVATURE_RTOL)
    start = np.flatnonzero(new)
    rep = np.maximum.reduceat(v, start) if v.size else v
    out = np.empty_like(values)
    out[order] = rep[np.cumsum(new) - 1]
    return out


@dataclass(frozen=True)
class DiagonalAxes:
    r"""The common eigen-axes of a diagonal-law family and the samples loading on each.

    Attributes
    ----------
    directions:
        Unit axis directions in the operator's reduced coordinates, shape ``(K, r)``; only axes
        that carry curvature (a basis direction orthogonal to all of them is inert, :math:`J\equiv1`).
    m_r, m_f:
        Number of retain / forget samples on each axis, shape ``(K,)``.
    lam_r, lam_f:
        Per-sample curvature of each set on each axis (0 where the count is 0), shape ``(K,)``.
    """

    directions: np.ndarray
    m_r: np.ndarray
    m_f: np.ndarray
    lam_r: np.ndarray
    lam_f: np.ndarray


def diagonal_axes(op: SecondMomentOperator) -> DiagonalAxes | None:
    r"""Axes of ``op`` when it is a commuting family of diagonal-law type, else ``None``."""
    pools = [op.retain] + ([op.forget] if op.forget is not None else [])
    k = max(p.k for p in pools)  # pad to a common number of factor columns (zeros are inert)
    factors = np.concatenate(
        [np.pad(p.factors, ((0, 0), (0, 0), (0, k - p.k))) for p in pools], axis=0)
    set_id = np.repeat(np.arange(len(pools)), [p.n for p in pools])
    scale = max(float(np.max(np.einsum("ndk,ndk->n", factors, factors))), np.finfo(float).tiny)
    u, curv, ok = _directions(factors, scale)
    if not ok:
        return None
    live = curv > ZERO_RTOL * scale
    w = u[live] / np.sqrt(curv[live])[:, None]
    cos = np.abs(w @ w.T)
    if np.max(np.minimum(cos, np.abs(1.0 - cos))) > AXIS_TOL:
        return None
    label = np.argmax(cos > 0.5, axis=1)  # first sample parallel to each one names its axis
    axes, axis_of = np.unique(label, return_inverse=True)
    if axes.size > op.dim:
        return None
    n_sets = len(pools)
    cell = set_id[live] * axes.size + axis_of  # (set, axis) index of every live sample
    lam_live = curv[live]
    hi = np.full(n_sets * axes.size, -np.inf)
    lo = np.full(n_sets * axes.size, np.inf)
    np.maximum.at(hi, cell, lam_live)
    np.minimum.at(lo, cell, lam_live)
    used = np.isfinite(hi)
    if (hi[used] - lo[used] > CURVATURE_RTOL * hi[used]).any():
        return None
    counts = np.bincount(cell, minlength=n_sets * axes.size).reshape(n_sets, axes.size)
    lam = _merge_close(np.where(used, hi, 0.0)).reshape(n_sets, axes.size)
    m_f, lam_f = (counts[1], lam[1]) if n_sets == 2 else (np.zeros_like(counts[0]),
                                                          np.zeros(axes.size))
    return DiagonalAxes(w[axes], counts[0], m_f, lam[0], lam_f)


def diagonal_family(op: SecondMomentOperator) -> DiagonalFamily | None:
    r"""The :class:`~theory.families.DiagonalFamily` of ``op``, or ``None`` if it is not one."""
    ax = diagonal_axes(op)
    if ax is None:
        return None
    cfg = op.config
    n_f = op.forget.n if op.forget is not None else 1
    b_f = cfg.batch_forget if op.forget is not None else 1
    return DiagonalFamily.from_axes(AxisLaw(
        cfg.sampling, cfg.alpha, lam_r=ax.lam_r, m_r=ax.m_r, n_r=op.retain.n,
        B_r=cfg.batch_retain, lam_f=ax.lam_f, m_f=ax.m_f, n_f=n_f, B_f=b_f))


def exact_eta_star_as(op: SecondMomentOperator) -> float | None:
    r"""Exact almost-sure threshold when the family is commuting of diagonal-law type, else None.

    :math:`\eta^\star_{as}=\inf\{\eta>0:\max_k\mathbb E\log|J_k|\ge0\}`; ``0.0`` when some axis has
    :math:`D_k<0` (escape at every step size).
    """
    fam = diagonal_family(op)
    return None if fam is None else eta_star_as(fam)
