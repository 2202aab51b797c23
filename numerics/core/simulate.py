r"""Monte-Carlo simulation of the linearised recursion with sampled batches.

All functions run :math:`R` independent trajectories at once on the reduced factors of a
:class:`~numerics.core.operator.SecondMomentOperator`: one step costs two matrix products,
:math:`P=\delta F^\top` and :math:`\delta\leftarrow\delta-\eta\,(\omega\odot P)F`, i.e.
:math:`O(Rnrk)`.  Every function takes a ``seed`` (a :class:`numpy.random.Generator` is built
from it), so results are reproducible.

Notions of stability (compare like with like):

* :func:`one_step_second_moment` and :func:`ms_growth_rate` estimate mean-square quantities, to be
  compared with :math:`\mathcal T` and :math:`\rho(\mathcal T)`;
* :func:`lyapunov_exponent` estimates the top Lyapunov exponent :math:`\gamma` (almost-sure);
* :func:`trajectory_rule` is the companion code's finite-horizon rule (SPEC §1.5), which tracks the
  almost-sure boundary up to horizon effects (SPEC §2.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.core.inputs import InputError, check_batch, check_eta, check_sampling
from numerics.core.operator import SecondMomentOperator
from numerics.core.pools import CurvaturePool
from theory.sampling import get_scheme

__all__ = [
    "sample_weights",
    "one_step_second_moment",
    "ms_growth_rate",
    "lyapunov_exponent",
    "trajectory_rule",
    "BatchDraws",
    "Estimate",
    "TrajectoryOutcome",
]


@dataclass(frozen=True)
class Estimate:
    """A Monte-Carlo estimate with its standard error."""

    value: float
    stderr: float
    samples: int

    def z_score(self, exact: float) -> float:
        r""":math:`|\hat x-x|/\mathrm{se}` (``inf`` when the SE is zero and they differ)."""
        diff = abs(self.value - exact)
        if self.stderr == 0.0:
            return 0.0 if diff == 0.0 else float("inf")
        return diff / self.stderr


def sample_weights(rng: np.random.Generator, sampling: str, n: int, batch: int,
                   size: int) -> np.ndarray:
    r"""Batch weights :math:`\omega` (``size x n``) with :math:`\hat H=\sum_i\omega_iH_i`.

    The registered scheme's sampler (:meth:`theory.sampling.base.SamplingScheme.weights`), after
    the scheme and the batch size are validated: ``wor``: a uniform size-:math:`B` subset (the
    :math:`B` smallest of :math:`n` uniform keys); ``bernoulli``: independent inclusion with
    :math:`q=B/n`, divided by the nominal :math:`B`; ``wr``: multinomial counts of :math:`B`
    uniform draws, divided by :math:`B`.
    """
    key = check_sampling(sampling)
    b = check_batch(batch, n, "sampled", key)
    return get_scheme(key).weights(rng, n, b, size)


class _Stepper:
    r"""Applies :math:`\delta\mapsto(I-\eta\hat A)\delta` to ``R`` trajectories at once.

    Every batch goes through the pool protocol (``weighted_apply`` and ``weighted_sum`` of
    :class:`~numerics.core.pools.CurvaturePool`), so signed (indefinite) curvature keeps its signs.
    With ``draw_inert`` a set of weight 0 (the forget set at :math:`\alpha=0`) still has its
    batches drawn (and ignored), which keeps the random stream of a rule that always draws both.
    """

    def __init__(self, op: SecondMomentOperator, eta: float, rng: np.random.Generator,
                 draw_inert: bool = False) -> None:
        cfg = op.config
        self.eta, self.rng, self.scheme = eta, rng, get_scheme(cfg.sampling)
        self.parts: list[tuple[float, CurvaturePool, int]] = []
        for pool, weight, batch in ((op.retain, op.weight_retain, cfg.batch_retain),
                                    (op.forget, -op.weight_forget, cfg.batch_forget)):
            if pool is not None and (weight != 0.0 or draw_inert):  # ascent: minus sign in A
                self.parts.append((weight, pool, batch))

    def draw(self, count: int) -> list[np.ndarray]:
        """Batch weights ``(count, n)`` of every set, in the order retain, forget."""
        return [self.scheme.weights(self.rng, pool.n, batch, count)
                for _, pool, batch in self.parts]

    def apply(self, delta: np.ndarray, omegas: list[np.ndarray]) -> np.ndarray:
        r""":math:`\delta_r-\eta\hat A_r\delta_r` with the batches ``omegas`` (one row per trajectory)."""
        update = np.zeros_like(delta)
        for (weight, pool, _), omega in zip(self.parts, omegas, strict=True):
            if weight != 0.0:
                update += weight * pool.weighted_apply(delta, omega)
        return delta - self.eta * update

    def step(self, delta: np.ndarray) -> np.ndarray:
        """One step of every trajectory with freshly drawn batches."""
        return self.apply(delta, self.draw(delta.shape[0]))

    def matrix(self, count: int) -> np.ndarray:
        r"""``count`` sampled matrices :math:`\hat A` (``count x r x r``)."""
        out = None
        for (weight, pool, _), omega in zip(self.parts, self.draw(count), strict=True):
            term = weight * pool.weighted_sum(omega)
            out = term if out is None else out + term
        return out


def one_step_second_moment(op: SecondMomentOperator, M: np.ndarray, eta: float, draws: int,
                           seed: int = 0, chunk: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    r"""Monte-Carlo :math:`\mathbb E[(I-\eta\hat A)M(I-\eta\hat A)]` and its elementwise SE.

    Independent of the closed form of :math:`\mathcal C`: only sampled batches are used.
    """
    eta = check_eta(eta)
    rng = np.random.default_rng(seed)
    stepper = _Stepper(op, eta, rng)
    total = np.zeros_like(M)
    total_sq = np.zeros_like(M)
    eye = np.eye(op.dim)
    done = 0
    while done < draws:
        c = min(chunk, draws - done)
        P = eye - eta * stepper.matrix(c)
        X = P @ M @ P
        total += X.sum(axis=0)
        total_sq += (X**2).sum(axis=0)
        done += c
    mean = total / draws
    var = np.maximum(total_sq / draws - mean**2, 0.0)
    return mean, np.sqrt(var / draws)


def ms_growth_rate(op: SecondMomentOperator, eta: float, steps: int = 1, n_traj: int = 20000,
                   seed: int = 0) -> Estimate:
    r"""Monte-Carlo estimate of :math:`\rho(\mathcal T(\eta))` with its standard error.

    Start from :math:`\delta_0=M_\star^{1/2}z`, :math:`z\sim\mathcal N(0,I)`, where :math:`M_\star`
    is the PSD Perron eigenvector of :math:`\mathcal T` (trace 1), so that
    :math:`\mathbb E\|\delta_t\|^2=\rho^t` exactly.  The estimator is
    :math:`\hat\rho=(\overline{\|\delta_t\|^2})^{1/t}` with a delta-method standard error.
    """
    eta = check_eta(eta)
    if steps < 1 or n_traj < 2:
        raise InputError("ms_growth_rate needs steps >= 1 and n_traj >= 2")
    rng = np.random.default_rng(seed)
    M = op.perron_matrix(eta)
    w, V = np.linalg.eigh(M)
    root = V * np.sqrt(np.clip(w, 0.0, None))  # M^{1/2} up to rotation; clamp round-off
    delta = rng.standard_normal((n_traj, op.dim)) @ root.T
    stepper = _Stepper(op, eta, rng)
    for _ in range(steps):
        delta = stepper.step(delta)
    sq = np.einsum("ij,ij->i", delta, delta)
    mean, se = float(sq.mean()), float(sq.std(ddof=1) / np.sqrt(n_traj))
    value = mean ** (1.0 / steps)
    return Estimate(value, value * se / (steps * mean), n_traj)


def lyapunov_exponent(op: SecondMomentOperator, eta: float, steps: int = 2000, n_traj: int = 64,
                      burn_in: int = 100, seed: int = 0) -> Estimate:
    r"""Top Lyapunov exponent :math:`\gamma=\lim\frac1t\log\|\delta_t\|` (almost-sure notion).

    Each trajectory is renormalised every step; its exponent is the mean log growth after
    ``burn_in`` steps, and the SE is taken across the ``n_traj`` independent trajectories.
    """
    eta = check_eta(eta)
    rng = np.random.default_rng(seed)
    delta = rng.standard_normal((n_traj, op.dim))
    delta /= np.linalg.norm(delta, axis=1, keepdims=True)
    stepper = _Stepper(op, eta, rng)
    acc = np.zeros(n_traj)
    for t in range(burn_in + steps):
        delta = stepper.step(delta)
        norms = np.linalg.norm(delta, axis=1)
        norms = np.where(norms > 0, norms, np.finfo(float).tiny)
        if t >= burn_in:
            acc += np.log(norms)
        delta /= norms[:, None]
    per = acc / steps
    return Estimate(float(per.mean()), float(per.std(ddof=1) / np.sqrt(n_traj)), n_traj)


@dataclass(frozen=True)
class BatchDraws:
    r"""How the trajectory rule draws its batches (the random stream; the law is the same).

    Attributes
    ----------
    chunk:
        Steps whose batches are drawn at once, retain then forget (the CNN experiments draw 100
        steps at a time).
    draw_inert:
        Draw the batches of a set of weight 0 too (the CNN experiments' stream at
        :math:`\alpha=0`).
    """

    chunk: int = 1
    draw_inert: bool = False


@dataclass(frozen=True)
class TrajectoryOutcome:
    r"""Result of the finite-horizon rule: the majority verdict, the escape fraction and times.

    ``first_escape`` holds, per run, the first step with :math:`\|w_t\|^2\ge G\|w_0\|^2`
    (``-1`` if none).
    """

    escapes: bool
    fraction: float
    repetitions: int
    horizon: int
    growth: float
    first_escape: np.ndarray


def trajectory_rule(op: SecondMomentOperator, eta: float, horizon: int = 1000,
                    growth: float = 1000.0, repetitions: int = 10, seed: int = 0, *,
                    draws: BatchDraws | None = None) -> TrajectoryOutcome:
    r"""The companion code's finite-horizon rule (SPEC §1.5), the one implementation.

    Escape when :math:`\|w_t\|^2\ge G\|w_0\|^2` within :math:`T` steps (default
    :math:`G=T=1000`), majority over :math:`R=10` runs, :math:`w_0\sim U(0,1)^d` in the
    coordinates of ``op`` (its ambient space).  An operator built with ``reduce=False`` on factors
    already reduced to an orthonormal basis of :math:`V` starts in that basis (the CNN
    experiments: in the ambient :math:`\mathbb R^P` the static :math:`V^\perp` part would dominate
    :math:`\|w_0\|` and hide any growth).

    Run in the reduced coordinates; the component of :math:`w_0` outside the active subspace never
    moves, so its squared norm is added as a constant, which reproduces the ambient rule exactly.
    Runs are vectorised; an escaped run is frozen at 0 so that nothing overflows.

    Parameters
    ----------
    op:
        The operator (its pools, weights, batch sizes and sampling).
    eta:
        Step size.
    horizon, growth, repetitions:
        :math:`T\ge1`, :math:`G>1` and :math:`R\ge1`.
    seed:
        Seed of the start points and of every batch.
    draws:
        :class:`BatchDraws`, the draw schedule (default: one step at a time, inert sets skipped).

    Returns
    -------
    TrajectoryOutcome
    """
    eta = check_eta(eta)
    schedule = draws or BatchDraws()
    if horizon < 1 or repetitions < 1 or schedule.chunk < 1:
        raise InputError("the trajectory rule needs horizon, repetitions and chunk >= 1, got "
                         f"{horizon}, {repetitions}, {schedule.chunk}")
    if not growth > 1:
        raise InputError(f"the trajectory rule needs growth > 1, got {growth}")
    R = int(repetitions)
    rng = np.random.default_rng(seed)
    w0 = rng.random((R, op.ambient_dim))
    delta = w0 @ op.basis
    static = np.einsum("ij,ij->i", w0, w0) - np.einsum("ij,ij->i", delta, delta)
    start = np.einsum("ij,ij->i", w0, w0)
    stepper = _Stepper(op, eta, rng, schedule.draw_inert)
    first = np.full(R, -1)
    live = np.ones(R, dtype=bool)
    t = 0
    while t < horizon and live.any():
        steps = min(schedule.chunk, horizon - t)
        omegas = stepper.draw(steps * R)  # row s * R + j: step s of run j
        for s in range(steps):
            delta = stepper.apply(delta, [w[s * R:(s + 1) * R] for w in omegas])
            t += 1
            sq = np.einsum("ij,ij->i", delta, delta) + static
            hit = live & (sq >= growth * start)
            if hit.any():
                first[hit] = t
                live &= ~hit
                delta[hit] = 0.0  # decided runs stop moving (avoids overflow)
            if not live.any():
                break
    frac = float((first >= 0).mean())
    return TrajectoryOutcome(frac > 0.5, frac, R, horizon, growth, first)
