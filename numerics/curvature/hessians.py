r"""Per-sample curvature of any torch model with a per-sample loss (model-agnostic).

A model is a function ``model_fn(params, x) -> output`` of a *flat* parameter vector
:math:`\theta\in\mathbb R^P` and *one* sample :math:`x` (output a scalar or a vector in
:math:`\mathbb R^C`); a loss is ``loss_fn(output, target) -> scalar``.  The per-sample loss is
:math:`\ell_i(\theta)=\ell(f(\theta,x_i),t_i)` and its Hessian splits as

.. math::
   \nabla^2\ell_i=\underbrace{J_i^\top\Lambda_iJ_i}_{\text{Gauss--Newton (GGN)}}
   +\underbrace{\textstyle\sum_c\partial_{f_c}\ell_i\,
   \nabla^2_\theta f_c(\theta,x_i)}_{\text{omitted by the GGN}},
   \qquad J_i=\partial_\theta f(\theta,x_i)\in\mathbb R^{C\times P},\quad
   \Lambda_i=\nabla^2_f\ell_i\in\mathbb R^{C\times C}.

Two routes:

1. **dense** (:func:`per_sample_hessians`): the exact :math:`P\times P` Hessians through
   ``torch.func.vmap(torch.func.hessian(...))``; the reference at small :math:`P`.
2. **factor** (:func:`ggn_factors`, :func:`factors_from_gradients`): PSD factors
   :math:`F_i=J_i^\top R_i` with :math:`R_iR_i^\top=\Lambda_i`, so that
   :math:`H^{\rm GGN}_i=F_iF_i^\top`; :math:`O(nPC)` memory, no :math:`P\times P` matrix.  For a
   scalar output :math:`F_i=\sqrt{\ell''_i}\,g_i` is rank one.  The GGN is the *exact* Hessian
   whenever :math:`\nabla^2_\theta f=0` at the point (piecewise-linear models such as the ReLU CNN
   with a fixed second layer, SPEC §5.3), and otherwise drops the second term above, which
   :func:`ggn_residual` computes for checking.

The active-subspace reduction (:func:`reduce_to_active`) turns factors in :math:`\mathbb R^P` into
factors in :math:`\mathbb R^r`, :math:`r\le\sum_i\operatorname{rank}H_i`, from a thin QR of the
stacked factor columns followed by an SVD of the small triangular factor; every downstream
quantity (:math:`\rho(\mathcal T)`, :math:`\lambda_{\min}(A|_V)`, :math:`\eta^\star`, the
out-of-span fraction) is invariant under the orthogonal change of basis and is computed there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call, grad, hessian, jacrev, vmap

from numerics.core.inputs import InputError, as_pool
from numerics.core.pools import CurvaturePool, HessianPool, left_multiply

__all__ = [
    "ModelFn",
    "LossFn",
    "check_finite",
    "functional_model",
    "per_sample_hessians",
    "per_sample_jacobians",
    "output_curvature",
    "RootOptions",
    "psd_roots",
    "ggn_factors",
    "factors_from_gradients",
    "ggn_residual",
    "ReducedFactors",
    "reduce_to_active",
    "out_of_span_fraction",
    "to_pool",
]

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Relative tolerance below which a negative output-curvature eigenvalue is treated as round-off.
PSD_RTOL = 1e-10
#: Relative singular-value cut-off for the numerical rank of the stacked factors.
RANK_RTOL = 1e-10


def check_finite(tensor: torch.Tensor | np.ndarray, name: str) -> None:
    """Raise :class:`InputError` if ``tensor`` holds NaN or inf (naming the first bad entry)."""
    t = torch.as_tensor(tensor)
    if not bool(torch.isfinite(t).all()):
        bad = torch.nonzero(~torch.isfinite(t))[0].tolist()
        raise InputError(f"{name} contains NaN or inf (first at index {tuple(bad)})")


def functional_model(module: torch.nn.Module) -> tuple[ModelFn, torch.Tensor]:
    r"""Turn an ``nn.Module`` into ``(model_fn, theta)`` with a flat parameter vector.

    ``model_fn(theta, x)`` evaluates the module on the single sample ``x`` (a batch axis is added
    and removed), so it can be used with :func:`per_sample_hessians` and :func:`ggn_factors`.
    ``theta`` holds the trainable parameters only (``requires_grad=True``, in
    ``named_parameters`` order): frozen parameters and buffers keep their values, as they do in
    the unlearning run, so the curvature has no directions that the run cannot move.

    Raises
    ------
    InputError
        When the module has no trainable parameter.
    """
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if not named:
        raise InputError("the module has no parameters with requires_grad=True: there is no "
                         "curvature to measure")
    names = [n for n, _ in named]
    shapes = [p.shape for _, p in named]
    sizes = [p.numel() for _, p in named]
    theta = torch.cat([p.detach().reshape(-1) for _, p in named])

    def model_fn(params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(params, sizes)
        state = {n: t.reshape(s) for n, t, s in zip(names, pieces, shapes, strict=True)}
        return functional_call(module, state, (x.unsqueeze(0),)).squeeze(0)

    return model_fn, theta


def _check_batch(params: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor | None) -> None:
    if params.ndim != 1:
        raise InputError(f"params must be a flat vector (P,), got shape {tuple(params.shape)}")
    check_finite(params, "params")
    check_finite(inputs, "inputs")
    if inputs.shape[0] == 0:
        raise InputError("inputs are empty: at least one sample is needed")
    if targets is not None and targets.shape[0] != inputs.shape[0]:
        raise InputError(
            f"inputs and targets differ in sample count: {inputs.shape[0]} vs {targets.shape[0]}"
        )


def _scalar(loss: torch.Tensor) -> torch.Tensor:
    """A per-sample loss as a 0-d tensor (a one-element result is accepted)."""
    if loss.numel() != 1:
        raise InputError(f"the per-sample loss must be a scalar, got shape {tuple(loss.shape)}")
    return loss.reshape(())


def per_sample_hessians(model_fn: ModelFn, loss_fn: LossFn, params: torch.Tensor,
                        inputs: torch.Tensor, targets: torch.Tensor, *,
                        chunk_size: int | None = None) -> torch.Tensor:
    r"""Exact per-sample Hessians :math:`\nabla^2_\theta\ell(f(\theta,x_i),t_i)`, ``(n, P, P)``.

    The dense reference route (``vmap`` of ``torch.func.hessian``); memory :math:`O(nP^2)`.
    """
    _check_batch(params, inputs, targets)

    def sample_loss(p: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return _scalar(loss_fn(model_fn(p, x), t))

    return vmap(hessian(sample_loss), in_dims=(None, 0, 0), chunk_size=chunk_size)(
        params, inputs, targets
    )


def per_sample_jacobians(model_fn: ModelFn, params: torch.Tensor, inputs: torch.Tensor, *,
                         chunk_size: int | None = None) -> torch.Tensor:
    r"""Per-sample output Jacobians :math:`J_i=\partial_\theta f(\theta,x_i)`, shape ``(n, C, P)``.

    A scalar output gives ``C = 1`` (:math:`J_i=g_i^\top`, one reverse pass per sample).
    """
    _check_batch(params, inputs, None)

    def flat_out(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return model_fn(p, x).reshape(-1)

    return vmap(jacrev(flat_out), in_dims=(None, 0), chunk_size=chunk_size)(params, inputs)


def output_curvature(loss_fn: LossFn, outputs: torch.Tensor, targets: torch.Tensor,
                     out_shape: torch.Size | tuple[int, ...] = ()) -> torch.Tensor:
    r""":math:`\Lambda_i=\nabla^2_f\ell(f_i,t_i)`, shape ``(n, C, C)``, for outputs ``(n, C)``.

    ``out_shape`` is the shape ``loss_fn`` expects for one output (``()`` for a scalar model).
    """
    def flat_loss(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return _scalar(loss_fn(o.reshape(out_shape), t))

    return vmap(hessian(flat_loss))(outputs.reshape(outputs.shape[0], -1), targets)


@dataclass(frozen=True)
class RootOptions:
    r"""Options of :func:`psd_roots`.

    Attributes
    ----------
    rtol:
        An eigenvalue is negative when below :math:`-\mathrm{rtol}\cdot s`, :math:`s` the largest
        :math:`|\lambda|` over *all* samples of all sets.
    drop_dead:
        Drop the output directions with no curvature (:math:`\lambda\le\mathrm{rtol}\cdot s`) at
        any sample of any set (e.g. softmax's all-ones direction); all kept when none is live.
    require_curvature:
        Raise when every :math:`\Lambda_i` is zero (nothing to analyse).
    advice:
        Appended to the not-PSD error message (what to do instead).
    """

    rtol: float = PSD_RTOL
    drop_dead: bool = False
    require_curvature: bool = False
    advice: str = ("the loss is not convex in the output, so the GGN is not a PSD "
                   "factorisation")


def psd_roots(lams: list[torch.Tensor], options: RootOptions | None = None) -> list[torch.Tensor]:
    r"""Batched :math:`R_i` with :math:`R_iR_i^\top=\Lambda_i` for each set, eigenvalues clamped at 0.

    :math:`\Lambda_i=V\operatorname{diag}(\lambda)V^\top\mapsto R_i=V\operatorname{diag}
    (\max(\lambda,0))^{1/2}` (never the root of a negative number).  An eigenvalue counts as
    negative when it is below :math:`-\mathrm{rtol}\cdot s`, :math:`s` the scale of *all* samples:
    a near-one-hot softmax sample has :math:`\Lambda_i=\operatorname{diag}(p)-pp^\top` with entries
    :math:`p_c(1-p_c)\approx10^{-12}` formed with absolute round-off :math:`\sim10^{-16}`, so a
    per-sample scale would call that round-off a genuine negative curvature.

    Parameters
    ----------
    lams:
        Per-set ``(n, C, C)`` output curvatures :math:`\Lambda_i` (symmetrised here).
    options:
        :class:`RootOptions`.

    Returns
    -------
    list of torch.Tensor
        Per set, ``(n, C, c)`` roots (``c = C`` unless dead directions are dropped).
    """
    opt = options or RootOptions()
    evs = [torch.linalg.eigh(0.5 * (lam + lam.transpose(-1, -2))) for lam in lams]
    scale = max(float(ev.abs().max()) for ev, _ in evs)
    if opt.require_curvature and not scale > 0:
        raise InputError("the loss has zero curvature in the model output at every sample: "
                         "the Gauss-Newton curvature is zero; nothing to analyse")
    tol = opt.rtol * max(scale, torch.finfo(lams[0].dtype).tiny)
    for ev, _ in evs:
        worst = ev[:, 0]
        if bool((worst < -tol).any()):
            i = int(torch.argmin(worst))
            raise InputError(f"output curvature of sample {i} is not PSD (smallest eigenvalue "
                             f"{float(worst[i]):.3g}): {opt.advice}")
    roots = [vec * ev.clamp_min(0.0).sqrt().unsqueeze(-2) for ev, vec in evs]
    if not opt.drop_dead:
        return roots
    live = torch.zeros(lams[0].shape[-1], dtype=torch.bool, device=lams[0].device)
    for ev, _ in evs:
        live |= (ev > tol).any(dim=0)
    if not bool(live.any()):
        live[:] = True
    return [root[..., live] for root in roots]


def ggn_factors(model_fn: ModelFn, loss_fn: LossFn, params: torch.Tensor, inputs: torch.Tensor,
                targets: torch.Tensor, *, chunk_size: int | None = None,
                psd_rtol: float = PSD_RTOL) -> torch.Tensor:
    r"""GGN factors :math:`F_i=J_i^\top R_i`, :math:`R_iR_i^\top=\Lambda_i`, ``(n, P, C)``.

    :math:`F_iF_i^\top=J_i^\top\Lambda_iJ_i` is the GGN of sample :math:`i`; it equals the exact
    Hessian when :math:`\nabla^2_\theta f=0` (the omitted term is :func:`ggn_residual`).  For a
    scalar output :math:`F_i=\sqrt{\ell''_i}\,g_i`.
    """
    _check_batch(params, inputs, targets)
    jac = per_sample_jacobians(model_fn, params, inputs, chunk_size=chunk_size)  # (n, C, P)
    with torch.no_grad():
        out0 = model_fn(params, inputs[0])
        outputs = vmap(lambda x: model_fn(params, x).reshape(-1))(inputs)
    lam = output_curvature(loss_fn, outputs, targets, out0.shape)  # (n, C, C)
    (root,) = psd_roots([lam], RootOptions(rtol=psd_rtol))  # (n, C, C)
    return torch.einsum("ncp,nck->npk", jac, root)


def factors_from_gradients(grads: torch.Tensor, curvature: torch.Tensor, *,
                           rtol: float = PSD_RTOL) -> torch.Tensor:
    r"""Rank-one factors :math:`u_i=\sqrt{\ell''_i}\,g_i` from gradients and curvatures.

    Slightly negative :math:`\ell''_i` (round-off, :math:`>-\mathrm{rtol}\max|\ell''|`) are clamped
    to zero before the square root; a genuinely negative one raises :class:`InputError`.
    """
    check_finite(grads, "per-sample gradients")
    check_finite(curvature, "per-sample curvature")
    if grads.ndim != 2 or curvature.shape != grads.shape[:1]:
        raise InputError(
            f"gradients must be (n, P) and curvature (n,), got {tuple(grads.shape)} and "
            f"{tuple(curvature.shape)}"
        )
    scale = float(curvature.abs().max()) if curvature.numel() else 0.0
    if scale > 0 and float(curvature.min()) < -rtol * scale:
        i = int(torch.argmin(curvature))
        raise InputError(f"second derivative of the loss of sample {i} is negative "
                         f"({float(curvature[i]):.3g}): no real rank-one factor")
    return (grads * curvature.clamp_min(0.0).sqrt().unsqueeze(1)).unsqueeze(2)


def ggn_residual(model_fn: ModelFn, loss_fn: LossFn, params: torch.Tensor, inputs: torch.Tensor,
                 targets: torch.Tensor, *, chunk_size: int | None = None) -> torch.Tensor:
    r"""The term the GGN omits, :math:`\sum_c\partial_{f_c}\ell_i\,\nabla^2_\theta f_c`, dense.

    Dense (for checks at small :math:`P`).  Exact Hessian = GGN + this term.
    """
    _check_batch(params, inputs, targets)
    with torch.no_grad():
        out0 = model_fn(params, inputs[0])
        outputs = vmap(lambda x: model_fn(params, x).reshape(-1))(inputs)

    def loss_of_out(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return _scalar(loss_fn(o.reshape(out0.shape), t))

    dl = vmap(grad(loss_of_out))(outputs, targets)  # (n, C), held fixed

    def weighted_out(p: torch.Tensor, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (c * model_fn(p, x).reshape(-1)).sum()

    return vmap(hessian(weighted_out), in_dims=(None, 0, 0), chunk_size=chunk_size)(
        params, inputs, dl
    )


# ----------------------------------------------------------------------------- active subspace
def _as_factor_tensor(x: torch.Tensor | np.ndarray | CurvaturePool, name: str) -> torch.Tensor:
    """``(n, P, k)`` tensor from factors, rank-one vectors ``(n, P)`` or a pool (its span factors)."""
    if isinstance(x, CurvaturePool):
        x = x.factors
    t = torch.as_tensor(x)
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.ndim == 2:
        t = t.unsqueeze(2)
    if t.ndim != 3:
        raise InputError(
            f"{name} factors must have shape (n, P) or (n, P, k), got {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise InputError(f"{name} factors are empty: shape {tuple(t.shape)}")
    check_finite(t, f"{name} factors")
    return t


@dataclass(frozen=True)
class ReducedFactors:
    r"""Factor sets expressed in an orthonormal basis of the active subspace :math:`V`.

    Attributes
    ----------
    factors:
        One float64 array ``(n_s, r, k_s)`` per input set, :math:`Q^\top F_i`.
    rank:
        :math:`r=\dim V`.
    singular_values:
        Singular values of the stacked factor columns (descending), for conditioning reports.
    basis:
        :math:`Q` (``P x r``, on the input device) when requested, else ``None``.
    """

    factors: tuple[np.ndarray, ...]
    rank: int
    singular_values: np.ndarray
    basis: torch.Tensor | None = None


def reduce_to_active(*factor_sets: torch.Tensor | np.ndarray | CurvaturePool,
                     rtol: float = RANK_RTOL, keep_basis: bool = False) -> ReducedFactors:
    r"""Coordinates of every factor column in an orthonormal basis of :math:`V`.

    With the stacked columns :math:`M=[F_1,\dots,F_N]\in\mathbb R^{P\times N}`: thin QR
    :math:`M=QR`, then :math:`R=W\Sigma V^\top`; the rank is :math:`r=\#\{\sigma_j>
    \mathrm{rtol}\,\sigma_1\}` and the reduced coordinates are :math:`W_r^\top R=\Sigma_rV_r^\top`
    (basis :math:`QW_r`).  Cost :math:`O(PN^2+N^3)` on the device of the inputs; no
    :math:`P\times P` matrix.  Outputs are float64 on the host.
    """
    if not factor_sets:
        raise InputError("reduce_to_active needs at least one factor set")
    sets = [_as_factor_tensor(f, f"set {j}") for j, f in enumerate(factor_sets)]
    P = sets[0].shape[1]
    for j, s in enumerate(sets):
        if s.shape[1] != P:
            raise InputError(f"factor set {j} has dimension {s.shape[1]}, expected {P}")
    dtype = torch.promote_types(sets[0].dtype, torch.float32)
    cols = torch.cat([s.to(dtype).permute(1, 0, 2).reshape(P, -1) for s in sets], dim=1)
    Q, R = torch.linalg.qr(cols, mode="reduced")
    W, sv, _ = torch.linalg.svd(R.to(torch.float64), full_matrices=False)
    sv_np = sv.cpu().numpy()
    top = float(sv_np[0]) if sv_np.size else 0.0
    if top <= 0.0:
        raise InputError("all factors are zero: the active subspace is empty")
    r = int((sv_np > rtol * top).sum())
    coords = (W[:, :r].T @ R.to(torch.float64)).cpu().numpy()  # (r, N)
    out, start = [], 0
    for s in sets:
        n_s, _, k_s = s.shape
        block = coords[:, start:start + n_s * k_s].reshape(r, n_s, k_s).transpose(1, 0, 2)
        out.append(np.ascontiguousarray(block))
        start += n_s * k_s
    basis = Q @ W[:, :r].to(Q.dtype) if keep_basis else None
    return ReducedFactors(tuple(out), r, sv_np, basis)


def out_of_span_fraction(retain: np.ndarray, forget: np.ndarray,
                         rtol: float = RANK_RTOL) -> tuple[float, np.ndarray]:
    r"""Fraction of forget curvature outside the span of the retain curvature.

    With :math:`P_\perp` the orthogonal projector onto the complement of the retain span,

    .. math:: \phi_k=\frac{\|P_\perp F^f_k\|_F^2}{\|F^f_k\|_F^2}
       =\frac{\operatorname{tr}(P_\perp H^f_k)}
       {\operatorname{tr}H^f_k},\qquad
       \phi=\frac{\operatorname{tr}(P_\perp\bar H_f)}{\operatorname{tr}\bar H_f}
       =\frac{\sum_k\|P_\perp F^f_k\|_F^2}{\sum_k\|F^f_k\|_F^2}.

    Inputs are factors ``(n, r, k)`` in any common basis (e.g. :func:`reduce_to_active`).
    Returns ``(phi, phi_k)``; a zero-curvature forget sample has :math:`\phi_k=0`.
    """
    R = np.asarray(retain, dtype=np.float64)
    F = np.asarray(forget, dtype=np.float64)
    cols = R.transpose(1, 0, 2).reshape(R.shape[1], -1)
    u, s, _ = np.linalg.svd(cols, full_matrices=False)
    keep = s > rtol * max(float(s[0]) if s.size else 0.0, np.finfo(float).tiny)
    U = u[:, keep]
    resid = F - left_multiply(U, left_multiply(U.T, F))  # P_perp F_k, two BLAS products
    num = np.einsum("nak,nak->n", resid, resid)
    den = np.einsum("nak,nak->n", F, F)
    per = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    total = float(num.sum() / den.sum()) if den.sum() > 0 else 0.0
    return min(max(total, 0.0), 1.0), np.clip(per, 0.0, 1.0)


def to_pool(factors: torch.Tensor | np.ndarray, name: str) -> HessianPool:
    """A validated float64 :class:`~numerics.core.pools.HessianPool` from factors ``(n, P[, k])``."""
    arr = factors.detach().cpu().numpy() if isinstance(factors, torch.Tensor) else factors
    return as_pool(np.asarray(arr, dtype=np.float64), name, factors=True)
