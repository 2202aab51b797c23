"""Closed forms of SPEC §3.6 and §4, derived in theory.families, against independent transcriptions.

SPEC's printed formulas appear only here, typed in from the document; the implementation derives
them from the count moments.  Numbers (tables, §2.3(f)) are recomputed, not looked up.
"""

import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from theory import families as F
from theory.families import (
    B_f,
    B_r,
    alpha,
    c,
    eta,
    lam,
    lam_f,
    lam_r,
    m_f,
    m_r,
    mu_f,
    mu_r,
    n_f,
    n_r,
    sigma,
    sigma_f,
    sigma_r,
)
from theory.moments import B, n
from theory.sampling import exchangeable_names, get_scheme, skipped_schemes

#: The schemes with exchangeable closed forms (theory.families needs them).
SAMPLINGS = exchangeable_names()
#: Lambdified float callables vs exact rational evaluation: a handful of float operations.
FLOAT_RTOL = 1e-12
#: Enumeration sums a few thousand float products; round-off stays far below this.
ENUM_RTOL = 1e-11


def _zero(expr) -> bool:
    return sp.simplify(sp.together(expr)) == 0


# ------------------------------------------------------------------------------- §4.1 law
#: SPEC §4.1 table of Var K (the schemes the specification tabulates).
SPEC_41_VAR = {
    "wor": lambda n_, b_, m_: b_ * m_ / n_ * (1 - m_ / n_) * (n_ - b_) / (n_ - 1),
    "bernoulli": lambda n_, b_, m_: m_ * b_ / n_ * (1 - b_ / n_),
    "wr": lambda n_, b_, m_: b_ * m_ / n_ * (1 - m_ / n_),
}


def _spec_var(sampling, n_, b_, m_):
    """SPEC §4.1 table of Var K."""
    return SPEC_41_VAR[sampling](n_, b_, m_)


@pytest.mark.parametrize("sampling", sorted(SPEC_41_VAR))
def test_diagonal_law_matches_spec_41(sampling):
    law = F.diagonal_law(sampling)
    D_spec = (1 - alpha) * lam_r * m_r / n_r - alpha * lam_f * m_f / n_f
    V_spec = (1 - alpha) ** 2 * (lam_r / B_r) ** 2 * _spec_var(sampling, n_r, B_r, m_r) + (
        alpha**2 * (lam_f / B_f) ** 2 * _spec_var(sampling, n_f, B_f, m_f)
    )
    assert _zero(law.D - D_spec)
    assert _zero(law.V - V_spec)
    assert _zero(law.EJ2 - ((1 - eta * D_spec) ** 2 + eta**2 * V_spec))
    assert _zero(law.eta_star - 2 * D_spec / (D_spec**2 + V_spec))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_second_moment_matches_enumeration(sampling, enumerated_count_pmf):
    """E J^2 by brute force over all batch pairs vs the derived law (float callable and sympy)."""
    cfg = dict(alpha=0.3, lam_r=1.7, m_r=2, n_r=5, B_r=2, lam_f=0.9, m_f=2, n_f=4, B_f=3)
    e = 0.41
    pr = enumerated_count_pmf(sampling, cfg["n_r"], cfg["B_r"], cfg["m_r"])
    pf = enumerated_count_pmf(sampling, cfg["n_f"], cfg["B_f"], cfg["m_f"])
    brute = 0.0
    for (kr, p1), (kf, p2) in itertools.product(pr.items(), pf.items()):
        J = 1 - e * (1 - cfg["alpha"]) * cfg["lam_r"] / cfg["B_r"] * kr + (
            e * cfg["alpha"] * cfg["lam_f"] / cfg["B_f"] * kf
        )
        brute += p1 * p2 * J**2
    assert F.axis_second_moment(e, F.AxisLaw(sampling, **cfg)) == pytest.approx(brute, rel=ENUM_RTOL)
    sym = {alpha: cfg["alpha"], lam_r: cfg["lam_r"], m_r: cfg["m_r"], n_r: cfg["n_r"],
           B_r: cfg["B_r"], lam_f: cfg["lam_f"], m_f: cfg["m_f"], n_f: cfg["n_f"],
           B_f: cfg["B_f"], eta: e}
    assert float(F.diagonal_law(sampling).EJ2.subs(sym)) == pytest.approx(brute, rel=ENUM_RTOL)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_axis_eta_star_callable_matches_sympy(sampling):
    rng = np.random.default_rng(7)
    law = F.diagonal_law(sampling)
    for _ in range(5):
        nr, nf = int(rng.integers(3, 30)), int(rng.integers(3, 30))
        cfg = dict(alpha=float(rng.uniform(0, 0.3)), lam_r=float(rng.uniform(0.5, 3)),
                   m_r=int(rng.integers(1, nr + 1)), n_r=nr, B_r=int(rng.integers(1, nr + 1)),
                   lam_f=float(rng.uniform(0.1, 1)), m_f=int(rng.integers(0, nf + 1)), n_f=nf,
                   B_f=int(rng.integers(1, nf + 1)))
        sym = {alpha: cfg["alpha"], lam_r: cfg["lam_r"], m_r: cfg["m_r"], n_r: nr,
               B_r: cfg["B_r"], lam_f: cfg["lam_f"], m_f: cfg["m_f"], n_f: nf, B_f: cfg["B_f"]}
        D = float(law.D.subs(sym))
        expected = float(law.eta_star.subs(sym)) if D > 0 else 0.0
        assert F.axis_eta_star(F.AxisLaw(sampling, **cfg)) == pytest.approx(expected, rel=FLOAT_RTOL)


def test_full_batch_and_pool_of_one():
    """WOR with B = n has no noise: eta* = 2/D (the closed form reads 0/0 at n = 1)."""
    assert F.axis_eta_star(F.AxisLaw("wor", alpha=0.0, lam_r=3.0, m_r=1, n_r=1, B_r=1)) == pytest.approx(2 / 3.0)
    assert F.axis_eta_star(F.AxisLaw("wor", alpha=0.0, lam_r=3.0, m_r=2, n_r=4, B_r=4)) == pytest.approx(2 / 1.5)
    assert F.sigma_family_eta_star("wor", 1, 1, 1, c_=2.0) == pytest.approx(1.0)


def test_escaping_axis_returns_zero():
    assert F.axis_eta_star(F.AxisLaw("wor", alpha=0.6, lam_r=1.0, m_r=1, n_r=4, B_r=2,
                                     lam_f=1.0, m_f=1, n_f=4, B_f=2)) == 0.0


# ------------------------------------------------------------------------------- §4.2
SPEC_42 = {
    "bernoulli": (2 * B * sigma / (c * (B * sigma - B + n)), 2 * B * sigma / (c * n)),
    "wor": (2 * B * sigma * (n - 1) / (c * n * (B * sigma - B + n - sigma)),
            2 * B * sigma / (c * n)),
    "wr": (2 * B * sigma / (c * (B * sigma + n - sigma)), 2 * B * sigma / (c * (B + n - 1))),
}


@pytest.mark.parametrize("sampling", sorted(SPEC_42))
def test_sigma_family_matches_spec_42(sampling):
    pair = F.sigma_family_law(sampling)
    shared, private = SPEC_42[sampling]
    assert _zero(pair.shared - shared)
    assert _zero(pair.private - private)
    assert pair.shared.free_symbols == {sigma, n, B, c}


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_sigma_family_float_vs_diagonal_family(sampling):
    """Closed forms (lambdified) vs the generic per-axis path of DiagonalFamily."""
    for sig, nn, bb in [(1, 20, 3), (4, 20, 7), (20, 20, 2), (7, 30, 30), (3, 9, 1)]:
        a = F.sigma_family_eta_star(sampling, sig, nn, bb)
        b = F.sigma_family_diagonal(sampling, sig, nn, bb).eta_star_ms()
        assert a == pytest.approx(b, rel=FLOAT_RTOL)


SIGMAS = (1, 2, 3, 5, 10, 20, 50, 100)


def test_min_batch_table_42_ms():
    """SPEC §4.2 table, ms column (n=100, WOR, eta=0.5), decided in exact arithmetic."""
    half = Fraction(1, 2)
    got = [
        F.min_stable_batch(lambda b, s=s: F.sigma_family_eta_star("wor", s, 100, b, exact=True)
                           > half, range(1, 101))
        for s in SIGMAS
    ]
    assert got == [51, 34, 25, 17, 9, 4, 2, 1]


# ------------------------------------------------------------------------------- §4.3
def test_identical_lists_match_spec_43():
    q2 = 1 - 2 * alpha + 2 * alpha**2
    priv = 2 * B * sigma * (1 - 2 * alpha) / (c * (n * q2 - 2 * B * alpha * (1 - alpha)))
    shared_bern = 2 * B * sigma * (1 - 2 * alpha) / (
        c * (B * sigma * (1 - 2 * alpha) ** 2 - B * q2 + n * q2)
    )
    for sampling in ("wor", "bernoulli"):
        assert _zero(F.identical_lists_law(sampling).private - priv)
    assert _zero(F.identical_lists_law("bernoulli").shared - shared_bern)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_identical_lists_reduce_to_sgd_and_mean(sampling):
    pair = F.identical_lists_law(sampling)
    sgd = F.sigma_family_law(sampling)
    assert _zero(pair.shared.subs(alpha, 0) - sgd.shared)
    assert _zero(pair.private.subs(alpha, 0) - sgd.private)
    # every axis has D = (1 - 2 alpha) mu, mu = lambda m / n with lambda = c n / sigma
    assert _zero(pair.shared_D - (1 - 2 * alpha) * c)
    assert _zero(pair.private_D - (1 - 2 * alpha) * c / sigma)


def test_identical_lists_spec_23f_values():
    """SPEC §2.3(f): n=100, sigma=10, B=8, WOR; printed to 3 decimals."""
    alphas = (0.0, 0.1, 0.2, 0.3, 0.4, 0.49)
    got = [round(F.identical_lists_eta_star("wor", 10, 100, 8, a), 3) for a in alphas]
    assert got == [0.489, 0.534, 0.560, 0.522, 0.332, 0.035]
    assert F.identical_lists_eta_star("wor", 10, 100, 8, 0.5) == 0.0
    assert F.identical_lists_eta_star("wor", 10, 100, 8, 0.7) == 0.0


def test_min_batch_table_43_ms():
    """SPEC §4.3 table at alpha = 1/10, ms column, exact arithmetic."""
    half, a = Fraction(1, 2), Fraction(1, 10)
    got = [
        F.min_stable_batch(
            lambda b, s=s: F.identical_lists_eta_star("wor", s, 100, b, a, exact=True) > half,
            range(1, 101),
        )
        for s in SIGMAS
    ]
    assert got == [47, 30, 22, 15, 8, 4, 2, 1]


def test_exact_and_float_agree():
    for s, b in [(3, 7), (10, 8), (50, 1)]:
        ex = F.identical_lists_eta_star("wor", s, 100, b, Fraction(1, 10), exact=True)
        fl = F.identical_lists_eta_star("wor", s, 100, b, 0.1)
        assert float(ex) == pytest.approx(fl, rel=FLOAT_RTOL)


# ------------------------------------------------------------------------------- §4.4
@pytest.mark.parametrize("sampling", sorted(SPEC_41_VAR))
def test_separate_sets_spec_44(sampling):
    law = F.separate_sets_law(sampling)
    mu = {mu_r: lam_r * sigma_r / n_r, mu_f: lam_f * sigma_f / n_f}
    assert _zero(law.shared_D - ((1 - alpha) * mu[mu_r] - alpha * mu[mu_f]))
    assert _zero(law.alpha_c - (mu_r / (mu_r + mu_f)).subs(mu))
    assert _zero(law.alpha_c - lam_r * n_f * sigma_r / (lam_f * n_r * sigma_f
                                                         + lam_r * n_f * sigma_r))
    V0 = (1 - alpha) ** 2 * (lam_r / B_r) ** 2 * _spec_var(sampling, n_r, B_r, sigma_r) + (
        alpha**2 * (lam_f / B_f) ** 2 * _spec_var(sampling, n_f, B_f, sigma_f)
    )
    assert _zero(law.shared_V - V0)
    assert _zero(law.private_forget_D + alpha * lam_f / n_f)  # D = -alpha lam_f / n_f < 0


def test_separate_sets_private_retain_axis():
    """SPEC §4.4 says 2 B_r/((1-alpha) lam_r) for every batch model: true for WOR and Bernoulli.

    Under WR the derivation gives 2 B_r n_r / ((1-alpha) lam_r (B_r + n_r - 1)) instead (the
    σ-family private axis of §4.2 shows the same factor); the operator agrees (test in
    tests/test_families_operator.py).
    """
    spec = 2 * B_r / ((1 - alpha) * lam_r)
    for sampling in ("wor", "bernoulli"):
        assert _zero(F.separate_sets_law(sampling).private_retain - spec)
    wr = F.separate_sets_law("wr").private_retain
    assert not _zero(wr - spec)
    assert _zero(wr - 2 * B_r * n_r / ((1 - alpha) * lam_r * (B_r + n_r - 1)))


# ------------------------------------------------------------------------------- §4.5, §3.6
def test_clique_law_spec_45():
    law = F.clique_law("bernoulli").eta_star
    spec = 2 / (sigma * lam / n + (1 - B / n) * lam / B)
    assert _zero(law - spec)
    assert _zero(law.subs(B, n) - 2 / (sigma * lam / n))  # GD limit 2 / lambda_max(Hbar)
    assert _zero(law.subs(sigma, 1) - 2 * B / lam)  # single-sample limit


def test_clique_derivatives_spec_36():
    d_lam, d_sharp = F.clique_sigma_derivatives("bernoulli")
    assert _zero(d_lam + 2 * B**2 * n / (lam * (B * sigma - B + n) ** 2))
    assert _zero(d_sharp - 2 * B * (n - B) / (c * (B * sigma - B + n) ** 2))
    # signs: destabilising at fixed per-sample lambda, stabilising at fixed sharpness (B < n)
    pt = {B: 3, n: 10, sigma: 4, lam: 2, c: 2}
    assert d_lam.subs(pt) < 0 < d_sharp.subs(pt)
    assert d_sharp.subs({**pt, B: 10}) == 0


@pytest.mark.parametrize("sampling", sorted(skipped_schemes()))
def test_no_family_closed_form_without_exchangeability(sampling):
    """A scheme the closed forms cannot take is refused with its reason, never approximated."""
    with pytest.raises(ValueError, match="not exchangeable"):
        F.diagonal_law(sampling)
    with pytest.raises(ValueError, match="not exchangeable"):
        F.sigma_family_eta_star(sampling, 2, *get_scheme(sampling).admissible_sizes(8, 4))


def test_bad_inputs():
    with pytest.raises(ValueError):
        F.sigma_family_eta_star("wor", 0, 10, 2)
    with pytest.raises(ValueError):
        F.sigma_family_eta_star("wor", 3, 10, 11)
    with pytest.raises(ValueError):
        F.diagonal_law("uniform")


def test_bernoulli_example_42():
    """SPEC §4.2: c=2, eta=0.5, Bernoulli: stable iff B(sigma+1) > n and sigma B > n/2 (exact)."""
    half = Fraction(1, 2)
    for nn in (20, 37):
        for s in range(1, nn):
            for b in range(1, nn + 1):
                stable = F.sigma_family_eta_star("bernoulli", s, nn, b, exact=True) > half
                assert stable == (b * (s + 1) > nn and 2 * s * b > nn)


def test_sigma_family_grid_equals_scalar_closed_form():
    import numpy as np

    from theory.families import sigma_family_eta_star, sigma_family_eta_star_grid

    for sampling in SAMPLINGS:
        S, B = np.meshgrid(np.arange(1, 31), np.arange(1, 31), indexing="ij")
        G = sigma_family_eta_star_grid(sampling, S, 30, B)
        ref = np.array([[sigma_family_eta_star(sampling, int(s), 30, int(b)) for b in range(1, 31)]
                        for s in range(1, 31)])
        np.testing.assert_allclose(G, ref, rtol=1e-12)
