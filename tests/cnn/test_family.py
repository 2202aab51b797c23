"""The model-family protocol: registries, unknown names, loss derivatives, exact curvature."""

import pytest
import torch

from numerics.apps.cnn.data import DataConfig, make_data
from numerics.apps.cnn.family import activation, activation_names, loss, loss_names
from numerics.apps.cnn.model import CNNConfig, init_weights, model_family, model_fn
from numerics.core.inputs import InputError
from numerics.curvature.hessians import per_sample_hessians


def test_registries_are_discovered_from_their_modules():
    assert set(activation_names()) >= {"relu", "relu_q"}
    assert set(loss_names()) >= {"logistic", "squared"}


@pytest.mark.parametrize("field,value", [("activation", "tanh"), ("activation", "relu_Q"),
                                         ("loss", "hinge"), ("loss", "")])
def test_unknown_names_are_errors(field, value):
    with pytest.raises(InputError, match=f"unknown {field}"):
        CNNConfig(**{field: value}).validated()
    with pytest.raises(InputError):
        model_family(CNNConfig(**{field: value}))


@pytest.mark.parametrize("name", ["logistic", "squared"])
def test_loss_derivatives_match_autograd(name):
    gen = torch.Generator().manual_seed(3)
    f = (4 * torch.randn(50, generator=gen, dtype=torch.float64)).requires_grad_(True)
    y = torch.where(torch.rand(50, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
    ell, d1, d2 = loss(name).derivatives(f, y)
    g, = torch.autograd.grad(ell.sum(), f, create_graph=True)
    h, = torch.autograd.grad(g.sum(), f)
    assert torch.allclose(ell, loss(name).per_sample(f, y), rtol=1e-14, atol=0)
    assert torch.allclose(d1, g, rtol=1e-12, atol=1e-15)
    assert torch.allclose(d2, h, rtol=1e-12, atol=1e-15)
    zero = loss(name).per_sample(torch.zeros(2, dtype=torch.float64),
                                 torch.tensor([-1.0, 1.0], dtype=torch.float64))
    assert torch.allclose(zero, torch.full((2,), loss(name).uninformative, dtype=torch.float64))


@pytest.mark.parametrize("name", ["relu", "relu_q"])
def test_activation_derivatives_match_autograd(name):
    z = torch.linspace(-2, 2, 41, dtype=torch.float64)[1::2].requires_grad_(True)  # no kink at 0
    act = activation(name)
    v = act.value(z, 3.0)
    g, = torch.autograd.grad(v.sum(), z, create_graph=True)
    h, = torch.autograd.grad(g.sum(), z, allow_unused=True)
    h = torch.zeros_like(z) if h is None else h
    assert torch.allclose(act.grad(z, 3.0), g, rtol=1e-13, atol=1e-15)
    assert torch.allclose(act.hess(z, 3.0), h, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_squared_loss_relu_hessian_is_g_g_transpose(seed):
    """With the second layer fixed, H_i = g_i g_i^T exactly for the squared loss (vs torch.func)."""
    cfg = CNNConfig(m=3, activation="relu", loss="squared")
    data = make_data(DataConfig(n_train=6, n_test=2, d=8, snr=1.0, seed=seed))
    X, y = data.x_train, data.y_train
    W = init_weights(8, cfg, 0.5, seed=seed)
    fam = model_family(cfg)
    H = per_sample_hessians(model_fn(cfg, 3, 8), fam.loss.per_sample, W.reshape(-1), X, y)
    g = fam.per_sample_gradients(W, X)
    U = fam.curvature_factors(W, X, y)
    assert fam.factors_exact
    assert float((H - torch.einsum("np,nq->npq", g, g)).abs().max() / H.abs().max()) <= 1e-12
    assert torch.allclose(U, g, rtol=0, atol=0)
    assert float(fam.omitted_term(W, X, y).abs().max()) == 0.0


def test_squared_loss_relu_q_ggn_plus_omitted_is_exact():
    cfg = CNNConfig(m=3, activation="relu_q", q=3.0, loss="squared")
    data = make_data(DataConfig(n_train=5, n_test=2, d=8, snr=1.0, seed=4))
    X, y = data.x_train, data.y_train
    W = init_weights(8, cfg, 0.5, seed=4)
    fam = model_family(cfg)
    H = per_sample_hessians(model_fn(cfg, 3, 8), fam.loss.per_sample, W.reshape(-1), X, y)
    U = fam.curvature_factors(W, X, y)
    omitted = fam.omitted_term(W, X, y)
    assert not fam.factors_exact
    scale = H.abs().max()
    assert float((H - torch.einsum("np,nq->npq", U, U) - omitted).abs().max() / scale) <= 1e-10
    assert float(omitted.abs().max() / scale) > 1e-3
