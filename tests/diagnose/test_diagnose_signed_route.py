"""Signed (indefinite) curvature and the curvature routes."""

import numpy as np
import pytest
import torch

from numerics.apps.diagnose.data import FlatModel, as_dataset
from numerics.apps.diagnose.route import choose_route, compute_curvature, dense_hessians
from numerics.core.inputs import InputError, UnlearningConfig
from numerics.core.operator import SecondMomentOperator
from numerics.core.pools import SignedPool, make_pool, signed_factors
from theory.sampling import exchangeable_names


def _indefinite(rng, n, d):
    G = rng.standard_normal((n, d, d))
    return 0.5 * (G + G.transpose(0, 2, 1)) + 2.0 * np.eye(d)  # indefinite but mean PD


def _pool(h, name):
    ev, vec = np.linalg.eigh(h)
    f, s = signed_factors(ev, vec)
    return make_pool(f, s, name)


def test_signed_pool_reproduces_dense():
    rng = np.random.default_rng(0)
    h = _indefinite(rng, 5, 3)
    p = _pool(h, "retain")
    assert isinstance(p, SignedPool) and (p.signs < 0).any()
    np.testing.assert_allclose(p.dense(), h, atol=1e-12)
    np.testing.assert_allclose(p.mean(), h.mean(0), atol=1e-12)
    np.testing.assert_allclose(p.lambda_max(), np.linalg.eigvalsh(h)[:, -1], atol=1e-10)


@pytest.mark.parametrize("sampling", exchangeable_names())
def test_signed_operator_matches_expectation_formula(sampling, batch_enumeration):
    """T(M) = E[(I - eta A_hat) M (I - eta A_hat)] by brute force over every pair of batches."""
    rng = np.random.default_rng(1)
    d, n_r, n_f = 3, 4, 2
    hr, hf = _indefinite(rng, n_r, d), 0.3 * _indefinite(rng, n_f, d)
    cfg = UnlearningConfig(0.2, 2, 1, sampling)
    op = SecondMomentOperator(_pool(hr, "retain"), _pool(hf, "forget"), cfg, reduce=False)
    M = rng.standard_normal((d, d))
    M = M + M.T
    eta = 0.1
    out = op.apply(M, eta)
    acc = np.zeros((d, d))
    enum = batch_enumeration(sampling)
    for p_r, z_r in enum(n_r, 2):
        for p_f, z_f in enum(n_f, 1):
            A = 0.8 * np.einsum("i,ijk->jk", z_r / 2, hr) - 0.2 * np.einsum("i,ijk->jk", z_f, hf)
            P = np.eye(d) - eta * A
            acc += p_r * p_f * (P @ M @ P)
    np.testing.assert_allclose(out, acc, atol=1e-12)
    dense = (op.dense_T(eta) @ M.reshape(-1, order="F")).reshape(d, d, order="F")
    np.testing.assert_allclose(out, dense, atol=1e-12)
    assert op.eta_star_ms() > 0


class _Tanh(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.l1 = torch.nn.Linear(3, 4).double()
        self.l2 = torch.nn.Linear(4, 2).double()
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))

    def forward(self, x):
        return self.l2(torch.tanh(self.l1(x)))


def _ce(o, t):
    return torch.nn.functional.cross_entropy(o, t, reduction="none")


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (n,),
                                                                              generator=g)


def test_dense_route_is_exact_and_ggn_residual_is_measured():
    model = _Tanh()
    flat = FlatModel(model)
    r, f = as_dataset(_data(6, 1), "retain"), as_dataset(_data(3, 2), "forget")
    dense = compute_curvature(flat, _ce, r, f, route="dense", progress=False)
    assert dense.route == "dense" and dense.info["exact"]
    h = dense_hessians(flat, _ce, r, chunk=2)
    # reference: torch.autograd.functional.hessian sample by sample
    for i in range(r.n):
        def li(theta, i=i):
            return _ce(flat.forward(theta, r.inputs[i:i + 1]), r.targets[i:i + 1])[0]
        ref = torch.autograd.functional.hessian(li, flat.theta)
        np.testing.assert_allclose(h[i].numpy(), ref.numpy(), atol=1e-10)
    F, S = dense.retain.numpy(), dense.retain_signs
    if S is None:
        S = np.ones(F.shape[::2])
    np.testing.assert_allclose(np.einsum("npk,nqk->npq", F * S[:, None, :], F), h.numpy(),
                               atol=1e-9)
    ggn = compute_curvature(flat, _ce, r, f, route="ggn", progress=False)
    res = ggn.info["ggn_residual"]
    assert ggn.route.startswith("ggn") and res["measured"]
    assert res["relative_max"] > 1e-6  # tanh: the omitted term is not zero


def test_ggn_exact_for_linear_model():
    model = torch.nn.Linear(3, 2, bias=False).double()
    flat = FlatModel(model)
    r, f = as_dataset(_data(5, 3), "retain"), as_dataset(_data(2, 4), "forget")
    ggn = compute_curvature(flat, _ce, r, f, route="ggn", progress=False)
    assert ggn.info["ggn_residual"]["relative_max"] < 1e-12
    assert ggn.retain.shape[2] == 1  # softmax over 2 classes: one live output direction


def test_route_choice_and_memory_errors():
    assert choose_route("auto", 100, 50, 10, 2**30) == "dense"
    assert choose_route("auto", 5000, 50, 10, 2**30) == "ggn"
    with pytest.raises(InputError, match="--max-samples"):
        choose_route("auto", 10**6, 10**4, 10, 2**30)
    with pytest.raises(InputError, match="--route ggn"):
        choose_route("dense", 5000, 10, 1, 2**30)
    with pytest.raises(InputError, match="unknown curvature route"):
        choose_route("magic", 10, 10, 1, 2**30)
