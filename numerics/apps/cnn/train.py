r"""Full-batch gradient descent on the training loss to a stated loss tolerance (SPEC §5.2).

.. math:: W_{t+1}=W_t-\lambda\nabla L(W_t),\qquad L(W)=\frac1n\sum_i\ell(f(W,x_i),y_i),

from :math:`w^{(0)}_{j,r}\sim\mathcal N(0,\sigma_0^2I)`, stopped at the first :math:`t` with
:math:`L(W_t)<` ``loss_tol`` (or after ``max_steps``, reported as not converged).  The gradient is
the analytic one of :func:`numerics.apps.cnn.model.loss_and_grad` (no autograd in the loop).  Train and
test accuracy are recorded: test accuracy near 1 is the *benign* regime, near 1/2 the *harmful*
(noise-memorising) one.

**Stationary phase.**  When the loss has a finite minimiser (``Loss.has_minimiser``: the squared
loss, not the logistic one on separable data), GD is followed by damped Gauss--Newton steps in
sample space (:func:`refine_stationary`) until

.. math:: \|\nabla L(W^\star)\|\le\tau\,(1+|L(W^\star)|),\qquad\tau=10^{-10}
   \ (\texttt{grad\_rtol}),

so that :math:`W^\star` is a true stationary point, the premise of the linearisation.  The
achieved :math:`\|\nabla L\|` is recorded for every loss (``grad_norm``), and ``stationary``
says whether the criterion holds; a logistic model never claims it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from numerics.apps.cnn.data import SignalNoiseData
from numerics.apps.cnn.model import (
    CNNConfig,
    check_weights,
    forward,
    init_weights,
    loss_and_grad,
    loss_derivatives,
    per_sample_gradients,
)
from numerics.core.inputs import InputError

__all__ = ["TrainConfig", "TrainedCNN", "train_gd", "accuracy", "refine_stationary",
           "Stationarity", "stationary_tolerance"]


@dataclass(frozen=True)
class TrainConfig:
    r"""Training settings.

    Gradient descent: learning rate, loss tolerance, step cap, init scale, seed; the stationary
    phase (losses with a minimiser only): relative gradient tolerance :math:`\tau` and cap on
    Gauss--Newton steps.
    """

    lr: float = 0.1
    loss_tol: float = 0.05
    max_steps: int = 20_000
    sigma0: float = 0.01
    seed: int = 0
    grad_rtol: float = 1e-10
    newton_steps: int = 200

    def validated(self) -> TrainConfig:
        """Checked copy; raises :class:`InputError` naming the bad field."""
        if not np.isfinite(self.lr) or self.lr <= 0:
            raise InputError(f"learning rate must be finite and > 0, got {self.lr}")
        if not np.isfinite(self.loss_tol) or self.loss_tol <= 0:
            raise InputError(f"loss tolerance must be finite and > 0, got {self.loss_tol}")
        if int(self.max_steps) != self.max_steps or self.max_steps < 1:
            raise InputError(f"max_steps must be an integer >= 1, got {self.max_steps}")
        if not np.isfinite(self.grad_rtol) or self.grad_rtol <= 0:
            raise InputError(f"gradient tolerance must be finite and > 0, got {self.grad_rtol}")
        if int(self.newton_steps) != self.newton_steps or self.newton_steps < 0:
            raise InputError(f"newton_steps must be an integer >= 0, got {self.newton_steps}")
        return self


@dataclass(frozen=True)
class TrainedCNN:
    r"""A trained network :math:`W^\star` and how it got there.

    Attributes
    ----------
    W:
        Weights ``(2, m, d)``.
    config:
        The architecture.
    steps:
        GD steps taken.
    final_loss:
        :math:`L(W^\star)`.
    converged:
        ``final_loss < loss_tol``.
    train_acc, test_acc:
        Accuracy on the (observed) training labels and on the clean test labels.
    loss_history:
        Training loss at every GD step (float64 numpy).
    grad_norm:
        :math:`\|\nabla L(W^\star)\|` (Frobenius), after the stationary phase if any.
    stationary:
        :math:`\|\nabla L\|\le\tau(1+|L|)` (see the module docstring).
    newton_steps:
        Gauss--Newton steps taken by the stationary phase (0 when it did not run).
    """

    W: torch.Tensor
    config: CNNConfig
    steps: int
    final_loss: float
    converged: bool
    train_acc: float
    test_acc: float
    loss_history: np.ndarray
    grad_norm: float = float("nan")
    stationary: bool = False
    newton_steps: int = 0


def stationary_tolerance(loss: float, grad_rtol: float) -> float:
    r"""The stationarity bound :math:`\tau(1+|L|)`."""
    return grad_rtol * (1.0 + abs(loss))


@dataclass(frozen=True)
class Stationarity:
    r"""Outcome of :func:`refine_stationary`: weights, :math:`L`, :math:`\|\nabla L\|`, steps."""

    W: torch.Tensor
    loss: float
    grad_norm: float
    steps: int
    reached: bool


def _loss_grad_norm(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                    config: CNNConfig) -> tuple[float, float]:
    loss, grad, _ = loss_and_grad(W, X, y, config)
    return float(loss), float(torch.linalg.vector_norm(grad))


def refine_stationary(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, config: CNNConfig,
                      train: TrainConfig) -> Stationarity:
    r"""Damped Gauss--Newton steps in sample space to :math:`\|\nabla L\|\le\tau(1+|L|)`.

    With :math:`J=[g_i^\top]` (``n x P``), :math:`d_1=\partial_f\ell`, :math:`D_2=
    \mathrm{diag}(\partial_f^2\ell)` and :math:`K=JJ^\top`, the minimum-norm minimiser of the
    quadratic model of :math:`L` in :math:`\mathrm{span}\{g_i\}` is

    .. math:: \Delta=J^\top c,\qquad (D_2K+\mu I)\,c=-d_1 ,

    (for the squared loss, :math:`c=-(K+\mu I)^{-1}(f-y)`, the Gauss--Newton step, which is the
    Newton step because :math:`\nabla^2L=J^\top J/n` for ReLU).  A step is halved until
    :math:`L` decreases; :math:`\mu` (relative to :math:`\operatorname{tr}K/n`) grows when no
    halving helps.  Cost per step :math:`O(n^2P+n^3)`.
    """
    tc = train.validated()
    W = W.clone()
    loss, gnorm = _loss_grad_norm(W, X, y, config)
    mu, steps = 1e-12, 0
    while gnorm > stationary_tolerance(loss, tc.grad_rtol) and steps < tc.newton_steps:
        J = per_sample_gradients(W, X, config)
        _, d1, d2 = loss_derivatives(forward(W, X, config), y, config)
        K = J @ J.T
        scale = float(torch.diagonal(K).mean()) or 1.0
        system = d2[:, None] * K + mu * scale * torch.eye(K.shape[0], dtype=K.dtype,
                                                          device=K.device)
        direction = -(J.T @ torch.linalg.solve(system, d1)).reshape(W.shape)
        step, accepted = 1.0, False
        for _ in range(40):
            trial = W + step * direction
            t_loss, t_gnorm = _loss_grad_norm(trial, X, y, config)
            if t_loss < loss or (t_loss <= loss and t_gnorm < gnorm):
                W, loss, gnorm, accepted = trial, t_loss, t_gnorm, True
                break
            step *= 0.5
        steps += 1
        mu = max(mu * 0.1, 1e-15) if accepted else mu * 100.0
        if not accepted and mu > 1e6:
            break
    return Stationarity(W, loss, gnorm, steps,
                        gnorm <= stationary_tolerance(loss, tc.grad_rtol))


def accuracy(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, config: CNNConfig) -> float:
    r"""Fraction of samples with :math:`y_if(W,x_i)>0`."""
    with torch.no_grad():
        return float((y * forward(W, X, config) > 0).to(torch.float64).mean())


def train_gd(data: SignalNoiseData, config: CNNConfig, train: TrainConfig,
             W0: torch.Tensor | None = None) -> TrainedCNN:
    r"""Train by full-batch GD until :math:`L<` ``loss_tol`` (see the module docstring)."""
    cfg = config.validated()
    tc = train.validated()
    X, y = data.x_train, data.y_train
    if W0 is None:
        W = init_weights(X.shape[2], cfg, tc.sigma0, tc.seed, device=X.device, dtype=X.dtype)
    else:
        check_weights(W0, X.shape[2])
        W = W0.to(device=X.device, dtype=X.dtype).clone()
    history = torch.empty(tc.max_steps + 1, dtype=torch.float64, device=X.device)
    # The stopping test needs a host sync; doing it every `check` steps keeps GPUs busy.
    check = 1 if X.device.type == "cpu" else 50
    steps, loss = 0, None
    with torch.no_grad():
        for t in range(tc.max_steps + 1):
            loss, grad, _ = loss_and_grad(W, X, y, cfg)
            history[t] = loss
            if t % check == 0 or t == tc.max_steps:
                if not bool(torch.isfinite(loss)):
                    raise InputError(f"training diverged at step {t} (loss {float(loss)}); "
                                     "lower the learning rate")
                if float(loss) < tc.loss_tol or t == tc.max_steps:
                    steps = t
                    break
            W -= tc.lr * grad
    final = float(loss)
    converged = final < tc.loss_tol
    if cfg.loss_fn.has_minimiser:
        st = refine_stationary(W, X, y, cfg, tc)
        W, final, gnorm, newton, stationary = st.W, st.loss, st.grad_norm, st.steps, st.reached
    else:
        final_check, gnorm = _loss_grad_norm(W, X, y, cfg)
        newton, stationary = 0, gnorm <= stationary_tolerance(final_check, tc.grad_rtol)
    return TrainedCNN(W, cfg, steps, final, converged,
                      accuracy(W, X, y, cfg), accuracy(W, data.x_test, data.y_test, cfg),
                      history[: steps + 1].cpu().numpy(), gnorm, stationary, newton)
