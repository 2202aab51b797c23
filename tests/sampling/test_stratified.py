"""``stratified``: B/k draws without replacement from each of k equal strata.

The symbolic moments (derived for a symbolic k) are checked against an exact enumeration of every
batch (a product of per-stratum subsets, written here from the definition) for several (n, B, k),
against the sampler by Monte Carlo with standard errors, and the batch covariance with its
per-stratum term against the enumerated E[H_hat M H_hat] - Hbar M Hbar.
"""

import itertools

import numpy as np
import pytest
import sympy as sp

from numerics.core.inputs import InputError, UnlearningConfig, check_batch
from numerics.core.operator import SecondMomentOperator
from numerics.core.simulate import sample_weights
from numerics.verify.claims.policy import POLICY, Kind
from theory import families, lyapunov
from theory.moments import B, batch_moments, covariance_coefficients, n
from theory.sampling import get_scheme
from theory.sampling.stratified import StratifiedWOR, derive_stratified_moments, k

NAME = "stratified"
STRATA = get_scheme(NAME).strata
K_SE = POLICY[Kind.STATISTICAL].value


def enumerate_stratified(n_pool: int, batch: int, strata: int):
    """Every batch: one b-subset of every consecutive stratum of s, probability 1/C(s, b)^k."""
    s, b = n_pool // strata, batch // strata
    per = list(itertools.combinations(range(s), b))
    for choice in itertools.product(per, repeat=strata):
        z = np.zeros(n_pool)
        for g, subset in enumerate(choice):
            z[[g * s + i for i in subset]] = 1.0
        yield float(len(per)) ** (-strata), z


def enumerate_batches(n_pool: int, batch: int):
    """The registered scheme's batches (used by the shared checks and tests/conftest.py)."""
    return enumerate_stratified(n_pool, batch, STRATA)


def _pairs(n_pool: int, strata: int) -> dict[str, tuple[int, int]]:
    """A within-stratum pair (0, 1) and a between-strata pair (0, n-1)."""
    return {"ezz": (0, 1), "ezz_between": (0, n_pool - 1)} if strata > 1 else {"ezz": (0, 1)}


@pytest.mark.parametrize(("n_pool", "batch", "strata"),
                         [(4, 2, 2), (6, 2, 2), (6, 4, 2), (8, 4, 2), (6, 3, 3), (9, 6, 3),
                          (8, 4, 4), (4, 4, 2), (5, 2, 1)])
def test_symbolic_moments_match_enumeration(n_pool, batch, strata):
    """The derivation for a symbolic k, evaluated at (n, B, k), equals the exact moments."""
    mom = derive_stratified_moments()
    sub = {n: n_pool, B: batch, k: strata}
    rows = list(enumerate_stratified(n_pool, batch, strata))
    p = np.array([r[0] for r in rows])
    z = np.array([r[1] for r in rows])
    assert p.sum() == pytest.approx(1.0, rel=1e-12)
    exact = {"ez": p @ z[:, 0], "ez2": p @ z[:, 0] ** 2}
    exact.update({key: p @ (z[:, i] * z[:, j]) for key, (i, j) in _pairs(n_pool, strata).items()})
    for key, value in exact.items():
        assert float(getattr(mom, key).subs(sub)) == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert np.all(z.sum(axis=1) == batch)  # a fixed batch size


def test_registered_scheme_matches_enumeration_and_sampler(scheme_checks):
    for n_pool, batch in [(4, 2), (6, 4), (8, 2), (8, 6)]:
        scheme_checks.moments(NAME, enumerate_batches, n_pool, batch, _pairs(n_pool, STRATA))
    w = scheme_checks.sampler(NAME, 8, 4, _pairs(8, STRATA))
    z = np.rint(w * 4)
    assert np.all(z[:, :4].sum(axis=1) == 2) and np.all(z[:, 4:].sum(axis=1) == 2)


def test_any_number_of_strata_samples_its_moments(scheme_checks):
    """An unregistered k = 3 instance: the sampler's moments match the derivation at k = 3."""
    three = StratifiedWOR("stratified3", "three strata", order=99, exchangeable=False,
                          not_exchangeable_reason="strata", strata=3)
    w = three.weights(np.random.default_rng(4), 9, 6, 200_000) * 6
    mom = three.derive_moments()
    for key, (i, j) in _pairs(9, 3).items():
        x = w[:, i] * w[:, j]
        expected = float(getattr(mom, key).subs({n: 9, B: 6}))
        assert abs(x.mean() - expected) <= K_SE * x.std() / np.sqrt(len(x))
    assert np.all(w.reshape(-1, 3, 3).sum(axis=2) == 2)


def test_one_stratum_is_wor():
    """k = 1: the derivation reduces to the uniform-subset moments of ``wor``."""
    strat, wor = derive_stratified_moments(), batch_moments("wor")
    for key in ("ez", "ez2", "ezz"):
        assert sp.simplify(getattr(strat, key).subs(k, 1) - getattr(wor, key)) == 0


def test_batch_mean_is_unbiased_and_covariance_has_a_stratum_term():
    r"""C(M) = a sum H_i M H_i + b Hbar M Hbar + c sum_g Hbar_g M Hbar_g, c = s^2 (e_in - e_between).

    The right-hand side uses the derived moments; the left-hand side is E[H_hat M H_hat] -
    Hbar M Hbar summed over every enumerated batch.
    """
    rng = np.random.default_rng(0)
    n_pool, batch, d = 6, 4, 3
    G = rng.standard_normal((n_pool, d, 2))
    H = G @ G.transpose(0, 2, 1)
    M = rng.standard_normal((d, d))
    M = M @ M.T
    Hbar = H.mean(axis=0)
    mean_hat = np.zeros((d, d))
    second = np.zeros((d, d))
    for p, z in enumerate_batches(n_pool, batch):
        Hh = np.einsum("i,ijk->jk", z / batch, H)
        mean_hat += p * Hh
        second += p * Hh @ M @ Hh
    np.testing.assert_allclose(mean_hat, Hbar, atol=1e-13)  # proportional allocation: unbiased
    cov = second - Hbar @ M @ Hbar
    mom = batch_moments(NAME)
    sub = {n: n_pool, B: batch}
    a, b = float(mom.diag_coeff.subs(sub)), float(mom.mean_coeff.subs(sub))
    s = n_pool // STRATA
    c = s**2 * float(((mom.ezz - mom.ezz_between) / B**2).subs(sub))
    strata_means = H.reshape(STRATA, s, d, d).mean(axis=1)
    formula = (a * np.einsum("ijk,kl,ilm->jm", H, M, H) + b * Hbar @ M @ Hbar
               + c * np.einsum("gjk,kl,glm->jm", strata_means, M, strata_means))
    np.testing.assert_allclose(cov, formula, atol=1e-12 * np.abs(cov).max())
    assert b == 0.0 and c < 0.0  # no Hbar term; the stratum term lowers the noise
    # the two-coefficient form of an exchangeable scheme misses it: a real difference here
    assert np.abs(cov - a * np.einsum("ijk,kl,ilm->jm", H, M, H)).max() > 1e-3 * np.abs(cov).max()


def test_batch_sizes_must_split_equally():
    scheme = get_scheme(NAME)
    assert scheme.batch_problem(8, 4) is None
    assert "cannot be drawn equally from 2 equal strata" in scheme.batch_problem(8, 3)
    assert "cannot be drawn equally" in scheme.batch_problem(7, 2)
    assert "larger than its set" in scheme.batch_problem(8, 10)
    with pytest.raises(InputError, match="retain batch size 3 cannot be drawn equally"):
        check_batch(3, 8, "retain", NAME)
    with pytest.raises(InputError, match="cannot be drawn equally"):
        sample_weights(np.random.default_rng(0), NAME, 8, 3, 5)


def test_closed_forms_that_need_exchangeability_refuse_it_with_the_reason():
    reason = get_scheme(NAME).not_exchangeable_reason
    assert "within and between strata" in reason
    for call in (lambda: covariance_coefficients(NAME, 8, 4),
                 lambda: lyapunov.count_pmf(NAME, 8, 4, 2),
                 lambda: families.diagonal_law(NAME),
                 lambda: families.sigma_family_eta_star(NAME, 2, 8, 4)):
        with pytest.raises(ValueError, match="not exchangeable"):
            call()
    pool = np.eye(2)[None].repeat(4, axis=0)
    with pytest.raises(InputError, match="not exchangeable"):
        SecondMomentOperator(pool, None, UnlearningConfig(0.0, 2, 1, NAME))


def test_covariance_is_dominated_by_its_diagonal_term():
    r"""C(M) <= a sum_i H_i M H_i for PSD M (enumerated), so bounds.sgd_conv.stratified holds."""
    rng = np.random.default_rng(3)
    n_pool, batch, d = 8, 4, 3
    mom = batch_moments(NAME)
    a = float(mom.diag_coeff.subs({n: n_pool, B: batch}))
    checked = 0
    for _ in range(5):
        G = rng.standard_normal((n_pool, d, 2))
        H = G @ G.transpose(0, 2, 1)
        F = rng.standard_normal((d, d))
        M = F @ F.T
        Hbar = H.mean(axis=0)
        second = np.zeros((d, d))
        for p, z in enumerate_batches(n_pool, batch):
            Hh = np.einsum("i,ijk->jk", z / batch, H)
            second += p * Hh @ M @ Hh
        gap = a * np.einsum("ijk,kl,ilm->jm", H, M, H) - (second - Hbar @ M @ Hbar)
        assert np.linalg.eigvalsh(gap).min() >= -1e-12 * np.abs(gap).max()
        checked += 1
    assert checked == 5
