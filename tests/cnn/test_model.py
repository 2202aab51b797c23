"""The CNN: rank-one identity vs torch.func, analytic gradients, structured Gram, GGN term."""

import numpy as np
import pytest
import torch

from numerics.apps.cnn.data import DataConfig, make_data
from numerics.apps.cnn.model import (
    CNNConfig,
    activation_counts,
    forward,
    ggn_omitted_term,
    init_weights,
    logistic_loss_fn,
    loss_and_grad,
    loss_value,
    memorization_scores,
    model_fn,
    patch_outputs,
    per_sample_gradients,
    rank_one_factors,
    rank_one_gram,
)
from numerics.core.inputs import InputError
from numerics.curvature.hessians import ggn_residual, per_sample_hessians
from theory.cnn import callable_of


def _setup(activation="relu", n=6, d=8, m=3, snr=1.0, sigma0=0.5, seed=1):
    cfg = CNNConfig(m=m, activation=activation, q=3.0)
    data = make_data(DataConfig(n_train=n, n_test=2, d=d, snr=snr, seed=seed))
    W = init_weights(d, cfg, sigma0, seed=0)
    return cfg, data.x_train, data.y_train, W


def _dense_hessians(cfg, X, y, W):
    m, d = W.shape[1], W.shape[2]
    return per_sample_hessians(model_fn(cfg, m, d), logistic_loss_fn, W.reshape(-1), X, y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_one_identity_equals_torch_func(seed):
    cfg, X, y, W = _setup(seed=seed)
    H = _dense_hessians(cfg, X, y, W)
    U = rank_one_factors(W, X, y, cfg)
    rel = (H - torch.einsum("np,nq->npq", U, U)).abs().max() / H.abs().max()
    assert float(rel) <= 1e-10


def test_relu_q_gauss_newton_plus_omitted_term_is_exact():
    cfg, X, y, W = _setup("relu_q")
    H = _dense_hessians(cfg, X, y, W)
    U = rank_one_factors(W, X, y, cfg)
    ggn = torch.einsum("np,nq->npq", U, U)
    omitted = ggn_omitted_term(W, X, y, cfg)
    generic = ggn_residual(model_fn(cfg, 3, 8), logistic_loss_fn, W.reshape(-1), X, y)
    scale = H.abs().max()
    assert float((H - ggn - omitted).abs().max() / scale) <= 1e-10
    assert float((omitted - generic).abs().max() / scale) <= 1e-10
    assert float(omitted.abs().max() / scale) > 1e-3  # the GGN really omits something here


def test_analytic_gradients_match_autograd():
    for act in ("relu", "relu_q"):
        cfg, X, y, W = _setup(act)
        Wg = W.clone().requires_grad_(True)
        loss_value(Wg, X, y, cfg).backward()
        _, g, f = loss_and_grad(W, X, y, cfg)
        assert torch.allclose(g, Wg.grad, atol=1e-14)
        assert torch.allclose(f, forward(W, X, cfg))
        J = torch.func.vmap(torch.func.grad(model_fn(cfg, 3, 8)), in_dims=(None, 0))(
            W.reshape(-1), X)
        assert torch.allclose(J, per_sample_gradients(W, X, cfg), atol=1e-14)


def test_structured_gram_equals_factor_gram():
    for act in ("relu", "relu_q"):
        cfg, X, y, W = _setup(act, n=9, d=20, m=4)
        U = rank_one_factors(W, X, y, cfg)
        assert torch.allclose(rank_one_gram(W, X, y, cfg), U @ U.T, rtol=1e-12, atol=1e-14)


def test_signal_noise_decomposition_of_the_gram_matrix():
    """SPEC §5.4: <g_i, g_k> = (||mu||^2 y_i y_k N^mu_ik + N^xi_ik <xi_i, xi_k>) / m^2 (exact)."""
    cfg, X, y, W = _setup(n=8, d=30, m=4, snr=0.8)
    G = per_sample_gradients(W, X, cfg)
    gram = (G @ G.T).numpy()
    counts = activation_counts(W, X)
    xi = X[:, 1].numpy()
    mu2 = float((X[0, 0] ** 2).sum())
    yy = np.outer(y.numpy(), y.numpy())
    # N^mu is computed per class: the signal patch of sample i is y_i mu
    pred = callable_of("gram_inner")(mu2, yy, counts["signal"], counts["noise"], xi @ xi.T, 4)
    assert np.allclose(gram, pred, rtol=1e-12, atol=1e-12)
    opposite = yy < 0
    assert np.all(counts["signal"][opposite] == 0)  # signal couples only same-label samples


def test_patch_outputs_and_memorization_scores():
    cfg, X, y, W = _setup()
    assert torch.allclose(patch_outputs(W, X, cfg).sum(dim=1), forward(W, X, cfg))
    s = memorization_scores(W, X, y, cfg)
    assert s.shape == (6,) and np.isfinite(s).all()


def test_bad_model_input():
    cfg, X, y, W = _setup()
    bad = W.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        rank_one_factors(bad, X, y, cfg)
    with pytest.raises(InputError, match="m must be"):
        CNNConfig(m=0).validated()
    with pytest.raises(InputError, match="q >= 2"):
        CNNConfig(activation="relu_q", q=1.5).validated()
    with pytest.raises(InputError, match="activation"):
        CNNConfig(activation="gelu").validated()
    with pytest.raises(InputError, match="shape"):
        rank_one_factors(W[0], X, y, cfg)
