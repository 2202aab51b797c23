r"""Full-batch gradient descent on the training loss to a stated loss tolerance (SPEC §5.2).

.. math:: W_{t+1}=W_t-\lambda\nabla L(W_t),\qquad L(W)=\frac1n\sum_i\ell(f(W,x_i),y_i),

from :math:`w^{(0)}_{j,r}\sim\mathcal N(0,\sigma_0^2I)`, stopped at the first :math:`t` with
:math:`L(W_t)<` ``loss_tol`` (or after ``max_steps``, reported as not converged).  The gradient is
the analytic one of :func:`numerics.apps.cnn.model.loss_and_grad` (no autograd in the loop).  Train and
test accuracy are recorded: test accuracy near 1 is the *benign* regime, near 1/2 the *harmful*
(noise-memorising) one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from numerics.apps.cnn.data import SignalNoiseData
from numerics.apps.cnn.model import CNNConfig, check_weights, forward, init_weights, loss_and_grad
from numerics.core.inputs import InputError

__all__ = ["TrainConfig", "TrainedCNN", "train_gd", "accuracy"]


@dataclass(frozen=True)
class TrainConfig:
    r"""Gradient-descent settings: learning rate, loss tolerance, step cap, init scale, seed."""

    lr: float = 0.1
    loss_tol: float = 0.05
    max_steps: int = 20_000
    sigma0: float = 0.01
    seed: int = 0

    def validated(self) -> TrainConfig:
        """Checked copy; raises :class:`InputError` naming the bad field."""
        if not np.isfinite(self.lr) or self.lr <= 0:
            raise InputError(f"learning rate must be finite and > 0, got {self.lr}")
        if not np.isfinite(self.loss_tol) or self.loss_tol <= 0:
            raise InputError(f"loss tolerance must be finite and > 0, got {self.loss_tol}")
        if int(self.max_steps) != self.max_steps or self.max_steps < 1:
            raise InputError(f"max_steps must be an integer >= 1, got {self.max_steps}")
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
        Training loss at every step (float64 numpy).
    """

    W: torch.Tensor
    config: CNNConfig
    steps: int
    final_loss: float
    converged: bool
    train_acc: float
    test_acc: float
    loss_history: np.ndarray


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
    return TrainedCNN(W, cfg, steps, final, final < tc.loss_tol,
                      accuracy(W, X, y, cfg), accuracy(W, data.x_test, data.y_test, cfg),
                      history[: steps + 1].cpu().numpy())
