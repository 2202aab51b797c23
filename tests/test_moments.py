"""Batch-moment algebra: symbolic derivation vs brute-force enumeration and SPEC §2.1."""

import itertools

import numpy as np
import pytest
import sympy as sp

from theory.moments import B, batch_moments, count_moments, covariance_coefficients, m, n


def _enumerate_weights(sampling: str, n_pool: int, batch: int):
    """All batches with their probabilities, as weight vectors omega (exact enumeration)."""
    if sampling == "wor":
        subsets = list(itertools.combinations(range(n_pool), batch))
        for s in subsets:
            w = np.zeros(n_pool)
            w[list(s)] = 1.0 / batch
            yield 1.0 / len(subsets), w
    elif sampling == "bernoulli":
        q = batch / n_pool
        for z in itertools.product([0, 1], repeat=n_pool):
            z = np.array(z, float)
            yield q ** z.sum() * (1 - q) ** (n_pool - z.sum()), z / batch
    else:
        for draws in itertools.product(range(n_pool), repeat=batch):
            w = np.bincount(draws, minlength=n_pool) / batch
            yield n_pool ** (-batch), w


@pytest.mark.parametrize("sampling", ["wor", "bernoulli", "wr"])
@pytest.mark.parametrize(("n_pool", "batch"), [(4, 1), (4, 2), (5, 3), (3, 3)])
def test_moments_match_enumeration(sampling, n_pool, batch):
    mom = batch_moments(sampling)
    e2 = eoo = 0.0
    for p, w in _enumerate_weights(sampling, n_pool, batch):
        e2 += p * w[0] ** 2
        eoo += p * w[0] * w[1]
    sub = {n: n_pool, B: batch}
    assert float(mom.e_omega2.subs(sub)) == pytest.approx(e2, rel=1e-12)
    assert float(mom.e_omega_omega.subs(sub)) == pytest.approx(eoo, rel=1e-12, abs=1e-15)


def test_coefficients_equal_spec_table():
    """SPEC §2.1: c_wor = (n-B)/(B(n-1)); Bernoulli uncentred (1-q)/(nB); WR 1/B."""
    c_wor = (n - B) / (B * (n - 1))
    q = B / n
    expected = {
        "wor": (c_wor / n, -c_wor),
        "bernoulli": ((1 - q) / (n * B), 0),
        "wr": (1 / (n * B), -1 / B),
    }
    for sampling, (a, b) in expected.items():
        mom = batch_moments(sampling)
        assert sp.simplify(mom.diag_coeff - a) == 0
        assert sp.simplify(mom.mean_coeff - b) == 0


def test_count_variance_matches_spec_table():
    """SPEC §4.1 table of Var K (hypergeometric, binomial(m, q), binomial(B, m/n))."""
    expected = {
        "wor": B * m / n * (1 - m / n) * (n - B) / (n - 1),
        "bernoulli": m * (B / n) * (1 - B / n),
        "wr": B * m / n * (1 - m / n),
    }
    for sampling, var in expected.items():
        mean, v = count_moments(sampling)
        assert sp.simplify(mean - B * m / n) == 0
        assert sp.simplify(v - var) == 0


def test_full_batch_has_no_noise():
    a, b = covariance_coefficients("wor", 6, 6)
    assert a == pytest.approx(0.0, abs=1e-15) and b == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(("n_pool", "batch", "sampling"), [(0, 1, "wor"), (3, 0, "wor"),
                                                            (3, 4, "bernoulli")])
def test_bad_sizes(n_pool, batch, sampling):
    with pytest.raises(ValueError):
        covariance_coefficients(sampling, n_pool, batch)


def test_unknown_sampling():
    with pytest.raises(ValueError, match="unknown sampling model"):
        batch_moments("poisson")
