r"""One event on both sides: growth of a perturbation of :math:`W^\star`, linear vs nonlinear.

Both sides start from the same perturbation, draw the same batches and are scored by the same
event (SPEC §8, "same event").

* **Start.**  :math:`W_0=W^\star+\varepsilon\,\|W^\star\|\,v`, with :math:`v` a seeded unit vector
  of the active subspace :math:`V=\mathrm{span}\{u_i\}` (:math:`\varepsilon` relative to
  :math:`\|W^\star\|_F`); the linear side starts from :math:`\delta_0=Q^\top v` in the
  orthonormal basis :math:`Q` of :math:`V` (its event does not depend on the scale).
* **Batches (common random numbers).**  Run :math:`k=1..R` draws its per-step weights
  :math:`\omega_{t,i}` (retain :math:`(1-\alpha)\times` batch weights, forget
  :math:`-\alpha\times` batch weights) from the seed ``(seed, k)``; both sides use them.
* **Linear recursion** on :math:`V`: :math:`\delta_{t+1}=\delta_t-\eta\sum_i\omega_{t,i}u_i
  \langle u_i,\delta_t\rangle`.
* **Nonlinear run**: :math:`W_{t+1}=W_t-\eta\sum_i\omega_{t,i}\nabla_W\ell_i(W_t)`,
  :math:`\delta_t=W_t-W^\star`.
* **Event.**  :math:`\|\delta_t\|^2\ge G\,\|\delta_0\|^2` for some :math:`t\le T`; a side
  *escapes* when the majority (more than half) of its :math:`R` runs do.

Predictions, each with its notion (:mod:`numerics.core.horizon`):

* **in probability at** :math:`(G,T)`: :func:`numerics.core.horizon.escape_probability`, the
  probability that one run of the linear recursion has the event (first passage; for the CNN's
  non-commuting curvature by simulation of the rule, whose start is
  :math:`\delta_0\sim U(0,1)^r` in :math:`V`, with its standard error); predicted escape when it
  is at least :math:`1/2`;
* **mean-square at** :math:`(G,T)`: :math:`\max_{t\le T}g(t)\ge G` with
  :math:`g(t)=\mathbb E\|\delta_t\|^2/\|\delta_0\|^2` from :math:`\delta_0`
  (:func:`numerics.core.horizon.ms_growth`, exact);
* asymptotic, reported beside them: :math:`\gamma` (almost-sure exponent of
  :math:`\log\|\delta_t\|` per step, Monte Carlo with SE) and :math:`\log\rho(\mathcal T)`.

A cell is *near the boundary* when its almost-sure statistic lies within a factor
:data:`NEAR_FACTOR` of the event's threshold: the event asks
:math:`\log(\|\delta_T\|/\|\delta_0\|)\ge\tfrac12\log G`, and
:math:`\log\|\delta_T\|\approx\gamma T`, so the statistic is :math:`2\gamma T/\log G` and the
band is :math:`[1/2,2]`.
After :math:`T` steps the nonlinear side also reports the forget loss and accuracy (mean over
runs), to tell whether local instability means forgetting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from numerics.apps.cnn.model import CNNConfig, weighted_loss_grad_batched
from numerics.core.horizon import escape_probability, ms_growth
from numerics.core.inputs import InputError, UnlearningConfig
from numerics.core.operator import SecondMomentOperator
from numerics.core.simulate import lyapunov_exponent, sample_weights

__all__ = ["EVENTS", "NEAR_FACTOR", "boundary_statistic", "GrowthSpec", "GrowthSides", "crn_weights", "linear_event",
           "nonlinear_event", "ms_event", "start_direction",
           "growth_record", "GROWTH_KEYS"]

#: Events the CNN experiment can score.
EVENTS: tuple[str, ...] = ("forget-loss", "growth")
#: A cell is near the boundary when 2 gamma T / log G lies in [1/NEAR_FACTOR, NEAR_FACTOR].
NEAR_FACTOR: float = 2.0
#: Keys a growth-event record adds to the trained-model summary.
GROWTH_KEYS: tuple[str, ...] = (
    "loss", "grad_norm", "stationary", "eps", "gamma", "gamma_se", "log_rho",
    "predicted_escape_probability", "predicted_escape_probability_se", "predicted_escape",
    "predicted_ms_escape", "linear_escape_fraction", "nonlinear_escape_fraction",
    "run_agreement", "near_boundary", "forget_loss_after", "forget_acc_after",
)
#: A nonlinear run is frozen (and counted as escaped) once ||delta|| exceeds this x ||W*||.
_DIVERGED = 1e6


@dataclass(frozen=True)
class GrowthSpec:
    r"""The event and its sampling: :math:`\varepsilon`, :math:`G`, :math:`T`, :math:`R`, seed.

    ``prediction_runs`` independent linear runs estimate the predicted probability.
    """

    eps: float
    growth: float = 1000.0
    horizon: int = 200
    repeats: int = 10
    seed: int = 0
    prediction_runs: int = 400

    def validated(self) -> GrowthSpec:
        """Checked copy; raises :class:`InputError` naming the bad field."""
        if not (np.isfinite(self.eps) and self.eps > 0):
            raise InputError(f"perturbation size eps must be finite and > 0, got {self.eps}")
        if not (np.isfinite(self.growth) and self.growth > 1):
            raise InputError(f"growth factor must be > 1, got {self.growth}")
        for name in ("horizon", "repeats", "prediction_runs"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise InputError(f"{name} must be an integer >= 1, got {value}")
        return self


@dataclass(frozen=True)
class GrowthSides:
    r"""Per-run outcome of one side: first step with the event (``-1``: none) and the end state.

    ``forget_loss`` and ``forget_acc`` are per run after :math:`T` steps (nonlinear side only).
    """

    first: np.ndarray
    forget_loss: np.ndarray | None = None
    forget_acc: np.ndarray | None = None

    @property
    def fraction(self) -> float:
        """Fraction of runs with the event."""
        return float((self.first >= 0).mean())


def start_direction(rank: int, seed: int) -> np.ndarray:
    r"""Seeded unit vector :math:`z\in\mathbb R^r` (coordinates of :math:`v` in :math:`Q`)."""
    z = np.random.default_rng([int(seed), 104729]).standard_normal(rank)
    return z / np.linalg.norm(z)


def crn_weights(retain: np.ndarray, forget: np.ndarray, unlearning: UnlearningConfig,
                spec: GrowthSpec, n: int) -> np.ndarray:
    r"""Per-run, per-step sample weights :math:`\omega_{k,t,i}`, ``(R, T, n)`` (common to both sides).

    Run :math:`k` draws from ``numpy.random.default_rng((seed, k))``.
    """
    R, T = spec.repeats, spec.horizon
    out = np.zeros((R, T, n))
    for k in range(R):
        rng = np.random.default_rng([int(spec.seed), k])
        out[k][:, retain] = (1.0 - unlearning.alpha) * sample_weights(
            rng, unlearning.sampling, retain.size, unlearning.batch_retain, T)
        out[k][:, forget] = -unlearning.alpha * sample_weights(
            rng, unlearning.sampling, forget.size, unlearning.batch_forget, T)
    return out


def linear_event(factors: np.ndarray, eta: float, weights: np.ndarray, start: np.ndarray,
                 growth: float) -> GrowthSides:
    r"""The linear recursion on :math:`V` for each run of ``weights`` ``(R, T, n)``.

    ``factors`` ``(n, r)``: :math:`Q^\top u_i` in sample order.  Decided runs are frozen.
    """
    R, T, _ = weights.shape
    delta = np.repeat(start[None, :], R, axis=0)
    start_sq = float(start @ start)
    first = np.full(R, -1)
    for t in range(T):
        proj = delta @ factors.T  # (R, n)
        delta = delta - eta * ((weights[:, t, :] * proj) @ factors)
        hit = (first < 0) & (np.einsum("ra,ra->r", delta, delta) >= growth * start_sq)
        first[hit] = t + 1
        delta[first >= 0] = 0.0
        if (first >= 0).all():
            break
    return GrowthSides(first)


def ms_event(op: SecondMomentOperator, eta: float, start: np.ndarray, growth: float,
             horizon: int) -> bool:
    r"""Mean-square prediction at :math:`(G,T)` from ``start`` (coordinates of :math:`V`).

    Escape when :math:`\max_{1\le t\le T}g(t)\ge G`, :math:`g` of
    :func:`numerics.core.horizon.ms_growth`.
    """
    g = ms_growth(op, eta, horizon, np.asarray(start, dtype=np.float64))
    return bool(np.max(g[1:]) >= growth)


def nonlinear_event(W_star: torch.Tensor, data: tuple[torch.Tensor, torch.Tensor],
                    config: CNNConfig, eta: float, weights: np.ndarray,
                    start: tuple[torch.Tensor, float, np.ndarray]) -> GrowthSides:
    r"""The nonlinear runs, all :math:`R` at once (:func:`weighted_loss_grad_batched`).

    ``data`` is ``(X, y)``; ``start`` is ``(v, growth, forget)``: the ambient start
    :math:`\delta_0` (shaped like ``W_star``), :math:`G`, and the forget indices.  A run whose
    :math:`\|\delta_t\|` exceeds :math:`10^6\|W^\star\|` stops moving (it has escaped).
    """
    X, y = data
    delta0, growth, forget = start
    R, T, _ = weights.shape
    w = torch.as_tensor(weights, dtype=X.dtype, device=X.device)
    W = (W_star + delta0).expand(R, *W_star.shape).clone()
    start_sq = float(torch.sum(delta0 * delta0))
    limit = (_DIVERGED * float(torch.linalg.vector_norm(W_star))) ** 2
    first = np.full(R, -1)
    moving = torch.ones(R, dtype=torch.bool, device=X.device)
    with torch.no_grad():
        for t in range(T):
            grad = weighted_loss_grad_batched(W, X, y, w[:, t, :], config)[1]
            W = W - eta * moving[:, None, None, None] * grad
            sq = ((W - W_star) ** 2).sum(dim=(1, 2, 3)).cpu().numpy()
            hit = (first < 0) & ((sq >= growth * start_sq) | ~np.isfinite(sq))
            first[hit] = t + 1
            stop = ~np.isfinite(sq) | (sq > limit)
            if stop.any():
                moving &= ~torch.as_tensor(stop, device=X.device)
        fi = torch.as_tensor(forget, device=X.device)
        losses, _, f = weighted_loss_grad_batched(W, X[fi], y[fi], w[:, 0, fi], config)
        loss = losses.mean(dim=1)
        acc = (y[fi] * f > 0).to(X.dtype).mean(dim=1)
    loss_np = loss.to(torch.float64).cpu().numpy()
    return GrowthSides(first, np.where(np.isfinite(loss_np), loss_np, np.inf),
                       acc.to(torch.float64).cpu().numpy())


def boundary_statistic(gamma: float, horizon: int, growth: float) -> float:
    r""":math:`2\gamma T/\log G`: 1 on the almost-sure finite-horizon boundary of the event."""
    return 2.0 * gamma * horizon / math.log(growth)


def growth_record(prep: Any, op: SecondMomentOperator, eta: float, spec: GrowthSpec,
                  unlearning: UnlearningConfig) -> dict[str, Any]:
    r"""The growth-event keys of one cell (:data:`GROWTH_KEYS`) for a prepared model.

    ``prep`` is a :class:`numerics.apps.cnn.experiment.Prepared` with its basis of :math:`V`.
    """
    spec = spec.validated()
    cfg = prep.config
    cnn = CNNConfig(cfg.m, cfg.activation, cfg.q, cfg.loss)
    X, y, W_star = prep.data.x_train, prep.data.y_train, prep.trained.W
    n, r = X.shape[0], prep.reduced_retain.shape[1]
    factors = np.zeros((n, r))
    factors[prep.retain] = prep.reduced_retain[:, :, 0]
    factors[prep.forget] = prep.reduced_forget[:, :, 0]
    z = start_direction(r, spec.seed)
    weights = crn_weights(prep.retain, prep.forget, unlearning, spec, n)
    lin = linear_event(factors, eta, weights, z, spec.growth)
    basis = prep.basis.to(dtype=W_star.dtype)
    v = (basis @ torch.as_tensor(z, dtype=W_star.dtype, device=basis.device)).reshape(
        W_star.shape)
    delta0 = spec.eps * float(torch.linalg.vector_norm(W_star)) * v
    nl = nonlinear_event(W_star, (X, y), cnn, eta, weights, (delta0, spec.growth, prep.forget))
    pred = escape_probability(op, eta, spec.growth, spec.horizon, samples=spec.prediction_runs,
                              seed=spec.seed)
    p, p_se = pred.value, pred.stderr
    gam = lyapunov_exponent(op, eta, steps=1000, n_traj=32, seed=spec.seed)
    rho = op.rho(eta)
    agree = float(np.mean((lin.first >= 0) == (nl.first >= 0)))
    return {
        "loss": cfg.loss, "grad_norm": prep.trained.grad_norm,
        "stationary": prep.trained.stationary, "eps": spec.eps,
        "gamma": gam.value, "gamma_se": gam.stderr,
        "log_rho": math.log(rho) if rho > 0 else -math.inf,
        "predicted_escape_probability": p, "predicted_escape_probability_se": p_se,
        "predicted_escape": bool(p >= 0.5),
        "predicted_ms_escape": ms_event(op, eta, z, spec.growth, spec.horizon),
        "linear_escape_fraction": lin.fraction, "nonlinear_escape_fraction": nl.fraction,
        "run_agreement": agree,
        "near_boundary": bool(1.0 / NEAR_FACTOR
                              <= boundary_statistic(gam.value, spec.horizon, spec.growth)
                              <= NEAR_FACTOR),
        "forget_loss_after": float(np.mean(nl.forget_loss)),
        "forget_acc_after": float(np.mean(nl.forget_acc)),
    }
