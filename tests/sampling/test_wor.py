"""``wor``: uniform size-B subsets, against enumeration of every subset and SPEC §2.1/§4.1."""

import itertools

import numpy as np
import pytest
import sympy as sp

from theory.moments import B, batch_moments, count_moments, m, n

NAME = "wor"
SIZES = [(4, 1), (4, 2), (5, 3), (3, 3)]
PAIRS = {"ezz": (0, 1)}


def enumerate_batches(n_pool: int, batch: int):
    """Every size-B subset with probability 1/C(n, B)."""
    subsets = list(itertools.combinations(range(n_pool), batch))
    for s in subsets:
        z = np.zeros(n_pool)
        z[list(s)] = 1.0
        yield 1.0 / len(subsets), z


@pytest.mark.parametrize(("n_pool", "batch"), SIZES)
def test_moments_and_count_law_match_enumeration(scheme_checks, n_pool, batch):
    scheme_checks.moments(NAME, enumerate_batches, n_pool, batch, PAIRS)
    for marked in range(n_pool + 1):
        scheme_checks.count_law(NAME, enumerate_batches, n_pool, batch, marked)


def test_sampler_matches_moments(scheme_checks):
    w = scheme_checks.sampler(NAME, 6, 2, PAIRS)
    assert np.allclose(w.sum(axis=1), 1.0)  # every batch has exactly B members
    assert set(np.unique(w)) == {0.0, 0.5}


def test_coefficients_and_count_variance_equal_spec_tables():
    """SPEC §2.1: a = c_wor/n, b = -c_wor with c_wor = (n-B)/(B(n-1)); §4.1: hypergeometric."""
    c_wor = (n - B) / (B * (n - 1))
    mom = batch_moments(NAME)
    assert sp.simplify(mom.diag_coeff - c_wor / n) == 0
    assert sp.simplify(mom.mean_coeff + c_wor) == 0
    mean, var = count_moments(NAME)
    assert sp.simplify(mean - B * m / n) == 0
    assert sp.simplify(var - B * m / n * (1 - m / n) * (n - B) / (n - 1)) == 0
