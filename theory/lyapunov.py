r"""Exact almost-sure (Lyapunov) exponents of diagonal-law families (SPEC §2.4, §4.1).

On a diagonal family every coordinate evolves by its own i.i.d. scalar multiplier

.. math::
   J_k=1-\eta(1-\alpha)\frac{\lambda_r}{B_r}K_r+\eta\alpha\frac{\lambda_f}{B_f}K_f
      =1+\eta X_k ,\qquad
   X_k=-(1-\alpha)\frac{\lambda_r}{B_r}K_r+\alpha\frac{\lambda_f}{B_f}K_f ,

so :math:`\frac1t\log|\delta^{(k)}_t|\to\gamma_k(\eta)=\mathbb E\log|1+\eta X_k|` almost surely
(strong law of large numbers), and the top Lyapunov exponent is :math:`\gamma=\max_k\gamma_k`.
The counts :math:`K_r\perp K_f` have the exact laws

* ``wor``: hypergeometric (:math:`m` marked among :math:`n`, :math:`B` drawn);
* ``bernoulli``: :math:`\mathrm{Binomial}(m, B/n)`;
* ``wr``: :math:`\mathrm{Binomial}(B, m/n)`;

so :math:`\gamma_k` is a finite sum over the :math:`(K_r,K_f)` grid, evaluated here as one
matrix product over all step sizes and grid points at once.

Threshold.  :math:`\eta^\star_{as}=\inf\{\eta>0:\max_k\gamma_k(\eta)\ge0\}=\min_k\eta^\star_{as,k}`.
Each :math:`\gamma_k` is a sum of terms :math:`p\log|1+\eta x|`, each concave in :math:`\eta` away
from its singularity :math:`\eta=-1/x` (:math:`x<0`), where it tends to :math:`-\infty`.  Hence
:math:`\gamma_k` is concave on every *piece* between consecutive singularities, with
:math:`\gamma_k'\to+\infty` just right of a singularity and :math:`-\infty` just left of the
next.  On the first piece :math:`\gamma_k(0)=0` and :math:`\gamma_k'(0)=-D_k`, so with
:math:`D_k\ge0` it is negative there; on every later interior piece the maximum is located by a
vectorised bisection on :math:`\gamma_k'`, and the first piece whose maximum is :math:`\ge0` holds
the root (``brentq`` between the singularity and the maximiser).  The last piece is increasing to
:math:`+\infty`.  :math:`D_k<0` gives :math:`\eta^\star_{as}=0` (escape at every step size).

By Jensen, :math:`\gamma_k\le\frac12\log\mathbb EJ_k^2`, so
:math:`\eta^\star_{ms}\le\eta^\star_{as}`.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.optimize import brentq

from theory.families import (
    AxisLaw,
    DiagonalFamily,
    identical_lists_diagonal,
    sigma_family_diagonal,
)
from theory.sampling import get_scheme

__all__ = [
    "count_pmf",
    "axis_multiplier_law",
    "gamma",
    "gamma_max",
    "almost_surely_stable",
    "axis_eta_star_as",
    "eta_star_as",
    "sigma_family_gamma",
    "sigma_family_eta_star_as",
    "identical_lists_gamma",
    "identical_lists_eta_star_as",
]

#: Bisection steps on :math:`\gamma'` per piece: halves the bracket to below float resolution.
_BISECT_STEPS = 80
#: Pieces examined per vectorised block (bounds the (pieces x grid) work array).
_PIECE_BLOCK = 64


@cache
def count_pmf(sampling: str, n_pool: int, batch: int, marked: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Support and pmf of the count :math:`K` of ``marked`` samples (of ``n_pool``) in a batch.

    Returns ``(k, p)`` with ``p > 0`` only, from the scheme's
    :meth:`~theory.sampling.base.SamplingScheme.count_law` (``wor``: hypergeometric;
    ``bernoulli``: :math:`\mathrm{Binomial}(m, B/n)`; ``wr``: :math:`\mathrm{Binomial}(B, m/n)`).
    An unknown scheme raises :class:`~theory.sampling.UnknownSamplingError`; a scheme without an
    exchangeable count law raises ``ValueError`` saying why.
    """
    scheme = get_scheme(sampling)
    n_pool, batch, marked = int(n_pool), int(batch), int(marked)
    if not 0 <= marked <= n_pool:
        raise ValueError(f"marked count {marked} outside [0, {n_pool}]")
    problem = scheme.batch_problem(n_pool, batch)
    if problem:
        raise ValueError(f"batch size {problem} ({scheme.name})")
    k, p = scheme.count_law(n_pool, batch, marked)
    keep = p > 0
    k, p = k[keep].astype(float), p[keep]
    k.setflags(write=False)
    p.setflags(write=False)
    return k, p


def axis_multiplier_law(law: AxisLaw) -> tuple[np.ndarray, np.ndarray]:
    r"""Support :math:`x` and pmf :math:`p` of :math:`X` with :math:`J=1+\eta X` on one axis.

    :math:`X=-(1-\alpha)\frac{\lambda_r}{B_r}K_r+\alpha\frac{\lambda_f}{B_f}K_f` over the outer
    product grid of the two independent counts (flattened; repeated values are merged).

    Parameters
    ----------
    law:
        One axis (scalar counts and curvatures, :class:`~theory.families.AxisLaw`).

    Returns
    -------
    tuple[ndarray, ndarray]
        Support and probabilities.
    """
    sampling, alpha = law.sampling, law.alpha
    lam_r, m_r, n_r, B_r = law.lam_r, law.m_r, law.n_r, law.B_r
    lam_f, m_f, n_f, B_f = law.lam_f, law.m_f, law.n_f, law.B_f
    kr, pr = count_pmf(sampling, n_r, B_r, m_r)
    kf, pf = count_pmf(sampling, n_f, B_f, m_f)
    x = (-(1.0 - alpha) * lam_r / B_r * kr)[:, None] + (alpha * lam_f / B_f * kf)[None, :]
    p = pr[:, None] * pf[None, :]
    vals, inv = np.unique(x.ravel(), return_inverse=True)
    return vals, np.bincount(inv.ravel(), weights=p.ravel(), minlength=vals.size)


def _family_laws(family: DiagonalFamily) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        axis_multiplier_law(AxisLaw(family.sampling, family.alpha, lr, int(mr), family.n_r,
                                    family.B_r, lf, int(mf), family.n_f, family.B_f))
        for mr, mf, lr, lf in zip(family.m_r, family.m_f, family.lam_r, family.lam_f, strict=True)
    ]


def _gamma_law(eta: np.ndarray, x: np.ndarray, p: np.ndarray) -> np.ndarray:
    r""":math:`\sum_j p_j\log|1+\eta x_j|` for every :math:`\eta` (``-inf`` on a singularity)."""
    with np.errstate(divide="ignore"):
        return np.log(np.abs(1.0 + np.multiply.outer(eta, x))) @ p


def _dgamma_law(eta: np.ndarray, x: np.ndarray, p: np.ndarray) -> np.ndarray:
    r""":math:`\gamma'(\eta)=\sum_j p_jx_j/(1+\eta x_j)`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x / (1.0 + np.multiply.outer(eta, x))) @ p


def gamma(family: DiagonalFamily, eta) -> np.ndarray:
    r"""Per-axis exponents :math:`\gamma_k(\eta)=\mathbb E\log|J_k|`, shape ``eta.shape + (K,)``."""
    eta_a = np.asarray(eta, dtype=float)
    cols = [_gamma_law(eta_a, x, p) for x, p in _family_laws(family)]
    return np.stack(cols, axis=-1)


def gamma_max(family: DiagonalFamily, eta) -> np.ndarray | float:
    r"""Top Lyapunov exponent :math:`\gamma(\eta)=\max_k\gamma_k(\eta)` (a.s. growth rate)."""
    out = gamma(family, eta).max(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def almost_surely_stable(family: DiagonalFamily, eta: float) -> bool:
    r"""True when :math:`\gamma(\eta)<0`: :math:`\delta_t\to0` almost surely."""
    return bool(gamma_max(family, float(eta)) < 0.0)


def _root_near_singularity(x: np.ndarray, p: np.ndarray, lo: float, hi: float) -> float:
    r"""Root of :math:`\gamma` in :math:`(lo, hi]`, given :math:`\gamma(lo^+)<0\le\gamma(hi)`."""

    def f(e: float) -> float:
        return float(_gamma_law(np.asarray(e), x, p))

    if f(hi) == 0.0:
        return hi
    left = lo + 0.5 * (hi - lo)
    while left > lo:  # halve the gap to the singularity until gamma < 0 there
        if f(left) < 0.0:
            return float(brentq(f, left, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                                maxiter=500))
        nxt = lo + 0.5 * (left - lo)
        if nxt >= left:
            break
        left = nxt
    return lo  # the root is within float resolution of the singularity


def axis_eta_star_as(x: np.ndarray, p: np.ndarray) -> float:
    r"""Smallest :math:`\eta>0` with :math:`\mathbb E\log|1+\eta X|\ge0` for the law ``(x, p)``.

    ``0.0`` when :math:`\mathbb EX>0` (i.e. :math:`D<0`: escape at every step size) and ``inf``
    when :math:`X\equiv0` (an inert axis).
    """
    x = np.asarray(x, dtype=float)
    p = np.asarray(p, dtype=float)
    if not np.any(x != 0.0):
        return float("inf")
    D = -float(x @ p)
    scale = float(np.abs(x) @ p)
    if D < -1e-14 * scale:
        return 0.0
    sing = np.unique(-1.0 / x[x < 0.0])
    # interior pieces (sing[j], sing[j+1]), j >= 0; the first piece (0, sing[0]) has gamma < 0
    for start in range(0, max(sing.size - 1, 0), _PIECE_BLOCK):
        lo_p = sing[start:start + _PIECE_BLOCK + 1][:-1]
        hi_p = sing[start + 1:start + _PIECE_BLOCK + 1]
        lo, hi = lo_p.copy(), hi_p.copy()
        for _ in range(_BISECT_STEPS):  # gamma' decreases from +inf to -inf on each piece
            mid = 0.5 * (lo + hi)
            up = _dgamma_law(mid, x, p) > 0.0
            lo = np.where(up, mid, lo)
            hi = np.where(up, hi, mid)
        t = 0.5 * (lo + hi)
        fmax = _gamma_law(t, x, p)
        hit = np.flatnonzero(fmax >= 0.0)
        if hit.size:
            j = int(hit[0])
            return _root_near_singularity(x, p, float(lo_p[j]), float(t[j]))
    # last piece (sing[-1], inf): gamma increases to +inf
    hi = 2.0 * float(sing[-1])
    while float(_gamma_law(np.asarray(hi), x, p)) < 0.0:
        hi *= 2.0
    return _root_near_singularity(x, p, float(sing[-1]), hi)


def eta_star_as(family: DiagonalFamily) -> float:
    r"""Exact almost-sure threshold :math:`\eta^\star_{as}=\min_k\eta^\star_{as,k}` of a family."""
    return float(min(axis_eta_star_as(x, p) for x, p in _family_laws(family)))


def sigma_family_gamma(
    eta: float, sampling: str, sigma: int, n: int, B: int, c: float = 2.0
) -> float:
    r"""Top exponent :math:`\gamma(\eta)` of plain SGD on the σ-family (SPEC §4.2)."""
    return gamma_max(sigma_family_diagonal(sampling, sigma, n, B, c), eta)


def sigma_family_eta_star_as(sampling: str, sigma: int, n: int, B: int, c: float = 2.0) -> float:
    r""":math:`\eta^\star_{as}` of plain SGD on the σ-family (SPEC §4.2)."""
    return eta_star_as(sigma_family_diagonal(sampling, sigma, n, B, c))


def identical_lists_gamma(
    eta: float, sampling: str, sigma: int, n: int, B: int, alpha: float, c: float = 2.0
) -> float:
    r"""Top exponent :math:`\gamma(\eta)` of unlearning with identical lists (SPEC §4.3)."""
    return gamma_max(identical_lists_diagonal(sampling, sigma, n, B, alpha, c), eta)


def identical_lists_eta_star_as(
    sampling: str, sigma: int, n: int, B: int, alpha: float, c: float = 2.0
) -> float:
    r""":math:`\eta^\star_{as}` of unlearning with identical lists (SPEC §4.3)."""
    return eta_star_as(identical_lists_diagonal(sampling, sigma, n, B, alpha, c))
