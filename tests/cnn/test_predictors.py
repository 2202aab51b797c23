"""Predictors of the forget-loss event: frozen activations and the affine (forced) prediction."""

import numpy as np
import pytest
import torch

from numerics.apps.cnn.experiment import ExperimentConfig, prepare
from numerics.apps.cnn.model import CNNConfig, forward, per_sample_gradients
from numerics.apps.cnn.predictors import affine_forget_loss, frozen_activation_forget_loss
from numerics.apps.cnn.unlearn import UnlearnConfig, unlearn
from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import SecondMomentOperator

CFG = ExperimentConfig(n=12, n_test=20, d=40, m=4, n_forget=3, batch_retain=2, batch_forget=1)


@pytest.fixture(scope="module")
def prep():
    return prepare(0.8, CFG)


def test_frozen_model_is_the_network_at_w_star(prep):
    X, W = prep.data.x_train, prep.trained.W
    G = per_sample_gradients(W, X, CNNConfig(4))
    assert torch.allclose(G @ W.reshape(-1), forward(W, X, CNNConfig(4)), rtol=1e-12, atol=1e-14)


def test_frozen_run_follows_the_network_for_tiny_steps(prep):
    """No unit switches for tiny steps: the frozen model and the network lose the same loss."""
    X, y, W = prep.data.x_train, prep.data.y_train, prep.trained.W
    u = UnlearnConfig(1e-6, 0.3, 2, 1, 20, "wor", 4)
    frozen = frozen_activation_forget_loss(W, (X, y), (prep.retain, prep.forget), CNNConfig(4), u)
    real = unlearn(W, X, y, prep.retain, prep.forget, CNNConfig(4), u)
    assert frozen != real.forget_loss[0]  # it moved
    assert abs(frozen - real.forget_loss[-1]) <= 1e-9 * abs(real.forget_loss[-1])


def test_affine_prediction_one_step_by_hand(prep):
    X, y, W = prep.data.x_train, prep.data.y_train, prep.trained.W
    alpha, eta = 0.3, 0.05
    op = SecondMomentOperator(prep.reduced_retain, prep.reduced_forget,
                              UnlearningConfig(alpha, 2, 1, "wor"))
    cnn = CNNConfig(4)
    f = forward(W, X, cnn)
    _, d1, _ = cnn.loss_fn.derivatives(f, y)
    G = per_sample_gradients(W, X, cnn)
    grads = d1[:, None] * G  # per-sample gradients, ambient
    gbar = (1 - alpha) * grads[prep.retain].mean(0) - alpha * grads[prep.forget].mean(0)
    moved = f[prep.forget] - eta * G[prep.forget] @ gbar  # E delta_1 = -eta gbar
    expected = float(cnn.loss_fn.per_sample(moved, y[prep.forget]).mean())
    got = affine_forget_loss(prep, op, eta, 1)
    assert np.isclose(got, expected, rtol=1e-9, atol=0)
