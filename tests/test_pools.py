r"""The pool protocol: PSD and signed pools against dense Hessians built independently.

Every reference here starts from the dense symmetric matrices :math:`H_i` themselves (never from a
pool method) and computes expectations by enumerating all without-replacement batches in float64.
The signed cases fail when any consumer (operator, simulator, bounds) reads the factors and drops
the signs: :math:`F_iF_i^\top=|H_i|\ne H_i` for indefinite :math:`H_i`.
"""

from itertools import combinations

import numpy as np
import pytest

from numerics.core.bounds import quadratic_forms, sufficient_bounds
from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import SecondMomentOperator
from numerics.core.pools import HessianPool, SignedPool, make_pool, signed_factors
from numerics.core.simulate import ms_growth_rate, one_step_second_moment
from numerics.verify.claims.policy import Kind, tolerance

ALPHA, BR, BF = 0.25, 2, 1


def _hessians(rng: np.random.Generator, n: int, d: int, signed: bool) -> np.ndarray:
    """Symmetric per-sample Hessians, indefinite (but with a positive-definite mean) when signed."""
    G = rng.standard_normal((n, d, d))
    if signed:
        return 0.5 * (G + G.transpose(0, 2, 1)) + 2.0 * np.eye(d)
    return G @ G.transpose(0, 2, 1) / d


def _pool(h: np.ndarray, name: str):
    ev, vec = np.linalg.eigh(h)
    f, s = signed_factors(ev, vec)
    return make_pool(f, s, name)


def _case(signed: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    d = 3
    hr = _hessians(rng, 5, d, signed)
    hf = 0.5 * _hessians(rng, 3, d, signed)
    return hr, hf


def _batches(hr: np.ndarray, hf: np.ndarray) -> np.ndarray:
    r"""All equally likely :math:`\hat A=(1-\alpha)\hat H_r-\alpha\hat H_f` (WOR batches)."""
    out = [(1 - ALPHA) * hr[list(br)].mean(0) - ALPHA * hf[list(bf)].mean(0)
           for br in combinations(range(len(hr)), BR) for bf in combinations(range(len(hf)), BF)]
    return np.array(out)


def _dense_T(batches: np.ndarray, eta: float) -> np.ndarray:
    r""":math:`\mathbb E[P\otimes P]`, :math:`P=I-\eta\hat A`, column-major vec (enumeration)."""
    d = batches.shape[1]
    P = np.eye(d) - eta * batches
    return np.einsum("cab,cij->aibj", P, P).reshape(d * d, d * d) / len(batches)


def _rho(batches: np.ndarray, eta: float) -> float:
    return float(np.abs(np.linalg.eigvals(_dense_T(batches, eta))).max())


def _eta_star(batches: np.ndarray) -> float:
    """Bisection on the enumerated rho(T(eta)) = 1 (numpy only)."""
    lo, hi = 0.0, 1.0
    while _rho(batches, hi) < 1.0:
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _rho(batches, mid) < 1.0 else (lo, mid)
    return 0.5 * (lo + hi)


def _operator(hr, hf) -> SecondMomentOperator:
    cfg = UnlearningConfig(ALPHA, BR, BF, "wor")
    return SecondMomentOperator(_pool(hr, "retain"), _pool(hf, "forget"), cfg, reduce=False)


@pytest.mark.parametrize("signed", [False, True])
def test_pool_operations_match_dense(signed):
    """Each protocol operation against its definition on the dense H_i (an identity)."""
    rng = np.random.default_rng(7)
    h = _case(signed)[0]
    pool = _pool(h, "retain")
    assert isinstance(pool, SignedPool if signed else HessianPool)
    tol = tolerance(Kind.IDENTITY).value
    scale = np.abs(h).max() ** 2

    def close(got, want, s=1.0):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * s)

    M = rng.standard_normal((3, 3))
    V = rng.standard_normal((3, 4))
    omega = rng.random((6, 5))
    delta = rng.standard_normal((6, 3))
    close(pool.dense(), h, np.abs(h).max())
    close(pool.mean(), h.mean(0), np.abs(h).max())
    close(pool.lambda_max(), np.linalg.eigvalsh(h)[:, -1], np.abs(h).max())
    close(pool.sum_sandwich(M), np.einsum("nab,bc,ncd->ad", h, M, h), scale * np.abs(M).max())
    close(pool.kron_sum(), sum(np.kron(x, x) for x in h), scale)
    close(pool.quadratic_forms(V), np.einsum("ac,nab,bc->nc", V, h, V), scale)
    close(pool.weighted_sum(omega), np.einsum("cn,nab->cab", omega, h), np.abs(h).max())
    close(pool.weighted_apply(delta, omega), np.einsum("rn,nab,rb->ra", omega, h, delta),
          np.abs(h).max())
    G = pool.square_majorant()
    gap = np.linalg.eigvalsh(np.einsum("nak,nbk->nab", G, G) - h @ h)[:, 0]
    assert gap.min() >= -tol * scale  # H_i^2 <= G_i G_i^T


@pytest.mark.parametrize("signed", [False, True])
def test_operator_on_signed_pools_is_the_enumerated_expectation(signed):
    """T(eta) of the operator equals E[P kron P] over all batches, built from dense H_i."""
    hr, hf = _case(signed)
    op = _operator(hr, hf)
    eta = 0.1
    ref = _dense_T(_batches(hr, hf), eta)
    np.testing.assert_allclose(op.dense_T(eta), ref, atol=tolerance(Kind.IDENTITY).value)
    M = np.random.default_rng(1).standard_normal((3, 3))
    M = M + M.T
    mf = (ref @ M.reshape(-1, order="F")).reshape(3, 3, order="F")
    np.testing.assert_allclose(op.apply(M, eta), mf, atol=tolerance(Kind.IDENTITY).value)


@pytest.mark.parametrize("signed", [False, True])
def test_simulated_second_moment_of_signed_pools(signed):
    r"""Monte Carlo :math:`\mathbb E[PMP]` (sampled batches) vs the enumerated expectation, in SEs."""
    hr, hf = _case(signed)
    op = _operator(hr, hf)
    eta = 0.1
    M = np.eye(3) + 0.3 * np.ones((3, 3))
    mean, se = one_step_second_moment(op, M, eta, draws=20000, seed=3)
    batches = _batches(hr, hf)
    P = np.eye(3) - eta * batches
    exact = np.einsum("cab,bd,cde->ae", P, M, P) / len(batches)
    z = np.abs(mean - exact) / np.where(se > 0, se, np.inf)
    assert np.isfinite(mean).all()
    assert z.max() <= tolerance(Kind.STATISTICAL).value


@pytest.mark.parametrize("signed", [False, True])
def test_simulated_growth_rate_of_signed_pools(signed):
    r"""Monte Carlo :math:`\rho` from trajectories vs :math:`\rho` of the enumerated dense T, in SEs."""
    hr, hf = _case(signed)
    op = _operator(hr, hf)
    batches = _batches(hr, hf)
    eta = 0.5 * _eta_star(batches)
    est = ms_growth_rate(op, eta, steps=1, n_traj=20000, seed=5)
    assert est.z_score(_rho(batches, eta)) <= tolerance(Kind.STATISTICAL).value


@pytest.mark.parametrize("signed", [False, True])
def test_bound_quadratic_forms_of_signed_pools(signed):
    r""":math:`a_v=v^\top Av` and :math:`s_v=\mathbb E[(v^\top(\hat A-A)v)^2]` by enumeration."""
    hr, hf = _case(signed)
    op = _operator(hr, hf)
    V = np.random.default_rng(2).standard_normal((3, 5))
    V /= np.linalg.norm(V, axis=0)
    a_v, s_v = quadratic_forms(op, V)
    batches = _batches(hr, hf)
    q = np.einsum("ac,nab,bc->nc", V, batches, V)  # v^T A_hat v per batch
    tol = tolerance(Kind.IDENTITY).value
    np.testing.assert_allclose(a_v, q.mean(0), rtol=tol, atol=tol)
    np.testing.assert_allclose(s_v, q.var(0), rtol=tol, atol=tol)


@pytest.mark.parametrize("signed", [False, True])
def test_sufficient_bounds_bracket_the_enumerated_threshold(signed):
    r""":math:`\eta_{\rm conv}\le\eta^\star_{ms}\le\eta_{\rm div}` with :math:`\eta^\star` by bisection
    on the enumerated :math:`\rho(\mathcal T(\eta))` (no operator code)."""
    hr, hf = _case(signed)
    b = sufficient_bounds(_operator(hr, hf))
    es = _eta_star(_batches(hr, hf))
    slack = tolerance(Kind.BRACKET).value + 1e-12  # plus the bisection's own resolution
    assert not b.escapes_at_every_eta
    assert np.isfinite([b.eta_conv, b.eta_div]).all() and b.eta_conv > 0
    assert b.eta_conv <= es * (1 + slack)
    assert es <= b.eta_div * (1 + slack)


def test_coherence_refuses_signed_factors():
    """The factor route of coherence would drop the signs: it must refuse a signed pool."""
    from numerics.core.inputs import InputError
    from numerics.curvature.coherence import coherence

    hr, hf = _case(True)
    with pytest.raises(InputError, match="signed"):
        coherence(_pool(hr, "retain"), _pool(hf, "forget"))
