"""Training to tolerance, nonlinear unlearning runs, batch draws and the linear companion rule."""

import math

import numpy as np
import pytest
import torch

from numerics.apps.cnn.data import DataConfig, forget_split, make_data
from numerics.apps.cnn.model import CNNConfig, forward, init_weights
from numerics.apps.cnn.train import TrainConfig, train_gd
from numerics.apps.cnn.unlearn import UnlearnConfig, draw_batches, unlearn
from numerics.core.inputs import InputError, UnlearningConfig
from theory.sampling import get_scheme, scheme_names


@pytest.fixture(scope="module")
def trained():
    data = make_data(DataConfig(n_train=16, n_test=100, d=120, snr=1.0, seed=0))
    cfg = CNNConfig(m=4)
    return data, cfg, train_gd(data, cfg, TrainConfig(lr=0.1, loss_tol=0.05, seed=0))


def test_training_reaches_tolerance(trained):
    data, cfg, tr = trained
    assert tr.converged and tr.final_loss < 0.05 and tr.train_acc == 1.0
    assert tr.loss_history[0] > tr.loss_history[-1]
    assert tr.test_acc > 0.9  # SNR = 1: benign regime


def test_training_step_cap_reports_not_converged():
    data = make_data(DataConfig(n_train=8, n_test=4, d=40, snr=0.0, seed=0))
    tr = train_gd(data, CNNConfig(m=2), TrainConfig(max_steps=3))
    assert not tr.converged and tr.steps == 3 and len(tr.loss_history) == 4


def test_unlearning_records_and_escape_rule(trained):
    data, cfg, tr = trained
    r, f = forget_split(16, 3, seed=0)
    res = unlearn(tr.W, data.x_train, data.y_train, r, f, cfg,
                  UnlearnConfig(eta=2.0, alpha=0.5, batch_retain=4, batch_forget=2, steps=30))
    assert res.forget_loss.shape == (31,) and res.distance[0] == 0.0
    # the recorded ends against the weights evaluated independently: the logistic loss
    # log(1 + exp(-y f(x))) = softplus(-y f(x)), averaged over the forget samples
    def forget_loss(W):
        return float(torch.nn.functional.softplus(-data.y_train[f] * forward(W, data.x_train[f],
                                                                              cfg)).mean())

    start, end = forget_loss(tr.W), forget_loss(res.W)
    assert res.forget_loss[0] == pytest.approx(start, rel=1e-10)
    assert res.forget_loss[-1] == pytest.approx(end, rel=1e-10)
    assert res.forget_loss_growth == pytest.approx(math.log(end / start), rel=1e-10)
    # escape: L_f(W_K) >= l(0, y) = log 2, the loss of the uninformative output f = 0
    assert res.escaped == (end >= math.log(2.0))


def test_fine_tuning_full_batch_keeps_retain_fit(trained):
    data, cfg, tr = trained
    r, f = forget_split(16, 3, seed=0)
    res = unlearn(tr.W, data.x_train, data.y_train, r, f, cfg,
                  UnlearnConfig(eta=0.05, alpha=0.0, batch_retain=13, batch_forget=3, steps=20))
    assert np.all(np.diff(res.retain_loss) <= 1e-12)  # full-batch GD, small step: monotone
    assert res.retain_acc[-1] == 1.0 and not res.escaped


@pytest.mark.parametrize("sampling", scheme_names())
def test_draw_batches(sampling):
    n_pool, batch = get_scheme(sampling).admissible_sizes(10, 4)  # (10, 4) where admitted
    w = draw_batches(np.random.default_rng(0), n_pool, batch, 4000, sampling)
    assert w.shape == (4000, n_pool)
    assert w.mean() == pytest.approx(1 / n_pool, rel=0.03)  # E omega_i = 1/n
    if sampling != "bernoulli":
        assert np.allclose(w.sum(axis=1), 1.0)
    if sampling == "wor":
        assert np.all((w > 0).sum(axis=1) == batch)


def test_bad_unlearning_input(trained):
    data, cfg, tr = trained
    r, f = forget_split(16, 3, seed=0)
    with pytest.raises(InputError, match="alpha"):
        unlearn(tr.W, data.x_train, data.y_train, r, f, cfg, UnlearnConfig(eta=1.0, alpha=2.0))
    with pytest.raises(InputError, match="eta"):
        unlearn(tr.W, data.x_train, data.y_train, r, f, cfg, UnlearnConfig(eta=-1.0))
    with pytest.raises(InputError, match="batch"):
        unlearn(tr.W, data.x_train, data.y_train, r, f, cfg,
                UnlearnConfig(eta=1.0, batch_forget=5))
    bad = tr.W.clone()
    bad[1, 0, 3] = float("inf")
    with pytest.raises(InputError, match="NaN or inf"):
        unlearn(bad, data.x_train, data.y_train, r, f, cfg, UnlearnConfig(eta=1.0))
    with pytest.raises(InputError, match="sigma0"):
        init_weights(4, cfg, float("nan"), 0)


def test_companion_rule_follows_the_growth_rate():
    from numerics.apps.cnn.experiment import CNN_DRAWS, linear_rule_operator
    from numerics.core.simulate import trajectory_rule

    e = np.eye(3)[:, :, None]
    # retain only, full-batch on orthonormal directions: multiplier 1 - eta/3 per axis
    op = linear_rule_operator(e, None, UnlearningConfig(0.0, 3, 1))
    stable = trajectory_rule(op, 0.5, horizon=200, draws=CNN_DRAWS)
    assert stable.fraction == 0.0 and np.all(stable.first_escape == -1)
    # a private forget direction with alpha > 0 escapes (lambda_min(A) < 0)
    op = linear_rule_operator(e[:2], e[2:], UnlearningConfig(0.3, 2, 1))
    out = trajectory_rule(op, 0.5, horizon=200, repetitions=6, draws=CNN_DRAWS)
    assert out.escapes and np.all(out.first_escape > 0)
    # the escape time matches the exact growth 1 + eta alpha per step along e_3
    growth = 2 * np.log1p(0.5 * 0.3)
    assert np.median(out.first_escape) <= np.log(1000 * 3) / growth + 2
    with pytest.raises(InputError):
        trajectory_rule(op, 0.5, horizon=0)


def test_device_policy():
    from numerics.core.device import resolve_device, resolve_dtype, thread_limit

    assert resolve_device("cpu").type == "cpu"
    # "auto" takes the GPU when there is one, else the CPU
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            resolve_device("cuda")
    assert resolve_dtype(torch.device("cpu")) == torch.float64
    with pytest.raises(InputError, match="float32"):
        resolve_dtype(torch.device("cpu"), "float32")
    with pytest.raises(InputError, match="dtype"):
        resolve_dtype(torch.device("cpu"), "float16")
    before = torch.get_num_threads()
    with thread_limit(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
