"""Generic per-sample curvature: dense Hessians, GGN factors, residual, active subspace."""

import numpy as np
import pytest
import torch

from numerics.core.inputs import InputError, UnlearningConfig
from numerics.core.operator import SecondMomentOperator
from numerics.curvature.hessians import (
    factors_from_gradients,
    functional_model,
    ggn_factors,
    ggn_residual,
    out_of_span_fraction,
    per_sample_hessians,
    per_sample_jacobians,
    reduce_to_active,
    to_pool,
)


@pytest.fixture(autouse=True)
def _float64_default():
    """Every test here builds float64 tensors by default; the default is restored afterwards
    (set at import, it leaked into every later test module and changed their trained models)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _mlp(out: int = 1, seed: int = 0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, out))
    return net.double()


def _logistic(o, t):
    return torch.nn.functional.softplus(-t * o)


def _xent(o, t):
    return torch.nn.functional.cross_entropy(o.unsqueeze(0), t.unsqueeze(0))


def test_functional_model_matches_module():
    net = _mlp()
    fn, theta = functional_model(net)
    x = torch.randn(5, 3)
    out = torch.stack([fn(theta, xi) for xi in x])
    assert torch.allclose(out, net(x), atol=1e-14)


def test_hessian_is_ggn_plus_residual_scalar_output():
    net = _mlp()
    fn, theta = functional_model(net)
    x, t = torch.randn(6, 3), torch.tensor([1.0, -1, 1, 1, -1, -1])
    H = per_sample_hessians(fn, _logistic, theta, x, t)
    F = ggn_factors(fn, _logistic, theta, x, t)
    R = ggn_residual(fn, _logistic, theta, x, t)
    ggn = torch.einsum("npk,nqk->npq", F, F)
    assert F.shape == (6, theta.numel(), 1)
    assert (H - ggn - R).abs().max() <= 1e-12 * H.abs().max()
    assert R.abs().max() > 1e-3 * H.abs().max()  # tanh: the omitted term is really there


def test_ggn_factors_multiclass_equal_jacobian_form():
    net = _mlp(out=3)
    fn, theta = functional_model(net)
    x, t = torch.randn(4, 3), torch.tensor([0, 2, 1, 2])
    F = ggn_factors(fn, _xent, theta, x, t)
    J = per_sample_jacobians(fn, theta, x)  # (n, 3, P)
    p = torch.softmax(torch.stack([fn(theta, xi) for xi in x]), dim=1)
    lam = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    ref = torch.einsum("ncp,ncd,ndq->npq", J, lam, J)
    assert (torch.einsum("npk,nqk->npq", F, F) - ref).abs().max() < 1e-12


def test_linear_model_ggn_is_exact():
    net = torch.nn.Linear(4, 1).double()
    fn, theta = functional_model(net)
    x, t = torch.randn(5, 4), torch.tensor([1.0, -1, 1, -1, 1])
    H = per_sample_hessians(fn, _logistic, theta, x, t)
    F = ggn_factors(fn, _logistic, theta, x, t)
    assert (H - torch.einsum("npk,nqk->npq", F, F)).abs().max() < 1e-14


def test_factors_from_gradients_clamps_roundoff_and_rejects_negative():
    g = torch.randn(3, 5)
    u = factors_from_gradients(g, torch.tensor([1.0, 0.5, -1e-18]))
    assert u.shape == (3, 5, 1) and torch.all(u[2] == 0)
    with pytest.raises(InputError, match="negative"):
        factors_from_gradients(g, torch.tensor([1.0, -0.5, 0.2]))


def test_nan_params_and_bad_shapes_raise():
    net = _mlp()
    fn, theta = functional_model(net)
    bad = theta.clone()
    bad[2] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        ggn_factors(fn, _logistic, bad, torch.randn(2, 3), torch.ones(2))
    with pytest.raises(InputError, match="sample count"):
        per_sample_hessians(fn, _logistic, theta, torch.randn(2, 3), torch.ones(3))
    with pytest.raises(InputError, match="flat"):
        per_sample_hessians(fn, _logistic, theta[None], torch.randn(2, 3), torch.ones(2))


def test_reduce_to_active_preserves_gram_and_rank():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((6, 40))
    U[5] = U[0] + U[1]  # rank 5
    V = rng.standard_normal((3, 40, 2))
    red = reduce_to_active(U[:, :, None], V)
    Zr, Zf = red.factors
    assert red.rank == 5 + 6 and Zr.shape == (6, 11, 1) and Zf.shape == (3, 11, 2)
    cols = np.concatenate([U.T, V.transpose(1, 0, 2).reshape(40, -1)], axis=1)
    zc = np.concatenate([Zr[:, :, 0].T, Zf.transpose(1, 0, 2).reshape(11, -1)], axis=1)
    assert np.allclose(zc.T @ zc, cols.T @ cols, atol=1e-11)


def test_reduced_operator_equals_ambient_operator():
    rng = np.random.default_rng(1)
    U, V = rng.standard_normal((5, 12)), rng.standard_normal((2, 12))
    cfg = UnlearningConfig(0.2, 2, 1, "wor")
    Zr, Zf = reduce_to_active(U, V).factors
    a = SecondMomentOperator(to_pool(Zr, "retain"), to_pool(Zf, "forget"), cfg)
    b = SecondMomentOperator(U[:, :, None], V[:, :, None], cfg)
    assert a.rho(0.05) == pytest.approx(b.rho(0.05), rel=1e-10)
    assert a.mean_escape().lambda_min == pytest.approx(b.mean_escape().lambda_min, rel=1e-10)


def test_out_of_span_fraction():
    e = np.eye(4)
    retain = e[:2, :, None]
    phi, per = out_of_span_fraction(retain, np.stack([e[0], e[2], e[1] + e[3]])[:, :, None])
    assert per == pytest.approx([0.0, 1.0, 0.5])
    assert phi == pytest.approx((0 + 1 + 1) / (1 + 1 + 2))


def test_empty_or_zero_factors_raise():
    with pytest.raises(InputError, match="empty"):
        reduce_to_active(np.zeros((3, 5)))
    with pytest.raises(InputError):
        reduce_to_active(np.zeros((0, 5)))


def test_psd_root_near_one_hot_softmax_is_roundoff_not_negative():
    """A logit gap of 30 gives Λ_i ~ 1e-13 with round-off ~ 5e-17: that is not a negative curvature.

    The round-off is judged against the batch's curvature scale (the moderate sample's Λ ~ 0.2),
    and the factor still reproduces Λ to that round-off; a genuinely indefinite Λ still raises.
    """
    from numerics.curvature.hessians import RootOptions, output_curvature, psd_roots

    outs = torch.tensor([[30.0, 0.0, 0.0, -1.0], [0.3, 0.1, -0.2, 0.0]])
    lam = output_curvature(_xent, outs, torch.tensor([0, 1]), (4,))
    assert float(torch.linalg.eigvalsh(lam[0])[0]) < 0  # the round-off this test is about
    (root,) = psd_roots([lam], RootOptions(rtol=1e-10))
    scale = float(torch.linalg.eigvalsh(lam).abs().max())
    err = float((root @ root.transpose(-1, -2) - lam).abs().max())
    assert err <= 1e-14 * scale, err
    bad = lam.clone()
    bad[1] = torch.diag(torch.tensor([0.2, -0.1, 0.0, 0.0]))
    with pytest.raises(InputError, match="sample 1 is not PSD"):
        psd_roots([bad], RootOptions(rtol=1e-10))


def test_functional_model_skips_frozen_parameters():
    """Frozen parameters stay at their values and are not part of θ (the run cannot move them)."""
    net = _mlp()
    net[0].weight.requires_grad_(False)
    fn, theta = functional_model(net)
    assert theta.numel() == sum(p.numel() for p in net.parameters() if p.requires_grad) == 9
    x = torch.randn(3)
    assert torch.allclose(fn(theta, x), net(x.unsqueeze(0)).squeeze(0).detach())
    for p in net.parameters():
        p.requires_grad_(False)
    with pytest.raises(InputError, match="requires_grad=True"):
        functional_model(net)
