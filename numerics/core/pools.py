r"""Per-sample curvature pools: one protocol for PSD and signed (indefinite) Hessians.

A pool holds the curvature :math:`H_1,\dots,H_n` of one set (retain or forget) in factored form

.. math:: H_i=F_iS_iF_i^\top,\qquad F_i\in\mathbb R^{d\times k},\quad
   S_i=\operatorname{diag}(s_{i1},\dots,s_{ik}),\ s_{ij}\in\{-1,0,1\},

* :class:`HessianPool` -- positive semi-definite curvature, :math:`S_i=I`
  (:math:`H_i=F_iF_i^\top`; ``k=1`` is the rank-one case :math:`H_i=u_iu_i^\top` of SPEC §5.3);
* :class:`SignedPool` -- indefinite curvature (the exact Hessian of a network, whose
  :math:`\sum_c\partial_{f_c}\ell_i\nabla^2f_c` term has both signs), with explicit signs.

Both implement :class:`CurvaturePool`: every consumer (the operator, the simulator, the sufficient
bounds, coherence) goes through its public methods, so the signs are never ignored.  In both,
``factors`` spans the curvature, :math:`\operatorname{range}H_i\subseteq\operatorname{range}F_i`,
so the active subspace computed from ``factors`` contains every :math:`\operatorname{range}H_i`.

The mean-square theory of SPEC §2 does not need :math:`H_i\succeq0`: the batch covariance
:math:`\mathcal C(M)=\mathbb E[(\hat H-\bar H)M(\hat H-\bar H)]` is a positive map for any
symmetric :math:`H_i`, so :math:`\mathcal T` stays a symmetric positive map and the mean-escape
test and :math:`\eta^\star_{ms}=1/\mu_{\max}(\mathcal Q,\mathcal L)` hold verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = [
    "CurvaturePool",
    "HessianPool",
    "SignedPool",
    "left_multiply",
    "make_pool",
    "signed_factors",
]


def left_multiply(left: np.ndarray, factors: np.ndarray) -> np.ndarray:
    r"""``(n, e, k)`` array of :math:`L F_i` for ``left`` ``(e, d)``, ``factors`` ``(n, d, k)``.

    One matrix product :math:`L[F_1,\dots,F_n]` on the side-by-side factors (BLAS), not an
    ``einsum`` (which does not reach BLAS for this contraction and was ~10x slower).

    Parameters
    ----------
    left:
        ``(e, d)`` matrix :math:`L`.
    factors:
        ``(n, d, k)`` factors :math:`F_i`.

    Returns
    -------
    numpy.ndarray
        ``(n, e, k)``, C-contiguous.
    """
    n, d, k = factors.shape
    side = factors.transpose(1, 0, 2).reshape(d, n * k)
    return np.ascontiguousarray((left @ side).reshape(-1, n, k).transpose(1, 0, 2))


def _sandwich(factors: np.ndarray, scaled: np.ndarray, M: np.ndarray) -> np.ndarray:
    r""":math:`\sum_i\tilde F_i(F_i^\top MF_i)\tilde F_i^\top` with two large matrix products.

    ``scaled`` is :math:`\tilde F_i=F_i` for PSD pools and :math:`F_iS_i` for signed ones.  With
    the stacked :math:`F=[F_1^\top;\dots;F_n^\top]` (``n k x r``): :math:`G=FM`, the per-sample
    :math:`k\times k` blocks :math:`C_i=F_i^\top MF_i` from :math:`G`, then
    :math:`\sum_i\tilde F_iC_i\tilde F_i^\top=\tilde F^\top Y` with :math:`Y_i=C_i\tilde F_i^\top`;
    :math:`O(nkr(r+k))`.
    """
    n, r, k = factors.shape
    Ft = factors.transpose(0, 2, 1)  # (n, k, r)
    F2 = Ft.reshape(n * k, r)
    S2 = F2 if scaled is factors else scaled.transpose(0, 2, 1).reshape(n * k, r)
    G = (F2 @ M).reshape(n, k, r)
    if k == 1:
        h = np.einsum("nr,nr->n", G[:, 0, :], Ft[:, 0, :])  # u_i^T M u_i
        return S2.T @ (h[:, None] * S2)
    C = G @ factors  # F_i^T M F_i (n, k, k), any (non-symmetric) M; batched GEMM
    Y = (C @ S2.reshape(n, k, r)).reshape(n * k, r)  # batched matmul: ~2x faster than einsum
    return S2.T @ Y


def _stack(factors: np.ndarray) -> np.ndarray:
    r"""``(n k, d)`` stacked transposed factors :math:`[F_1^\top;\dots;F_n^\top]`."""
    n, d, k = factors.shape
    return factors.transpose(0, 2, 1).reshape(n * k, d)


def _kron_gram(dense: np.ndarray) -> np.ndarray:
    r""":math:`\sum_iH_i\otimes H_i` (``d^2 x d^2``) for dense symmetric ``(n, d, d)`` Hessians.

    Entrywise :math:`(\sum_iH_i\otimes H_i)_{(a,c),(b,e)}=\sum_i(H_i)_{ab}(H_i)_{ce}=G_{(a,b),(c,e)}`
    with :math:`G=\sum_i\operatorname{vec}H_i\operatorname{vec}H_i^\top`, one ``d^2 x n`` by
    ``n x d^2`` matrix product, :math:`O(nd^4)` (the factor form
    :math:`[F_i\otimes F_i]` costs :math:`O(nk^2d^4)`), then an index permutation.
    """
    n, d, _ = dense.shape
    H = 0.5 * (dense + dense.transpose(0, 2, 1))
    flat = H.reshape(n, d * d)
    G = flat.T @ flat
    out = G.reshape(d, d, d, d).transpose(0, 2, 1, 3).reshape(d * d, d * d)
    return 0.5 * (out + out.T)


def _top_left_singular(factors: np.ndarray) -> np.ndarray:
    """``(d, n)`` unit top left singular vector of each :math:`F_i` (zero columns stay zero)."""
    if factors.shape[2] == 1:
        u = factors[..., 0]
    else:
        gram = np.einsum("ndk,ndl->nkl", factors, factors)
        _, vec = np.linalg.eigh(gram)
        u = np.einsum("ndk,nk->nd", factors, vec[:, :, -1])
    norms = np.linalg.norm(u, axis=1, keepdims=True)
    return (u / np.where(norms > 0, norms, 1.0)).T


def _factor_norms_sq(factors: np.ndarray) -> np.ndarray:
    r""":math:`\|F_i\|_2^2` (largest eigenvalue of the ``k x k`` Gram :math:`F_i^\top F_i`)."""
    if factors.shape[2] == 1:
        return np.einsum("nd,nd->n", factors[..., 0], factors[..., 0])
    gram = np.einsum("ndk,ndl->nkl", factors, factors)  # k x k, same spectrum as F_i F_i^T
    return np.linalg.eigvalsh(gram)[:, -1].clip(min=0.0)


@dataclass(frozen=True)
class CurvaturePool:
    r"""The pool protocol: :math:`H_i=F_iS_iF_i^\top`, ``i = 1..n``, in :math:`\mathbb R^{d\times d}`.

    Subclasses fix the signs (:class:`HessianPool`: none, :class:`SignedPool`: explicit) and
    implement :meth:`scaled`, :meth:`dense`, :meth:`mean`, :meth:`lambda_max`,
    :meth:`sum_sandwich`, :meth:`kron_sum` and :meth:`with_factors`; the rest is written here once
    in terms of :meth:`scaled`.

    Attributes
    ----------
    factors:
        float64 array ``(n, d, k)`` with :math:`\operatorname{range}H_i\subseteq
        \operatorname{range}F_i`; columns of zeros are allowed (padding of lower ranks).
    name:
        Label used in error messages (``retain``, ``forget``).
    """

    factors: np.ndarray
    name: str = "hessians"

    # ------------------------------------------------------------------ shape
    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.factors.shape[0])

    @property
    def d(self) -> int:
        """Ambient dimension."""
        return int(self.factors.shape[1])

    @property
    def k(self) -> int:
        """Columns per factor (maximum per-sample rank)."""
        return int(self.factors.shape[2])

    @property
    def signs(self) -> np.ndarray | None:
        """``(n, k)`` diagonal of :math:`S_i`, or ``None`` when every :math:`S_i=I` (PSD)."""
        return None

    @property
    def psd(self) -> bool:
        r"""True when every :math:`H_i\succeq0` is guaranteed by construction (:math:`S_i=I`)."""
        return self.signs is None

    # ------------------------------------------------------------------ to implement
    def scaled(self) -> np.ndarray:
        r""":math:`F_iS_i`, shape ``(n, d, k)`` (the factors themselves for a PSD pool)."""
        raise NotImplementedError

    def dense(self) -> np.ndarray:
        r"""Dense Hessians :math:`H_i`, shape ``(n, d, d)``."""
        raise NotImplementedError

    def mean(self) -> np.ndarray:
        r""":math:`\bar H=\frac1n\sum_iH_i`, shape ``(d, d)``."""
        raise NotImplementedError

    def lambda_max(self) -> np.ndarray:
        r"""Per-sample largest eigenvalue :math:`\lambda_{\max}(H_i)`, shape ``(n,)``."""
        raise NotImplementedError

    def sum_sandwich(self, M: np.ndarray) -> np.ndarray:
        r""":math:`\sum_iH_iMH_i` for a ``(d, d)`` matrix :math:`M`, matrix-free, :math:`O(ndk(d+k))`."""
        raise NotImplementedError

    def kron_sum(self) -> np.ndarray:
        r""":math:`\sum_iH_i\otimes H_i` as a ``d^2 x d^2`` matrix (dense reference only)."""
        raise NotImplementedError

    def with_factors(self, factors: np.ndarray) -> CurvaturePool:
        """The same samples (and signs) with new factors ``(n, e, k)`` (congruences)."""
        raise NotImplementedError

    def subset(self, index: np.ndarray | list[int]) -> CurvaturePool:
        """Pool of the samples at ``index``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ written once
    @cached_property
    def stacked(self) -> np.ndarray:
        r"""``(n k, d)`` stacked :math:`[F_1^\top;\dots;F_n^\top]` (cached; read-only use)."""
        return _stack(self.factors)

    @cached_property
    def stacked_scaled(self) -> np.ndarray:
        r"""``(n k, d)`` stacked :math:`[(F_1S_1)^\top;\dots]` (:attr:`stacked` when PSD)."""
        return self.stacked if self.signs is None else _stack(self.scaled())

    def project(self, basis: np.ndarray) -> CurvaturePool:
        r"""Pool in an orthonormal basis :math:`Q` (``d x r``): :math:`H_i\mapsto Q^\top H_iQ`."""
        return self.with_factors(left_multiply(basis.T, self.factors))

    def rotate(self, rotation: np.ndarray) -> CurvaturePool:
        r"""Pool :math:`\{RH_iR^\top\}` for an orthogonal ``d x d`` matrix :math:`R`."""
        return self.with_factors(left_multiply(rotation, self.factors))

    def quadratic_forms(self, V: np.ndarray) -> np.ndarray:
        r"""``(n, c)`` array of :math:`v^\top H_iv=\sum_js_{ij}(f_{ij}^\top v)^2` for columns of ``V``.

        Parameters
        ----------
        V:
            ``(d, c)`` directions.

        Returns
        -------
        numpy.ndarray
            ``(n, c)``.
        """
        proj = np.einsum("nrk,rc->nkc", self.factors, V) ** 2  # (n, k, c)
        if self.signs is None:
            return proj.sum(axis=1)
        return (proj * self.signs[:, :, None]).sum(axis=1)

    def top_directions(self) -> np.ndarray:
        r"""``(d, n)`` unit columns: the top left singular vector of each :math:`F_i`.

        For a PSD pool this is the top eigenvector of :math:`H_i`; for a signed pool with
        orthogonal columns (:func:`signed_factors`) the eigenvector of the largest
        :math:`|\lambda|`.  Used as candidate directions only (any unit vector is valid there).
        """
        return _top_left_singular(self.factors)

    def square_majorant(self) -> np.ndarray:
        r"""Factors :math:`G_i` with :math:`H_i^2\preceq G_iG_i^\top` (``(n, d, k)``).

        :math:`G_i=\|F_i\|_2F_i`: :math:`H_i^2=F_iS_i(F_i^\top F_i)S_iF_i^\top\preceq
        \|F_i\|_2^2F_iF_i^\top`.  For a PSD pool :math:`\|F_i\|_2^2=\lambda_{\max}(H_i)`, i.e.
        :math:`H_i^2\preceq\lambda_{\max}(H_i)H_i` (SPEC §3.4).
        """
        return self.factors * np.sqrt(_factor_norms_sq(self.factors))[:, None, None]

    def weighted_apply(self, delta: np.ndarray, omega: np.ndarray) -> np.ndarray:
        r"""Rows :math:`\delta_r\mapsto\sum_i\omega_{ri}H_i\delta_r` (a batch applied to ``R`` vectors).

        Parameters
        ----------
        delta:
            ``(R, d)`` vectors.
        omega:
            ``(R, n)`` batch weights (:math:`\hat H_r=\sum_i\omega_{ri}H_i`).

        Returns
        -------
        numpy.ndarray
            ``(R, d)``; cost :math:`O(Rnkd)`.
        """
        proj = delta @ self.stacked.T  # (R, n*k): f_ij^T delta_r
        if self.k > 1:
            omega = np.repeat(omega, self.k, axis=1)
        return (omega * proj) @ self.stacked_scaled

    def weighted_sum(self, omega: np.ndarray) -> np.ndarray:
        r"""``(c, d, d)`` batch matrices :math:`\hat H_c=\sum_i\omega_{ci}H_i` for ``omega`` ``(c, n)``."""
        if self.k > 1:
            omega = np.repeat(omega, self.k, axis=1)
        return np.einsum("cn,na,nb->cab", omega, self.stacked_scaled, self.stacked,
                         optimize=True)


@dataclass(frozen=True)
class HessianPool(CurvaturePool):
    r"""Positive semi-definite per-sample curvature :math:`H_i=F_iF_i^\top`.

    Attributes
    ----------
    factors:
        float64 array ``(n, d, k)``; columns of zeros are allowed (padding of lower ranks).
    name:
        Label used in error messages (``retain``, ``forget``).
    dense_cache:
        The dense Hessians when the pool was built from them (returned by :meth:`dense`).
    """

    dense_cache: np.ndarray | None = field(default=None, repr=False, compare=False)

    def scaled(self) -> np.ndarray:
        r""":math:`F_i` (all signs are +1)."""
        return self.factors

    def dense(self) -> np.ndarray:
        r"""Dense Hessians :math:`H_i=F_iF_i^\top`, shape ``(n, d, d)``."""
        if self.dense_cache is not None:
            return self.dense_cache
        return np.einsum("nik,njk->nij", self.factors, self.factors)

    def mean(self) -> np.ndarray:
        r""":math:`\bar H=\frac1n\sum_iF_iF_i^\top`."""
        f = self.factors.reshape(self.n, self.d, self.k).transpose(1, 0, 2).reshape(self.d, -1)
        return (f @ f.T) / self.n

    def lambda_max(self) -> np.ndarray:
        r"""Per-sample :math:`\lambda_{\max}(H_i)=\|F_i\|_2^2`, shape ``(n,)``."""
        return _factor_norms_sq(self.factors)

    def sum_sandwich(self, M: np.ndarray) -> np.ndarray:
        r""":math:`\sum_iH_iMH_i=\sum_iF_i(F_i^\top MF_i)F_i^\top`."""
        return _sandwich(self.factors, self.factors, M)

    def kron_sum(self) -> np.ndarray:
        r""":math:`\sum_iH_i\otimes H_i` from the Gram of the vectorised Hessians (:func:`_kron_gram`)."""
        return _kron_gram(self.dense())

    def with_factors(self, factors: np.ndarray) -> HessianPool:
        """The same samples with new factors."""
        return HessianPool(factors, self.name)

    def subset(self, index: np.ndarray | list[int]) -> HessianPool:
        """Pool of the samples at ``index``."""
        return HessianPool(self.factors[np.asarray(index)], self.name)


@dataclass(frozen=True)
class SignedPool(CurvaturePool):
    r"""Indefinite per-sample curvature :math:`H_i=F_iS_iF_i^\top`.

    With the eigen-decomposition :math:`H_i=\sum_j\lambda_{ij}v_{ij}v_{ij}^\top`:
    :math:`F_i=[\sqrt{|\lambda_{ij}|}\,v_{ij}]_j`, :math:`S_i=\operatorname{diag}(\operatorname{sign}
    \lambda_{ij})` (:func:`signed_factors`), so that :math:`H_iMH_i=(F_iS_i)(F_i^\top MF_i)
    (F_iS_i)^\top` and :math:`H_i\otimes H_i=(F_iS_i\otimes F_iS_i)(F_i\otimes F_i)^\top`.

    Attributes
    ----------
    factors:
        float64 array ``(n, d, k)``.
    name:
        Label used in error messages.
    sign_array:
        ``(n, k)`` signs in :math:`\{-1,0,1\}` (read them through :attr:`signs`).
    """

    sign_array: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check that the signs match the factors."""
        s = self.sign_array
        if s is None or np.shape(s) != (self.n, self.k):
            raise ValueError(f"{self.name}: signs must have shape {(self.n, self.k)}, "
                             f"got {None if s is None else np.shape(s)}")

    @property
    def signs(self) -> np.ndarray:
        """``(n, k)`` diagonal of :math:`S_i`."""
        return self.sign_array

    def scaled(self) -> np.ndarray:
        """:math:`F_iS_i`, shape ``(n, d, k)``."""
        return self.factors * self.sign_array[:, None, :]

    def dense(self) -> np.ndarray:
        r"""Dense :math:`H_i=F_iS_iF_i^\top`, shape ``(n, d, d)``."""
        return np.einsum("nik,njk->nij", self.scaled(), self.factors)

    def mean(self) -> np.ndarray:
        r""":math:`\bar H=\frac1n\sum_iF_iS_iF_i^\top` (symmetrised)."""
        f = self.factors.transpose(1, 0, 2).reshape(self.d, -1)
        fs = self.scaled().transpose(1, 0, 2).reshape(self.d, -1)
        m = (fs @ f.T) / self.n
        return 0.5 * (m + m.T)

    def lambda_max(self) -> np.ndarray:
        r"""Per-sample largest *signed* eigenvalue of :math:`H_i`, from ``k x k`` problems.

        With :math:`R_i=(F_i^\top F_i)^{1/2}`, :math:`H_i` and :math:`R_iS_iR_i` share their
        non-zero eigenvalues.
        """
        g = np.einsum("ndk,ndl->nkl", self.factors, self.factors)
        ev, vec = np.linalg.eigh(g)
        root = (vec * np.sqrt(np.clip(ev, 0.0, None))[:, None, :]) @ vec.transpose(0, 2, 1)
        m = root * self.sign_array[:, None, :] @ root
        return np.linalg.eigvalsh(0.5 * (m + m.transpose(0, 2, 1)))[:, -1]

    def sum_sandwich(self, M: np.ndarray) -> np.ndarray:
        r""":math:`\sum_iH_iMH_i=\sum_i(F_iS_i)(F_i^\top MF_i)(F_iS_i)^\top`, :math:`O(nkd(d+k))`."""
        return _sandwich(self.factors, self.scaled(), M)

    def kron_sum(self) -> np.ndarray:
        r""":math:`\sum_iH_i\otimes H_i` from the Gram of the vectorised Hessians (:func:`_kron_gram`)."""
        return _kron_gram(self.dense())

    def with_factors(self, factors: np.ndarray) -> SignedPool:
        """The same samples and signs with new factors (``project``, ``rotate``)."""
        return SignedPool(factors, self.name, sign_array=self.sign_array)

    def subset(self, index: np.ndarray | list[int]) -> SignedPool:
        """Pool of the samples at ``index``."""
        idx = np.asarray(index)
        return SignedPool(self.factors[idx], self.name, sign_array=self.sign_array[idx])


def signed_factors(evals: np.ndarray, evecs: np.ndarray, rtol: float = 1e-10,
                   scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Factors and signs from batched eigen-decompositions ``evals (n, P)``, ``evecs (n, P, P)``.

    :math:`F_i=[\sqrt{|\lambda_{ij}|}\,v_{ij}]_j`, :math:`s_{ij}=\operatorname{sign}\lambda_{ij}`.
    Eigenvalues with :math:`|\lambda|\le\mathrm{rtol}\cdot s` are dropped, where :math:`s` is
    ``scale`` or the largest :math:`|\lambda|` over *all* samples (round-off of the Hessian of a
    well-fitted sample is relative to the largest curvature, not to its own).  Kept columns come
    first; padding columns are zero with sign 0.

    Returns
    -------
    tuple
        ``(factors (n, P, k), signs (n, k))``.
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


def make_pool(factors: np.ndarray, signs: np.ndarray | None, name: str) -> CurvaturePool:
    """A :class:`SignedPool` when some sign is negative, else a plain :class:`HessianPool`.

    Parameters
    ----------
    factors:
        ``(n, d, k)`` factors.
    signs:
        ``(n, k)`` signs or ``None`` (all +1).
    name:
        Label used in error messages.

    Returns
    -------
    CurvaturePool
    """
    f = np.ascontiguousarray(np.asarray(factors, dtype=np.float64))
    if signs is None:
        return HessianPool(f, name)
    s = np.asarray(signs, dtype=np.float64)
    if (s < 0).any():
        return SignedPool(f, name, sign_array=s)
    if (s == 0).any():  # a zero sign removes its column (padding columns are zero already)
        f = np.ascontiguousarray(f * s[:, None, :])
    return HessianPool(f, name)
