r"""The two-layer CNN of SPEC §5.2 and its exact per-sample curvature (SPEC §5.3).

.. math::
   f(W,x)=F_{+1}(W_{+1},x)-F_{-1}(W_{-1},x),\qquad
   F_j=\frac1m\sum_{r=1}^m\sum_{p=1}^2\sigma(\langle w_{j,r},x^{(p)}\rangle),

with the second layer fixed at :math:`\pm1/m`.  The weights are a tensor ``W`` of shape
``(2, m, d)``: ``W[0]`` are the filters :math:`w_{+1,r}` and ``W[1]`` the filters
:math:`w_{-1,r}`; the flat parameter vector is ``W.reshape(-1)`` (:math:`P=2md`).

Activations and losses come from the registries of :mod:`numerics.apps.cnn.family`
(``relu`` [S:KOU], ``relu_q`` [S:CAO]; ``logistic`` of SPEC §5.2, ``squared``);
:class:`TwoLayerCNN` is this architecture's :class:`~numerics.apps.cnn.family.ModelFamily`.
Below, :math:`\ell'_i=\partial_f\ell(f_i,y_i)` and :math:`\ell''_i=\partial_f^2\ell(f_i,y_i)`
(for the logistic loss of the margin :math:`z=yf` these are :math:`y\,\ell'(z)` and
:math:`\ell''(z)`).

**Per-sample gradient (analytic).**  With :math:`s_{+1}=1,\ s_{-1}=-1`,

.. math:: \frac{\partial f(W,x_i)}{\partial w_{j,r}}
   =\frac{s_j}{m}\sum_p\sigma'(\langle w_{j,r},x_i^{(p)}\rangle)\,x_i^{(p)} .

**Curvature.**
:math:`\nabla^2_W\ell_i=\ell''_i\,g_ig_i^\top+\ell'_i\,\nabla^2_Wf_i`.
For ReLU, :math:`\nabla^2_Wf=0` almost everywhere, so :math:`H_i=\ell''_i\,g_ig_i^\top` *exactly*
(the rank-one identity; :math:`u_i=\sqrt{\ell''_i}\,g_i`).  For ReLU\ :sup:`q` the factor route
returns the Gauss--Newton matrix :math:`\ell''_ig_ig_i^\top` and omits

.. math:: \ell'_i\,\nabla^2_Wf_i,\qquad
   \frac{\partial^2f_i}{\partial w_{j,r}^2}
   =\frac{s_j}{m}\sum_pq(q-1)\max(0,\langle w_{j,r},x_i^{(p)}\rangle)^{q-2}
   x_i^{(p)}x_i^{(p)\top},

block-diagonal over filters (:func:`ggn_omitted_term`).  At a logistic solution
:math:`|\ell'_i|\approx\ell''_i\approx e^{-y_if_i}` for large margins, so the omitted term is *not*
small relative to the GGN by the loss factor alone; its relative size is that of
:math:`\|\nabla^2_Wf_i\|` against :math:`\|g_i\|^2`, which the tests measure.  It is indefinite
(its sign follows :math:`s_j`), so the exact ReLU\ :sup:`q` Hessian need not be PSD, which is why
the factor route uses the GGN.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from numerics.apps.cnn.family import (
    Activation,
    Loss,
    activation,
    activation_names,
    loss,
    loss_names,
)
from numerics.core.inputs import InputError
from numerics.curvature.hessians import check_finite

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "CNNConfig",
    "TwoLayerCNN",
    "model_family",
    "init_weights",
    "check_weights",
    "preactivations",
    "forward",
    "patch_outputs",
    "per_sample_gradients",
    "loss_derivatives",
    "loss_value",
    "weighted_loss_grad",
    "weighted_loss_grad_batched",
    "loss_and_grad",
    "rank_one_factors",
    "rank_one_gram",
    "model_fn",
    "logistic_loss_fn",
    "loss_fn",
    "ggn_omitted_term",
    "memorization_scores",
    "activation_counts",
]

#: Activation names (the registry of :mod:`numerics.apps.cnn.activations`).
ACTIVATIONS: tuple[str, ...] = activation_names()
#: Loss names (the registry of :mod:`numerics.apps.cnn.losses`).
LOSSES: tuple[str, ...] = loss_names()
#: Signs of the two fixed second-layer rows (:math:`F_{+1}` and :math:`-F_{-1}`).
_SIGNS = (1.0, -1.0)


@dataclass(frozen=True)
class CNNConfig:
    r"""Architecture: ``m`` filters per class, an activation (power ``q``) and a loss, by name."""

    m: int = 8
    activation: str = "relu"
    q: float = 3.0
    loss: str = "logistic"

    def validated(self) -> CNNConfig:
        """Checked copy; raises :class:`InputError` naming the bad field."""
        if isinstance(self.m, bool) or int(self.m) != self.m or self.m < 1:
            raise InputError(f"number of filters m must be an integer >= 1, got {self.m!r}")
        act = activation(self.activation)
        loss(self.loss)
        q = float(self.q)
        if act.needs_power and (not np.isfinite(q) or q < 2):
            raise InputError(f"{act.name} needs a power q >= 2, got {self.q}")
        return CNNConfig(int(self.m), self.activation, q, self.loss)

    @property
    def act(self) -> Activation:
        """The activation object."""
        return activation(self.activation)

    @property
    def loss_fn(self) -> Loss:
        """The loss object."""
        return loss(self.loss)


@lru_cache(maxsize=16)
def _signs_cached(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor(_SIGNS, dtype=dtype, device=device)


def _signs(W: torch.Tensor) -> torch.Tensor:
    return _signs_cached(W.dtype, W.device)


def init_weights(d: int, config: CNNConfig, sigma0: float, seed: int, *,
                 device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""Initial weights :math:`w^{(0)}_{j,r}\sim\mathcal N(0,\sigma_0^2I_d)`.

    Drawn in float64 on the CPU from ``seed`` (the same on every device), then moved.
    """
    cfg = config.validated()
    if not np.isfinite(sigma0) or sigma0 < 0:
        raise InputError(f"init scale sigma0 must be finite and >= 0, got {sigma0}")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    W = sigma0 * torch.randn((2, cfg.m, d), generator=gen, dtype=torch.float64)
    return W.to(device=device, dtype=dtype)


def check_weights(W: torch.Tensor, d: int | None = None) -> None:
    """Raise :class:`InputError` unless ``W`` is a finite ``(2, m, d)`` tensor."""
    if not isinstance(W, torch.Tensor) or W.ndim != 3 or W.shape[0] != 2:
        shape = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
        raise InputError(f"CNN weights must be a tensor of shape (2, m, d), got {shape}")
    if d is not None and W.shape[2] != d:
        raise InputError(f"CNN weights have patch dimension {W.shape[2]}, data has {d}")
    check_finite(W, "CNN weights")


def _act(z: torch.Tensor, cfg: CNNConfig) -> torch.Tensor:
    return cfg.act.value(z, cfg.q)


def _act_grad(z: torch.Tensor, cfg: CNNConfig) -> torch.Tensor:
    return cfg.act.grad(z, cfg.q)


def _act_hess(z: torch.Tensor, cfg: CNNConfig) -> torch.Tensor:
    return cfg.act.hess(z, cfg.q)


def preactivations(W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""Pre-activations :math:`\langle w_{j,r},x_i^{(p)}\rangle`, ``(n, 2, m, 2)``.

    Axes: sample, class :math:`j`, filter :math:`r`, patch :math:`p`.
    """
    return torch.einsum("jrd,npd->njrp", W, X)


def forward(W: torch.Tensor, X: torch.Tensor, config: CNNConfig) -> torch.Tensor:
    r"""Network outputs :math:`f(W,x_i)`, shape ``(n,)``."""
    act = _act(preactivations(W, X), config)  # (n, 2, m, 2)
    F = act.sum(dim=(2, 3)) / W.shape[1]
    return F[:, 0] - F[:, 1]


def patch_outputs(W: torch.Tensor, X: torch.Tensor, config: CNNConfig) -> torch.Tensor:
    r"""Contribution of each patch to :math:`f`, ``(n, 2)``; the columns sum to :func:`forward`."""
    act = _act(preactivations(W, X), config)
    return torch.einsum("njrp,j->np", act, _signs(W)) / W.shape[1]


def _expand(coef: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""``(n, P)`` rows :math:`[\,c_{i,j,r,1}x_i^{(1)}+c_{i,j,r,2}x_i^{(2)}\,]_{(j,r)}`.

    One batched product ``(n, 2m, 2) @ (n, 2, d)``: a single pass over the :math:`nP` output.
    """
    n = X.shape[0]
    return torch.bmm(coef.reshape(n, -1, 2), X).reshape(n, -1)


def _grad_coefficients(pre: torch.Tensor, W: torch.Tensor, config: CNNConfig) -> torch.Tensor:
    r""":math:`\frac{s_j}{m}\sigma'(\langle w_{j,r},x_i^{(p)}\rangle)`, shape ``(n, 2, m, 2)``."""
    return _act_grad(pre, config) * (_signs(W) / W.shape[1])[None, :, None, None]


def per_sample_gradients(W: torch.Tensor, X: torch.Tensor, config: CNNConfig) -> torch.Tensor:
    r"""Analytic per-sample gradients :math:`g_i=\nabla_Wf(W,x_i)`, ``(n, P)``.

    Memory :math:`O(nP)`; no autograd.
    """
    return _expand(_grad_coefficients(preactivations(W, X), W, config), X)


def loss_derivatives(f: torch.Tensor, y: torch.Tensor,
                     config: CNNConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r""":math:`(\ell_i,\partial_f\ell_i,\partial_f^2\ell_i)` at the outputs ``f`` (the config's loss)."""
    return config.loss_fn.derivatives(f, y)


def loss_value(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
               config: CNNConfig) -> torch.Tensor:
    r"""Mean loss :math:`\frac1n\sum_i\ell(f(W,x_i),y_i)`."""
    return config.loss_fn.per_sample(forward(W, X, config), y).mean()


def weighted_loss_grad(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor,
                       config: CNNConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Per-sample losses, :math:`\sum_i\omega_i\nabla_W\ell_i` and the outputs, analytically.

    .. math:: \sum_i\omega_i\nabla_{w_{j,r}}\ell_i=\sum_i\omega_i\,\ell'_i\,
       \frac{s_j}{m}\sum_p\sigma'(\langle w_{j,r},x_i^{(p)}\rangle)x_i^{(p)} ,

    one contraction of cost :math:`O(nP)`; the per-sample gradients are never stored.
    """
    pre = preactivations(W, X)
    f = (_act(pre, config).sum(dim=3) * _signs(W)[None, :, None]).sum(dim=(1, 2)) / W.shape[1]
    loss_i, d1, _ = loss_derivatives(f, y, config)
    coef = _act_grad(pre, config) * (d1 * weights)[:, None, None, None]
    grad = torch.einsum("njrp,npd->jrd", coef, X) * (_signs(W) / W.shape[1])[:, None, None]
    return loss_i, grad, f


def weighted_loss_grad_batched(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                               weights: torch.Tensor,
                               config: CNNConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r""":func:`weighted_loss_grad` for ``R`` weight tensors at once: ``W`` ``(R, 2, m, d)``.

    ``weights`` is ``(R, n)``; returns per-sample losses ``(R, n)``, gradients ``(R, 2, m, d)``
    and outputs ``(R, n)`` (the same contraction with a leading run axis).
    """
    pre = torch.einsum("Rjrd,npd->Rnjrp", W, X)
    signs = _signs(W)
    f = (_act(pre, config).sum(dim=4) * signs[None, None, :, None]).sum(dim=(2, 3)) / W.shape[2]
    loss_i, d1, _ = loss_derivatives(f, y, config)
    coef = _act_grad(pre, config) * (d1 * weights)[:, :, None, None, None]
    grad = torch.einsum("Rnjrp,npd->Rjrd", coef, X) * (signs / W.shape[2])[None, :, None, None]
    return loss_i, grad, f


def loss_and_grad(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                  config: CNNConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Mean loss :math:`L=\frac1n\sum_i\ell(y_if_i)`, :math:`\nabla_WL` and the outputs."""
    weights = torch.full((X.shape[0],), 1.0 / X.shape[0], dtype=X.dtype, device=X.device)
    loss, grad, f = weighted_loss_grad(W, X, y, weights, config)
    return loss.mean(), grad, f


def _factor_coefficients(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                         config: CNNConfig) -> torch.Tensor:
    r"""Factor coefficients, ``(n, 2, m, 2)``.

    :math:`\sqrt{\ell''_i}\,\frac{s_j}{m}\sigma'(\langle w_{j,r},x_i^{(p)}\rangle)`.
    """
    check_weights(W, X.shape[2])
    pre = preactivations(W, X)
    f = (_act(pre, config).sum(dim=3) * _signs(W)[None, :, None]).sum(dim=(1, 2)) / W.shape[1]
    _, _, d2 = loss_derivatives(f, y, config)
    return _grad_coefficients(pre, W, config) * d2.clamp_min(0.0).sqrt()[:, None, None, None]


def rank_one_factors(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                     config: CNNConfig) -> torch.Tensor:
    r"""Rank-one curvature factors :math:`u_i=\sqrt{\ell''_i}\,g_i`, shape ``(n, P)``.

    Exact per-sample Hessians for a piecewise-linear activation (``relu``); the Gauss--Newton
    matrices otherwise (the omitted term is :func:`ggn_omitted_term`).  One pass over the
    pre-activations, :math:`O(nP)`.
    """
    return _expand(_factor_coefficients(W, X, y, config), X)


def rank_one_gram(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                  config: CNNConfig) -> torch.Tensor:
    r"""Gram matrix :math:`G_{ik}=\langle u_i,u_k\rangle` from the CNN's patch structure.

    With :math:`A_p\in\mathbb R^{n\times2m}` the coefficients of patch :math:`p` (see
    :func:`rank_one_factors`) and :math:`X_p\in\mathbb R^{n\times d}` the patches,

    .. math:: G=\sum_{p,p'=1}^2(A_pA_{p'}^\top)\odot(X_pX_{p'}^\top),

    cost :math:`O(n^2(m+d))` instead of :math:`O(n^2P)=O(n^2md)`, and :math:`u_i` is never
    formed (memory :math:`O(n(m+d)+n^2)`).  Equal to ``U @ U.T`` of :func:`rank_one_factors`.
    """
    c = _factor_coefficients(W, X, y, config)
    n = X.shape[0]
    A = [c[..., p].reshape(n, -1) for p in (0, 1)]
    Xp = [X[:, p, :] for p in (0, 1)]
    G = (A[0] @ A[0].T) * (Xp[0] @ Xp[0].T) + (A[1] @ A[1].T) * (Xp[1] @ Xp[1].T)
    cross = (A[0] @ A[1].T) * (Xp[0] @ Xp[1].T)
    return G + cross + cross.T


def model_fn(config: CNNConfig, m: int, d: int):
    r"""Generic ``model_fn(theta, x)`` of one sample, for :mod:`numerics.curvature.hessians`."""
    def fn(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return forward(theta.reshape(2, m, d), x.unsqueeze(0), config)[0]

    return fn


def logistic_loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Per-sample logistic loss :math:`\ell(yf)=\log(1+e^{-yf})` (generic curvature API)."""
    return loss("logistic").per_sample(output, target)


def loss_fn(config: CNNConfig):
    r"""Generic per-sample ``loss_fn(output, target)`` of the config's loss."""
    return config.loss_fn.per_sample


def ggn_omitted_term(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                     config: CNNConfig) -> torch.Tensor:
    r"""Dense omitted term :math:`\ell'_i\,\nabla^2_Wf_i`, ``(n, P, P)``; for tests.

    Zero for ReLU.

    Block-diagonal over the :math:`2m` filters with blocks
    :math:`\ell'_i\frac{s_j}{m}\sum_p\sigma''(\langle w_{j,r},x_i^{(p)}\rangle)
    x_i^{(p)}x_i^{(p)\top}`.
    """
    n, (_, m, d) = X.shape[0], W.shape
    pre = preactivations(W, X)
    _, d1, _ = loss_derivatives(forward(W, X, config), y, config)
    coef = _act_hess(pre, config) * (_signs(W) / m)[None, :, None, None]
    coef = coef * d1[:, None, None, None]
    blocks = torch.einsum("njrp,npa,npb->njrab", coef, X, X).reshape(n, 2 * m, d, d)
    out = torch.zeros((n, 2 * m, d, 2 * m, d), dtype=W.dtype, device=W.device)
    idx = torch.arange(2 * m)
    out[:, idx, :, idx, :] = blocks.transpose(0, 1)
    return out.reshape(n, 2 * m * d, 2 * m * d)


def memorization_scores(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                        config: CNNConfig) -> np.ndarray:
    r"""Noise-patch margin :math:`y_i\,f_\xi(x_i)`: how much of the fit comes from memorised noise.

    :math:`f_\xi` is the network evaluated on the noise patch alone (:func:`patch_outputs`).
    Large values mean the sample is fitted through its own noise :math:`\xi_i`, the
    "most memorised" samples of the ``memorized`` forget rule.
    """
    return (y * patch_outputs(W, X, config)[:, 1]).detach().cpu().numpy()


def activation_counts(W: torch.Tensor, X: torch.Tensor) -> dict[str, np.ndarray]:
    r"""Filters active on both samples' signal / noise patches.

    The counts :math:`N^\mu_{ik}` and :math:`N^\xi_{ik}`.
    These are the counts of SPEC §5.4: with :math:`\mu\perp\xi`,

    .. math:: \langle g_i,g_k\rangle=\frac1{m^2}\big(\langle x_i^{(1)},x_k^{(1)}\rangle N^\mu_{ik}
       +\langle\xi_i,\xi_k\rangle N^\xi_{ik}\big)

    for ReLU (``N`` counts :math:`(j,r)` with both pre-activations positive).  Returned as
    ``{"signal": (n, n), "noise": (n, n)}`` float arrays.
    """
    act = (preactivations(W, X) > 0).to(W.dtype)  # (n, 2, m, 2)
    a = act.reshape(X.shape[0], -1, 2)
    return {"signal": (a[:, :, 0] @ a[:, :, 0].T).cpu().numpy(),
            "noise": (a[:, :, 1] @ a[:, :, 1].T).cpu().numpy()}


@dataclass(frozen=True)
class TwoLayerCNN:
    r"""The two-layer CNN of this module as a :class:`~numerics.apps.cnn.family.ModelFamily`.

    Every method is the module function of the same job with ``config`` bound.
    """

    config: CNNConfig

    @property
    def loss(self) -> Loss:
        """The loss object."""
        return self.config.loss_fn

    @property
    def factors_exact(self) -> bool:
        r"""Whether :math:`u_iu_i^\top` is the exact per-sample Hessian (piecewise-linear σ)."""
        return self.config.act.piecewise_linear

    def init(self, d: int, sigma0: float, seed: int, *, device: torch.device | str = "cpu",
             dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """:func:`init_weights`."""
        return init_weights(d, self.config, sigma0, seed, device=device, dtype=dtype)

    def forward(self, W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """:func:`forward`."""
        return forward(W, X, self.config)

    def per_sample_gradients(self, W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """:func:`per_sample_gradients`."""
        return per_sample_gradients(W, X, self.config)

    def weighted_loss_grad(self, W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                           weights: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """:func:`weighted_loss_grad`."""
        return weighted_loss_grad(W, X, y, weights, self.config)

    def weighted_loss_grad_batched(self, W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                                   weights: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """:func:`weighted_loss_grad_batched`."""
        return weighted_loss_grad_batched(W, X, y, weights, self.config)

    def curvature_factors(self, W: torch.Tensor, X: torch.Tensor,
                          y: torch.Tensor) -> torch.Tensor:
        """:func:`rank_one_factors`."""
        return rank_one_factors(W, X, y, self.config)

    def omitted_term(self, W: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """:func:`ggn_omitted_term`."""
        return ggn_omitted_term(W, X, y, self.config)


def model_family(config: CNNConfig) -> TwoLayerCNN:
    """The model family of ``config`` (validated: unknown activation or loss names raise)."""
    return TwoLayerCNN(config.validated())
