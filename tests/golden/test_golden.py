"""Theory regression: every derived expression matches its golden file; changes are caught and
printed readably; algebraically equal rewrites pass; ``unlearnstab golden`` and ``--update``."""

import dataclasses
import json
import shutil

import pytest
import sympy as sp

from numerics.cli import main
from numerics.verify import golden
from theory import catalog
from theory.catalog import expressions, register_expression
from theory.sampling import get_scheme, scheme_names


def _swap_getter(monkeypatch, name, getter):
    """Replace one catalog entry's getter (the registry is what check() reads)."""
    entry = expressions()[name]
    monkeypatch.setitem(catalog._REGISTRY, name, dataclasses.replace(entry, getter=getter))
    return entry


@pytest.fixture
def golden_copy(tmp_path):
    """A private copy of the golden directory (update() must not touch the real one)."""
    target = tmp_path / "golden"
    shutil.copytree(golden.DEFAULT_DIR, target)
    return target


def test_every_expression_matches_its_golden_file():
    report = golden.check()
    assert report.entries, "the catalog is empty"
    bad = [golden.format_entry(e) for e in report.failed]
    assert not bad, "derived expressions changed (review, then `unlearnstab golden --update`):\n" \
        + "\n".join(bad)
    names = {e.name for e in report.entries}
    skipped = {e.name for e in report.entries if e.status == "skipped"}
    for sampling in scheme_names():
        for q in ("diag_coeff", "mean_coeff"):
            assert f"moments.{sampling}.{q}" in names - skipped
        for q in ("count_mean", "count_var"):  # exchangeable schemes only; the others say why
            assert f"moments.{sampling}.{q}" in (names - skipped if get_scheme(sampling).exchangeable
                                                 else skipped)
    for e in report.entries:
        if e.status == "skipped":
            assert "not exchangeable" in e.detail and not e.failed


def test_a_deliberately_altered_expression_is_caught(monkeypatch):
    name = "moments.wor.diag_coeff"
    entry = expressions()[name]
    true = entry.expr()
    n, B = entry.symbols
    _swap_getter(monkeypatch, name, lambda: true * (n - 1) / n)  # a plausible slip
    report = golden.check(names=[name])
    (e,) = report.entries
    assert e.status == "changed" and e.failed
    text = golden.format_entry(e)
    assert "CHANGED" in text and name in text
    assert "old: " + sp.sstr(true) in text
    assert "new: " + sp.sstr(true * (n - 1) / n) in text
    assert "latex:" in text
    # values at the reference points, old and new: at n=7, B=3 the true value is 4/126
    assert "at n=7, B=3: old = 2/63   new = 4/147" in text


def test_a_small_numeric_change_is_caught(monkeypatch):
    name = "bounds.eta_conv"
    true = expressions()[name].expr()
    _swap_getter(monkeypatch, name, lambda: true * (1 + sp.Rational(1, 10**9)))
    (e,) = golden.check(names=[name]).entries
    assert e.status == "changed"


@pytest.mark.parametrize("rewrite", [sp.expand, sp.apart, sp.together, lambda x: sp.factor(x),
                                     lambda x: sp.Mul(2, x, evaluate=False) / 2])
def test_an_equivalent_rewrite_passes(monkeypatch, rewrite):
    name = "moments.wor.count_var"
    true = expressions()[name].expr()
    n = expressions()[name].symbols[0]
    rewritten = rewrite(true) if rewrite is not sp.apart else sp.apart(true, n)
    _swap_getter(monkeypatch, name, lambda: rewritten)
    (e,) = golden.check(names=[name]).entries
    assert not e.failed, golden.format_entry(e)
    assert e.status in ("same", "equivalent")


def test_expanded_vs_factored_is_equivalent_not_same(monkeypatch):
    name = "families.sigma_family.wor.shared"
    true = expressions()[name].expr()
    expanded = sp.expand(sp.together(true), deep=True)
    assert sp.srepr(expanded) != sp.srepr(true)
    _swap_getter(monkeypatch, name, lambda: expanded)
    (e,) = golden.check(names=[name]).entries
    assert e.status == "equivalent", golden.format_entry(e)
    assert "numerically equal" in e.detail


def test_symbolic_fallback_decides_when_numerics_cannot():
    x = sp.Symbol("x", positive=True)
    entry = catalog.Expression("t.x", lambda: x, (x,), ({"x": sp.Integer(2)},), "[D]")
    ok, how = golden.equivalent(entry, sp.sqrt(x) ** 2, x)
    assert ok
    assert not golden.equivalent(entry, x, x + 1)[0]


def test_new_and_removed_expressions_fail(golden_copy):
    (golden_copy / "moments.wor.diag_coeff.json").unlink()
    stale = json.loads((golden_copy / "moments.wr.diag_coeff.json").read_text())
    stale["name"] = "moments.gone.diag_coeff"
    (golden_copy / "moments.gone.diag_coeff.json").write_text(json.dumps(stale))
    report = golden.check(golden_copy, names=["moments"])
    status = {e.name: e.status for e in report.entries}
    assert status["moments.wor.diag_coeff"] == "new"
    assert status["moments.gone.diag_coeff"] == "removed"
    assert {e.name for e in report.failed} == {"moments.wor.diag_coeff", "moments.gone.diag_coeff"}


def test_update_reblesses_after_review(monkeypatch, golden_copy, capsys):
    name = "moments.bernoulli.diag_coeff"
    entry = expressions()[name]
    n, B = entry.symbols
    _swap_getter(monkeypatch, name, lambda: (n - B) / (B * n * (n + 1)))
    assert main(["golden", "--dir", str(golden_copy), "--name", "moments"]) == 1
    out = capsys.readouterr().out
    assert "CHANGED" in out and "FAIL" in out and "golden --update" in out
    assert main(["golden", "--dir", str(golden_copy), "--name", "moments", "--update"]) == 0
    assert main(["golden", "--dir", str(golden_copy), "--name", "moments"]) == 0
    record = json.loads((golden_copy / f"{name}.json").read_text())
    assert record["text"] == sp.sstr((n - B) / (B * n * (n + 1)))
    assert record["values"][0]["value"] == "1/42"  # n=7, B=3: 4 / (3*7*8)


def test_golden_json_output(capsys):
    assert main(["golden", "--json", "--name", "moments.wor"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] and out["mode"] == "check"
    assert out["thresholds"]["entries"] == []  # no threshold is named moments.wor.*
    assert {e["name"] for e in out["expressions"]["entries"]} == {
        f"moments.wor.{q}" for q in ("diag_coeff", "mean_coeff", "count_mean", "count_var")}


def test_golden_files_are_canonical():
    """Serialising again gives the same bytes (stable key order, exact values)."""
    for name in ("moments.wor.diag_coeff", "bounds.eta_div", "families.clique.bernoulli.eta_star"):
        entry = expressions()[name]
        path = golden.DEFAULT_DIR / f"{name}.json"
        assert golden.dumps(golden.serialize(entry)) == path.read_text(encoding="utf-8")
        assert golden.parse(json.loads(path.read_text())) == entry.expr()


def test_catalog_rejects_bad_registrations():
    x = sp.Symbol("x")
    with pytest.raises(ValueError, match="registered twice"):
        register_expression("moments.wor.diag_coeff", lambda: x, (x,), ({"x": 1},), "[D]")
    with pytest.raises(ValueError, match="must give exactly"):
        register_expression("t.bad_point", lambda: x, (x,), ({"y": 1},), "[D]")
    entry = catalog.Expression("t.undeclared", lambda: x + sp.Symbol("y"), (x,),
                               ({"x": sp.Integer(1)},), "[D]")
    with pytest.raises(ValueError, match="undeclared symbols"):
        entry.expr()


def test_provenance_classes():
    kinds = catalog.provenance_kinds
    assert kinds("SPEC §2.1 [D✓ C-MOM]") == ["derived and checked"]
    assert kinds("SPEC §2.3(e) [S:MM for SGD; D✓]") == ["sourced", "derived and checked"]
    assert kinds("[S:CAO/KOU; D]") == ["sourced", "derived"]
    assert kinds("SPEC §3.2 [D], naming [C]") == ["derived", "conjectured"]


def test_changed_symbol_assumptions_alone_are_a_rewrite(monkeypatch):
    name = "moments.wr.diag_coeff"
    true = expressions()[name].expr()
    plain = true.xreplace({s: sp.Symbol(str(s)) for s in true.free_symbols})
    assert sp.srepr(plain) != sp.srepr(true)
    _swap_getter(monkeypatch, name, lambda: plain)
    (e,) = golden.check(names=[name]).entries
    assert e.status == "equivalent", golden.format_entry(e)
