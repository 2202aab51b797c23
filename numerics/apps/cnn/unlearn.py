r"""Real (nonlinear) gradient-difference unlearning of the CNN from :math:`W^\star` (SPEC §1.2).

.. math:: W_{t+1}=W_t-\eta\big[(1-\alpha)\nabla\hat L_{r,t}(W_t)-\alpha\nabla\hat L_{f,t}(W_t)\big],

with minibatches of nominal sizes :math:`B_r,B_f` drawn independently at every step by the
sampling model (``wor`` default, ``bernoulli`` or ``wr``; SPEC §1.4) -- the same
:math:`\eta,\alpha,B_r,B_f` as the linearised analysis.  Recorded at every step: forget loss
:math:`L_f(W_t)` and accuracy, retain loss and accuracy, and :math:`\|W_t-W^\star\|_F`.

**Escape criterion (nonlinear).**  The run *escapes* (the model is unlearned) when the mean
forget loss after :math:`K` steps is at least :math:`\ell(0,y)`, the loss of the uninformative
predictor :math:`f\equiv0` (:math:`\log2` for the logistic loss, :math:`1/2` for the squared
loss): on average the forget samples are no longer fitted.
It *resists* otherwise.  The forget-loss growth :math:`\log(L_f(W_K)/L_f(W^\star))` is reported
alongside; it is the quantity whose rank correlation with SNR claim C8 tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from numerics.apps.cnn.model import CNNConfig, check_weights, forward, weighted_loss_grad
from numerics.core.inputs import InputError, UnlearningConfig
from numerics.curvature.unlearning import (
    GradientDifferenceOptions,
    gradient_difference_loop,
    step_weights,
)

__all__ = ["UnlearnConfig", "UnlearnResult", "unlearn", "ESCAPE_LOSS", "draw_batches",
           "unlearning_weights"]

#: Forget-loss level of the escape criterion for the logistic loss: :math:`\ell(0)=\log 2`
#: (in general ``config.loss_fn.uninformative``).
ESCAPE_LOSS = math.log(2.0)


@dataclass(frozen=True)
class UnlearnConfig:
    r"""Hyper-parameters of one nonlinear unlearning run (``eta`` in absolute units)."""

    eta: float
    alpha: float = 0.1
    batch_retain: int = 4
    batch_forget: int = 2
    steps: int = 200
    sampling: str = "wor"
    seed: int = 0


@dataclass(frozen=True)
class UnlearnResult:
    r"""Trajectory of one run (arrays of length ``steps + 1``, index 0 is :math:`W^\star`).

    Attributes
    ----------
    forget_loss, forget_acc, retain_loss, retain_acc, distance:
        :math:`L_f`, forget accuracy, :math:`L_r`, retain accuracy, :math:`\|W_t-W^\star\|_F`.
    forget_loss_growth:
        :math:`\log(L_f(W_K)/L_f(W^\star))`.
    escaped:
        :math:`L_f(W_K)\ge\ell(0,y)` (the escape criterion of the module docstring).
    W:
        Final weights.
    """

    forget_loss: np.ndarray
    forget_acc: np.ndarray
    retain_loss: np.ndarray
    retain_acc: np.ndarray
    distance: np.ndarray
    forget_loss_growth: float
    escaped: bool
    W: torch.Tensor


def draw_batches(rng: np.random.Generator, n: int, batch: int, steps: int,
                 sampling: str) -> np.ndarray:
    r"""Per-step sample weights :math:`\omega_{t,i}`, ``(steps, n)``.

    The batch mean is :math:`\hat H_t=\sum_i\omega_{t,i}H_i`.

    ``wor``: uniform size-:math:`B` subsets (weight :math:`1/B`); ``bernoulli``: independent
    inclusion with :math:`q=B/n`, divided by the nominal :math:`B`; ``wr``: multiplicities of
    :math:`B` i.i.d. draws over :math:`B`.  Vectorised over steps.
    """
    from numerics.core.simulate import sample_weights

    return sample_weights(rng, sampling, n, batch, steps)


def _loop_options(retain: np.ndarray, forget: np.ndarray,
                  ucfg: UnlearnConfig) -> GradientDifferenceOptions:
    """The validated loop options of ``ucfg`` for these index sets (non-empty, batches fit)."""
    if retain.size == 0 or forget.size == 0:
        raise InputError("unlearning needs non-empty retain and forget sets")
    return GradientDifferenceOptions(
        ucfg.eta, UnlearningConfig(ucfg.alpha, ucfg.batch_retain, ucfg.batch_forget,
                                   ucfg.sampling), ucfg.steps, ucfg.seed,
    ).validated(retain.size, forget.size)


def _weights(opts: GradientDifferenceOptions, retain: np.ndarray, forget: np.ndarray,
             n: int) -> np.ndarray:
    wr, wf = step_weights(opts, retain.size, forget.size)
    weights = np.zeros((opts.steps, n))
    weights[:, retain] = wr
    weights[:, forget] = wf
    return weights


def unlearning_weights(retain: np.ndarray, forget: np.ndarray, n: int,
                       ucfg: UnlearnConfig) -> np.ndarray:
    r"""Per-step weights :math:`\omega_{t,i}` on the training set, ``(steps, n)``.

    :math:`(1-\alpha)\times` the retain batch weights minus :math:`\alpha\times` the forget batch
    weights (:func:`numerics.curvature.unlearning.step_weights`), so that a step is
    :math:`-\eta\sum_i\omega_{t,i}\nabla\ell_i`; every model run with the same ``ucfg`` sees the
    same batches.
    """
    retain, forget = np.asarray(retain), np.asarray(forget)
    return _weights(_loop_options(retain, forget, ucfg), retain, forget, n)


def unlearn(W_star: torch.Tensor, X: torch.Tensor, y: torch.Tensor, retain: np.ndarray,
            forget: np.ndarray, config: CNNConfig, ucfg: UnlearnConfig) -> UnlearnResult:
    r"""Run gradient-difference unlearning for ``ucfg.steps`` steps (see the module docstring)."""
    check_weights(W_star, X.shape[2])
    retain, forget = np.asarray(retain), np.asarray(forget)
    opts = _loop_options(retain, forget, ucfg)
    K, n = opts.steps, X.shape[0]
    # per-step weights omega_{t,i} on the full training set: (1 - alpha) x retain batch weights
    # minus alpha x forget batch weights, so that the step is -eta * sum_i omega_i grad l_i.
    weights = _weights(opts, retain, forget, n)
    weights = torch.as_tensor(weights, dtype=X.dtype, device=X.device)
    outputs = torch.empty((K + 1, n), dtype=X.dtype, device=X.device)
    distance = torch.zeros(K + 1, dtype=X.dtype, device=X.device)

    def gradient(t: int, W: torch.Tensor) -> torch.Tensor:
        _, g, f = weighted_loss_grad(W, X, y, weights[t], config)
        outputs[t] = f  # f(W_t), computed by the gradient anyway
        return g

    def observe(t: int, W: torch.Tensor) -> None:
        distance[t] = torch.linalg.vector_norm(W - W_star)

    with torch.no_grad():
        W = gradient_difference_loop(W_star.clone(), gradient, opts, observe).theta
        outputs[K] = forward(W, X, config)
        margins = outputs * y
        fi, ri = (torch.as_tensor(s, device=X.device) for s in (forget, retain))
        mf, mr = margins[:, fi], margins[:, ri]
        per_sample = config.loss_fn.per_sample
        rec = torch.stack([per_sample(outputs[:, fi], y[fi]).mean(dim=1),
                           (mf > 0).to(X.dtype).mean(dim=1),
                           per_sample(outputs[:, ri], y[ri]).mean(dim=1),
                           (mr > 0).to(X.dtype).mean(dim=1), distance], dim=1)
    r = rec.to(torch.float64).cpu().numpy()
    tiny = np.finfo(float).tiny
    growth = float(np.log(max(r[-1, 0], tiny) / max(r[0, 0], tiny)))
    return UnlearnResult(r[:, 0], r[:, 1], r[:, 2], r[:, 3], r[:, 4], growth,
                         bool(r[-1, 0] >= config.loss_fn.uninformative), W)
