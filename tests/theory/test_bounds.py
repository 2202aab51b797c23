"""Scalar sufficient conditions of SPEC §3.4 (theory.bounds): forms, tightness, bracket."""

import numpy as np
import pytest
import sympy as sp

from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import SecondMomentOperator
from theory import bounds as Bd
from theory import families as F
from theory.families import lam, sigma
from theory.moments import B, batch_moments, n
from theory.sampling import exchangeable_names

SAMPLINGS = exchangeable_names()
#: Bracket eta_conv <= eta*_ms <= eta_div: eta*_ms is an eigenvalue solve accurate to ~1e-13.
BRACKET_RTOL = 1e-9


def _zero(expr) -> bool:
    return sp.simplify(sp.together(expr)) == 0


def test_scalar_forms_match_spec():
    assert _zero(Bd.eta_conv() - 2 / (Bd.lam_A + Bd.c_star))
    assert _zero(Bd.eta_div() - 2 * Bd.a_v / (Bd.a_v**2 + Bd.s_v))
    assert Bd.eta_conv_value(1.5, 0.5) == pytest.approx(1.0)
    assert Bd.eta_div_value(1.0, 1.0) == pytest.approx(1.0)
    assert Bd.eta_div_value(-0.5, 1.0) == 0.0  # a_v <= 0: escape at every eta


def test_conv_weights_match_spec():
    q = B / n
    assert _zero(Bd.conv_weight("bernoulli") - (1 - q) / (n * B))
    assert _zero(Bd.conv_weight("wor") - (n - B) / (B * (n - 1)) / n)


def test_bernoulli_corollary_is_tight_on_clique():
    """SPEC §3.4 corollary == SPEC transcription == §4.5 clique law (derived) on the clique."""
    q = B / n
    cor = Bd.sgd_conv("bernoulli")
    assert _zero(cor - 2 / (Bd.lam_Hbar + (1 - q) * Bd.lam_star / B))
    on_clique = cor.subs({Bd.lam_Hbar: sigma * lam / n, Bd.lam_star: lam}, simultaneous=True)
    assert _zero(on_clique - F.clique_law("bernoulli").eta_star)


@pytest.mark.parametrize("sampling", ("wor", "wr"))
def test_centred_corollary_is_conservative_on_clique(sampling):
    """WOR/WR drop the centring term b Hbar M Hbar (b < 0): a strict lower bound for B < n."""
    cor = Bd.sgd_conv(sampling).subs({Bd.lam_Hbar: sigma * lam / n, Bd.lam_star: lam},
                                     simultaneous=True)
    gap = sp.factor(F.clique_law(sampling).eta_star - cor)
    for pt in [{n: 10, B: 3, sigma: 4, lam: 2}, {n: 50, B: 7, sigma: 1, lam: 0.3}]:
        assert gap.subs(pt) > 0


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_eta_div_exact_on_clique(sampling):
    """Commuting family: the Rayleigh bound at the clique axis equals the clique law."""
    mom = batch_moments(sampling)
    a = sigma * lam / n
    s = mom.diag_coeff * sigma * lam**2 + mom.mean_coeff * a**2  # <vv, C(vv)> on the axis
    div = Bd.eta_div().subs({Bd.a_v: a, Bd.s_v: s}, simultaneous=True)
    assert _zero(div - F.clique_law(sampling).eta_star)


def _random_instance(rng, d=3):
    retain = rng.standard_normal((5, d, 2))
    forget = 0.3 * rng.standard_normal((3, d, 1))
    return retain, forget


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_bracket_on_random_instances(sampling):
    """eta_conv <= eta*_ms <= min_v eta_div(v) (SPEC §3.4) with c*, a_v, s_v computed here."""
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(100):
        if checked == 8:
            break
        retain, forget = _random_instance(rng)
        cfg = UnlearningConfig(alpha=0.15, batch_retain=2, batch_forget=2, sampling=sampling)
        op = SecondMomentOperator(retain, forget, cfg)
        evals, evecs = op.eig_A()
        if evals[0] <= 1e-3 * evals[-1]:
            continue
        checked += 1
        eta_ms = op.eta_star_ms()
        # convergence bound: K = sum_sets w^2 a_set sum_i lambda_max(H_i) H_i
        K = np.zeros_like(op.A)
        for w, pool, (a_coef, _) in [(1 - cfg.alpha, op.retain, op.coef_retain),
                                     (cfg.alpha, op.forget, op.coef_forget)]:
            H = pool.dense()
            K += w**2 * a_coef * np.einsum("n,nij->ij", pool.lambda_max(), H)
        inv_sqrt = evecs @ np.diag(evals**-0.5) @ evecs.T
        c_star = np.linalg.eigvalsh(inv_sqrt @ K @ inv_sqrt)[-1]
        conv = Bd.eta_conv_value(evals[-1], c_star)
        # divergence bound over eigenvectors of A and top eigenvectors of every H_i
        cands = [evecs[:, j] for j in range(op.dim)]
        for pool in (op.retain, op.forget):
            for h in pool.dense():
                cands.append(np.linalg.eigh(h)[1][:, -1])
        divs = []
        for v in cands:
            vv = np.outer(v, v) / (v @ v)
            divs.append(Bd.eta_div_value(np.sum(vv * op.A), np.sum(vv * op.noise(vv))))
        assert conv <= eta_ms * (1 + BRACKET_RTOL)
        assert eta_ms <= min(divs) * (1 + BRACKET_RTOL)
    assert checked == 8
