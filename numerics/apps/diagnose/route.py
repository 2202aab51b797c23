r"""Per-sample curvature of a user's model by the best exact route it allows.

The per-sample Hessian splits as (see :mod:`numerics.curvature.hessians`)

.. math::
   \nabla^2_\theta\ell_i=\underbrace{J_i^\top\Lambda_iJ_i}_{\text{Gauss--Newton (GGN)}}
   +\underbrace{\textstyle\sum_c\partial_{f_c}\ell_i\,\nabla^2_\theta f_c(\theta,x_i)}
   _{\text{omitted by the GGN}},\qquad J_i=\partial_\theta f(\theta,x_i),\quad
   \Lambda_i=\nabla^2_f\ell_i .

Routes (``route="auto"`` picks one by size and loss: :mod:`numerics.apps.diagnose.route_choice`;
:func:`choose_route` decides between the materialised ones):

``dense``
    the exact :math:`P\times P` Hessians, ``vmap(hessian(...))`` in chunks, when
    :math:`P\le` :data:`DENSE_MAX_P` and the :math:`nP^2` floats fit the memory budget.  Each is
    eigen-decomposed; an indefinite Hessian is kept exactly as signed factors
    (:class:`numerics.core.pools.SignedPool`).  Omits nothing.
``ggn`` / ``ggn-rank-one``
    PSD factors :math:`F_i=J_i^\top R_i`, :math:`R_iR_i^\top=\Lambda_i`, memory :math:`O(nPC)`
    (rank one for a scalar output: :math:`u_i=\sqrt{\ell''_i}\,g_i`, SPEC §5.3).  Omits the second
    term, which is exactly zero where the network is piecewise linear in the trained parameters
    (e.g. a ReLU network whose last layer is fixed, SPEC §5.3) and is proportional to the output
    residual :math:`\partial_f\ell`, so small near interpolation.  Its size is *measured* on a
    seeded subsample by comparing with exact dense Hessians when :math:`P` allows.
``subspace`` (reported as ``matrix-free``) / ``subspace-ggn`` (``matrix-free-ggn``)
    exact per-sample Hessians (or Gauss--Newton matrices) restricted to a Lanczos subspace grown
    until the verdict's numbers settle, from Hessian-vector (or Gauss--Newton-vector) products
    only (:mod:`numerics.apps.diagnose.subspace_route`).  Omits the curvature off that subspace
    (and, for ``subspace-ggn``, what the Gauss--Newton matrix omits); the report states the
    subspace's dimension and tolerance.

Round-off tolerances are relative to the largest curvature over *all* samples: a well-fitted
sample has tiny curvature, and its round-off is relative to the others', not to its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.func import hessian, jacrev, vmap
from tqdm.auto import tqdm

from numerics.apps.diagnose.data import DataSet, FlatModel
from numerics.apps.diagnose.spread import mapper
from numerics.core.inputs import InputError
from numerics.core.pools import signed_factors
from numerics.curvature.coherence import Coherence, coherence, coherence_dense
from numerics.curvature.hessians import RootOptions, psd_roots

__all__ = ["ROUTES", "DENSE_MAX_P", "DEFAULT_BUDGET_GB", "GGN_OMITS", "Curvature",
           "choose_route", "compute_curvature", "dense_hessians"]

#: Accepted values of ``route``.
ROUTES: tuple[str, ...] = ("auto", "dense", "ggn", "subspace", "subspace-ggn")
#: Largest trainable-parameter count for the dense exact route.
DENSE_MAX_P = 2000
#: Default memory budget for the per-sample curvature, in GiB.
DEFAULT_BUDGET_GB = 1.0
#: Relative cut-off (to the largest curvature of all samples) below which an eigenvalue is 0.
RTOL = 1e-10
#: Samples used to measure the GGN residual against the exact Hessian.
RESIDUAL_SAMPLES = 6

GGN_OMITS = ("the term sum_c dl/df_c * Hess_theta f_c (loss gradient times the curvature of the "
             "network output); exactly zero where the network is piecewise linear in the "
             "trained parameters (e.g. ReLU with a fixed last layer), small near interpolation "
             "because it is proportional to the output residual dl/df")

VMAP_HINT = ("torch.func could not vectorise the model or the loss ({err}); avoid .item(), "
              "data-dependent Python control flow and in-place updates in forward and loss "
              "(e.g. pass one-hot float targets instead of calling one_hot inside the loss)")


@dataclass
class Curvature:
    r"""Per-sample curvature of the retain and forget sets at :math:`\theta^\star`.

    Attributes
    ----------
    route:
        ``dense``, ``ggn`` or ``ggn-rank-one``.
    retain, forget:
        Factors ``(n, P, k)`` (torch, on the compute device), :math:`H_i=F_iS_iF_i^\top`.
    retain_signs, forget_signs:
        Signs ``(n, k)`` for indefinite exact Hessians, else ``None`` (PSD).
    coherence:
        σ_r, σ_f, σ_rf, σ_joint and the joint coherence matrix.
    info:
        JSON-ready description: route, exactness, what it omits, measured GGN residual,
        negative-curvature fraction, memory estimate.
    """

    route: str
    retain: torch.Tensor
    forget: torch.Tensor
    retain_signs: np.ndarray | None
    forget_signs: np.ndarray | None
    coherence: Coherence
    info: dict[str, Any] = field(default_factory=dict)
    #: ``P x k`` basis of the factors' coordinates (``matrix-free`` route), else ``None``.
    basis: torch.Tensor | None = None


def _bytes_dense(n: int, P: int) -> int:
    return 8 * n * P * P


def _bytes_ggn(n: int, P: int, C: int) -> int:
    return 8 * n * P * C


def choose_route(route: str, P: int, n: int, C: int, budget_bytes: float) -> str:
    """The materialised route to use (``dense`` or ``ggn``), or :class:`InputError` saying what to do.

    ``subspace`` and ``subspace-ggn`` pass through.  ``auto`` here chooses between the
    materialised routes only; ``diagnose`` takes the matrix-free ones for large models first
    (:func:`~numerics.apps.diagnose.route_choice.select_route`).
    """
    key = str(route).lower()
    if key not in ROUTES:
        raise InputError(f"unknown curvature route {route!r}; expected one of {', '.join(ROUTES)}")
    if key in ("subspace", "subspace-ggn"):
        return key
    dense_ok = P <= DENSE_MAX_P and _bytes_dense(n, P) <= budget_bytes
    ggn_ok = _bytes_ggn(n, P, C) <= budget_bytes
    gib = budget_bytes / 2**30
    if key == "dense" and not dense_ok:
        n_fit = int(budget_bytes // max(_bytes_dense(1, P), 1))
        if P > DENSE_MAX_P or n_fit < 2:
            raise InputError(f"the dense exact route needs P <= {DENSE_MAX_P} trainable parameters "
                             f"and n*P^2 floats within the budget; this model has P = {P}: use "
                             "--route ggn")
        raise InputError(f"dense per-sample Hessians of {n} samples with P = {P} need "
                         f"{_bytes_dense(n, P) / 2**30:.2f} GiB (budget {gib:.2f} GiB): pass "
                         f"--max-samples {n_fit // 2} (it bounds each set), raise "
                         "--memory-budget-gb, or use --route ggn")
    if key == "dense" or (key == "auto" and dense_ok):
        return "dense"
    if not ggn_ok:
        n_fit = int(budget_bytes // max(_bytes_ggn(1, P, C), 1))
        raise InputError(
            f"the model is too large for per-sample curvature of all {n} samples: P = {P} "
            f"parameters x {C} outputs needs {_bytes_ggn(n, P, C) / 2**30:.2f} GiB even on the "
            f"Gauss-Newton route (budget {gib:.2f} GiB); pass --max-samples N with "
            f"N <= {max(n_fit // 2, 1)} to analyse a seeded subsample of each set, or raise "
            "--memory-budget-gb")
    return "ggn"


def _sample_loss(flat: FlatModel, loss: Callable) -> Callable:
    def fn(theta: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss(flat.single(theta, x).unsqueeze(0), t.unsqueeze(0)).reshape(())

    return fn


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(start + size, n)


def dense_hessians(flat: FlatModel, loss: Callable, data: DataSet, *, chunk: int,
                   bar: tqdm | None = None) -> torch.Tensor:
    r"""Exact per-sample Hessians ``(n, P, P)`` in chunks of ``chunk`` samples (``vmap``).

    The chunks are evaluated by the active :func:`~numerics.apps.diagnose.spread.mapper` (in
    process unless ``diagnose`` spreads them over an executor).
    """
    bounds = list(_chunks(data.n, chunk))
    items = [(data.inputs[a:b], data.targets[a:b]) for a, b in bounds]
    out = mapper().map(dense_chunk, (flat, loss), items, done=_advance(bar, bounds))
    h = torch.cat(out)
    return 0.5 * (h + h.transpose(1, 2))


def _advance(bar: tqdm | None, bounds: list[tuple[int, int]]) -> Callable[[int], None] | None:
    """Progress callback: chunk ``i`` done advances ``bar`` by its number of samples."""
    if bar is None:
        return None
    return lambda i: bar.update(bounds[i][1] - bounds[i][0])


def dense_chunk(model: tuple[FlatModel, Callable], chunk: tuple[torch.Tensor, torch.Tensor]
                ) -> torch.Tensor:
    r"""Exact Hessians :math:`\nabla^2_\theta\ell_i` ``(b, P, P)`` of one chunk of samples.

    Parameters
    ----------
    model:
        ``(flat, loss)``: the model as a function of its flat parameters, and the loss.
    chunk:
        ``(inputs, targets)`` of the chunk's ``b`` samples.

    Returns
    -------
    torch.Tensor
        The Hessians at :math:`\theta^\star` (not yet symmetrised).
    """
    flat, loss = model
    fn = vmap(hessian(_sample_loss(flat, loss)), in_dims=(None, 0, 0))
    try:
        return fn(flat.theta, chunk[0], chunk[1]).detach()
    except RuntimeError as exc:
        raise InputError(VMAP_HINT.format(err=str(exc).splitlines()[0])) from None


def _ggn_pieces(flat: FlatModel, loss: Callable, data: DataSet, *, chunk: int,
                bar: tqdm | None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Per-sample output Jacobians ``(n, C, P)`` and output curvatures :math:`\Lambda_i` ``(n, C, C)``.

    The chunks are evaluated by the active :func:`~numerics.apps.diagnose.spread.mapper`.
    """
    bounds = list(_chunks(data.n, chunk))
    items = [(data.inputs[a:b], data.targets[a:b]) for a, b in bounds]
    out = mapper().map(ggn_chunk, (flat, loss), items, done=_advance(bar, bounds))
    return torch.cat([j for j, _ in out]), torch.cat([lam for _, lam in out])


def ggn_chunk(model: tuple[FlatModel, Callable], chunk: tuple[torch.Tensor, torch.Tensor]
              ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Output Jacobians :math:`J_i` ``(b, C, P)`` and :math:`\Lambda_i=\nabla^2_f\ell_i` ``(b, C, C)`` of one chunk.

    Parameters
    ----------
    model:
        ``(flat, loss)``: the model as a function of its flat parameters, and the loss.
    chunk:
        ``(inputs, targets)`` of the chunk's ``b`` samples.

    Returns
    -------
    tuple[torch.Tensor, torch.Tensor]
        The Jacobians and the output curvatures at :math:`\theta^\star`.
    """
    flat, loss = model
    x, t = chunk
    with torch.no_grad():
        out_shape = flat.single(flat.theta, x[0]).shape

    def flat_out(theta: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return flat.single(theta, xi).reshape(-1)

    def loss_of_out(o: torch.Tensor, ti: torch.Tensor) -> torch.Tensor:
        return loss(o.reshape(out_shape).unsqueeze(0), ti.unsqueeze(0)).reshape(())

    try:
        jac = vmap(jacrev(flat_out), in_dims=(None, 0))(flat.theta, x).detach()
        with torch.no_grad():
            o = vmap(flat_out, in_dims=(None, 0))(flat.theta, x)
        lam = vmap(hessian(loss_of_out))(o, t).detach()
    except RuntimeError as exc:
        raise InputError(VMAP_HINT.format(err=str(exc).splitlines()[0])) from None
    return jac, lam


#: What to do when the loss is not convex in the model output (the Gauss-Newton route fails).
_NOT_CONVEX = ("the loss is not convex in the model output, so the Gauss-Newton matrix is not "
               "PSD: use --route dense (exact, handles indefinite curvature) if the model is "
               "small, or a loss convex in the output (MSE, cross-entropy)")


def _psd_roots(lams: list[torch.Tensor]) -> list[torch.Tensor]:
    r""":math:`R_i` with :math:`R_iR_i^\top=\Lambda_i` (:func:`~numerics.curvature.hessians.psd_roots`).

    Negative round-off clamped on the scale of both sets; output directions with no curvature at
    any sample dropped; an all-zero curvature is an error.
    """
    return psd_roots(lams, RootOptions(rtol=RTOL, drop_dead=True, require_curvature=True,
                                       advice=_NOT_CONVEX))


def _dense_to_signed(hs: list[torch.Tensor]) -> tuple[list[np.ndarray], list[np.ndarray],
                                                       dict[str, float]]:
    """Signed factors of dense Hessians (one global round-off scale) and negative-mass stats."""
    eig = [torch.linalg.eigh(h) for h in hs]
    scale = max(float(ev.abs().max()) for ev, _ in eig)
    if not scale > 0:
        raise InputError("every per-sample Hessian is zero at the trained weights: nothing to "
                         "analyse")
    out_f, out_s, neg, tot, worst = [], [], 0.0, 0.0, 0.0
    for ev, vec in eig:
        f, s = signed_factors(ev.cpu().numpy(), vec.cpu().numpy(), RTOL, scale)
        out_f.append(f)
        out_s.append(s)
        lam = ev.cpu().numpy()
        kept = np.abs(lam) > RTOL * scale
        neg += float(np.abs(lam[(lam < 0) & kept]).sum())
        tot += float(np.abs(lam[kept]).sum())
        worst = min(worst, float(lam.min()))
    k = max(f.shape[2] for f in out_f)
    pad_f = [np.pad(f, ((0, 0), (0, 0), (0, k - f.shape[2]))) for f in out_f]
    pad_s = [np.pad(s, ((0, 0), (0, k - s.shape[1]))) for s in out_s]
    stats = {"negative_curvature_fraction": neg / tot if tot > 0 else 0.0,
             "most_negative_eigenvalue": worst, "largest_curvature": scale,
             "max_rank_per_sample": int(k)}
    return pad_f, pad_s, stats


def _bar(total: int, desc: str, progress: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="sample", disable=not progress, file=sys.stderr,
                leave=False, dynamic_ncols=True)


def compute_curvature(flat: FlatModel, loss: Callable, retain: DataSet, forget: DataSet, *,
                      route: str = "auto", budget_gb: float = DEFAULT_BUDGET_GB,
                      progress: bool = True, seed: int = 0) -> Curvature:
    """Per-sample curvature of both sets by :func:`choose_route`, with a progress bar.

    Parameters
    ----------
    flat, loss:
        The model as a function of its flat trainable parameters, and the per-sample loss.
    retain, forget:
        The two sets.
    route, budget_gb:
        ``auto``, ``dense`` or ``ggn``, and the memory the per-sample curvature may use (GiB).
    progress, seed:
        Progress bar on stderr; seed of the subsample on which the Gauss-Newton residual is
        measured (:data:`RESIDUAL_SAMPLES` samples).

    Returns
    -------
    Curvature
        Factors (and signs when indefinite), coherence and what the route omits.
    """
    if not (np.isfinite(budget_gb) and budget_gb > 0):
        raise InputError(f"memory budget must be finite and > 0 GiB, got {budget_gb}")
    budget = float(budget_gb) * 2**30
    with torch.no_grad():
        C = int(flat.single(flat.theta, retain.inputs[0]).numel())
    P, n = flat.P, retain.n + forget.n
    chosen = choose_route(route, P, n, C, budget)
    info: dict[str, Any] = {"route": chosen, "requested": route, "n_params": P,
                            "output_dim": C, "budget_gib": float(budget_gb)}
    if chosen == "dense":
        chunk = max(1, int(min(budget / 4, 2**28) // (_bytes_dense(1, P) * 4)))
        with _bar(n, "curvature (dense Hessians)", progress) as bar:
            hr = dense_hessians(flat, loss, retain, chunk=chunk, bar=bar)
            hf = dense_hessians(flat, loss, forget, chunk=chunk, bar=bar)
        (fr, ff), (sr, sf), stats = _dense_to_signed([hr, hf])
        coh = coherence_dense(hr, hf, keep_matrices=True)
        del hr, hf
        signed = bool((sr < 0).any() or (sf < 0).any())
        info.update(exact=True, omits="nothing (exact per-sample Hessians)",
                    indefinite=signed, memory_gib=_bytes_dense(n, P) / 2**30, **stats)
        dev = flat.theta.device
        return Curvature("dense", torch.as_tensor(fr, device=dev), torch.as_tensor(ff, device=dev),
                         sr if signed else None, sf if signed else None, coh, info)
    chunk = max(1, int(min(budget / 4, 2**28) // (_bytes_ggn(1, P, C) * 3)))
    with _bar(n, "curvature (Gauss-Newton factors)", progress) as bar:
        jr, lr = _ggn_pieces(flat, loss, retain, chunk=chunk, bar=bar)
        jf, lf = _ggn_pieces(flat, loss, forget, chunk=chunk, bar=bar)
    rr, rf = _psd_roots([lr, lf])
    fr = torch.einsum("ncp,nck->npk", jr, rr)
    ff = torch.einsum("ncp,nck->npk", jf, rf)
    name = "ggn-rank-one" if fr.shape[2] == 1 else "ggn"
    info.update(route=name, exact=False, omits=GGN_OMITS, factor_rank=int(fr.shape[2]),
                memory_gib=_bytes_ggn(n, P, C) / 2**30)
    info["ggn_residual"] = _measure_residual(flat, loss, (retain, forget), (fr, ff), budget,
                                             seed)
    coh = coherence(fr, ff, keep_matrices=True)
    return Curvature(name, fr, ff, None, None, coh, info)


def _measure_residual(flat: FlatModel, loss: Callable, sets: tuple[DataSet, DataSet],
                      factors: tuple[torch.Tensor, torch.Tensor], budget: float,
                      seed: int) -> dict[str, Any]:
    r"""Relative Frobenius error :math:`\|H_i-H^{\rm GGN}_i\|_F/\|H_i\|_F` on a seeded subsample."""
    (retain, forget), (fr, ff) = sets, factors
    P = flat.P
    m = min(RESIDUAL_SAMPLES, retain.n + forget.n)
    if m < 1 or P > DENSE_MAX_P or 3 * _bytes_dense(m, P) > budget:
        return {"measured": False,
                "why": f"P = {P} too large for exact Hessians of a subsample within the budget"}
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(retain.n + forget.n, size=m, replace=False))
    ir, jf = idx[idx < retain.n], idx[idx >= retain.n] - retain.n
    rel, names = [], []
    for data, fac, sel in ((retain, fr, ir), (forget, ff, jf)):
        if sel.size == 0:
            continue
        h = dense_hessians(flat, loss, data.take(sel), chunk=max(1, sel.size))
        f = fac[torch.as_tensor(sel, device=fac.device)]
        g = torch.einsum("npk,nqk->npq", f, f)
        num = torch.linalg.matrix_norm(h - g).cpu().numpy()
        den = torch.linalg.matrix_norm(h).cpu().numpy()
        rel.append(np.divide(num, den, out=np.zeros_like(num), where=den > 0))
        names += [f"{data.name} #{int(i)}" for i in sel]
    r = np.concatenate(rel)
    worst = int(np.argmax(r))
    return {"measured": True, "samples": int(m), "relative_median": float(np.median(r)),
            "relative_max": float(r[worst]), "worst_sample": names[worst]}
