r"""Predictors of the nonlinear forget-loss event, compared like with like (logistic CNN).

The observed event: the nonlinear run's forget loss after :math:`K` steps reaches
:math:`\ell(0,y)` (:mod:`numerics.apps.cnn.unlearn`).  Four predictions of it, each named:

(a) **homogeneous mean-square**: :math:`K\log\rho(\mathcal T(\eta))\ge\log G` (the frontier rule
    of :mod:`numerics.apps.cnn.frontier`);
(b) **in probability**: :func:`numerics.core.horizon.escape_probability` at :math:`(G,K)`
    :math:`\ge1/2` (homogeneous recursion, first passage);
(c) **affine with forcing**: the forced recursion from :math:`\delta_0=0`
    (:func:`numerics.core.forcing.forced_moments`, forcing :math:`\nabla\ell_i(W^\star)=
    \partial_f\ell_i\,g_i` with the same batch law), its mean displacement :math:`m_K` moves the
    forget margins to first order, :math:`z_i\mapsto z_i+y_i\langle g_i,m_K\rangle`, and the
    exact loss of those margins is compared with :math:`\ell(0,y)`;
(d) **frozen activations, exact loss**: the network with its activation pattern frozen at
    :math:`W^\star`, :math:`f_i(W)=\langle g_i(W^\star),W\rangle` (equal to :math:`f_i(W^\star)` at
    :math:`W^\star` for ReLU, which is positively homogeneous), unlearned with the exact loss and
    the *same batches* as the nonlinear run (:func:`numerics.apps.cnn.unlearn.unlearning_weights`).

(c) keeps the gradient the homogeneous linearisation drops; (d) keeps in addition the loss
saturation (:math:`\ell'` and :math:`\ell''` switch off as margins grow) but not the switching of
ReLU units.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from numerics.apps.cnn.model import CNNConfig, forward, per_sample_gradients
from numerics.apps.cnn.unlearn import UnlearnConfig, unlearning_weights
from numerics.core.forcing import Forcing, forced_moments
from numerics.core.horizon import escape_probability
from numerics.core.operator import SecondMomentOperator

__all__ = ["frozen_activation_forget_loss", "affine_forget_loss", "predictor_record",
           "PREDICTOR_KEYS"]

#: Keys a forget-loss record gains with ``with_predictors``.
PREDICTOR_KEYS: tuple[str, ...] = (
    "predicted_in_probability", "predicted_in_probability_se", "affine_forget_loss_after",
    "predicted_affine_escape", "frozen_forget_loss_after", "frozen_escaped",
)


def frozen_activation_forget_loss(W_star: torch.Tensor, data: tuple[torch.Tensor, torch.Tensor],
                                  split: tuple[np.ndarray, np.ndarray], config: CNNConfig,
                                  ucfg: UnlearnConfig) -> float:
    r"""Forget loss after :math:`K` steps of (d) (see the module docstring).

    ``data`` is ``(X, y)``, ``split`` ``(retain, forget)``.  With :math:`G=[g_i^\top]`,
    :math:`w\leftarrow w-\eta\,G^\top(\omega_t\odot\partial_f\ell(Gw,y))`.
    """
    X, y = data
    retain, forget = split
    G = per_sample_gradients(W_star, X, config)  # (n, P)
    w = W_star.reshape(-1).clone()
    weights = torch.as_tensor(unlearning_weights(retain, forget, X.shape[0], ucfg), dtype=X.dtype,
                              device=X.device)
    derivatives = config.loss_fn.derivatives
    with torch.no_grad():
        for t in range(weights.shape[0]):
            _, d1, _ = derivatives(G @ w, y)
            w = w - ucfg.eta * (G.T @ (weights[t] * d1))
        fi = torch.as_tensor(forget, device=X.device)
        loss = config.loss_fn.per_sample(G[fi] @ w, y[fi]).mean()
    return float(loss)


def affine_forget_loss(prep: Any, op: SecondMomentOperator, eta: float, steps: int) -> float:
    r"""Forget loss of prediction (c): first-order margins moved by the forced mean :math:`m_K`."""
    cfg = prep.config
    cnn = CNNConfig(cfg.m, cfg.activation, cfg.q, cfg.loss)
    X, y, W = prep.data.x_train, prep.data.y_train, prep.trained.W
    with torch.no_grad():
        f = forward(W, X, cnn)
        _, d1, _ = cnn.loss_fn.derivatives(f, y)
        G = per_sample_gradients(W, X, cnn)
        basis = prep.basis.to(G.dtype)
        GV = (G @ basis).cpu().numpy()  # g_i in the coordinates of V
    grads = GV * d1.cpu().numpy()[:, None]
    forcing = Forcing(grads[prep.retain], grads[prep.forget])
    mean = forced_moments(op, forcing, eta, steps).mean[-1]  # coordinates of V
    fi = prep.forget
    moved = torch.as_tensor(f[fi].cpu().numpy() + GV[fi] @ mean, dtype=torch.float64)
    return float(cnn.loss_fn.per_sample(moved, y[fi].cpu().to(torch.float64)).mean())


def predictor_record(prep: Any, op: SecondMomentOperator, eta: float, ucfg: UnlearnConfig,
                     growth: float) -> dict[str, Any]:
    r"""Predictions (b)--(d) of one cell (:data:`PREDICTOR_KEYS`); (a) is already in the record."""
    cfg = prep.config
    cnn = CNNConfig(cfg.m, cfg.activation, cfg.q, cfg.loss)
    K = ucfg.steps
    prob = escape_probability(op, eta, growth, K, samples=200, seed=cfg.seed)
    level = cnn.loss_fn.uninformative
    affine = affine_forget_loss(prep, op, eta, K)
    affine = affine if math.isfinite(affine) else math.inf  # the forced recursion diverged
    frozen = frozen_activation_forget_loss(prep.trained.W, (prep.data.x_train, prep.data.y_train),
                                           (prep.retain, prep.forget), cnn, ucfg)
    return {
        "predicted_in_probability": prob.value, "predicted_in_probability_se": prob.stderr,
        "affine_forget_loss_after": affine,
        "predicted_affine_escape": bool(affine >= level),
        "frozen_forget_loss_after": frozen, "frozen_escaped": bool(frozen >= level),
    }
