"""``wr``: B i.i.d. uniform draws, against enumeration of every draw sequence and SPEC §2.1/§4.1."""

import itertools

import numpy as np
import pytest
import sympy as sp

from theory.moments import B, batch_moments, count_moments, m, n

NAME = "wr"
SIZES = [(4, 1), (4, 2), (5, 3), (3, 3), (2, 4)]  # a batch may exceed its set
PAIRS = {"ezz": (0, 1)}


def enumerate_batches(n_pool: int, batch: int):
    """Every sequence of B draws with probability n^-B, as multiplicities."""
    for draws in itertools.product(range(n_pool), repeat=batch):
        yield float(n_pool) ** (-batch), np.bincount(draws, minlength=n_pool).astype(float)


@pytest.mark.parametrize(("n_pool", "batch"), SIZES)
def test_moments_and_count_law_match_enumeration(scheme_checks, n_pool, batch):
    scheme_checks.moments(NAME, enumerate_batches, n_pool, batch, PAIRS)
    for marked in range(n_pool + 1):
        scheme_checks.count_law(NAME, enumerate_batches, n_pool, batch, marked)


def test_sampler_matches_moments(scheme_checks):
    w = scheme_checks.sampler(NAME, 6, 2, PAIRS)
    assert np.allclose(w.sum(axis=1), 1.0)
    assert (w == 1.0).any()  # a sample drawn twice


def test_coefficients_and_count_variance_equal_spec_tables():
    """SPEC §2.1: a = 1/(nB), b = -1/B; §4.1: Binomial(B, m/n)."""
    mom = batch_moments(NAME)
    assert sp.simplify(mom.diag_coeff - 1 / (n * B)) == 0
    assert sp.simplify(mom.mean_coeff + 1 / B) == 0
    mean, var = count_moments(NAME)
    assert sp.simplify(mean - B * m / n) == 0
    assert sp.simplify(var - B * m / n * (1 - m / n)) == 0
