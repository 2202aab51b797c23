"""The same-event comparison: linear recursion, nonlinear run, predictions, stationary training."""

import json
import math

import numpy as np
import pytest
import torch

from numerics.apps.cnn.data import DataConfig, make_data
from numerics.apps.cnn.experiment import ExperimentConfig, prepare
from numerics.apps.cnn.growth import (
    GrowthSpec,
    crn_weights,
    linear_event,
    nonlinear_event,
    start_direction,
)
from numerics.apps.cnn.model import (
    CNNConfig,
    init_weights,
    loss_value,
    weighted_loss_grad,
    weighted_loss_grad_batched,
)
from numerics.apps.cnn.train import TrainConfig, train_gd
from numerics.cli.entry import main
from numerics.core.horizon import ms_growth
from numerics.core.inputs import InputError, UnlearningConfig
from numerics.core.operator import SecondMomentOperator

SMALL = ExperimentConfig(n=12, n_test=20, d=40, m=4, n_forget=3, batch_retain=2, batch_forget=1,
                         loss="squared", lr=0.02, event="growth", horizon=60, repeats=6,
                         alpha=0.1)


@pytest.fixture(scope="module")
def prep():
    return prepare(1.0, SMALL)


def _factors(p):
    n, r = p.config.n, p.reduced_retain.shape[1]
    F = np.zeros((n, r))
    F[p.retain] = p.reduced_retain[:, :, 0]
    F[p.forget] = p.reduced_forget[:, :, 0]
    return F


def test_squared_training_reaches_a_stationary_point(prep):
    tr = prep.trained
    W = tr.W.clone().requires_grad_(True)
    L = loss_value(W, prep.data.x_train, prep.data.y_train, CNNConfig(4, loss="squared"))
    (g,) = torch.autograd.grad(L, W)
    norm = float(torch.linalg.vector_norm(g))  # autograd, independent of the analytic gradient
    assert tr.stationary
    assert norm <= 1e-10 * (1 + float(L.detach()))
    assert math.isclose(tr.grad_norm, norm, rel_tol=1e-6, abs_tol=1e-15)


def test_a_model_short_of_the_tolerance_says_so():
    data = make_data(DataConfig(12, 4, 40, 1.0, seed=0))
    tr = train_gd(data, CNNConfig(4, loss="squared"), TrainConfig(lr=0.02, newton_steps=0))
    assert not tr.stationary and tr.grad_norm > 1e-10
    logistic = train_gd(data, CNNConfig(4), TrainConfig())
    assert not logistic.stationary  # no minimiser: the logistic model never claims it


def test_linear_event_matches_dense_products(prep):
    F = _factors(prep)
    eta = 0.5 * 2 / prep.lambda_max_retain
    u = UnlearningConfig(0.1, 2, 1, "wor")
    spec = GrowthSpec(1e-6, 50.0, 60, 4, seed=3)
    w = crn_weights(prep.retain, prep.forget, u, spec, 12)
    z = start_direction(F.shape[1], 3)
    first = linear_event(F, eta, w, z, 50.0).first
    for k in range(4):  # dense route: explicit matrices I - eta * sum_i w_i u_i u_i^T
        d, hit = z.copy(), -1
        for t in range(60):
            A = (F.T * w[k, t]) @ F
            d = d - eta * A @ d
            if d @ d >= 50.0 * (z @ z):
                hit = t + 1
                break
        assert first[k] == hit


def test_batched_gradient_equals_one_at_a_time():
    cfg = CNNConfig(3, "relu_q", 3.0, "squared")
    data = make_data(DataConfig(7, 2, 9, 1.0, seed=2))
    W = torch.stack([init_weights(9, cfg, 0.5, seed=s) for s in range(4)])
    w = torch.randn(4, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lb, gb, fb = weighted_loss_grad_batched(W, data.x_train, data.y_train, w, cfg)
    for k in range(4):
        lk, gk, fk = weighted_loss_grad(W[k], data.x_train, data.y_train, w[k], cfg)
        assert torch.allclose(gb[k], gk, rtol=1e-12, atol=1e-14)
        assert torch.allclose(lb[k], lk, rtol=1e-12, atol=1e-14)


def test_nonlinear_run_follows_the_linear_recursion_at_small_eps(prep):
    F = _factors(prep)
    eta = 0.5 * 2 / prep.lambda_max_retain
    u = UnlearningConfig(0.1, 2, 1, "wor")
    spec = GrowthSpec(1e-7, 100.0, 60, 6, seed=1)
    w = crn_weights(prep.retain, prep.forget, u, spec, 12)
    z = start_direction(F.shape[1], 1)
    lin = linear_event(F, eta, w, z, 100.0)
    W = prep.trained.W
    v = (prep.basis @ torch.as_tensor(z)).reshape(W.shape)
    cnn = CNNConfig(4, loss="squared")
    small = nonlinear_event(W, (prep.data.x_train, prep.data.y_train), cnn, eta, w,
                            (1e-7 * float(W.norm()) * v, 100.0, prep.forget))
    assert (lin.first >= 0).any()  # the instance has events to agree on
    assert np.array_equal(lin.first >= 0, small.first >= 0)
    assert np.max(np.abs(lin.first - small.first)) <= 1  # a crossing may move by one step


def test_mean_square_trace_matches_monte_carlo(prep):
    F = _factors(prep)
    eta = 0.5 * 2 / prep.lambda_max_retain
    u = UnlearningConfig(0.1, 2, 1, "wor")
    op = SecondMomentOperator(prep.reduced_retain, prep.reduced_forget, u)
    z = start_direction(F.shape[1], 0)
    steps, runs = 4, 20000
    w = crn_weights(prep.retain, prep.forget, u, GrowthSpec(1.0, 2.0, steps, runs, seed=9), 12)
    d = np.repeat(z[None], runs, axis=0)
    for t in range(steps):
        d = d - eta * ((w[:, t, :] * (d @ F.T)) @ F)
    sq = np.einsum("ra,ra->r", d, d)
    se = sq.std(ddof=1) / math.sqrt(runs)
    # ms_growth is relative to ||delta_0||^2 = 1; the start in the operator's input coordinates
    assert abs(sq.mean() - ms_growth(op, eta, steps, z)[-1]) <= 4 * se


def test_cli_rejects_a_bad_eps(capsys):
    assert main(["cnn", "--snr", "1.0", "--event", "growth", "--eps", "0"]) == 2
    assert "eps" in capsys.readouterr().err


def test_growth_spec_rejects_bad_input():
    for bad in (dict(eps=0.0), dict(eps=float("nan")), dict(eps=1e-3, growth=1.0),
                dict(eps=1e-3, horizon=0)):
        with pytest.raises(InputError):
            GrowthSpec(**bad).validated()


def test_cli_growth_records(capsys):
    rc = main(["cnn", "--snr", "1.0", "--n", "12", "--d", "40", "--m", "4", "--n-forget", "3",
               "--batch-retain", "2", "--batch-forget", "1", "--loss", "squared", "--lr", "0.02",
               "--event", "growth", "--eps", "1e-6", "1e-1", "--horizon", "40", "--repeats", "3",
               "--json", "--quiet"])
    assert rc == 0
    recs = json.loads(capsys.readouterr().out)
    assert [r["eps"] for r in recs] == [1e-6, 1e-1]
    listed = {"loss", "grad_norm", "eps", "gamma", "log_rho", "predicted_escape_probability",
              "predicted_escape", "linear_escape_fraction", "nonlinear_escape_fraction",
              "near_boundary", "forget_loss_after", "forget_acc_after"}
    for r in recs:
        assert listed <= set(r)
        assert r["loss"] == "squared" and r["grad_norm"] <= 1e-10
        assert r["predicted_escape"] == (r["predicted_escape_probability"] >= 0.5)


@pytest.mark.parametrize("args", [["--loss", "hinge"], ["--event", "grow"],
                                  ["--activation", "tanh"]])
def test_cli_rejects_unknown_names(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cnn", "--snr", "1.0", *args])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip()
