"""``bernoulli``: independent inclusion with q = B/n, against enumeration and SPEC §2.1/§4.1."""

import itertools

import numpy as np
import pytest
import sympy as sp

from theory.moments import B, batch_moments, count_moments, m, n

NAME = "bernoulli"
SIZES = [(4, 1), (4, 2), (5, 3), (3, 3)]
PAIRS = {"ezz": (0, 1)}


def enumerate_batches(n_pool: int, batch: int):
    """Every inclusion pattern z in {0,1}^n with probability q^|z| (1-q)^(n-|z|)."""
    q = batch / n_pool
    for bits in itertools.product([0, 1], repeat=n_pool):
        z = np.array(bits, float)
        yield q ** z.sum() * (1 - q) ** (n_pool - z.sum()), z


@pytest.mark.parametrize(("n_pool", "batch"), SIZES)
def test_moments_and_count_law_match_enumeration(scheme_checks, n_pool, batch):
    scheme_checks.moments(NAME, enumerate_batches, n_pool, batch, PAIRS)
    for marked in range(n_pool + 1):
        scheme_checks.count_law(NAME, enumerate_batches, n_pool, batch, marked)


def test_sampler_matches_moments(scheme_checks):
    w = scheme_checks.sampler(NAME, 6, 2, PAIRS)
    assert set(np.unique(w)) <= {0.0, 0.5}  # divided by the nominal B, size is random
    assert np.ptp(w.sum(axis=1)) > 0


def test_coefficients_and_count_variance_equal_spec_tables():
    """SPEC §2.1: a = (1-q)/(nB), b = 0 (uncentred); §4.1: Binomial(m, q)."""
    q = B / n
    mom = batch_moments(NAME)
    assert sp.simplify(mom.diag_coeff - (1 - q) / (n * B)) == 0
    assert sp.simplify(mom.mean_coeff) == 0
    mean, var = count_moments(NAME)
    assert sp.simplify(mean - B * m / n) == 0
    assert sp.simplify(var - m * q * (1 - q)) == 0
