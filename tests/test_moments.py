"""Batch-moment algebra of theory.moments, for every registered scheme.

Each scheme's moments are checked against an exact enumeration of its batches and against the
SPEC tables in its own test module (``tests/sampling/test_<name>.py``); here: the identities that
hold for every scheme.
"""

import pytest
import sympy as sp

from theory.moments import B, batch_moments, covariance_coefficients, n
from theory.sampling import exchangeable_names, get_scheme, scheme_names


@pytest.mark.parametrize("sampling", scheme_names())
def test_every_batch_mean_is_unbiased(sampling):
    r""":math:`\mathbb E\hat H=\bar H` needs :math:`\mathbb E\omega_i=1/n`."""
    assert sp.simplify(batch_moments(sampling).e_omega - 1 / n) == 0


@pytest.mark.parametrize("sampling", exchangeable_names())
def test_coefficients_are_the_numeric_values_of_the_moments(sampling):
    mom = batch_moments(sampling)
    a, b = covariance_coefficients(sampling, 7, 3)
    assert a == pytest.approx(float(mom.diag_coeff.subs({n: 7, B: 3})), rel=1e-14)
    assert b == pytest.approx(float(mom.mean_coeff.subs({n: 7, B: 3})), rel=1e-14, abs=1e-15)


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


@pytest.mark.parametrize("sampling", [s for s in scheme_names()
                                      if not get_scheme(s).exchangeable])
def test_no_exchangeable_closed_form_for_the_others(sampling):
    with pytest.raises(ValueError, match="not exchangeable"):
        covariance_coefficients(sampling, 8, 4)
