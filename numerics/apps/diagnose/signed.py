r"""Indefinite per-sample Hessians as signed factors, and the operator on them.

The exact per-sample Hessian of a network, :math:`\nabla^2\ell_i=J_i^\top\Lambda_iJ_i+
\sum_c\partial_{f_c}\ell_i\,\nabla^2f_c`, is in general *indefinite*: the second term has both
signs.  With the eigen-decomposition :math:`H_i=\sum_j\lambda_{ij}v_{ij}v_{ij}^\top` it is stored
as factors and signs,

.. math:: H_i=F_iS_iF_i^\top,\qquad F_i=[\sqrt{|\lambda_{ij}|}\,v_{ij}]_j,\quad
   S_i=\operatorname{diag}(\operatorname{sign}\lambda_{ij}),

so that :math:`H_iMH_i=(F_iS_i)(F_i^\top MF_i)(F_iS_i)^\top` and
:math:`H_i\otimes H_i=(F_iS_i\otimes F_iS_i)(F_i\otimes F_i)^\top`.

The mean-square theory of SPEC §2 does not need :math:`H_i\succeq0`: the batch covariance
:math:`\mathcal C(M)=\mathbb E[(\hat H-\bar H)M(\hat H-\bar H)]` (and Bernoulli's uncentred
form) is a positive map for any symmetric :math:`H_i`, :math:`\mathcal T` stays a symmetric
positive map, and the mean-escape test and :math:`\eta^\star=1/\mu_{\max}(\mathcal Q,\mathcal L)`
hold verbatim.  :class:`SignedOperator` is :class:`~numerics.core.operator.SecondMomentOperator` with
the two sums above replaced by their signed forms; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from numerics.core.inputs import HessianPool
from numerics.core.operator import SecondMomentOperator

__all__ = ["SignedPool", "SignedOperator", "signed_factors", "make_pool", "make_operator"]


@dataclass(frozen=True)
class SignedPool(HessianPool):
    r"""Per-sample curvature :math:`H_i=F_iS_iF_i^\top` with signs ``(n, k)`` in :math:`\{-1,0,1\}`."""

    signs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def _scaled(self) -> np.ndarray:
        """:math:`F_iS_i`, shape ``(n, d, k)``."""
        return self.factors * self.signs[:, None, :]

    def dense(self) -> np.ndarray:
        r"""Dense :math:`H_i=F_iS_iF_i^\top`, shape ``(n, d, d)``."""
        return np.einsum("nik,njk->nij", self._scaled(), self.factors)

    def mean(self) -> np.ndarray:
        r""":math:`\bar H=\frac1n\sum_iF_iS_iF_i^\top` (symmetrised)."""
        f = self.factors.transpose(1, 0, 2).reshape(self.d, -1)
        fs = self._scaled().transpose(1, 0, 2).reshape(self.d, -1)
        m = (fs @ f.T) / self.n
        return 0.5 * (m + m.T)

    def lambda_max(self) -> np.ndarray:
        r"""Per-sample :math:`\lambda_{\max}(H_i)` (largest *signed* eigenvalue), from :math:`k\times k`."""
        g = np.einsum("ndk,ndl->nkl", self.factors, self.factors)
        ev, vec = np.linalg.eigh(g)
        root = (vec * np.sqrt(np.clip(ev, 0.0, None))[:, None, :]) @ vec.transpose(0, 2, 1)
        m = root * self.signs[:, None, :] @ root
        return np.linalg.eigvalsh(0.5 * (m + m.transpose(0, 2, 1)))[:, -1]

    def _with_factors(self, factors: np.ndarray) -> SignedPool:
        """The same samples and signs with new factors (``project``, ``rotate``)."""
        return SignedPool(factors, self.name, signs=self.signs)

    def subset(self, index: np.ndarray | list[int]) -> SignedPool:
        """Pool of the samples at ``index``."""
        idx = np.asarray(index)
        return SignedPool(self.factors[idx], self.name, signs=self.signs[idx])


class SignedOperator(SecondMomentOperator):
    r""":class:`~numerics.core.operator.SecondMomentOperator` for pools that may be :class:`SignedPool`."""

    @staticmethod
    def _sum_hmh(pool: HessianPool, M: np.ndarray) -> np.ndarray:
        r""":math:`\sum_iH_iMH_i=\sum_i(F_iS_i)(F_i^\top MF_i)(F_iS_i)^\top`, :math:`O(nkr(r+k))`."""
        signs = getattr(pool, "signs", None)
        if signs is None:
            return SecondMomentOperator._sum_hmh(pool, M)
        return SecondMomentOperator._sandwich(pool.factors, pool._scaled(), M)

    def _kron_sum(self, pool: HessianPool) -> np.ndarray:
        r""":math:`\sum_iH_i\otimes H_i=W_sW^\top` with :math:`W=[F_i\otimes F_i]`, :math:`W_s` signed."""
        signs = getattr(pool, "signs", None)
        if signs is None:
            return super()._kron_sum(pool)
        F = pool.factors
        Fs = F * signs[:, None, :]
        W = np.einsum("nak,nbl->abnkl", F, F).reshape(self.dim**2, -1)
        Ws = np.einsum("nak,nbl->abnkl", Fs, Fs).reshape(self.dim**2, -1)
        out = Ws @ W.T
        return 0.5 * (out + out.T)


def signed_factors(evals: np.ndarray, evecs: np.ndarray, rtol: float = 1e-10,
                   scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Factors and signs from batched eigen-decompositions ``evals (n, P)``, ``evecs (n, P, P)``.

    Eigenvalues with :math:`|\lambda|\le\mathrm{rtol}\cdot s` are dropped, where :math:`s` is
    ``scale`` or the largest :math:`|\lambda|` over *all* samples (round-off of the Hessian of a
    well-fitted sample is relative to the largest curvature, not to its own).  Kept columns come
    first; padding columns are zero with sign 0.  Returns ``(factors (n, P, k), signs (n, k))``.
    """
    evals = np.asarray(evals, dtype=np.float64)
    evecs = np.asarray(evecs, dtype=np.float64)
    s = float(np.abs(evals).max()) if scale is None else float(scale)
    tol = rtol * max(s, np.finfo(float).tiny)
    keep = np.abs(evals) > tol
    k = max(int(keep.sum(axis=1).max()) if keep.size else 0, 1)
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # kept columns first
    lam = np.take_along_axis(np.where(keep, evals, 0.0), order, axis=1)
    vec = np.take_along_axis(evecs, order[:, None, :], axis=2)
    factors = vec * np.sqrt(np.abs(lam))[:, None, :]  # |lambda|: never the root of a negative
    return np.ascontiguousarray(factors), np.sign(lam)


def make_pool(factors: np.ndarray, signs: np.ndarray | None, name: str) -> HessianPool:
    """A :class:`SignedPool` when some sign is negative, else a plain :class:`HessianPool`."""
    f = np.ascontiguousarray(np.asarray(factors, dtype=np.float64))
    if signs is None or not (np.asarray(signs) < 0).any():
        return HessianPool(f, name)
    return SignedPool(f, name, signs=np.asarray(signs, dtype=np.float64))


def make_operator(retain: HessianPool, forget: HessianPool | None, config,
                  *, reduce: bool = True) -> SecondMomentOperator:
    """The plain operator for PSD pools, :class:`SignedOperator` when a pool is signed."""
    signed = isinstance(retain, SignedPool) or isinstance(forget, SignedPool)
    cls = SignedOperator if signed else SecondMomentOperator
    return cls(retain, forget, config, reduce=reduce)
