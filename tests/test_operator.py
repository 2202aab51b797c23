"""The exact second-moment operator: Kronecker vs matrix-free vs bisection, metamorphic tests."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.inputs import UnlearningConfig, as_pool
from numerics.core.instances import random_instance, random_orthogonal
from numerics.core.operator import SecondMomentOperator
from theory.sampling import exchangeable_names

# Two exact float64 computations of one quantity (eigvalsh of the r^2 x r^2 matrix vs Lanczos
# with tol 1e-13; generalized eigh vs bisection to 1e-13): they agree to round-off times the
# conditioning of the eigenproblem, which stays below 1e-9 on these small instances.
EXACT_RTOL = 1e-9


def _stable_instance(seed, **kw):
    rng = np.random.default_rng(seed)
    while True:
        inst = random_instance(rng, **kw)
        op = inst.operator()
        if not op.mean_escape().escapes_at_every_eta:
            return inst, op


@pytest.mark.parametrize("sampling", exchangeable_names())
def test_apply_matches_dense_kronecker(sampling):
    inst, op = _stable_instance(0, sampling=sampling)
    rng = np.random.default_rng(1)
    M = rng.standard_normal((op.dim, op.dim))
    M = M + M.T
    eta = 0.7 * op.eta_star_ms()
    dense = (op.dense_T(eta) @ M.reshape(-1, order="F")).reshape(op.dim, op.dim, order="F")
    np.testing.assert_allclose(op.apply(M, eta), dense, rtol=EXACT_RTOL, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_dense_and_lanczos_agree(seed):
    inst, op = _stable_instance(seed, d=5, n_retain=7, n_forget=3)
    eta_d = op.eta_star_ms("dense")
    eta_l = op.eta_star_ms("lanczos")
    eta_b = op.eta_star_bisect()
    assert eta_l == pytest.approx(eta_d, rel=EXACT_RTOL)
    assert eta_b == pytest.approx(eta_d, rel=EXACT_RTOL)
    for eta in (0.3 * eta_d, eta_d, 1.4 * eta_d):
        assert op.rho(eta, "lanczos") == pytest.approx(op.rho(eta, "dense"), rel=EXACT_RTOL)
    # the threshold is tight: rho(T(eta*)) = 1
    assert op.rho(eta_d, "dense") == pytest.approx(1.0, abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_stable_set_is_an_interval(seed):
    """SPEC §2.3(d): rho < 1 exactly on (0, eta*)."""
    inst, op = _stable_instance(seed, d=3, n_retain=5, n_forget=2)
    eta = op.eta_star_ms()
    for f in (0.05, 0.4, 0.9, 0.999):
        assert op.rho(f * eta) < 1.0
    for f in (1.001, 1.3, 3.0):
        assert op.rho(f * eta) > 1.0


def test_mean_escape_gives_rho_above_one_for_every_eta():
    """SPEC §2.3(c): lambda_min(A|V) < 0 implies rho >= (1 + eta |lambda_min|)^2."""
    rng = np.random.default_rng(5)
    retain = rng.standard_normal((4, 3, 1))
    forget = rng.standard_normal((2, 3, 1)) * 3.0
    op = SecondMomentOperator(retain, forget, UnlearningConfig(0.6, 2, 1, "wor"))
    esc = op.mean_escape()
    assert esc.escapes_at_every_eta and esc.lambda_min < 0
    for eta in (1e-4, 1e-2, 1.0):
        assert op.rho(eta) >= (1 + eta * abs(esc.lambda_min)) ** 2 * (1 - 1e-12)
    assert op.eta_star_ms() == 0.0
    # the witness is a unit eigenvector of A with the reported eigenvalue
    w = esc.witness
    A_full = op.basis @ op.A @ op.basis.T
    np.testing.assert_allclose(A_full @ w, esc.lambda_min * w, atol=1e-12)


def test_reduction_to_active_subspace_preserves_rho():
    """Embedding in a larger ambient space (zero curvature outside V) changes nothing."""
    inst, op = _stable_instance(3, d=4)
    pad = lambda p: np.concatenate([p.factors, np.zeros((p.n, 5, p.k))], axis=1)  # noqa: E731
    big = SecondMomentOperator(as_pool(pad(inst.retain), factors=True),
                               as_pool(pad(inst.forget), factors=True), inst.config)
    assert big.dim == op.dim and big.ambient_dim == op.ambient_dim + 5
    eta = 0.8 * op.eta_star_ms()
    assert big.rho(eta) == pytest.approx(op.rho(eta), rel=EXACT_RTOL)
    full = SecondMomentOperator(inst.retain, inst.forget, inst.config, reduce=False)
    assert full.rho(eta) == pytest.approx(op.rho(eta), rel=EXACT_RTOL)


@pytest.mark.parametrize("seed", range(4))
def test_metamorphic_invariances(seed):
    """Permuting samples, rotating every H by one orthogonal R, scaling H by s and eta by 1/s."""
    inst, op = _stable_instance(seed, d=4, n_retain=6, n_forget=3)
    eta = 0.9 * op.eta_star_ms()
    rng = np.random.default_rng(seed + 100)
    perm_r, perm_f = rng.permutation(inst.retain.n), rng.permutation(inst.forget.n)
    permuted = SecondMomentOperator(inst.retain.subset(perm_r), inst.forget.subset(perm_f),
                                    inst.config)
    R = random_orthogonal(rng, inst.retain.d)
    rotated = SecondMomentOperator(inst.retain.rotate(R), inst.forget.rotate(R), inst.config)
    s = 7.5
    scaled = SecondMomentOperator(as_pool(np.sqrt(s) * inst.retain.factors, factors=True),
                                  as_pool(np.sqrt(s) * inst.forget.factors, factors=True),
                                  inst.config)
    for other, e in ((permuted, eta), (rotated, eta), (scaled, eta / s)):
        assert other.rho(e) == pytest.approx(op.rho(eta), rel=EXACT_RTOL)
        assert other.mean_square_stable(e) == op.mean_square_stable(eta)
    assert scaled.eta_star_ms() * s == pytest.approx(op.eta_star_ms(), rel=EXACT_RTOL)


def test_batch_monotonicity_on_random_instances():
    """SPEC §2.3(e): eta* is non-decreasing in B_r and in B_f."""
    rng = np.random.default_rng(11)
    for _ in range(5):
        inst = random_instance(rng, d=3, n_retain=6, n_forget=4, alpha_max=0.2)
        prev = None
        for br in range(1, 7):
            cfg = UnlearningConfig(inst.config.alpha, br, 2, inst.config.sampling)
            op = SecondMomentOperator(inst.retain, inst.forget, cfg)
            e = op.eta_star_ms()
            if prev is not None:
                assert e >= prev * (1 - 1e-10)
            prev = e


def test_large_dimension_is_matrix_free():
    """d = 200 rank-one samples: Lanczos works without an r^2 x r^2 matrix."""
    rng = np.random.default_rng(0)
    U = rng.standard_normal((150, 200, 1))
    op = SecondMomentOperator(U, None, UnlearningConfig(0.0, 10, 1, "wor"))
    assert op.dim == 150
    eta = op.eta_star_ms("lanczos")
    assert op.rho(eta, "lanczos") == pytest.approx(1.0, abs=1e-8)
