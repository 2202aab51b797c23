r"""The matrix-free subspace route of ``diagnose`` (``route="subspace"`` / ``"subspace-ggn"``).

No per-sample :math:`P\times P` Hessian and no per-sample :math:`C\times P` Jacobian is held:
products with the mean retain and forget curvature (:mod:`numerics.curvature.matrix_free`) feed
Lanczos for a ``k``-dimensional subspace, the per-sample exact Hessians are restricted to it in
chunks (:math:`Q^\top\nabla^2\ell_iQ`, ``k`` Hessian-vector products per sample), and ``k`` grows
until :math:`\lambda_{\min}(A)`, :math:`\rho(\mathcal T(\eta))` and :math:`\eta^\star_{ms}` move by
less than a tolerance (:mod:`numerics.curvature.subspace`).  The step size :math:`\eta` of that
comparison is the requested one, else :math:`1/\lambda_{\max}(\bar H_r)` (``eta_rel = 0.5``).
Memory: ``O(chunk k P + n k^2)``.

``kind="gauss-newton"`` (``subspace-ggn``, reported as ``matrix-free-ggn``) runs the same
machinery on the Gauss--Newton matrices :math:`G_i=J_i^\top\Lambda_iJ_i`: the mean products are
``jvp`` through the model output, :math:`\Lambda_i`, then ``vjp``, and the per-sample restriction
is :math:`(J_iQ)^\top\Lambda_i(J_iQ)` from ``k`` Jacobian-vector products per sample; no
per-sample ``C x P`` Jacobian and no ``P x P`` matrix is held.  It omits, besides the directions
off the subspace, the residual term the Gauss--Newton matrix leaves out
(:data:`~numerics.apps.diagnose.route.GGN_OMITS`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from numerics.apps.diagnose.data import DataSet, FlatModel
from numerics.apps.diagnose.route import GGN_OMITS, Curvature
from numerics.apps.diagnose.spread import mapper
from numerics.apps.diagnose.subspace_memory import SubspaceSizes, plan_subspace
from numerics.core.heap import release_free_heap
from numerics.core.inputs import InputError, UnlearningConfig
from numerics.core.pools import CurvaturePool
from numerics.curvature.coherence import coherence_dense
from numerics.curvature.krylov import SharedKrylov, Want
from numerics.curvature.matrix_free import KINDS, MatrixFreeCurvature, SampleFunctions
from numerics.curvature.subspace import (
    LEFT_OUT,
    GrowthInputs,
    SubspaceOptions,
    grow_subspace,
    krylov_options,
    subspace_pools,
)

__all__ = ["SubspaceTarget", "RouteMemory", "sample_functions", "subspace_curvature", "restricted_pools",
           "products_count", "boundary_note", "ROUTE_NAMES"]

#: Reported route name of each curvature kind.
ROUTE_NAMES: dict[str, str] = {"hessian": "matrix-free", "gauss-newton": "matrix-free-ggn"}


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


def products_count(retain: MatrixFreeCurvature, forget: MatrixFreeCurvature,
                   first: int) -> dict[str, int]:
    r"""Passes over each set's data the route spent, by phase (cost accounting).

    One pass multiplies one vector by the curvature of every sample of the set: a column of a
    mean product :math:`\bar H V` (Krylov), or a column of the per-sample projections
    :math:`Q^\top H_iQ` (or :math:`J_iQ`); a retain pass costs about ``n_retain / n_forget``
    forget passes.

    Parameters
    ----------
    retain, forget:
        The two sets' :class:`~numerics.curvature.matrix_free.MatrixFreeCurvature`, after the
        route.
    first:
        Retain columns of the :math:`\lambda_{\max}(\bar H_r)` solve (0 when the step size
        was given).

    Returns
    -------
    dict
        ``lambda_max_retain``, ``krylov_retain``, ``krylov_forget`` (all mean-product columns,
        that solve included), ``projection_retain``, ``projection_forget`` and the two sets'
        sizes.
    """
    return {"lambda_max_retain": int(first),
            "krylov_retain": retain.mean_columns, "krylov_forget": forget.mean_columns,
            "projection_retain": retain.projected_columns,
            "projection_forget": forget.projected_columns,
            "n_retain": retain.n, "n_forget": forget.n}


def boundary_note(info: dict[str, Any], rho: float | None) -> str | None:
    r"""A note when :math:`\rho(\mathcal T(\eta))` lies within the subspace tolerance of 1.

    The subspace route stops growing ``k`` once :math:`\lambda_{\min}(A)`, :math:`\rho` and
    :math:`\eta^\star_{ms}` move by less than the tolerance :math:`\tau` (relative); its
    :math:`\rho` is known to about that accuracy, not better.  When
    :math:`|\rho-1|\le\tau\max(\rho,1)` the compressed operator does not settle whether the
    step size escapes (in mean square): a difference of :math:`2.5\cdot10^{-4}` between the
    dense and subspace :math:`\rho` (0.99994 against 1.00019) is 40 times below the default
    :math:`\tau=0.01` and flips the verdict.

    Parameters
    ----------
    info:
        The curvature info of the route (``route``, ``subspace_dim``, ``n_params``,
        ``subspace_tolerance``, ``subspace_tolerance_target``).
    rho:
        :math:`\rho(\mathcal T(\eta))` at the report's step size (``None``: no step size).

    Returns
    -------
    str or None
        The note, or ``None`` off the matrix-free routes, on an identity basis (exact), or
        when :math:`\rho` is farther from 1.
    """
    if (info.get("route") not in ROUTE_NAMES.values() or rho is None or not math.isfinite(rho)
            or info.get("subspace_dim") == info.get("n_params")):
        return None
    tol = max(float(info["subspace_tolerance"]), float(info["subspace_tolerance_target"]))
    if abs(rho - 1.0) > tol * max(abs(rho), 1.0):
        return None
    return (f"rho(T(eta)) = {rho:.6g} lies within the subspace route's tolerance ({tol:.2g} "
            "relative) of 1, so the compressed operator does not settle whether this step size "
            "escapes in mean square; --route dense (P <= 2000) or ggn computes rho on the full "
            "curvature")


def _omits(kind: str, exact: bool) -> str:
    """What a subspace route's curvature leaves out (the report's ``omits``).

    The directions off the subspace (none on an identity basis), and for ``gauss-newton`` also
    the Gauss--Newton matrix's residual term.
    """
    if kind == "hessian":
        return "nothing (identity basis)" if exact else LEFT_OUT
    return GGN_OMITS if exact else f"{LEFT_OUT}; and {GGN_OMITS}"


def _operators(flat: FlatModel, loss: Callable, sets: tuple[DataSet, DataSet], kind: str,
               budget_gb: float) -> tuple[MatrixFreeCurvature, MatrixFreeCurvature]:
    """The retain and forget :class:`MatrixFreeCurvature` (chunks: a quarter of ``budget_gb``)."""
    if kind not in KINDS:
        raise InputError(f"curvature kind must be one of {', '.join(KINDS)}, got {kind!r}")
    retain, forget = sets
    fns = sample_functions(flat, loss, retain.inputs[0])
    chunk_bytes = float(budget_gb) * 2**30 / 4
    spread = mapper().map  # per-sample projections: in process, or spread over workers
    return (MatrixFreeCurvature(fns, flat.theta, (retain.inputs, retain.targets), kind,
                                chunk_bytes, spread),
            MatrixFreeCurvature(fns, flat.theta, (forget.inputs, forget.targets), kind,
                                chunk_bytes, spread))


def restricted_pools(flat: FlatModel, loss: Callable, sets: tuple[DataSet, DataSet],
                     basis: torch.Tensor, *, kind: str = "gauss-newton", budget_gb: float = 1.0
                     ) -> tuple[CurvaturePool, CurvaturePool, dict[str, Any]]:
    r"""Per-sample curvature restricted to a given orthonormal ``basis`` (no Krylov solve).

    The pools of :func:`~numerics.curvature.subspace.subspace_pools` on :math:`U=\operatorname
    {range}Q` of an earlier route: :math:`Q^\top H_iQ`, or for ``gauss-newton``
    :math:`(J_iQ)^\top\Lambda_i(J_iQ)` from ``k`` Jacobian-vector products per sample.  Their
    operator is the compression of the full one to :math:`U`, so by Cauchy interlacing
    :math:`\lambda_{\min}(A|_U)\ge\lambda_{\min}(A)`: a negative value on :math:`U` is
    negative curvature of the full matrix; a non-negative one says nothing of the directions
    off :math:`U`.

    Parameters
    ----------
    flat, loss, sets:
        The model, the per-sample loss, and the retain and forget sets.
    basis:
        ``P x k`` orthonormal columns (e.g. the Hessian subspace route's ``basis``).
    kind, budget_gb:
        ``hessian`` or ``gauss-newton``; memory of the chunks' intermediates (a quarter of it).

    Returns
    -------
    tuple
        The retain and forget :class:`~numerics.core.pools.CurvaturePool` (factors
        ``(n, k, .)`` in the basis coordinates) and an ``info`` dict: ``route``
        (``matrix-free`` or ``matrix-free-ggn``), ``subspace_dim``, the passes spent
        (``products``) and what is left out (``omits``).
    """
    mr, mf = _operators(flat, loss, sets, kind, budget_gb)
    pr, pf = subspace_pools(mr, mf, basis)
    omits = _omits(kind, exact=False)
    info = {"route": ROUTE_NAMES[kind], "curvature_kind": kind, "n_params": flat.P,
            "subspace_dim": int(basis.shape[1]), "omits": omits,
            "products": products_count(mr, mf, 0)}
    return pr, pf, info


@dataclass(frozen=True)
class RouteMemory:
    r"""The route's memory: the chunk budget and, under ``--memory-budget-gb``, the whole cap.

    Attributes
    ----------
    budget_gb:
        One chunk's intermediates may use a quarter of it (GiB).
    working_bytes:
        :math:`B_{\rm work}` of :func:`~numerics.apps.diagnose.memory.working_budget` (the
        bytes the process budget leaves), or ``None`` (no cap: the Krylov space is not planned).
    process_budget_gb:
        The whole-process budget, for the messages.
    """

    budget_gb: float = 1.0
    working_bytes: float | None = None
    process_budget_gb: float | None = None


def _planned(opts: SubspaceOptions, sizes: SubspaceSizes,
             memory: RouteMemory) -> tuple[SubspaceOptions, dict[str, Any] | None]:
    """``opts`` under the memory plan (:func:`plan_subspace`), and the plan for the report."""
    if memory.working_bytes is None:
        return opts, None
    plan = plan_subspace(sizes, opts, float(memory.working_bytes),
                         float(memory.process_budget_gb or memory.working_bytes / 2**30))
    return plan.options, plan.as_dict()


def subspace_curvature(flat: FlatModel, loss: Callable, sets: tuple[DataSet, DataSet],
                       target: SubspaceTarget, *, options: SubspaceOptions | None = None,
                       memory: RouteMemory | None = None, progress: bool = True,
                       kind: str = "hessian") -> Curvature:
    """Per-sample curvature restricted to a grown Lanczos subspace (module docstring).

    Parameters
    ----------
    flat, loss, sets:
        The model, the per-sample loss, and the retain and forget sets.
    target, options:
        What the subspace must reproduce (:class:`SubspaceTarget`) and how it grows.
    memory, progress:
        :class:`RouteMemory` (one chunk's intermediates use a quarter of ``budget_gb``; with
        ``working_bytes`` the Krylov space and ``k`` are planned to fit
        (:func:`~numerics.apps.diagnose.subspace_memory.plan_subspace`), or the route is refused
        with :class:`InputError` before it allocates); progress bar on stderr.
    kind:
        ``hessian`` (exact per-sample Hessians) or ``gauss-newton`` (their Gauss--Newton part).

    Returns
    -------
    Curvature
        Route ``matrix-free`` (``matrix-free-ggn``): factors ``(n, k, .)`` in the subspace
        coordinates, ``basis`` ``P x k``; ``info`` states ``subspace_dim``,
        ``subspace_tolerance`` and what is left out.
    """
    mem = memory or RouteMemory()
    opts, plan = _planned(options or SubspaceOptions(),
                          SubspaceSizes(flat.P, sets[0].n + sets[1].n, target.config.alpha,
                                        float(mem.budget_gb) * 2**30 / 4), mem)
    mr, mf = _operators(flat, loss, sets, kind, mem.budget_gb)
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
    first = solver.columns
    with tqdm(desc="curvature (matrix-free, Lanczos subspace)", disable=not progress,
              file=sys.stderr, leave=False, dynamic_ncols=True) as bar:
        res = grow_subspace(GrowthInputs(mr, mf, target.config, float(eta)), opts,
                            progress=lambda s: (bar.set_postfix_str(s), bar.update(1)),
                            solver=solver)
    del solver
    release_free_heap()  # the Krylov arrays are gone: later phases start from the live data
    fr, ff = res.retain.factors, res.forget.factors
    coh = coherence_dense(torch.as_tensor(res.retain.dense()), torch.as_tensor(res.forget.dense()),
                          keep_matrices=True)
    name = ROUTE_NAMES[kind]
    omits = _omits(kind, res.exact)
    info = {"route": name, "requested": "subspace" if kind == "hessian" else "subspace-ggn",
            "curvature_kind": kind, "n_params": flat.P,
            "exact": res.exact and kind == "hessian", "subspace_dim": res.dim,
            "subspace_tolerance": res.tolerance,
            "subspace_tolerance_target": opts.tol, "subspace_history": res.history,
            "subspace_eta": float(eta), "lambda_max_retain_lanczos": lam_r,
            "omits": omits,
            "hessian_vector_products": mr.products + mf.products,
            "products": products_count(mr, mf, first),
            "budget_gib": float(mem.budget_gb)}
    if plan is not None:
        info["subspace_memory_plan"] = plan
    dev = flat.theta.device
    out = Curvature(name, torch.as_tensor(fr, device=dev), torch.as_tensor(ff, device=dev),
                    res.retain.signs, res.forget.signs, coh, info)
    out.basis = res.basis
    return out
