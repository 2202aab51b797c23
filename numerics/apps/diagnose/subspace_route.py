r"""The matrix-free subspace route of ``diagnose`` (``route="subspace"``).

No per-sample :math:`P\times P` Hessian and no per-sample :math:`C\times P` Jacobian is held:
products with the mean retain and forget curvature (:mod:`numerics.curvature.matrix_free`) feed
Lanczos for a ``k``-dimensional subspace, the per-sample exact Hessians are restricted to it in
chunks (:math:`Q^\top\nabla^2\ell_iQ`, ``k`` Hessian-vector products per sample), and ``k`` grows
until :math:`\lambda_{\min}(A)`, :math:`\rho(\mathcal T(\eta))` and :math:`\eta^\star_{ms}` move by
less than a tolerance (:mod:`numerics.curvature.subspace`).  The step size :math:`\eta` of that
comparison is the requested one, else :math:`1/\lambda_{\max}(\bar H_r)` (``eta_rel = 0.5``).
Memory: ``O(chunk k P + n k^2)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from numerics.apps.diagnose.data import DataSet, FlatModel
from numerics.apps.diagnose.route import Curvature
from numerics.apps.diagnose.spread import mapper
from numerics.core.inputs import UnlearningConfig
from numerics.curvature.coherence import coherence_dense
from numerics.curvature.krylov import SharedKrylov, Want
from numerics.curvature.matrix_free import MatrixFreeCurvature, SampleFunctions
from numerics.curvature.subspace import (
    LEFT_OUT,
    GrowthInputs,
    SubspaceOptions,
    grow_subspace,
    krylov_options,
)

__all__ = ["SubspaceTarget", "sample_functions", "subspace_curvature"]


@dataclass(frozen=True)
class SubspaceTarget:
    """What the subspace must reproduce: the unlearning configuration and step size."""

    config: UnlearningConfig
    eta: float | None = None
    eta_rel: float | None = None


def sample_functions(flat: FlatModel, loss: Callable, example: torch.Tensor) -> SampleFunctions:
    """The model output and the loss of one sample as functions of the flat parameters."""
    with torch.no_grad():
        shape = flat.single(flat.theta, example).shape

    def output(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return flat.single(theta, x).reshape(-1)

    def loss_of_output(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss(o.reshape(shape).unsqueeze(0), t.unsqueeze(0)).reshape(())

    return SampleFunctions(output, loss_of_output)


def subspace_curvature(flat: FlatModel, loss: Callable, sets: tuple[DataSet, DataSet],
                       target: SubspaceTarget, *, options: SubspaceOptions | None = None,
                       budget_gb: float = 1.0, progress: bool = True) -> Curvature:
    """Per-sample exact curvature restricted to a grown Lanczos subspace (module docstring).

    Returns
    -------
    Curvature
        Route ``matrix-free``: factors ``(n, k, .)`` in the subspace coordinates, ``basis``
        ``P x k``; ``info`` states ``subspace_dim``, ``subspace_tolerance`` and what is left out.
    """
    retain, forget = sets
    opts = options or SubspaceOptions()
    fns = sample_functions(flat, loss, retain.inputs[0])
    chunk_bytes = float(budget_gb) * 2**30 / 4
    spread = mapper().map  # per-sample projections: in process, or spread over workers
    mr = MatrixFreeCurvature(fns, flat.theta, (retain.inputs, retain.targets), "hessian",
                             chunk_bytes, spread)
    mf = MatrixFreeCurvature(fns, flat.theta, (forget.inputs, forget.targets), "hessian",
                             chunk_bytes, spread)
    # one Krylov space for lambda_max(H_r) and every basis of the growth (extended, not redone)
    solver = SharedKrylov(mr, mf, target.config.alpha, krylov_options(opts))
    eta = target.eta
    lam_r = None
    if eta is None:
        top = Want("retain", "top", 1)
        solver.vectors([top])
        lam_r = float(solver.ritz_values(top)[-1])
        rel = 0.5 if target.eta_rel is None else target.eta_rel
        eta = 2.0 * rel / lam_r
    with tqdm(desc="curvature (matrix-free, Lanczos subspace)", disable=not progress,
              file=sys.stderr, leave=False, dynamic_ncols=True) as bar:
        res = grow_subspace(GrowthInputs(mr, mf, target.config, float(eta)), opts,
                            progress=lambda s: (bar.set_postfix_str(s), bar.update(1)),
                            solver=solver)
    fr, ff = res.retain.factors, res.forget.factors
    coh = coherence_dense(torch.as_tensor(res.retain.dense()), torch.as_tensor(res.forget.dense()),
                          keep_matrices=True)
    info = {"route": "matrix-free", "requested": "subspace", "n_params": flat.P,
            "exact": res.exact, "subspace_dim": res.dim, "subspace_tolerance": res.tolerance,
            "subspace_tolerance_target": opts.tol, "subspace_history": res.history,
            "subspace_eta": float(eta), "lambda_max_retain_lanczos": lam_r,
            "omits": "nothing (identity basis)" if res.exact else LEFT_OUT,
            "hessian_vector_products": mr.products + mf.products,
            "budget_gib": float(budget_gb)}
    dev = flat.theta.device
    out = Curvature("matrix-free", torch.as_tensor(fr, device=dev), torch.as_tensor(ff, device=dev),
                    res.retain.signs, res.forget.signs, coh, info)
    out.basis = res.basis
    return out
