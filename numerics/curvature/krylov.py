r"""Extreme eigenvectors of :math:`A`, :math:`\bar H_r` and :math:`\bar H_f` from one shared Krylov space.

The three symmetric operators are known only through products with the mean retain and forget
curvature (:meth:`~numerics.curvature.matrix_free.MatrixFreeCurvature.mean_matvec`), and

.. math:: A=(1-\alpha)\bar H_r-\alpha\bar H_f,\qquad AK=(1-\alpha)\,\bar H_rK-\alpha\,\bar H_fK,

so one orthonormal basis :math:`K` (``P x m``) kept with its two products serves all three:
Rayleigh--Ritz on :math:`T_X=K^\top XK` (``m x m``, no new product) gives the Ritz pairs
:math:`(\theta,\,y=Kz)` of each operator :math:`X` at each wanted end, and their residuals
:math:`r=XKz-\theta Kz`.

Expansion (block Lanczos written as Davidson without preconditioner): the residuals of the wanted
Ritz pairs that have not converged, orthogonalised twice against :math:`K` and rank-revealed by an
SVD, are appended as one block, and only that block is multiplied (vectors batched, never looped).
Without restart this is the next block of the Krylov spaces of :math:`A`, :math:`\bar H_r` and
:math:`\bar H_f`, so both ends of :math:`A` come from one run and a larger request later extends the
same space (warm start) instead of solving again.  A pair has converged when
:math:`\|r\|\le\mathrm{tol}\cdot\max|\theta(X)|` (relative to the operator's norm, not to the
eigenvalue: :math:`\lambda_{\min}(A)` may be near 0).  Thick restart: when ``m`` would exceed
``max_dim``, :math:`K` is compressed to the span of twice the wanted Ritz vectors of each end, the
products transformed by the same coefficients (no new product).

Memory: the three ``P x m`` arrays (two at :math:`\alpha=0`) and, at the peak, one more
``P x m`` array (the products with :math:`A`, formed in row blocks, or the grown copy of one
array while a block is appended) and a few ``P x b`` blocks of the wanted count ``b``
(:func:`peak_columns`); ``dim_cap`` bounds ``m`` (:class:`KrylovOptions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from numerics.core.heap import release_free_heap
from numerics.curvature.matrix_free import MatrixFreeCurvature

__all__ = ["Want", "KrylovOptions", "SharedKrylov", "peak_columns", "BLOCK_COLUMNS"]

#: Operators of :class:`SharedKrylov` and the ends of their spectra.
OPERATORS: tuple[str, ...] = ("A", "retain", "forget")
ENDS: tuple[str, ...] = ("bottom", "top")
#: Relative singular value below which a new direction is already in the space (dropped).
RANK_RTOL = 1e-10
#: Rows of :math:`K` whose products with :math:`A` are formed at once (bounds the temporaries of
#: :math:`(1-\alpha)\bar H_rK-\alpha\bar H_fK` to two blocks of this many rows).
ROW_BLOCK = 4096
#: ``P``-vectors of the wanted count ``b`` alive at once besides the basis arrays: the residual
#: blocks and their concatenation, the projection against :math:`K` and the SVD of the appended
#: block (its copy, its ``U`` and the rank-kept columns), and the mean product of the block.
BLOCK_COLUMNS = 6


def peak_columns(max_dim: int, block: int, alpha: float) -> float:
    r"""``P``-vectors (float64 columns of length ``P``) :class:`SharedKrylov` holds at its peak.

    .. math:: c=(a+1)\,m+\mathrm{BLOCK\_COLUMNS}\cdot b,

    with :math:`a=3` arrays (:math:`K`, :math:`\bar H_rK`, :math:`\bar H_fK`; 2 at
    :math:`\alpha=0`), one more ``P x m`` array (the products with :math:`A`, or the grown copy
    of an array while a block is appended), and :data:`BLOCK_COLUMNS` blocks of ``b`` columns.
    The temporaries of one mean product's chunks are not included (they are sized by
    ``chunk_bytes``).

    Parameters
    ----------
    max_dim:
        Largest basis ``m``.
    block:
        Wanted eigenvectors ``b`` (the widest block appended or returned).
    alpha:
        Mixing :math:`\alpha` (0: no forget products).

    Returns
    -------
    float
        Columns; times ``8 P`` gives bytes in float64.
    """
    arrays = 3 if alpha > 0.0 else 2
    return float((arrays + 1) * max(int(max_dim), 0) + BLOCK_COLUMNS * max(int(block), 0))


@dataclass(frozen=True)
class Want:
    """``count`` eigenvectors of operator ``op`` (:data:`OPERATORS`) at end ``end`` (:data:`ENDS`)."""

    op: str
    end: str
    count: int


@dataclass(frozen=True)
class KrylovOptions:
    r"""Effort of :class:`SharedKrylov`.

    Attributes
    ----------
    tol:
        Residual tolerance relative to the operator norm, :math:`\|Xy-\theta y\|\le
        \mathrm{tol}\,\max|\theta(X)|`.
    max_dim:
        Largest basis before a thick restart (0: ``max(6 x wanted, 60)``, at most ``P``).
    dim_cap:
        Upper bound on that largest basis from a memory budget (0: none); a request is still
        given at least ``3 x wanted`` (:func:`peak_columns` sizes the cap).
    max_steps:
        Expansions before returning the best Ritz vectors (flagged not converged).
    seed:
        Seed of the random start block.
    """

    tol: float = 1e-5
    max_dim: int = 0
    max_steps: int = 300
    seed: int = 0
    dim_cap: int = 0


@dataclass(frozen=True)
class _Ritz:
    values: np.ndarray
    coef: torch.Tensor
    residual: np.ndarray
    scale: float


class SharedKrylov:
    r"""The shared Krylov space of :math:`A`, :math:`\bar H_r`, :math:`\bar H_f` (module docstring).

    Parameters
    ----------
    retain, forget:
        :class:`~numerics.curvature.matrix_free.MatrixFreeCurvature` of the two sets.
    alpha:
        Mixing :math:`\alpha` of :math:`A`; at ``alpha = 0`` the forget products are not formed.
    options:
        :class:`KrylovOptions`.
    """

    def __init__(self, retain: MatrixFreeCurvature, forget: MatrixFreeCurvature, alpha: float,
                 options: KrylovOptions | None = None) -> None:
        self.retain, self.forget = retain, forget
        self.alpha = float(alpha)
        self.options = options or KrylovOptions()
        self.P = retain.P
        like = retain.theta
        empty = torch.zeros((self.P, 0), dtype=like.dtype, device=like.device)
        self.K, self.RK = empty, empty.clone()
        self.FK = empty.clone() if self.alpha > 0.0 else None
        #: Columns multiplied so far (per operator), expansions and restarts (cost accounting).
        self.columns = 0
        self.steps = 0
        self.restarts = 0
        #: Whether the last :meth:`vectors` call met the tolerance for every wanted pair.
        self.converged = False

    @property
    def dim(self) -> int:
        """Current dimension ``m`` of the space."""
        return int(self.K.shape[1])

    # ------------------------------------------------------------------ products and Ritz pairs
    def _products(self, op: str) -> torch.Tensor:
        if op == "retain":
            return self.RK
        if op == "forget":
            if self.FK is None:
                raise ValueError("forget products are not formed at alpha = 0")
            return self.FK
        if self.FK is None:
            return (1.0 - self.alpha) * self.RK
        # (1 - alpha) RK - alpha FK, in row blocks: one P x m result, block-sized temporaries
        out = torch.empty_like(self.RK)
        for a in range(0, self.P, ROW_BLOCK):
            b = min(a + ROW_BLOCK, self.P)
            torch.sub((1.0 - self.alpha) * self.RK[a:b], self.alpha * self.FK[a:b], out=out[a:b])
        return out

    def _ritz(self, want: Want) -> _Ritz:
        XK = self._products(want.op)
        T = self.K.T @ XK
        T = 0.5 * (T + T.T)
        ev, Z = torch.linalg.eigh(T)
        c = min(want.count, self.dim)
        pick = slice(0, c) if want.end == "bottom" else slice(self.dim - c, self.dim)
        theta, z = ev[pick], Z[:, pick]
        R = XK @ z - (self.K @ z) * theta
        scale = float(max(abs(float(ev[0])), abs(float(ev[-1])), np.finfo(float).tiny))
        return _Ritz(theta.cpu().numpy(), z, torch.linalg.vector_norm(R, dim=0).cpu().numpy(),
                     scale)

    def _residual_block(self, want: Want, ritz: _Ritz) -> torch.Tensor:
        bad = ritz.residual > self.options.tol * ritz.scale
        z = ritz.coef[:, torch.as_tensor(bad, device=ritz.coef.device)]
        theta = torch.as_tensor(ritz.values[bad], dtype=self.K.dtype, device=self.K.device)
        return self._products(want.op) @ z - (self.K @ z) * theta

    # ------------------------------------------------------------------ growing the space
    def _append(self, W: torch.Tensor) -> int:
        """Orthonormalise ``W`` against the space (twice), keep its rank, multiply it."""
        ref = float(torch.linalg.vector_norm(W, dim=0).max()) if W.numel() else 0.0
        if ref == 0.0:
            return 0
        for _ in range(2):
            if self.dim:
                W = W.sub_(self.K @ (self.K.T @ W))  # in place: the caller's block is spent
        U, s, _ = torch.linalg.svd(W, full_matrices=False)
        del W
        keep = s > RANK_RTOL * ref
        U = U[:, keep][:, : self.P - self.dim]
        if self.dim:
            U = U.sub_(self.K @ (self.K.T @ U))
            U = torch.linalg.qr(U)[0]
        c = int(U.shape[1])
        if c == 0:
            return 0
        self.K = torch.cat([self.K, U], dim=1)
        self.RK = torch.cat([self.RK, self.retain.mean_matvec(U)], dim=1)
        if self.FK is not None:
            self.FK = torch.cat([self.FK, self.forget.mean_matvec(U)], dim=1)
        self.columns += c
        return c

    def _restart(self, wants: list[Want]) -> None:
        """Compress to twice the wanted Ritz vectors of each end (no new products)."""
        coefs = []
        for w in wants:
            coefs.append(self._ritz(Want(w.op, w.end, 2 * w.count)).coef)
        Z = torch.cat(coefs, dim=1)
        U, s, _ = torch.linalg.svd(Z, full_matrices=False)
        Z = U[:, s > 1e-8 * s[0]]
        self.K = self.K @ Z  # one array at a time: the old one is freed before the next
        self.RK = self.RK @ Z
        if self.FK is not None:
            self.FK = self.FK @ Z
        self.restarts += 1

    def _start(self, width: int) -> None:
        rng = np.random.default_rng(self.options.seed)
        V = torch.as_tensor(rng.standard_normal((self.P, min(width, self.P))),
                            dtype=self.K.dtype, device=self.K.device)
        self._append(V)

    def ritz_values(self, want: Want) -> np.ndarray:
        """Current Ritz values (ascending) of one :class:`Want`, from the space as it stands."""
        return self._ritz(want).values

    def vectors(self, wants: list[Want]) -> list[torch.Tensor]:
        r"""Ritz vectors (``P x count`` each, orthonormal per request) of each :class:`Want`.

        Extends the space until every wanted pair has converged (or the space is all of
        :math:`\mathbb R^P`, or ``max_steps`` expansions were made); :attr:`converged` says which.
        """
        wants = [w for w in wants if w.count > 0 and (w.op != "forget" or self.FK is not None)]
        total = sum(w.count for w in wants)
        max_dim = self.options.max_dim or max(6 * total, 60)
        if self.options.dim_cap > 0:
            max_dim = min(max_dim, self.options.dim_cap)
        max_dim = min(max(max_dim, 3 * total), self.P)
        if self.dim == 0:
            self._start(max(total, 4))
        steps = 0
        while True:
            ritz = [self._ritz(w) for w in wants]
            blocks = [self._residual_block(w, r) for w, r in zip(wants, ritz, strict=True)]
            W = torch.cat(blocks, dim=1)
            self.converged = W.shape[1] == 0 or self.dim >= self.P
            if self.converged or steps >= self.options.max_steps:
                return [self.K @ r.coef for r in ritz]
            del blocks
            if self.dim + W.shape[1] > max_dim:
                del W
                self._restart(wants)
                ritz = [self._ritz(w) for w in wants]
                W = torch.cat([self._residual_block(w, r) for w, r in zip(wants, ritz,
                                                                          strict=True)], dim=1)
            added = self._append(W)
            release_free_heap()  # the freed blocks' pages leave the resident set
            if added == 0:  # the residuals lie in the space: nothing more to find
                self.converged = True
                return [self.K @ r.coef for r in ritz]
            steps += 1
            self.steps += 1
