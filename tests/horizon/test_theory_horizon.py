"""First-passage programme and drift of one axis (theory.horizon) against independent values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from theory import horizon as th
from theory import lyapunov as lya
from theory.families import identical_lists_diagonal


def test_monotone_two_point_walk_matches_the_binomial_tail():
    # J = 1 (prob 1-q) or a > 1 (prob q): log|x| only rises, so the first passage over the
    # barrier by T happens iff the number of up-steps N_T ~ Bin(T, q) reaches k = ceil(-y/log a).
    q, a, T = 0.13, 1.7, 120
    xi = np.array([[0.0, np.log(a)]])
    p = np.array([[1.0 - q, q]])
    sg = th.survival_grid(xi, p, T, spacing=0.002, floor=20.0)
    starts = np.array([-0.7, -2.3, -5.1])  # chosen away from multiples of log a
    k = np.ceil(-starts / np.log(a))
    exact = stats.binom.sf(k - 1, T, q)
    got = sg.escape(starts, 0)
    assert np.max(np.abs(got - exact)) < 2e-3


def test_survival_matches_monte_carlo_of_the_walk():
    rng = np.random.default_rng(4)
    x, p = lya.axis_multiplier_law(lya.AxisLaw("wor", 0.3, 40.0, 1, 40, 5, 40.0, 1, 40, 5))
    eta, T, y0 = 0.28, 300, -3.0
    xi, pr = th.log_increment_law(x, p, eta)
    sg = th.survival_grid(xi[None], pr[None], T)
    R = 200_000
    steps = rng.choice(xi, size=(R, T), p=pr)
    hit = (y0 + np.cumsum(steps, axis=1) >= 0.0).any(axis=1)
    mc, se = hit.mean(), hit.std() / np.sqrt(R)
    assert abs(sg.escape(np.array([y0]), 0)[0] - mc) < 4 * se + 2e-3


def test_grid_refinement_changes_little():
    x, p = lya.axis_multiplier_law(lya.AxisLaw("bernoulli", 0.2, 10.0, 1, 20, 4, 10.0, 1, 20, 4))
    xi, pr = th.log_increment_law(x, p, 0.2)
    a = th.survival_grid(xi[None], pr[None], 500, spacing=0.04).escape(np.array([-4.0]), 0)
    b = th.survival_grid(xi[None], pr[None], 500, spacing=0.01).escape(np.array([-4.0]), 0)
    assert abs(a[0] - b[0]) < 5e-3


def test_drift_is_the_axis_lyapunov_exponent():
    fam = identical_lists_diagonal("wor", 3, 30, 4, 0.2, 2.0)
    eta = 0.4
    want = lya.gamma(fam, eta)
    laws = [lya.axis_multiplier_law(lya.AxisLaw("wor", 0.2, lr, int(mr), 30, 4, lf, int(mf), 30, 4))
            for mr, mf, lr, lf in zip(fam.m_r, fam.m_f, fam.lam_r, fam.lam_f, strict=True)]
    got = np.array([th.drift(x, p, eta) for x, p in laws])
    assert np.allclose(got, want, rtol=1e-12, atol=0)
    # variance against a direct sum over the law
    x, p = laws[0]
    xi = np.log(np.abs(1 + eta * x))
    assert th.drift_variance(x, p, eta) == pytest.approx(p @ xi**2 - (p @ xi) ** 2, rel=1e-12)


def test_zero_multiplier_gives_infinite_variance():
    x = np.array([0.0, -2.0])
    p = np.array([0.5, 0.5])
    assert th.drift_variance(x, p, 0.5) == float("inf")
    assert th.drift(x, p, 0.5) == float("-inf")


def test_bad_grid_and_horizon_raise():
    with pytest.raises(ValueError):
        th.survival_grid(np.zeros((1, 1)), np.ones((1, 1)), 0)
    with pytest.raises(ValueError):
        th.survival_grid(np.zeros((1, 1)), np.ones((1, 1)), 5, spacing=1.0, floor=0.5)
