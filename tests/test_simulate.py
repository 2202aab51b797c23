"""Monte-Carlo against the exact operator: each within 4 standard errors (policy STATISTICAL)."""

import numpy as np
import pytest

from numerics.core.instances import random_instance
from numerics.core.simulate import (
    lyapunov_exponent,
    ms_growth_rate,
    one_step_second_moment,
    sample_weights,
    trajectory_rule,
)
from numerics.verify.claims.policy import POLICY, Kind
from theory.sampling import exchangeable_names, scheme_names

K_SE = POLICY[Kind.STATISTICAL].value


def _instance(seed, sampling):
    rng = np.random.default_rng(seed)
    while True:
        op = random_instance(rng, d=3, n_retain=5, n_forget=3, sampling=sampling).operator()
        if not op.mean_escape().escapes_at_every_eta:
            return op


@pytest.mark.parametrize("sampling", scheme_names())
def test_batch_weights_have_the_derived_moments(sampling):
    from theory.moments import B, batch_moments, n
    from theory.sampling import get_scheme

    n_pool, batch = get_scheme(sampling).admissible_sizes(6, 2)  # (6, 2) where admitted
    rng = np.random.default_rng(0)
    w = sample_weights(rng, sampling, n_pool, batch, 200_000)
    mom = batch_moments(sampling)
    sub = {n: n_pool, B: batch}
    e2, se2 = (w[:, 0] ** 2).mean(), (w[:, 0] ** 2).std() / np.sqrt(len(w))
    eoo, seoo = (w[:, 0] * w[:, 1]).mean(), (w[:, 0] * w[:, 1]).std() / np.sqrt(len(w))
    assert abs(e2 - float(mom.e_omega2.subs(sub))) <= K_SE * se2
    assert abs(eoo - float(mom.e_omega_omega.subs(sub))) <= K_SE * seoo
    if sampling == "wor":
        assert np.allclose(w.sum(axis=1), 1.0)


@pytest.mark.parametrize("sampling", exchangeable_names())
def test_one_step_second_moment(sampling):
    op = _instance(1, sampling)
    rng = np.random.default_rng(2)
    G = rng.standard_normal((op.dim, op.dim))
    M = G @ G.T
    eta = 1.2 * op.eta_star_ms()
    mc, se = one_step_second_moment(op, M, eta, draws=100_000, seed=3)
    exact = op.apply(M, eta)
    # full batches have zero variance: floor the SE at float64 round-off of the sum
    z = np.abs(mc - exact) / np.maximum(se, 1e-12 * np.abs(exact).max())
    # 9 entries tested at once: a Bonferroni margin keeps the family-wise error near 0.05%.
    assert z.max() <= K_SE + 0.5, f"max z {z.max():.2f}\nmc={mc}\nexact={exact}"


@pytest.mark.parametrize("sampling", exchangeable_names())
def test_ms_growth_rate_within_4_se(sampling):
    op = _instance(4, sampling)
    for factor in (0.8, 1.15):
        eta = factor * op.eta_star_ms()
        est = ms_growth_rate(op, eta, steps=2, n_traj=40_000, seed=5)
        rho = op.rho(eta)
        assert est.z_score(rho) <= K_SE, f"rho={rho} est={est}"
        assert (est.value < 1) == (rho < 1) or est.z_score(1.0) < K_SE


def test_lyapunov_below_half_log_rho():
    """Jensen (SPEC §2.4): gamma <= log(rho)/2; here ms-unstable but a.s. stable is possible."""
    op = _instance(6, "wor")
    eta = 1.1 * op.eta_star_ms()
    g = lyapunov_exponent(op, eta, steps=1500, n_traj=32, seed=7)
    assert g.value - K_SE * g.stderr <= 0.5 * np.log(op.rho(eta))


def test_trajectory_rule_far_from_boundary():
    op = _instance(8, "bernoulli")
    eta = op.eta_star_ms()
    assert not trajectory_rule(op, 0.3 * eta, seed=1).escapes
    assert trajectory_rule(op, 6.0 * eta, seed=1).escapes


def test_simulation_is_reproducible():
    op = _instance(9, "wr")
    a = ms_growth_rate(op, 0.5, steps=1, n_traj=100, seed=42)
    b = ms_growth_rate(op, 0.5, steps=1, n_traj=100, seed=42)
    assert a == b
