"""Prescriptions, applied, flip the verdict -- checked by an independent operator and closed forms."""

import numpy as np
import pytest

from numerics.apps.diagnose import DiagnoseOptions, diagnose_curvature
from numerics.core.families import separate_sets
from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import SecondMomentOperator
from theory.families import SeparateSets, min_stable_batch, separate_sets_eta_star

FAMILY = (10, 3, 8, 3, 1.0, 1.0)  # n_r, n_f, sigma_r, sigma_f, lam_r, lam_f (forget aligned)


def _independent(r, f, rep, p):
    """Goal reached at the prescribed value, by a fresh SecondMomentOperator (no Criterion)."""
    cfg = dict(rep.config)
    eta = rep.eta
    if p["knob"] == "eta":
        eta = p["value"]
    else:
        cfg[p["knob"]] = p["value"]
    op = SecondMomentOperator(r, f, UnlearningConfig(cfg["alpha"], cfg["batch_retain"],
                                                     cfg["batch_forget"], cfg["sampling"]))
    if cfg["alpha"] == 0.0:  # the forget set has no weight: analyse the retain span alone
        op = SecondMomentOperator(r, None, UnlearningConfig(0.0, cfg["batch_retain"], 1,
                                                            cfg["sampling"]))
    every = op.mean_escape().escapes_at_every_eta
    if eta is None:
        escapes = every
    else:
        escapes = every or op.rho(eta) >= 1.0
    return escapes if p["goal"] == "escape" else not escapes


def _check_all(r, f, rep):
    valued = [p for p in rep.prescriptions if p["value"] is not None]
    assert valued
    for p in valued:
        assert p["check"]["flips"], p["text"]
        assert _independent(r, f, rep, p), p["text"]
        if "neighbour_unchanged" in p["check"]:
            assert p["check"]["neighbour_unchanged"], p["text"]
    return valued


@pytest.mark.parametrize("sampling", ["wor", "bernoulli"])
def test_batch_edge_equals_closed_form_and_flips(sampling):
    n_r, n_f, s_r, s_f, lam_r, lam_f = FAMILY
    r, f = separate_sets(*FAMILY, rotation=1)
    alpha, bf = 0.15, 1

    def eta_star(b):
        return separate_sets_eta_star(sampling, SeparateSets(*FAMILY), b, bf, alpha)

    eta = 0.5 * (eta_star(3) + eta_star(4))  # between the thresholds at B_r = 3 and 4
    rep = diagnose_curvature(r, f, DiagnoseOptions.of(
        alpha=alpha, batch_retain=2, batch_forget=bf, sampling=sampling, eta=eta))
    assert rep.escapes and not rep.escapes_at_every_eta
    pres = {p["knob"]: p for p in rep.prescriptions if p["goal"] == "resist"}
    expected = min_stable_batch(lambda b: eta_star(b) > eta, range(1, n_r + 1))
    assert pres["batch_retain"]["value"] == expected == 4
    assert pres["eta"]["bound"] == pytest.approx(eta_star(2), rel=1e-9)
    _check_all(r, f, rep)
    # and from the resisting side: the largest batch that escapes
    rep2 = diagnose_curvature(r, f, DiagnoseOptions.of(
        alpha=alpha, batch_retain=6, batch_forget=bf, sampling=sampling, eta=eta))
    assert rep2.escapes is False
    esc = {p["knob"]: p for p in rep2.prescriptions if p["goal"] == "escape"}
    assert esc["batch_retain"]["value"] == expected - 1
    _check_all(r, f, rep2)


def test_alpha_prescriptions_flip_mean_escape():
    r, f = separate_sets(*FAMILY, rotation=2)
    rep = diagnose_curvature(r, f, DiagnoseOptions.of(alpha=0.7, batch_retain=3, batch_forget=2))
    assert rep.escapes_at_every_eta
    alpha_c = 0.8 / (0.8 + 1.0)  # mu_r / (mu_r + mu_f)
    assert rep.alpha_c == pytest.approx(alpha_c, rel=1e-12)
    p = [p for p in rep.prescriptions if p["knob"] == "alpha"][0]
    assert p["goal"] == "resist" and p["relation"] == "<" and p["value"] < alpha_c
    _check_all(r, f, rep)
    rep2 = diagnose_curvature(r, f, DiagnoseOptions.of(alpha=0.1, batch_retain=3, batch_forget=2))
    p2 = [p for p in rep2.prescriptions if p["knob"] == "alpha"][0]
    assert p2["goal"] == "escape" and p2["value"] > alpha_c
    _check_all(r, f, rep2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_noncommuting_instances(seed):
    """Random mixed-rank families: every prescription is re-checked and independently verified."""
    rng = np.random.default_rng(seed)
    d = 4
    F = rng.standard_normal((7, d, 2))
    G = 0.4 * rng.standard_normal((3, d, 1))
    rep0 = diagnose_curvature(F, G, DiagnoseOptions.of(alpha=0.05, batch_retain=2, batch_forget=1,
                                                       prescribe=False))
    eta = 1.2 * rep0.eta_star_ms  # just above the threshold: escapes, batch sizes can fix it
    rep = diagnose_curvature(F, G, DiagnoseOptions.of(alpha=0.05, batch_retain=2, batch_forget=1,
                                                      eta=eta, grid_size=6))
    assert rep.escapes
    valued = _check_all(F, G, rep)
    assert {p["knob"] for p in valued} >= {"alpha", "eta"}


def test_escapes_every_eta_batch_sizes_cannot_help():
    r, f = separate_sets(8, 2, 6, 0, 1.0, 1.0, rotation=3)  # private forget axes
    rep = diagnose_curvature(r, f, DiagnoseOptions.of(alpha=0.3, batch_retain=2, batch_forget=1, eta=0.1))
    assert rep.escapes_at_every_eta and rep.alpha_c == 0.0
    texts = " ".join(p["text"] for p in rep.prescriptions)
    assert "cannot change" in texts and "only alpha = 0" in texts
    _check_all(r, f, rep)
