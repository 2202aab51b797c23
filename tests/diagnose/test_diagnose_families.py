"""diagnose on the commuting families: verdicts, thresholds and alpha_c equal the closed forms."""

import numpy as np
import pytest
import sympy as sp

from numerics.apps.diagnose import DiagnoseOptions, diagnose, diagnose_curvature
from numerics.apps.examples import synthetic
from numerics.core.families import identical_lists, separate_sets
from numerics.verify.claims.policy import Kind, tolerance
from theory import families as tf
from theory.families import (
    SeparateSets,
    identical_lists_eta_star,
    separate_sets_eta_star,
    separate_sets_law,
)
from theory.sampling import exchangeable_names

#: eta*_ms and alpha_c from the exact operator vs the closed forms: a tight threshold.
RTOL = tolerance(Kind.TIGHT_THRESHOLD).value
#: Coherences are counts of aligned samples computed two ways: an identity.
ITOL = tolerance(Kind.IDENTITY).value


def _alpha_c(sampling, n_r, n_f, s_r, s_f, lam_r, lam_f):
    law = separate_sets_law(sampling)
    val = law.alpha_c.subs({tf.lam_r: lam_r, tf.lam_f: lam_f, tf.n_r: n_r, tf.n_f: n_f,
                            tf.sigma_r: s_r, tf.sigma_f: s_f})
    return float(sp.N(val))


@pytest.mark.parametrize("sampling", exchangeable_names())
@pytest.mark.parametrize(("n_r", "n_f", "s_r", "s_f", "lam_r", "lam_f", "br", "bf", "alpha"), [
    (8, 3, 6, 3, 1.0, 1.0, 2, 1, 0.2),    # all forget on the shared axis, alpha < alpha_c
    (8, 3, 6, 3, 1.0, 1.0, 2, 1, 0.6),    # alpha > alpha_c: the mean escapes
    (6, 2, 4, 2, 1.0, 3.0, 3, 2, 0.1),    # heavier forget curvature
    (6, 3, 4, 1, 1.0, 1.0, 2, 1, 0.05),   # two private (memorised) forget axes
])
def test_separate_sets_match_closed_forms(sampling, n_r, n_f, s_r, s_f, lam_r, lam_f, br, bf,
                                          alpha):
    r, f = separate_sets(n_r, n_f, s_r, s_f, lam_r, lam_f, rotation=5)
    exact = separate_sets_eta_star(sampling, SeparateSets(n_r, n_f, s_r, s_f, lam_r, lam_f), br,
                                   bf, alpha)
    eta = 0.5 * exact if exact > 0 else 0.3
    rep = diagnose_curvature(r, f, DiagnoseOptions.of(
        alpha=alpha, batch_retain=br, batch_forget=bf, sampling=sampling, eta=eta, prescribe=False))
    assert rep.escapes_at_every_eta == (exact == 0.0)
    if exact > 0:
        assert rep.eta_star_ms == pytest.approx(exact, rel=RTOL)
        assert rep.verdict.startswith("resists below eta") and rep.escapes is False
        assert rep.rho < 1.0
    else:
        assert rep.eta_star_ms is None and rep.verdict.startswith("escapes at every step size")
        assert rep.rho > 1.0
    expected_c = _alpha_c(sampling, n_r, n_f, s_r, s_f, lam_r, lam_f) if s_f == n_f else 0.0
    assert rep.alpha_c == pytest.approx(expected_c, rel=RTOL, abs=1e-12)
    assert rep.sigma_r == pytest.approx(max(s_r, 1), rel=ITOL)


@pytest.mark.parametrize("sampling", ["wor", "bernoulli"])
def test_identical_lists(sampling):
    n, sigma, B, alpha = 10, 4, 3, 0.15
    r, f = identical_lists(n, sigma, rotation=2)
    rep = diagnose_curvature(r, f, DiagnoseOptions.of(
        alpha=alpha, batch_retain=B, batch_forget=B, sampling=sampling, prescribe=False))
    exact = identical_lists_eta_star(sampling, sigma, n, B, alpha)
    assert rep.eta_star_ms == pytest.approx(exact, rel=RTOL)
    assert rep.alpha_c == pytest.approx(0.5, rel=ITOL)  # H_f = H_r: ascent wins past 1/2
    assert rep.verdict == f"resists below eta = {exact:.6g} (escapes above it)"


def test_full_pipeline_on_linear_model_matches_closed_form():
    """The synthetic entry is a real torch model: dense exact route, same threshold."""
    e = synthetic.make_entry("aligned")
    fam = synthetic.CASES["aligned"]["family"]
    opts = e["options"]
    rep = diagnose(e["model"], e["loss"], e["retain"], e["forget"], DiagnoseOptions.of(
        alpha=opts["alpha"], eta=opts["eta"], batch_retain=opts["batch_retain"],
        batch_forget=opts["batch_forget"], unlearn_steps=0, deletion=False, progress=False,
        prescribe=False))
    exact = separate_sets_eta_star("wor", SeparateSets(**fam), opts["batch_retain"],
                                   opts["batch_forget"], opts["alpha"])
    assert rep.curvature_route == "dense" and rep.curvature["exact"]
    assert not rep.curvature["indefinite"]
    assert rep.eta_star_ms == pytest.approx(exact, rel=RTOL)
    assert rep.alpha_c == pytest.approx(
        _alpha_c("wor", fam["n_r"], fam["n_f"], fam["sigma_r"], fam["sigma_f"], fam["lam_r"],
                 fam["lam_f"]), rel=RTOL)
    assert rep.active_dim == 1 + fam["n_r"] - fam["sigma_r"]


def test_memorised_escapes_for_every_alpha():
    e = synthetic.make_entry("memorised")
    rep = diagnose(e["model"], e["loss"], e["retain"], e["forget"], DiagnoseOptions.of(
        alpha=1e-3, eta=0.1, unlearn_steps=0, deletion=False, progress=False, grid_size=2))
    assert rep.escapes_at_every_eta and rep.alpha_c == 0.0
    assert rep.out_of_span_forget == pytest.approx(1.0)
    # the witness lives on the private forget axes: carried by forget samples only
    assert rep.witness_summary["retain_curvature_along_witness"] == pytest.approx(0.0, abs=1e-12)
    assert np.linalg.norm(rep.witness) == pytest.approx(1.0)
    alpha_res = [p for p in rep.prescriptions if p["knob"] == "alpha"][0]
    assert alpha_res["value"] == 0.0 and alpha_res["check"]["flips"]
