r"""Private: the companion-code finite-horizon rule on the linearised recursion (SPEC §1.5).

A private variant of :func:`numerics.core.simulate.trajectory_rule` for the CNN experiments: it takes
factors already reduced to the active subspace and starts *in that basis* (the package-wide rule
starts in the ambient space, as the companion code does); batches come from the same sampler,
:func:`numerics.core.simulate.sample_weights`.

.. math:: \delta_{t+1}=\Big(I-\eta\big[(1-\alpha)\hat H_{r,t}-\alpha\hat H_{f,t}\big]\Big)\delta_t,
   \qquad \hat H_{\bullet,t}=\sum_i\omega_{t,i}F_iF_i^\top,

on the active subspace :math:`V` (factors already reduced to an orthonormal basis of :math:`V`,
see :func:`numerics.curvature.hessians.reduce_to_active`).  The rule of [S:R]: start from
:math:`\delta_0\sim U(0,1)^r` *in that basis* (in the ambient :math:`\mathbb R^P` the static
:math:`V^\perp` part would dominate :math:`\|\delta_0\|` and hide any growth), declare escape if
:math:`\|\delta_t\|^2\ge G\|\delta_0\|^2` for some :math:`t\le T` (:math:`G=1000`, :math:`T=1000`),
and take the majority over :math:`R=10` runs.  Runs are vectorised; an escaped run is frozen so
that nothing overflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.apps.cnn.unlearn import draw_batches
from numerics.core.inputs import (
    InputError,
    UnlearningConfig,
    check_alpha,
    check_batch,
    check_eta,
    check_sampling,
)

__all__ = ["LinearRule", "LinearRuleOutcome", "companion_escape"]


@dataclass(frozen=True)
class LinearRule:
    r"""The rule's constants: horizon :math:`T`, runs :math:`R`, growth :math:`G`, seed, chunk.

    ``chunk`` is the number of steps whose batches are drawn at once (memory only: the draws,
    and so the outcome, do not depend on it).
    """

    horizon: int = 1000
    repeats: int = 10
    growth: float = 1000.0
    seed: int = 0
    chunk: int = 100

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.repeats < 1 or not self.growth > 1:
            raise InputError("horizon and repeats must be >= 1 and growth > 1")


@dataclass(frozen=True)
class LinearRuleOutcome:
    r"""Outcome of the finite-horizon rule.

    Attributes
    ----------
    escape_fraction:
        Fraction of the :math:`R` runs with :math:`\|\delta_t\|^2\ge G\|\delta_0\|^2` within
        :math:`T` steps.
    escapes:
        Majority vote (``escape_fraction > 1/2``).
    first_escape:
        Per run, the first escaping step (``-1`` if none).
    """

    escape_fraction: float
    escapes: bool
    first_escape: np.ndarray


def companion_escape(retain: np.ndarray, forget: np.ndarray | None, eta: float,
                     config: UnlearningConfig, rule: LinearRule | None = None,
                     ) -> LinearRuleOutcome:
    r"""Run the companion rule on reduced factors ``(n, r, k)`` (see the module docstring).

    Parameters
    ----------
    retain, forget:
        Factors reduced to the active subspace, ``(n, r, k)`` (``forget`` may be ``None``).
    eta:
        Step size :math:`\eta`.
    config:
        :math:`\alpha`, the batch sizes and their sampling.
    rule:
        :math:`T`, :math:`R`, :math:`G`, seed (default :class:`LinearRule`: 1000, 10, 1000, 0).

    Returns
    -------
    LinearRuleOutcome
        Escape fraction, majority vote and first escaping steps.
    """
    lr = LinearRule() if rule is None else rule
    horizon, repeats, growth, seed, chunk = lr.horizon, lr.repeats, lr.growth, lr.seed, lr.chunk
    eta, alpha = check_eta(eta), check_alpha(config.alpha)
    sampling = check_sampling(config.sampling)
    batch_retain, batch_forget = config.batch_retain, config.batch_forget
    R_f = np.asarray(retain, dtype=np.float64)
    pools = [R_f]
    if forget is not None:
        pools.append(np.asarray(forget, dtype=np.float64))
    r = R_f.shape[1]
    if any(p.ndim != 3 or p.shape[1] != r for p in pools):
        raise InputError("reduced factors must be (n, r, k) arrays with a common r")
    k = max(p.shape[2] for p in pools)
    cols = np.concatenate([np.pad(p, ((0, 0), (0, 0), (0, k - p.shape[2]))) for p in pools])
    N = cols.shape[0]
    U = cols.transpose(0, 2, 1).reshape(N * k, r)  # rows: factor columns
    br = check_batch(batch_retain, R_f.shape[0], "retain", sampling)
    bf = check_batch(batch_forget, pools[-1].shape[0], "forget", sampling) if forget is not None \
        else 1
    rng = np.random.default_rng(seed)
    delta = rng.random((repeats, r))
    start = np.einsum("ra,ra->r", delta, delta)
    first = np.full(repeats, -1)
    live = np.ones(repeats, bool)
    t = 0
    while t < horizon and live.any():
        steps = min(chunk, horizon - t)
        w = (1.0 - alpha) * draw_batches(rng, R_f.shape[0], br, steps * repeats, sampling)
        if forget is not None:
            wf = -alpha * draw_batches(rng, pools[-1].shape[0], bf, steps * repeats, sampling)
            w = np.concatenate([w, wf], axis=1)
        w = np.repeat(w, k, axis=1).reshape(steps, repeats, N * k)
        for s in range(steps):
            proj = delta @ U.T  # (R, N k)
            delta = delta - eta * ((w[s] * proj) @ U)
            t += 1
            norm2 = np.einsum("ra,ra->r", delta, delta)
            hit = live & (norm2 >= growth * start)
            if hit.any():
                first[hit] = t
                live &= ~hit
                delta[hit] = 0.0  # freeze escaped runs (no overflow)
    frac = float((first >= 0).mean())
    return LinearRuleOutcome(frac, frac > 0.5, first)
