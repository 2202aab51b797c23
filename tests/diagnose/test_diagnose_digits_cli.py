"""The digits example at a small size, the synthetic deletion cases, and the CLI output files."""

import json

import numpy as np
import pytest
import torch

from numerics.apps.diagnose import DiagnoseOptions, diagnose
from numerics.apps.diagnose.api import REPORT_KEYS
from numerics.apps.diagnose.data import FlatModel, as_dataset
from numerics.apps.diagnose.options import RunOptions
from numerics.apps.diagnose.unlearn import gradient_difference
from numerics.apps.examples import digits, synthetic
from numerics.cli import main
from numerics.core.inputs import UnlearningConfig

SMALL = {"n_train": 40, "hidden": 4, "steps": 300, "n_forget": 3, "n_test": 60}


@pytest.mark.parametrize("kind", ["mislabeled", "redundant"])
def test_digits_diagnose_small(kind):
    pytest.importorskip("sklearn")
    e = digits.make_entry(kind, **SMALL)
    opts = dict(e["options"], batch_retain=8, batch_forget=2, unlearn_steps=30)
    rep = diagnose(e["model"], e["loss"], e["retain"], e["forget"],
                   DiagnoseOptions.of(train_seed=e["seed"], progress=False, grid_size=3, **opts),
                   test=e["test"], train=e["train"], output_map=e["output_map"])
    d = rep.as_dict()
    assert set(REPORT_KEYS) <= set(d)
    assert rep.curvature_route == "ggn" and rep.curvature["ggn_residual"]["measured"]
    assert rep.n_retain_block == 37 and rep.coherence_matrix.shape == (40, 40)
    # The forget samples curve directions the retain set does not (their out-of-span part is
    # positive), so SPEC §2.3(c) predicts lambda_min(A|V) < 0 at alpha = 0.1: escape at every
    # step size.  Two routes independent of the eigenvalue of A confirm it: rho(T(eta)) > 1 by
    # Lanczos on T at the configured eta, and the critical mixing alpha_c (generalised
    # eigenproblem / bisection over alpha) lies below the configured alpha.
    assert rep.out_of_span_forget > 0
    assert rep.verdict_code == "escapes_at_every_eta" and rep.lambda_min_A < 0
    assert rep.rho > 1.0
    assert rep.alpha_c < opts["alpha"]
    for p in rep.prescriptions:
        if p["value"] is not None:
            assert p["check"]["flips"], p["text"]
    u, dl = rep.unlearning, rep.deletion
    assert u["steps_taken"] == 30
    assert set(dl["function_distance"]["original-retrained"]) == {"retain", "forget", "test"}
    assert dl["parameter_distance"]["original-retrained"] > 0
    assert rep.standards


def test_digits_entry_kinds_are_disjoint_and_sized():
    pytest.importorskip("sklearn")
    for kind in digits.KINDS:
        s = digits._split(digits.DigitsConfig(**SMALL), kind)
        assert np.intersect1d(s["retain"], s["forget"]).size == 0
        assert s["retain"].size + s["forget"].size == SMALL["n_train"]
    s = digits._split(digits.DigitsConfig(**SMALL), "class")
    assert (s["y"][s["forget"]] == 3).all() and s["forget"].size == 4


def test_synthetic_deletion_standard_cases():
    rows = {c: synthetic.run_case(c)["row"] for c in synthetic.CASES}
    aligned, high, mem = rows["aligned"], rows["aligned_high_alpha"], rows["memorised"]
    # the reviewer's case: resists, and retraining reproduces the model
    assert aligned["verdict"] == "resists_below" and not aligned["escaped"]
    assert aligned["already_met"] and aligned["d_forget_orig_re"] < 1e-20
    assert "not in substance" in aligned["standards"]
    # escapes although nothing needed removing
    assert high["verdict"] == "escapes_at_every_eta" and high["escaped"] and high["already_met"]
    assert "needless damage" in high["standards"]
    # memorised: both standards say remove; escape overshoots the retrained weights
    assert mem["verdict"] == "escapes_at_every_eta" and mem["escaped"]
    assert not mem["already_met"] and mem["d_forget_unl_re"] > mem["d_forget_orig_re"]


def test_generic_unlearning_step_matches_formula():
    """One full-batch step equals w - eta[(1-a) grad L_r - a grad L_f] for a linear model."""
    torch.manual_seed(0)
    X = torch.randn(6, 3, dtype=torch.float64)
    y = torch.randn(6, dtype=torch.float64)
    model = synthetic.Linear(3, 0)
    flat = FlatModel(model)
    r, f = as_dataset((X[:4], y[:4]), "retain"), as_dataset((X[4:], y[4:]), "forget")
    a, eta = 0.3, 0.05
    run = gradient_difference(flat, synthetic.loss, r, f, UnlearningConfig(a, 4, 2), eta,
                              run=RunOptions(unlearn_steps=1))
    w = flat.theta
    g_r = X[:4].T @ (X[:4] @ w - y[:4]) / 4
    g_f = X[4:].T @ (X[4:] @ w - y[4:]) / 2
    expected = w - eta * ((1 - a) * g_r - a * g_f)
    torch.testing.assert_close(run.theta, expected, rtol=1e-12, atol=1e-12)


def test_cli_json_and_outputs(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["diagnose", "--entry", "numerics.apps.examples.synthetic:entry_aligned", "--json",
               "--no-progress", "--out", str(out), "--grid", "4", "--unlearn-steps", "50"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("verdict", "rho", "eta_star_ms", "escapes_at_every_eta", "lambda_min_A",
                "sigma_r", "sigma_f", "sigma_rf", "sigma_joint", "curvature_route",
                "prescription", "prescriptions", "deletion", "unlearning"):
        assert key in d
    assert d["verdict"].startswith("resists below eta")
    assert d["curvature_route"] == "dense" and d["deletion"]["already_met"] is True
    saved = json.loads((out / "report.json").read_text())
    assert saved["eta_star_ms"] == pytest.approx(d["eta_star_ms"])
    assert (out / "diagnose.png").stat().st_size > 1000
    assert np.load(out / "witness.npy").shape == (3,)


def test_cli_text_and_overrides(capsys):
    rc = main(["diagnose", "--entry", "numerics.apps.examples.synthetic:entry_memorised",
               "--no-progress", "--alpha", "0.2", "--unlearn-steps", "0", "--no-deletion",
               "--grid", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "escapes at every step size" in out and "only alpha = 0" in out
