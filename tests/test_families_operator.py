"""Closed forms of SPEC §4 (theory) vs the exact operator (numerics) on rotated family copies.

The closed forms come from sympy derivations on the diagonal law; the operator solves the
generalised eigenproblem Q x = mu L x on a randomly rotated, rank-one factorisation.  They share
only the batch moments.  Also: detection of commuting families (numerics.core.commuting) and the exact
almost-sure exponent vs a simulation of the full matrix recursion.
"""

import math

import numpy as np
import pytest

from numerics.core import families as NF
from numerics.core.commuting import diagonal_family, exact_eta_star_as
from numerics.core.inputs import UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator
from theory import families as F
from theory import lyapunov as L
from theory.sampling import exchangeable_names, get_scheme

SAMPLINGS = exchangeable_names()
#: Closed form vs operator: both are float64 evaluations of the same rational number; the
#: operator's generalised eigensolve on r^2 <= 256 unknowns is accurate to ~1e-14 relative.
OPERATOR_RTOL = 1e-9
#: exact_eta_star_as (detected axes) vs the same quantity built from the family's parameters:
#: identical up to round-off in the detected curvatures (~1e-15 relative) and the root polish.
AS_RTOL = 1e-9
#: Matrix-recursion Monte Carlo: standard errors allowed around the exact exponent.
MC_SIGMAS = 4.0


def _op(retain, forget, alpha, b_r, b_f, sampling):
    cfg = UnlearningConfig(alpha=alpha, batch_retain=b_r, batch_forget=b_f, sampling=sampling)
    fr = as_pool(retain, "retain", factors=True)
    ff = as_pool(forget, "forget", factors=True) if forget is not None else None
    return SecondMomentOperator(fr, ff, cfg)


def _rel(a, b):
    return abs(a - b) / abs(b)


SIGMA_CASES = [(12, 1, 3), (12, 3, 4), (12, 5, 1), (16, 4, 6), (10, 10, 3), (9, 4, 9)]


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize(("n", "sigma", "batch"), SIGMA_CASES)
def test_sigma_family_vs_operator(sampling, n, sigma, batch):
    op = _op(NF.sigma_family(n, sigma, c=2.0, rotation=n + sigma), None, 0.0, batch, 1, sampling)
    assert op.dim == n - sigma + 1
    assert _rel(op.eta_star_ms(), F.sigma_family_eta_star(sampling, sigma, n, batch)) <= (
        OPERATOR_RTOL
    )
    assert _rel(exact_eta_star_as(op), L.sigma_family_eta_star_as(sampling, sigma, n, batch)) <= (
        AS_RTOL
    )


ID_CASES = [(12, 3, 4, 0.1), (12, 1, 5, 0.3), (10, 10, 3, 0.2), (14, 4, 2, 0.45), (8, 2, 8, 0.1)]


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize(("n", "sigma", "batch", "alpha"), ID_CASES)
def test_identical_lists_vs_operator(sampling, n, sigma, batch, alpha):
    retain, forget = NF.identical_lists(n, sigma, rotation=7)
    op = _op(retain, forget, alpha, batch, batch, sampling)
    expected = F.identical_lists_eta_star(sampling, sigma, n, batch, alpha)
    assert _rel(op.eta_star_ms(), expected) <= OPERATOR_RTOL
    assert _rel(exact_eta_star_as(op),
                L.identical_lists_eta_star_as(sampling, sigma, n, batch, alpha)) <= AS_RTOL
    assert op.eta_star_ms() <= exact_eta_star_as(op) * (1 + AS_RTOL)  # equal at B = n (WOR)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_identical_lists_escape_beyond_half(sampling):
    retain, forget = NF.identical_lists(10, 3, rotation=1)
    op = _op(retain, forget, 0.6, 3, 3, sampling)
    assert op.mean_escape().escapes_at_every_eta
    assert F.identical_lists_eta_star(sampling, 3, 10, 3, 0.6) == 0.0
    assert exact_eta_star_as(op) == 0.0


SEP_CASES = [  # n_r, n_f, sigma_r, sigma_f, lam_r, lam_f, B_r, B_f, alpha  (sigma_f = n_f)
    (8, 4, 3, 4, 2.0, 1.5, 3, 2, 0.2),
    (10, 3, 5, 3, 1.0, 3.0, 4, 1, 0.1),
    (6, 5, 1, 5, 2.5, 0.7, 2, 5, 0.3),
]


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("case", SEP_CASES)
def test_separate_sets_vs_operator(sampling, case):
    """No private forget axis and alpha < alpha_c: eta* = min(shared, private retain)."""
    nr, nf, sr, sf, lr, lf, br, bf, a = case
    law = F.separate_sets_law(sampling)
    sub = {F.alpha: a, F.lam_r: lr, F.sigma_r: sr, F.n_r: nr, F.B_r: br, F.lam_f: lf,
           F.sigma_f: sf, F.n_f: nf, F.B_f: bf}
    assert a < float(law.alpha_c.subs(sub))
    thresholds = [float(law.shared.subs(sub))]
    if nr > sr:
        thresholds.append(float(law.private_retain.subs(sub)))
    retain, forget = NF.separate_sets(nr, nf, sr, sf, lr, lf, rotation=11)
    op = _op(retain, forget, a, br, bf, sampling)
    assert _rel(op.eta_star_ms(), min(thresholds)) <= OPERATOR_RTOL
    assert _rel(op.eta_star_ms(), F.separate_sets_eta_star(
        sampling, F.SeparateSets(nr, nf, sr, sf, lr, lf), br, bf, a)) <= OPERATOR_RTOL


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_separate_sets_escape(sampling):
    """Private forget axes (sigma_f < n_f) escape for alpha > 0; so does e_0 beyond alpha_c."""
    retain, forget = NF.separate_sets(6, 4, 2, 2, 1.0, 1.0, rotation=3)
    op = _op(retain, forget, 0.05, 2, 2, sampling)
    assert op.mean_escape().escapes_at_every_eta
    assert F.separate_sets_eta_star(sampling, F.SeparateSets(6, 4, 2, 2, 1.0, 1.0), 2, 2, 0.05) == 0.0
    retain, forget = NF.separate_sets(6, 4, 3, 4, 1.0, 1.0, rotation=3)
    alpha_c = (1.0 * 3 / 6) / (1.0 * 3 / 6 + 1.0 * 4 / 4)  # mu_r / (mu_r + mu_f) = 1/3
    assert not _op(retain, forget, alpha_c - 0.02, 2, 2, sampling).mean_escape(
    ).escapes_at_every_eta
    assert _op(retain, forget, alpha_c + 0.02, 2, 2, sampling).mean_escape().escapes_at_every_eta


def test_private_retain_axis_wr_differs_from_spec():
    """SPEC §4.4 claims 2 B_r/((1-alpha) lam_r) for every model; WR gives n_r/(B_r+n_r-1) times it.

    A retain set of private axes only (the σ-family with sigma = 1, lam = c n) and a zero forget
    set (A = (1 - alpha) Hbar_r; forget=None with alpha > 0 is refused) isolates the private
    retain threshold.
    """
    nr, br, lr, a = 6, 2, 1.5, 0.1
    zero = np.zeros((1, nr, 1))
    op = _op(NF.sigma_family(nr, 1, c=lr / nr, rotation=2), zero, a, br, 1, "wr")
    spec = 2 * br / ((1 - a) * lr)
    derived = spec * nr / (br + nr - 1)
    assert _rel(op.eta_star_ms(), derived) <= OPERATOR_RTOL
    assert _rel(op.eta_star_ms(), spec) > 0.1
    for sampling in ("wor", "bernoulli"):
        op = _op(NF.sigma_family(nr, 1, c=lr / nr, rotation=2), zero, a, br, 1, sampling)
        assert _rel(op.eta_star_ms(), spec) <= OPERATOR_RTOL


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize(("n", "sigma", "batch"), [(12, 4, 3), (16, 1, 5), (12, 12, 2)])
def test_clique_vs_operator(sampling, n, sigma, batch):
    """Clique with zero Hessians for the others; d >= n keeps the operator on its SVD path."""
    op = _op(NF.clique(n, sigma, 1.7, d=n, rotation=5), None, 0.0, batch, 1, sampling)
    assert op.dim == 1
    assert _rel(op.eta_star_ms(), F.clique_eta_star(sampling, sigma, 1.7, n, batch)) <= (
        OPERATOR_RTOL
    )


def test_clique_vs_operator_gram_path():
    op = _op(NF.clique(10, 4, 3.0, d=3, rotation=4), None, 0.0, 3, 1, "wor")
    assert _rel(op.eta_star_ms(), F.clique_eta_star("wor", 4, 3.0, 10, 3)) <= OPERATOR_RTOL


# ------------------------------------------------------------------------------- detection
def test_detection_recovers_axes():
    retain, forget = NF.separate_sets(7, 4, 3, 2, 1.3, 0.8, rotation=9)
    fam = diagonal_family(_op(retain, forget, 0.1, 2, 2, "wor"))
    assert fam is not None
    rows = sorted(zip(fam.m_r.tolist(), fam.m_f.tolist(), fam.multiplicity.tolist(),
                      strict=True))
    assert rows == [(0, 1, 2), (1, 0, 4), (3, 2, 1)]  # private forget, private retain, e_0
    assert np.allclose(fam.lam_r[fam.m_r > 0], 1.3) and np.allclose(fam.lam_f[fam.m_f > 0], 0.8)


def test_detection_negative_controls():
    rng = np.random.default_rng(0)
    generic = rng.standard_normal((6, 3, 1))
    assert exact_eta_star_as(_op(generic, None, 0.0, 2, 1, "wor")) is None
    # two retain curvatures on one axis: commuting but not of diagonal-law type
    f = NF.sigma_family(6, 3, rotation=1)
    f[0] *= 1.5
    assert exact_eta_star_as(_op(f, None, 0.0, 2, 1, "wor")) is None
    # a rank-two sample spanning two axes
    g = np.zeros((4, 3, 2))
    g[0, 0, 0] = g[0, 1, 1] = 1.0
    g[1:, 2, 0] = 1.0
    assert exact_eta_star_as(_op(g, None, 0.0, 2, 1, "wor")) is None


def test_dense_hessian_input_detected():
    """Dense (n, d, d) input of a rotated σ-family is detected after as_pool's eigen-factoring."""
    u = NF.sigma_family(8, 3, rotation=4)[:, :, 0]
    dense = np.einsum("ni,nj->nij", u, u)
    op = SecondMomentOperator(dense, None, UnlearningConfig(0.0, 3, 1, "bernoulli"))
    assert _rel(exact_eta_star_as(op), L.sigma_family_eta_star_as("bernoulli", 3, 8, 3)) <= AS_RTOL


# ------------------------------------------------------------------------------- simulation
def _draw(rng, sampling, n, batch):
    """One batch as sample indices, repeated by multiplicity (the scheme's sampler, itself
    checked against the enumeration of its batches in tests/sampling)."""
    z = np.rint(get_scheme(sampling).weights(rng, n, batch, 1)[0] * batch).astype(int)
    return np.repeat(np.arange(n), z)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_exact_exponent_vs_matrix_recursion(sampling):
    """log||delta_T||/T of the rotated matrix recursion vs max_k gamma_k (between the thresholds).

    Per axis k the log-coordinate is a sum of T i.i.d. log|J_k|; the norm lies between the
    largest coordinate and sqrt(d) times it, hence the extra log(sqrt(d))/T + start-up slack.
    """
    n, sigma, batch, alpha = 10, 3, 3, 0.1
    retain, forget = NF.identical_lists(n, sigma, rotation=21)
    op = _op(retain, forget, alpha, batch, batch, sampling)
    eta = 0.5 * (op.eta_star_ms() + exact_eta_star_as(op))  # ms-unstable, a.s.-stable
    fam = diagonal_family(op)
    g = L.gamma(fam, eta)
    U_r, U_f = retain[:, :, 0], forget[:, :, 0]
    rng = np.random.default_rng(3)
    steps = 6000
    delta = np.ones(U_r.shape[1]) / math.sqrt(U_r.shape[1])
    log_norm = 0.0
    for _ in range(steps):
        br, bf = _draw(rng, sampling, n, batch), _draw(rng, sampling, n, batch)
        step = (1 - alpha) / batch * (U_r[br].T @ (U_r[br] @ delta)) - (
            alpha / batch * (U_f[bf].T @ (U_f[bf] @ delta))
        )
        delta = delta - eta * step
        nrm = np.linalg.norm(delta)
        log_norm += math.log(nrm)
        delta /= nrm
    # standard deviation of log|J_k| per axis, from the exact pmf
    sds = []
    for mr, mf, lr, lf in zip(fam.m_r, fam.m_f, fam.lam_r, fam.lam_f, strict=True):
        x, p = L.axis_multiplier_law(L.AxisLaw(sampling, alpha, lr, int(mr), n, batch, lf, int(mf), n, batch))
        lj = np.log(np.abs(1 + eta * x))
        sds.append(math.sqrt(max(p @ lj**2 - (p @ lj) ** 2, 0.0)))
    slack = MC_SIGMAS * max(sds) / math.sqrt(steps) + (
        math.log(math.sqrt(U_r.shape[1])) + 10.0
    ) / steps
    assert g.max() < 0
    assert abs(log_norm / steps - g.max()) <= slack
