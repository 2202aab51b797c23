"""Finite-horizon predictions (numerics.core.horizon, numerics.core.forcing) vs independent values."""

from __future__ import annotations

import numpy as np
import pytest

from numerics.apps.frontier import sigma_family_operator
from numerics.core.forcing import Forcing, forced_moments, steps_to_displacement
from numerics.core.horizon import (
    escape_probability,
    majority_probability,
    ms_growth,
    steps_to_growth,
)
from numerics.core.inputs import InputError, UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator
from numerics.core.simulate import sample_weights, trajectory_rule
from numerics.verify.claims.policy import POLICY, Kind
from theory import lyapunov as lya
from theory.sampling import exchangeable_names

K_SE = POLICY[Kind.STATISTICAL].value


def _random_op(seed: int, d: int = 6, n: int = 9, alpha: float = 0.1, sampling: str = "wor"):
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, d, 2))
    Ff = rng.standard_normal((4, d, 1))
    return SecondMomentOperator(as_pool(F, factors=True), as_pool(Ff, factors=True),
                                UnlearningConfig(alpha, 3, 2, sampling))


def _iterate(op, M0, eta, T):
    M, out = M0.copy(), [np.trace(M0)]
    for _ in range(T):
        M = op.apply(M, eta)
        out.append(np.trace(M))
    return np.array(out) / np.trace(M0)


@pytest.mark.parametrize("sampling", exchangeable_names())
def test_ms_growth_equals_exact_iteration(sampling):
    op = _random_op(1, sampling=sampling)
    eta = 0.4 / np.linalg.eigvalsh(op.A)[-1]
    T = 600
    iso = ms_growth(op, eta, T)
    assert np.max(np.abs(iso / _iterate(op, np.eye(op.dim), eta, T) - 1)) < 1e-9
    v = np.random.default_rng(2).standard_normal(op.dim)
    vec = ms_growth(op, eta, T, op.basis @ v)  # ambient coordinates of the reduced start v
    assert np.max(np.abs(vec / _iterate(op, np.outer(v, v), eta, T) - 1)) < 1e-9


def test_worst_start_is_top_eigenvalue_of_dense_powers():
    op = _random_op(5)
    eta = 0.3 / np.linalg.eigvalsh(op.A)[-1]
    Td = op.dense_T(eta)
    x = np.eye(op.dim).reshape(-1, order="F")
    want = [1.0]
    for _ in range(150):
        x = Td @ x
        want.append(np.linalg.eigvalsh(x.reshape(op.dim, op.dim, order="F"))[-1])
    got = ms_growth(op, eta, 150, "worst")
    assert np.max(np.abs(got / np.array(want) - 1)) < 1e-9
    assert np.all(got >= ms_growth(op, eta, 150) * (1 - 1e-12))  # worst >= isotropic


def test_ms_growth_matches_monte_carlo_within_its_standard_error():
    op = _random_op(7, d=4, n=6)
    eta = 0.5 / np.linalg.eigvalsh(op.A)[-1]
    v = np.ones(op.dim)
    T, R = 12, 100_000
    rng = np.random.default_rng(0)
    F = op.retain.factors.transpose(0, 2, 1).reshape(-1, op.dim)
    Ff = op.forget.factors.transpose(0, 2, 1).reshape(-1, op.dim)
    k = op.retain.k
    delta = np.tile(v, (R, 1))
    cfg = op.config
    for _ in range(T):
        wr = np.repeat(sample_weights(rng, cfg.sampling, op.retain.n, cfg.batch_retain, R), k, 1)
        wf = sample_weights(rng, cfg.sampling, op.forget.n, cfg.batch_forget, R)
        step = op.weight_retain * ((wr * (delta @ F.T)) @ F) \
            - op.weight_forget * ((wf * (delta @ Ff.T)) @ Ff)
        delta = delta - eta * step
    sq = np.einsum("ij,ij->i", delta, delta) / (v @ v)
    z = abs(sq.mean() - ms_growth(op, eta, T, op.basis @ v)[-1]) / (sq.std(ddof=1) / np.sqrt(R))
    assert z < K_SE


def test_steps_to_growth_is_the_first_crossing():
    op = _random_op(3)
    eta = 1.5 * op.eta_star_ms()
    g = _iterate(op, np.eye(op.dim), eta, 800)
    t = steps_to_growth(op, eta, 50.0, max_steps=800)
    assert t is not None and g[t] >= 50.0 > g[t - 1]
    assert steps_to_growth(op, 0.5 * op.eta_star_ms(), 2.0, max_steps=500) is None


def test_escape_probability_exact_vs_simulated_rule_issue_cell():
    # sigma-family n=40, alpha=0.3, WOR, c=2, sigma=2, B=5 at 0.85 eta*_as (about half escape)
    op = sigma_family_operator(dict(n=40, sigma=2, batch=5, alpha=0.3, sampling="wor"))
    eta = 0.85 * lya.identical_lists_eta_star_as("wor", 2, 40, 5, 0.3)
    pred = escape_probability(op, eta, 1000.0, 1000)
    assert pred.method == "exact multiplier law"
    R = 300
    sim = trajectory_rule(op, eta, repetitions=R, seed=21).fraction
    se = np.sqrt(max(pred.value * (1 - pred.value), 1e-4) / R)
    assert abs(sim - pred.value) < K_SE * np.hypot(se, pred.stderr)
    assert 0.3 < pred.value < 0.7


def test_monte_carlo_method_and_majority():
    op = _random_op(2, d=3, n=5)
    eta = 1.2 * op.eta_star_ms()
    est = escape_probability(op, eta, 10.0, 50, samples=200, seed=1)
    assert est.method == "monte carlo" and est.samples == 200
    assert majority_probability(0.5, 10) == pytest.approx(0.376953125)  # P(Bin(10, .5) >= 6)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(growth=1.0, horizon=10), "growth factor"),
    (dict(growth=10.0, horizon=0), "horizon"),
    (dict(growth=10.0, horizon=10, method="exact"), "commuting"),
    (dict(growth=10.0, horizon=10, method="guess"), "unknown method"),
])
def test_bad_input_is_one_line_input_error(kwargs, msg):
    op = _random_op(2, d=3, n=5)
    with pytest.raises(InputError, match=msg) as err:
        escape_probability(op, 0.1, **kwargs)
    assert "\n" not in str(err.value)


def test_bad_growth_and_start():
    op = _random_op(2, d=3, n=5)
    with pytest.raises(InputError, match="growth factor"):
        steps_to_growth(op, 0.1, 0.5)
    with pytest.raises(InputError, match="start"):
        ms_growth(op, 0.1, 5, "best")
    with pytest.raises(InputError, match="length"):
        ms_growth(op, 0.1, 5, np.ones(op.dim + 7))


def _forced_monte_carlo(op, gr, gf, eta, T, R, seed):
    rng = np.random.default_rng(seed)
    cfg = op.config
    Hr = op.retain.dense() if op.basis.shape[0] == op.basis.shape[1] else None
    del Hr
    Fr = np.einsum("ak,nkl->nal", op.basis, op.retain.factors)  # ambient factors
    Ff = np.einsum("ak,nkl->nal", op.basis, op.forget.factors)
    Hr = np.einsum("nik,njk->nij", Fr, Fr)
    Hf = np.einsum("nik,njk->nij", Ff, Ff)
    delta = np.zeros((R, op.ambient_dim))
    for _ in range(T):
        wr = sample_weights(rng, cfg.sampling, op.retain.n, cfg.batch_retain, R)
        wf = sample_weights(rng, cfg.sampling, op.forget.n, cfg.batch_forget, R)
        Ad = op.weight_retain * np.einsum("rn,nij,rj->ri", wr, Hr, delta) \
            - op.weight_forget * np.einsum("rn,nij,rj->ri", wf, Hf, delta)
        delta = delta - eta * (Ad + op.weight_retain * (wr @ gr) - op.weight_forget * (wf @ gf))
    return delta


@pytest.mark.parametrize("sampling", exchangeable_names())
def test_forced_moments_match_simulated_affine_recursion(sampling):
    rng = np.random.default_rng(11)
    d, n, nf = 6, 7, 4
    F = np.concatenate([rng.standard_normal((n, d - 2, 1)), np.zeros((n, 2, 1))], 1)
    Ff = np.concatenate([rng.standard_normal((nf, d - 2, 1)), np.zeros((nf, 2, 1))], 1)
    gr, gf = 0.3 * rng.standard_normal((n, d)), 0.3 * rng.standard_normal((nf, d))
    op = SecondMomentOperator(as_pool(F, factors=True), as_pool(Ff, factors=True),
                              UnlearningConfig(0.2, 3, 2, sampling))
    eta, T, R = 0.1, 25, 60_000
    fm = forced_moments(op, Forcing(gr, gf), eta, T)
    delta = _forced_monte_carlo(op, gr, gf, eta, T, R, seed=5)
    sq = np.einsum("ij,ij->i", delta, delta)
    assert abs(sq.mean() - fm.second[-1]) < K_SE * sq.std(ddof=1) / np.sqrt(R)
    # mean: closed form m_t = -eta sum_s (I - eta A)^s gbar, in ambient coordinates
    A_amb = op.basis @ op.A @ op.basis.T
    gbar = op.weight_retain * gr.mean(0) - op.weight_forget * gf.mean(0)
    m = np.zeros(d)
    for _ in range(T):
        m = m - eta * (A_amb @ m) - eta * gbar
    assert np.allclose(fm.mean[-1], m, rtol=1e-10, atol=1e-13)
    t = steps_to_displacement(op, Forcing(gr, gf), eta, np.sqrt(fm.second[10]) * (1 - 1e-9), max_steps=T)
    assert t is not None and t <= 10


def test_forcing_bad_input():
    op = _random_op(2, d=3, n=5)
    with pytest.raises(InputError, match="shape"):
        forced_moments(op, Forcing(np.zeros((5, 2)), np.zeros((4, 3))), 0.1, 3)
    with pytest.raises(InputError, match="radius"):
        steps_to_displacement(op, Forcing(np.zeros((5, 3)), np.zeros((4, 3))), 0.1, -1.0)
