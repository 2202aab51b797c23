"""SPEC §3.4: the sufficient conditions bracket the exact threshold (property-based)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.bounds import sufficient_bounds
from numerics.core.instances import random_instance
from numerics.verify.claims.policy import POLICY, Kind
from theory.sampling import exchangeable_names

SLACK = POLICY[Kind.BRACKET].value


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), d=st.integers(2, 5), sampling=st.sampled_from(
    exchangeable_names()))
def test_bounds_bracket_eta_star(seed, d, sampling):
    rng = np.random.default_rng(seed)
    op = random_instance(rng, d=d, n_retain=6, n_forget=3, sampling=sampling).operator()
    b = sufficient_bounds(op)
    if op.mean_escape().escapes_at_every_eta:
        assert b.escapes_at_every_eta
        return
    eta = op.eta_star_ms()
    assert b.eta_conv <= eta * (1 + SLACK)
    assert b.eta_div >= eta * (1 - SLACK)
    # and each side is a true statement about rho, not just about eta*
    assert op.rho(0.999 * b.eta_conv) < 1.0
    assert op.rho(1.001 * b.eta_div) > 1.0


def test_bounds_are_tight_for_a_bernoulli_clique():
    """Identical rank-one Hessians: the convergence bound equals eta* (SPEC §3.4 corollary)."""
    from numerics.core.inputs import UnlearningConfig
    from numerics.core.operator import SecondMomentOperator

    u = np.zeros((1, 3, 1))
    u[0, 0, 0] = 1.5
    private = np.zeros((4, 3, 1))
    private[:, 0, 0] = 1.5  # five identical samples on one axis, a clique
    op = SecondMomentOperator(np.concatenate([u, private]), None,
                              UnlearningConfig(0.0, 2, 1, "bernoulli"))
    b = sufficient_bounds(op)
    assert b.eta_conv / op.eta_star_ms() == np.float64(1.0) or abs(
        b.eta_conv / op.eta_star_ms() - 1) < 1e-12
    assert abs(b.eta_div / op.eta_star_ms() - 1) < 1e-12
