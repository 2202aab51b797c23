"""Theory regression for thresholds without a closed form (η*_as, η*_ms of random instances)."""

import dataclasses
import json
import shutil

import pytest
import sympy as sp

from numerics.cli import main
from numerics.verify import golden_thresholds as gt
from numerics.verify.claims.policy import Kind, tolerance
from theory.moments import batch_moments, n
from theory.sampling import exchangeable_names, skipped_schemes


@pytest.fixture
def thresholds_copy(tmp_path):
    """A private copy of the golden thresholds (update() must not touch the real ones)."""
    target = tmp_path / "thresholds"
    shutil.copytree(gt.DEFAULT_DIR, target)
    return target


def test_every_threshold_matches_its_golden_values():
    report = gt.check()
    assert {e.name for e in report.entries} == set(gt.THRESHOLDS) | set(gt.SKIPPED)
    assert {e.name for e in report.entries if e.status == "skipped"} == set(gt.SKIPPED)
    bad = [gt.format_threshold(e) for e in report.failed]
    assert not bad, "thresholds moved (review, then `unlearnstab golden --update`):\n" \
        + "\n".join(bad)


def test_golden_values_contain_the_gradient_descent_limit():
    """σ = n puts every sample on the one axis with λ = c: every batch of a fixed size has mean
    curvature c, the recursion is deterministic 1 - ηc, and η*_as = 2/c (= 1 for c = 2)."""
    for s in exchangeable_names():
        rec = json.loads((gt.DEFAULT_DIR / f"lyapunov.sigma_family.eta_star_as.{s}.json")
                         .read_text())
        gd = [v for v in rec["values"] if v["point"]["sigma"] == v["point"]["n"]]
        assert gd, "the reference points must include sigma = n"
        mom = batch_moments(s)  # Var(sum_i z_i) = 0: every batch has exactly B members
        if sp.simplify(n * mom.ez2 + n * (n - 1) * mom.ezz - (n * mom.ez) ** 2) != 0:
            continue  # batches vary in size (Bernoulli): not deterministic, no GD limit
        for v in gd:
            assert v["value"] == pytest.approx(2.0 / v["point"]["c"],
                                               rel=tolerance(Kind.TIGHT_THRESHOLD).value)


def test_a_moved_threshold_is_caught_and_printed(monkeypatch, thresholds_copy, capsys):
    name = "lyapunov.sigma_family.eta_star_as.wor"
    t = gt.THRESHOLDS[name]
    moved = dataclasses.replace(t, compute=lambda **p: t.compute(**p) * (1 + 1e-6))
    monkeypatch.setitem(gt.THRESHOLDS, name, moved)
    report = gt.check(thresholds_copy, names=[name])
    (e,) = report.entries
    assert e.status == "changed" and e.failed
    assert e.worst == pytest.approx(1e-6, rel=1e-3)
    text = gt.format_threshold(e)
    assert "CHANGED" in text and name in text and "relative change 1e-06" in text
    assert main(["golden", "--thresholds-dir", str(thresholds_copy), "--name", name]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["golden", "--thresholds-dir", str(thresholds_copy), "--name", name,
                 "--update"]) == 0
    assert main(["golden", "--thresholds-dir", str(thresholds_copy), "--name", name]) == 0


def test_a_change_below_the_tolerance_passes(monkeypatch, thresholds_copy):
    name = "operator.eta_star_ms.random_instance"
    t = gt.THRESHOLDS[name]
    nudged = dataclasses.replace(t, compute=lambda **p: t.compute(**p) * (1 + 1e-12))
    monkeypatch.setitem(gt.THRESHOLDS, name, nudged)
    (e,) = gt.check(thresholds_copy, names=[name]).entries
    assert e.status == "same"


def test_new_and_removed_thresholds_fail(thresholds_copy):
    kept = "lyapunov.identical_lists.eta_star_as.wr"
    (thresholds_copy / f"{kept}.json").unlink()
    stale = json.loads((thresholds_copy / "lyapunov.sigma_family.eta_star_as.wr.json").read_text())
    (thresholds_copy / "lyapunov.gone.eta_star_as.json").write_text(json.dumps(stale))
    report = gt.check(thresholds_copy, names=["lyapunov"])
    status = {e.name: e.status for e in report.entries}
    assert status[kept] == "new" and status["lyapunov.gone.eta_star_as"] == "removed"
    assert {e.name for e in report.failed} == {kept, "lyapunov.gone.eta_star_as"}
    gt.update(thresholds_copy, names=["lyapunov"])
    assert not gt.check(thresholds_copy, names=["lyapunov"]).failed
    assert not (thresholds_copy / "lyapunov.gone.eta_star_as.json").exists()


def test_a_nan_threshold_is_a_change(monkeypatch, thresholds_copy):
    """NaN at one point (not the first) must not vanish in the maximum over the points."""
    name = "lyapunov.sigma_family.eta_star_as.wor"
    t = gt.THRESHOLDS[name]
    second = dict(t.points[1])
    nan_at_second = dataclasses.replace(
        t, compute=lambda **p: float("nan") if p == second else t.compute(**p))
    monkeypatch.setitem(gt.THRESHOLDS, name, nan_at_second)
    (e,) = gt.check(thresholds_copy, names=[name]).entries
    assert e.status == "changed" and e.failed


def test_schemes_without_a_count_law_are_skipped_with_their_reason():
    report = gt.check(names=["lyapunov"])
    skipped = {e.name: e for e in report.entries if e.status == "skipped"}
    expected = {f"lyapunov.{f}.eta_star_as.{s}": reason for s, reason in skipped_schemes().items()
                for f in ("identical_lists", "sigma_family")}
    assert {k: e.detail for k, e in skipped.items()} == expected
    assert not any(e.failed for e in skipped.values())
