"""steps_to_escape_predicted: the forced recursion's mean-square step until the forget-loss level."""

from __future__ import annotations

import numpy as np
import torch

from numerics.apps.diagnose import diagnose
from numerics.apps.diagnose.forecast import LossLevel, predict_steps
from numerics.apps.diagnose.options import DiagnoseOptions
from numerics.core.forcing import Forcing
from numerics.core.inputs import UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator


def test_prediction_equals_enumerated_affine_recursion_and_quadratic_roots(affine_moments):
    rng = np.random.default_rng(3)
    d, nr, nf, alpha, eta, T = 4, 5, 3, 0.3, 0.05, 80
    Fr, Ff = rng.standard_normal((nr, d, 1)), rng.standard_normal((nf, d, 1))
    gr, gf = 0.2 * rng.standard_normal((nr, d)), 0.2 * rng.standard_normal((nf, d))
    op = SecondMomentOperator(as_pool(Fr, factors=True), as_pool(Ff, factors=True),
                              UnlearningConfig(alpha, 2, 1, "wor"))
    Hr = np.einsum("ak,nkl,bl->nab", op.basis, np.einsum("nkl,nml->nkm", op.retain.factors,
                                                           op.retain.factors), op.basis)
    Hf = np.einsum("ak,nkl,bl->nab", op.basis, np.einsum("nkl,nml->nkm", op.forget.factors,
                                                           op.forget.factors), op.basis)
    mean, second = affine_moments(Hr, Hf, gr, gf, alpha, 2, 1, eta, T)
    gfm, Hfm = gf.mean(0), Hf.mean(0)
    checked = 0
    for gap in (0.02, 0.05, 0.1):
        # independent route: the loss of the quadratic model along u_t at the rms displacement
        u = mean / np.maximum(np.linalg.norm(mean, axis=1), 1e-300)[:, None]
        rms = np.sqrt(second)
        model = rms * (u @ gfm) + 0.5 * rms**2 * np.einsum("ti,ij,tj->t", u, Hfm, u)
        hit = np.flatnonzero(model >= gap)
        expected = int(hit[0]) if hit.size else None
        got = predict_steps(op, Forcing(gr, gf), eta, LossLevel(1.0, 1.0 + gap), T)
        assert got.steps == expected, (gap, got, expected)
        if expected is not None:
            assert 2 <= expected < T
            checked += 1
    assert checked >= 2
    far = predict_steps(op, Forcing(gr, gf), eta, LossLevel(1.0, 1e6), T)
    assert far.steps is None and "resists within the horizon" in far.reason


def _least_squares_problem(seed: int = 0):
    """A linear model at its exact least-squares fit; the forget samples are the outliers."""
    g = torch.Generator().manual_seed(seed)
    n, d = 40, 4
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 1.5], dtype=torch.float64)
    y[-4:] += 3.0 * torch.randn(4, generator=g, dtype=torch.float64)
    model = torch.nn.Linear(d, 1).double()
    Xa = torch.cat([X, torch.ones(n, 1, dtype=torch.float64)], 1)
    sol = torch.linalg.lstsq(Xa, y[:, None]).solution[:, 0]
    with torch.no_grad():
        model.weight.copy_(sol[:d][None])
        model.bias.copy_(sol[d:])
    return model, (X[:-4], y[:-4]), (X[-4:], y[-4:])


def _half_squares(out, target):
    return 0.5 * (out[:, 0] - target) ** 2


def test_diagnose_prediction_matches_the_run_where_the_linearisation_is_exact():
    # A linear model with a squared loss: the Hessian is constant, so gradient-difference
    # unlearning is exactly the affine recursion and the forget loss exactly quadratic.  With full
    # batches the run is deterministic (E|delta_t|^2 = |delta_t|^2, m_t = delta_t), so the
    # prediction must be the true first step; the run records its loss every `escape_resolution`
    # steps, so observed - resolution < predicted <= observed (factor 1 up to that resolution).
    model, r, f = _least_squares_problem()
    obs, pred, every = _run(36, 4, seed=0)
    assert obs - every < pred <= obs, (pred, obs, every)
    assert 2 * every <= obs < 400


def _run(br: int, bf: int, seed: int) -> tuple[int, int, int]:
    model, r, f = _least_squares_problem()
    opts = DiagnoseOptions.of(alpha=0.6, eta=0.002, batch_retain=br, batch_forget=bf, seed=seed,
                              unlearn_steps=400, prescribe=False, progress=False, deletion=False)
    rep = diagnose(model, _half_squares, r, f, opts)
    obs, pred = rep.steps_to_escape_observed, rep.steps_to_escape_predicted
    assert obs is not None and pred is not None, (obs, pred, rep.notes)
    return obs, pred, rep.unlearning["escape_resolution"]


def test_diagnose_prediction_with_minibatches_within_a_factor_of_the_run():
    # Minibatches (8 of 36, 2 of 4): the prediction is the mean-square step of the recursion, the
    # run one realisation of it; here the drift from the forcing dominates the batch noise over the
    # ~150 steps, so one run's first step lies within a factor 1.5 of the mean-square one (and the
    # observed step is itself rounded up to the 20-step recording resolution).
    for seed in (1, 2):
        obs, pred, every = _run(8, 2, seed)
        assert obs / 1.5 <= pred <= 1.5 * obs, (seed, pred, obs, every)
