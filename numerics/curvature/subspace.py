r"""The second-moment operator on a k-dimensional subspace built by Lanczos (matrix-free).

With :math:`A=(1-\alpha)\bar H_r-\alpha\bar H_f` available only through products
(:class:`~numerics.curvature.matrix_free.MatrixFreeCurvature`), the subspace :math:`U=\operatorname
{range}Q` (``P x k``, orthonormal) collects, in this order,

1. the bottom and top eigenvectors of :math:`A` (decide :math:`\lambda_{\min}(A)` and the rate),
2. the leading eigenvectors of :math:`\bar H_r` (the batch noise of the retain descent),
3. the leading eigenvectors of :math:`\bar H_f`, taken off the span of the previous ones
   (the forget directions the retain curvature does not see),

all found in one Krylov space shared by the three operators and extended as ``k`` grows
(:mod:`numerics.curvature.krylov`), then orthonormalised.  The per-sample curvature
restricted to :math:`U` (:math:`Q^\top H_iQ`, or the
factors :math:`Q^\top J_i^\top R_i`) becomes an ordinary pool of factors, so the exact
:class:`~numerics.core.operator.SecondMomentOperator` runs on it unchanged: it gives
:math:`\lambda_{\min}(A|_U)`, :math:`\rho(\mathcal T(\eta)|_U)` and :math:`\eta^\star_{ms}` of the
operator compressed to :math:`U`.  What is left out: the curvature of every direction orthogonal
to :math:`U`, and its coupling to :math:`U` through the batch noise.  ``k`` doubles until the
three numbers change by less than the tolerance (relative); with :math:`k\ge P` the basis is the
identity and the route is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from numerics.core.heap import release_free_heap
from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import SecondMomentOperator
from numerics.core.pools import CurvaturePool, make_pool, signed_factors
from numerics.curvature.hessians import RootOptions, psd_roots
from numerics.curvature.krylov import KrylovOptions, SharedKrylov, Want
from numerics.curvature.matrix_free import MatrixFreeCurvature

__all__ = ["SubspaceOptions", "SubspaceResult", "GrowthInputs", "lanczos_basis", "subspace_pools",
           "grow_subspace", "krylov_options", "LEFT_OUT"]

#: Relative cut-off of eigenvalues of the projected per-sample curvature (as the dense route).
RTOL = 1e-10

LEFT_OUT = ("the curvature of the directions orthogonal to the Lanczos subspace (top and bottom "
            "eigenvectors of A, leading retain and forget directions) and their coupling to it "
            "through the batch noise")


@dataclass(frozen=True)
class SubspaceOptions:
    r"""How the subspace grows.

    Attributes
    ----------
    k0, k_max:
        First and largest subspace dimension (``k`` doubles).
    tol:
        Stop when :math:`\lambda_{\min}(A)`, :math:`\rho(\mathcal T(\eta))` and
        :math:`\eta^\star_{ms}` change by less than ``tol`` (relative) between two sizes.
    lanczos_tol, seed:
        Residual tolerance of the basis eigenvectors, relative to the operator norm
        (:class:`~numerics.curvature.krylov.KrylovOptions`), and the seed of the start block.
    krylov_dim_cap:
        Upper bound on the shared Krylov basis from a memory budget (0: none;
        :attr:`~numerics.curvature.krylov.KrylovOptions.dim_cap`).
    """

    k0: int = 8
    k_max: int = 256
    tol: float = 0.01
    lanczos_tol: float = 1e-3
    seed: int = 0
    krylov_dim_cap: int = 0


@dataclass
class SubspaceResult:
    """The pools on the final subspace, its basis, and how it was reached."""

    retain: CurvaturePool
    forget: CurvaturePool
    basis: torch.Tensor
    dim: int
    tolerance: float
    history: list[dict[str, float]] = field(default_factory=list)
    exact: bool = False


def krylov_options(opts: SubspaceOptions) -> KrylovOptions:
    """The :class:`~numerics.curvature.krylov.KrylovOptions` of the basis eigen-solves."""
    return KrylovOptions(opts.lanczos_tol, seed=opts.seed, dim_cap=opts.krylov_dim_cap)


def lanczos_basis(retain: MatrixFreeCurvature, forget: MatrixFreeCurvature, alpha: float, k: int,
                  opts: SubspaceOptions, solver: SharedKrylov | None = None) -> np.ndarray:
    r"""Orthonormal ``P x k'`` basis (:math:`k'\le k`) of the subspace of the module docstring.

    ``k`` is split as ``k/4`` bottom and ``k/4`` top eigenvectors of :math:`A`, ``k/4`` of
    :math:`\bar H_r` and the rest of :math:`\bar H_f`, all from one shared Krylov space
    (:class:`~numerics.curvature.krylov.SharedKrylov`; pass ``solver`` to extend the space of an
    earlier call instead of starting again); returns the identity when ``k >= P - 2``.
    """
    P = retain.P
    if k >= P - 2:
        return np.eye(P)
    q = max(k // 4, 1)
    if solver is None:
        solver = SharedKrylov(retain, forget, alpha, krylov_options(opts))
    wants = [Want("A", "bottom", q), Want("A", "top", q), Want("retain", "top", q)]
    if alpha > 0.0:
        wants.append(Want("forget", "top", max(k - 3 * q, 1)))
    M = torch.cat(solver.vectors(wants), dim=1).cpu().numpy()
    u, s, _ = np.linalg.svd(M, full_matrices=False)  # forget columns off the earlier span
    del M
    return u[:, : int(np.count_nonzero(s > 1e-8 * s[0]))]  # s descends: a prefix, not a copy


def subspace_pools(retain: MatrixFreeCurvature, forget: MatrixFreeCurvature, basis: torch.Tensor,
                   progress: Callable[[int], None] | None = None
                   ) -> tuple[CurvaturePool, CurvaturePool]:
    r"""Pools of the per-sample curvature restricted to ``basis`` (factors ``(n, k, .)``).

    ``hessian``: signed factors of :math:`Q^\top H_iQ` (one round-off scale over both sets);
    ``gauss-newton``: PSD factors :math:`(J_iQ)^\top R_i`, :math:`R_iR_i^\top=\Lambda_i`.
    """
    (br, lr), (bf, lf) = retain.project(basis, progress), forget.project(basis, progress)
    if retain.kind == "hessian":
        eig = [torch.linalg.eigh(h.to(torch.float64)) for h in (br, bf)]
        scale = max(float(ev.abs().max()) for ev, _ in eig)
        out = []
        for (ev, vec), name in zip(eig, ("retain", "forget"), strict=True):
            f, s = signed_factors(ev.cpu().numpy(), vec.cpu().numpy(), RTOL, scale)
            out.append(make_pool(f, s if (s < 0).any() else None, name))
        return out[0], out[1]
    rr, rf = psd_roots([lr, lf], RootOptions(rtol=RTOL, drop_dead=True, require_curvature=True))
    fr = torch.einsum("nck,ncj->nkj", br, rr).to(torch.float64).cpu().numpy()
    ff = torch.einsum("nck,ncj->nkj", bf, rf).to(torch.float64).cpu().numpy()
    return make_pool(fr, None, "retain"), make_pool(ff, None, "forget")


def _numbers(pr: CurvaturePool, pf: CurvaturePool, cfg: UnlearningConfig,
             eta: float) -> dict[str, float]:
    """lambda_min(A|_U), rho(T(eta)|_U) and eta*_ms on the subspace (the exact operator)."""
    op = SecondMomentOperator(pr, pf, cfg, reduce=False)
    return {"lambda_min_A": float(op.eig_A()[0][0]), "rho": float(op.rho(eta)),
            "eta_star_ms": float(op.eta_star_ms())}


def _change(new: dict[str, float], old: dict[str, float]) -> float:
    """Largest relative change of the numbers (0 when both are equal, incl. both infinite)."""
    worst = 0.0
    for key, a in new.items():
        b = old[key]
        if a == b:
            continue
        den = max(abs(a), abs(b))
        worst = max(worst, abs(a - b) / den if math.isfinite(den) and den > 0 else math.inf)
    return worst


@dataclass(frozen=True)
class GrowthInputs:
    """The two sets, the unlearning configuration and the step size at which rho is compared."""

    retain: MatrixFreeCurvature
    forget: MatrixFreeCurvature
    config: UnlearningConfig
    eta: float


def grow_subspace(inputs: GrowthInputs, opts: SubspaceOptions | None = None,
                  progress: Callable[[str], None] | None = None,
                  solver: SharedKrylov | None = None) -> SubspaceResult:
    r"""Double ``k`` from ``opts.k0`` until the numbers move by less than ``opts.tol``.

    Parameters
    ----------
    inputs:
        :class:`GrowthInputs`.
    opts:
        :class:`SubspaceOptions`.
    progress:
        Called with a one-line status after each size.
    solver:
        A :class:`~numerics.curvature.krylov.SharedKrylov` of the same two sets and
        :math:`\alpha` to extend (e.g. the one that found :math:`\lambda_{\max}(\bar H_r)`);
        default a new one.

    Returns
    -------
    SubspaceResult
        The pools on the last subspace, ``dim`` its dimension, ``tolerance`` the last relative
        change (0 when the basis is the identity: exact), the numbers at each size with the
        Krylov columns multiplied so far.
    """
    o = opts or SubspaceOptions()
    r, f = inputs.retain, inputs.forget
    history: list[dict[str, Any]] = []
    k, prev, change = max(o.k0, 4), None, math.inf
    if solver is None:
        solver = SharedKrylov(r, f, inputs.config.alpha, krylov_options(o))
    while True:
        Q = basis = pr = pf = None  # the last size's basis is not held while the next is built
        Q = lanczos_basis(r, f, inputs.config.alpha, k, o, solver)
        basis = torch.as_tensor(Q, dtype=r.theta.dtype, device=r.theta.device)
        pr, pf = subspace_pools(r, f, basis)
        release_free_heap()
        nums = _numbers(pr, pf, inputs.config, inputs.eta)
        exact = Q.shape[1] == r.P
        change = 0.0 if exact else (_change(nums, prev) if prev is not None else math.inf)
        history.append({"k": int(Q.shape[1]), **nums, "change": change,
                        "krylov_dim": solver.dim, "krylov_converged": solver.converged,
                        "krylov_columns": solver.columns})
        if progress is not None:
            progress(f"subspace k = {Q.shape[1]}: change {change:.2g}")
        if exact or change < o.tol or k >= o.k_max:
            return SubspaceResult(pr, pf, basis, int(Q.shape[1]), float(change), history, exact)
        prev, k = nums, 2 * k
