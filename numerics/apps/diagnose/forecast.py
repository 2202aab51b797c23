r"""Predicted steps until the run's escape event, from the forced recursion started at :math:`\delta_0=0`.

The real run starts at :math:`\theta^\star`, where the mixed gradient need not vanish, so its
linearisation is the affine recursion of :mod:`numerics.core.forcing`,
:math:`\delta_{t+1}=(I-\eta\hat A_t)\delta_t-\eta\hat g_t`, on the operator's active basis
:math:`Q` (per-sample gradients projected, :math:`g_i\mapsto Q^\top g_i`).  The run's event is a
loss level, the forget loss reaching its uninformative value :math:`L^\circ`; it is translated to a
displacement by the local quadratic model of the mean forget loss along the predicted mean
direction :math:`u_t=m_t/\|m_t\|` (:math:`m_t=\mathbb E\delta_t`):

.. math:: L_f(\theta^\star+ru_t)\approx L_f^\star+r\,\bar g_f^\top u_t
   +\tfrac12r^2\,u_t^\top\bar H_fu_t=L^\circ,

whose smallest positive root is :math:`r_t`.  The predicted step is the first :math:`t\le K` with
:math:`\mathbb E\|\delta_t\|^2\ge r_t^2`.  Notion: mean-square, from the affine recursion
(exact second moments), with the loss level read through the quadratic model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, vmap

from numerics.apps.diagnose.data import DataSet, FlatModel, LossFn
from numerics.core.forcing import Forcing, forced_steps
from numerics.core.horizon import check_horizon
from numerics.core.operator import SecondMomentOperator

__all__ = ["projected_gradients", "LossLevel", "Prediction", "predict_steps", "CHUNK"]

#: Samples per vectorised per-sample-gradient call.
CHUNK = 256


def projected_gradients(flat: FlatModel, loss: LossFn, data: DataSet,
                        basis: np.ndarray) -> np.ndarray:
    r"""Per-sample gradients :math:`Q^\top\nabla\ell_i(\theta^\star)`, shape ``(n, r)`` (float64).

    Parameters
    ----------
    flat, loss:
        The model at :math:`\theta^\star` and the per-sample loss.
    data:
        The samples (in the order of the curvature pool).
    basis:
        :math:`Q`, ``(d, r)`` orthonormal columns in parameter coordinates.

    Returns
    -------
    numpy.ndarray
        The projected gradients (``torch.func.vmap`` of ``grad`` in chunks, no loop over samples).
    """
    theta = flat.theta

    def one(th: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss(flat.single(th, x).unsqueeze(0), t.unsqueeze(0)).reshape(())

    per_sample = vmap(grad(one), in_dims=(None, 0, 0))
    Q = torch.as_tensor(basis, dtype=theta.dtype, device=theta.device)
    parts = [(per_sample(theta, data.inputs[s:s + CHUNK], data.targets[s:s + CHUNK]).detach() @ Q)
             for s in range(0, data.n, CHUNK)]
    return torch.cat(parts).to(torch.float64).cpu().numpy()


@dataclass(frozen=True)
class LossLevel:
    r"""The event :math:`L_f\ge L^\circ` and the forget loss at :math:`\theta^\star`.

    Attributes
    ----------
    before:
        :math:`L_f^\star`.
    level:
        :math:`L^\circ`.
    """

    before: float
    level: float


@dataclass(frozen=True)
class Prediction:
    r"""Predicted step (``None`` with ``reason`` when not within the horizon) and its notion.

    ``displacement`` is the radius :math:`r_t` of the event at the predicted step (the
    displacement at which the quadratic model reaches the level; 0 when :math:`w^\star` is
    already past it, ``None`` without a predicted step).
    """

    steps: int | None
    reason: str | None
    displacement: float | None = None
    notion: str = ("mean-square, affine recursion from delta_0 = 0; loss level via the quadratic "
                   "model of the forget loss along the predicted mean displacement")


def _radii(m: np.ndarray, gf: np.ndarray, Hf: np.ndarray, gap: float) -> np.ndarray:
    r"""Smallest :math:`r>0` with :math:`rb+\tfrac12cr^2=` ``gap`` along each row of ``m`` (inf: none)."""
    norm = np.linalg.norm(m, axis=1)
    u = m / np.where(norm > 0, norm, 1.0)[:, None]
    b = u @ gf
    c = np.einsum("ti,ij,tj->t", u, Hf, u)
    disc = b * b + 2.0 * c * gap
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.clip(disc, 0.0, None))
        r_quad = np.where(np.abs(c) > 0, (-b + root) / np.where(c != 0, c, 1.0), np.inf)
        r_lin = np.where(b > 0, gap / np.where(b > 0, b, 1.0), np.inf)
    r = np.where(np.abs(c) > 0, r_quad, r_lin)
    ok = (norm > 0) & (disc >= 0) & (r > 0) & np.isfinite(r)
    return np.where(ok, r, np.inf)


def predict_steps(op: SecondMomentOperator, forcing: Forcing, eta: float, event: LossLevel,
                  horizon: int) -> Prediction:
    r"""First :math:`t\le` ``horizon`` with :math:`\mathbb E\|\delta_t\|^2\ge r_t^2` (module docstring).

    Parameters
    ----------
    op:
        The operator on the active basis (its pools' coordinates are those of ``forcing``).
    forcing:
        Projected per-sample gradients at :math:`\theta^\star`.
    eta:
        The run's step size.
    event:
        The forget-loss level and its value at :math:`\theta^\star`.
    horizon:
        The run's number of steps :math:`K`.

    Returns
    -------
    Prediction
        The step, or ``None`` with the reason.
    """
    gap = float(event.level) - float(event.before)
    if not np.isfinite(gap):
        return Prediction(None, "the loss level or the forget loss at w* is not finite")
    if gap <= 0.0:
        return Prediction(0, None, 0.0)
    check_horizon(horizon, "horizon")
    gf = (forcing.forget.mean(axis=0) if forcing.forget is not None
          else np.zeros(op.ambient_dim))
    Hf = op.basis @ op.mean_forget @ op.basis.T  # ambient coordinates, like the moments
    for t, m, second in forced_steps(op, forcing, eta, horizon):  # stops at the first hit
        if not np.isfinite(second):
            return Prediction(None, "the predicted mean-square displacement is not finite")
        r = float(_radii(m[None, :], gf, Hf, gap)[0])
        if second >= r * r:
            return Prediction(t, None, r)
    return Prediction(None, f"resists within the horizon of {horizon} steps: the root-mean-square "
                            "displacement stays below the radius at which the quadratic model of "
                            "the forget loss reaches the level")
