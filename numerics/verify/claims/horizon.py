r"""Claims on the finite-horizon predictions (:mod:`numerics.core.horizon`, :mod:`numerics.core.forcing`).

* C12.a -- mean-square growth :math:`\mathbb E\|\delta_t\|^2/\|\delta_0\|^2` over :math:`t` steps
  (Krylov powers of :math:`\mathcal T`) against Monte-Carlo trajectories with sampled batches;
* C12.b -- the forced (affine) recursion from :math:`\delta_0=0`: exact mean-square displacement
  against Monte-Carlo runs of the recursion with the same batches for curvature and gradient.

The first-passage probability of the trajectory rule is claim C10.b.
"""

from __future__ import annotations

import numpy as np

from numerics.core.forcing import Forcing, forced_moments
from numerics.core.horizon import ms_growth
from numerics.core.inputs import UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator
from numerics.core.simulate import sample_weights
from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, register
from numerics.verify.claims.policy import Kind, Notion
from theory.sampling import exchangeable_names, skipped_schemes

#: The schemes the exchangeable second-moment operator takes; the others, with the reason why,
#: are listed in the evidence as skipped.
SAMPLINGS = exchangeable_names()
SKIPPED = skipped_schemes()


def _instance(seed: int, sampling: str, d: int = 5, out_of_span: int = 0):
    """Random non-commuting retain (rank 2) and forget (rank 1) pools; optional dead directions."""
    rng = np.random.default_rng(seed)
    n, nf = 7, 4
    F = np.concatenate([rng.standard_normal((n, d, 2)), np.zeros((n, out_of_span, 2))], 1)
    Ff = np.concatenate([rng.standard_normal((nf, d, 1)), np.zeros((nf, out_of_span, 1))], 1)
    op = SecondMomentOperator(as_pool(F, factors=True), as_pool(Ff, factors=True),
                              UnlearningConfig(0.15, 3, 2, sampling))
    return op, rng


def _simulate(op: SecondMomentOperator, start: np.ndarray, forcing: Forcing | None, eta: float,
              steps: int, runs: int, seed: int) -> np.ndarray:
    r"""``runs`` trajectories of :math:`\delta\leftarrow\delta-\eta(\hat A\delta+\hat g)` (ambient)."""
    rng = np.random.default_rng(seed)
    cfg = op.config
    Fr = np.einsum("ak,nkl->nal", op.basis, op.retain.factors)  # ambient factors
    Ff = np.einsum("ak,nkl->nal", op.basis, op.forget.factors)
    delta = np.tile(np.asarray(start, dtype=float), (runs, 1))
    for _ in range(steps):
        wr = sample_weights(rng, cfg.sampling, op.retain.n, cfg.batch_retain, runs)
        wf = sample_weights(rng, cfg.sampling, op.forget.n, cfg.batch_forget, runs)
        pr = np.einsum("ra,nak->rnk", delta, Fr)
        pf = np.einsum("ra,nak->rnk", delta, Ff)
        step = op.weight_retain * np.einsum("rn,rnk,nak->ra", wr, pr, Fr) \
            - op.weight_forget * np.einsum("rn,rnk,nak->ra", wf, pf, Ff)
        if forcing is not None:
            step += op.weight_retain * (wr @ forcing.retain) - op.weight_forget * (wf @ forcing.forget)
        delta = delta - eta * step
    return delta


def _c12_growth(scale: str) -> CheckOutcome:
    runs = {"quick": 20_000, "default": 100_000, "large": 1_000_000}[scale]
    pred, obs, se, rows = [], [], [], []
    for i, sampling in enumerate(SAMPLINGS):
        op, rng = _instance(10 + i, sampling)
        eta = 0.5 * op.eta_star_ms()  # well below eta*_ms: the fourth moment (the SE) stays finite
        v = rng.standard_normal(op.ambient_dim)
        for steps in (5, 15):
            g = ms_growth(op, eta, steps, v)[-1]
            delta = _simulate(op, v, None, eta, steps, runs, seed=100 * i + steps)
            sq = np.einsum("ij,ij->i", delta, delta) / (v @ v)
            pred.append(g)
            obs.append(float(sq.mean()))
            se.append(float(sq.std(ddof=1) / np.sqrt(runs)))
            rows.append({"sampling": sampling, "steps": steps, "eta": eta, "growth": g})
    return CheckOutcome([Comparison("E|delta_t|^2/|delta_0|^2: Krylov powers vs Monte Carlo",
                                    pred, obs, se)],
                        {"cells": rows, "runs": runs, "samplings_skipped": SKIPPED})


def _c12_forcing(scale: str) -> CheckOutcome:
    runs = {"quick": 20_000, "default": 100_000, "large": 1_000_000}[scale]
    pred, obs, se, rows = [], [], [], []
    for i, sampling in enumerate(SAMPLINGS):
        op, rng = _instance(20 + i, sampling, out_of_span=2)
        forcing = Forcing(0.3 * rng.standard_normal((op.retain.n, op.ambient_dim)),
                          0.3 * rng.standard_normal((op.forget.n, op.ambient_dim)))
        eta, steps = 0.1, 20
        fm = forced_moments(op, forcing, eta, steps)
        delta = _simulate(op, np.zeros(op.ambient_dim), forcing, eta, steps, runs, seed=7 + i)
        sq = np.einsum("ij,ij->i", delta, delta)
        pred.append(fm.second[-1])
        obs.append(float(sq.mean()))
        se.append(float(sq.std(ddof=1) / np.sqrt(runs)))
        rows.append({"sampling": sampling, "steps": steps, "eta": eta,
                     "ms_displacement": fm.second[-1]})
    return CheckOutcome([Comparison("E|delta_t|^2 from delta_0 = 0: exact affine moments vs "
                                    "Monte Carlo", pred, obs, se)],
                        {"cells": rows, "runs": runs, "samplings_skipped": SKIPPED})


register(Claim(
    "C12.a", "mean-square growth over t steps is the t-th power of T",
    r"$\mathbb E\|\delta_t\|^2/\|\delta_0\|^2=\langle I,\mathcal T^t(\hat\delta_0\hat\delta_0^\top)"
    r"\rangle$ (Krylov powers) agrees with Monte-Carlo trajectories within their standard error",
    Kind.STATISTICAL, Notion.MEAN_SQUARE, "SPEC §2.1, §2.3(a) [D]", _c12_growth))
register(Claim(
    "C12.b", "the forced recursion's mean-square displacement from delta_0 = 0 is exact",
    r"with non-zero gradients at $w^\star$, $\mathbb E\|\delta_t\|^2$ of "
    r"$\delta_{t+1}=(I-\eta\hat A_t)\delta_t-\eta\hat g_t$, $\delta_0=0$, from the augmented "
    r"second-moment recursion agrees with Monte-Carlo runs within their standard error",
    Kind.STATISTICAL, Notion.MEAN_SQUARE, "SPEC §1.3 remark [D]", _c12_forcing))
