"""Tables generated from code: contents against the specification, renderers, determinism,
captions, unavailable builders, the ``table`` command and its manifest."""

import csv
import hashlib
import io
import json

import pytest

from numerics.cli import main
from numerics.core.manifest import git_revision, read_manifest, record_outputs, versions
from numerics.verify.claims.policy import Kind, tolerance
from numerics.verify.tables import base
from numerics.verify.tables.base import BuildContext, Column, Table, TableSpec, table_registry
from numerics.verify.tables.render import FORMATS, render
from theory.sampling import exchangeable_names

QUICK = BuildContext(scale="quick")


@pytest.fixture(scope="module")
def built():
    """Every available table except the slow ones, built once at the quick scale."""
    out = {}
    for tid, spec in table_registry().items():
        if spec.available and tid not in ("heatmap_agreement", "claims", "cnn_snr"):
            out[tid] = spec.build(QUICK)
    return out


def test_registry_has_the_required_tables():
    ids = set(table_registry())
    assert {"min_batch_sigma", "eta_star_alpha", "bound_tightness", "heatmap_agreement",
            "cnn_snr", "claims", "batch_moments"} <= ids
    for spec in table_registry().values():
        assert spec.title and spec.section


def test_min_batch_matches_the_specification(built):
    """SPEC §4.2 and §4.3: minimum stable B at n=100, WOR, eta=0.5 (ms / a.s.)."""
    rows = {r["sigma"]: r for r in built["min_batch_sigma"].rows}
    sgd = {1: (51, 51), 2: (34, 28), 3: (25, 19), 5: (17, 12), 10: (9, 6), 20: (4, 3),
           50: (2, 2), 100: (1, 1)}
    unl = {1: (47, 45), 2: (30, 25), 3: (22, 17), 5: (15, 10), 10: (8, 5), 20: (4, 3),
           50: (2, 1), 100: (1, 1)}
    for sigma, (ms, as_) in sgd.items():
        assert (rows[sigma]["sgd_ms"], rows[sigma]["sgd_as"]) == (ms, as_), sigma
    for sigma, (ms, as_) in unl.items():
        assert (rows[sigma]["unl_ms"], rows[sigma]["unl_as"]) == (ms, as_), sigma


def test_eta_star_alpha_matches_the_specification(built):
    """SPEC §2.3(f): eta*_ms(alpha) is not monotone."""
    got = {r["alpha"]: r["eta_star_ms"] for r in built["eta_star_alpha"].rows}
    for a, want in {0.0: 0.489, 0.1: 0.534, 0.2: 0.560, 0.3: 0.522, 0.4: 0.332,
                    0.49: 0.035}.items():
        assert got[a] == pytest.approx(want, abs=6e-4)
    for r in built["eta_star_alpha"].rows:
        assert r["eta_star_ms"] <= r["eta_star_as"] * (1 + 1e-12)


def test_tightness_brackets(built):
    rows = {r["sampling"]: r for r in built["bound_tightness"].rows}
    assert rows["all"]["violations"] == 0
    assert rows["all"]["conv_max"] <= 1 + 1e-10 and rows["all"]["div_min"] >= 1 - 1e-10
    assert rows["all"]["instances"] == sum(rows[s]["instances"] for s in exchangeable_names())


def test_heatmap_agreement_small_grid(monkeypatch):
    from numerics.verify.tables import heatmap_agreement

    # two sigma x two B cells per experiment, each with a cell between the two thresholds
    monkeypatch.setattr(heatmap_agreement, "grid_axes", lambda scale: ((5, 10), (6, 14)))
    table = table_registry()["heatmap_agreement"].build(QUICK)
    assert table.config["sigma grid"] == [5, 10]
    for r in table.rows:
        assert r["ms_below_as"]
        assert r["rate_as"] >= tolerance(Kind.AGREEMENT).value  # the C6 pass rule
        assert r["gap_cells"] >= 1  # the quick grid shows the ms / a.s. gap
        assert r["agree_as"] >= r["agree_ms"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_carries_the_caption(built, fmt):
    for table in built.values():
        text = render(table, fmt)
        for word in ("Notion:", "Configuration:", "Seeds:"):
            assert word in text or fmt == "json"
        if fmt == "json":
            data = json.loads(text)
            assert data["caption"] == table.caption and data["notion"] == table.notion
            assert len(data["rows"]) == len(table.rows)
        elif fmt == "csv":
            lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
            rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
            assert len(rows) == len(table.rows)
            assert list(rows[0]) == [c.key for c in table.columns]
        elif fmt == "md":
            assert text.count("\n|") == len(table.rows) + 2
        elif fmt == "latex":
            assert "\\begin{tabular}" in text and f"\\label{{tab:{table.table_id}}}" in text
            assert text.count("\\\\") == len(table.rows) + 1
        elif fmt == "rst":
            assert text.startswith(".. list-table::")
            assert text.count("   * - ") == len(table.rows) + 1


def test_renderers_escape_and_typeset():
    t = Table("t", "Growth of eta*_ms with sigma", [Column("a_b", "x_1", r"\sigma", ".2f"),
                                                   Column("s", "text"),
                                                   Column("m", "m", "", "math")],
              [{"a_b": 1.234, "s": "50% & #1 σ", "m": r"\frac{1}{2}"}, {"a_b": None, "s": None,
                                                                       "m": None}],
              "mean-square", {"n": 3, "alpha": 0.1}, [7])
    latex = render(t, "latex")
    assert r"50\% \& \#1 $\sigma$" in latex and r"$\frac{1}{2}$" in latex and "1.23" in latex
    assert r"eta*\_ms" in latex
    rst = render(t, "rst")
    assert r"eta\*\_ms" in rst and ":math:`\\sigma`" in rst
    md = render(t, "md")
    assert "| 1.23 | 50% & #1 σ | $\\frac{1}{2}$ |" in md and "| - | - | - |" in md
    assert "Seeds: 7." in t.caption and "alpha=0.1" in t.caption
    assert render(t, "csv").splitlines()[-1] == ",,"
    with pytest.raises(ValueError, match="unknown table format"):
        render(t, "html")


def test_tables_regenerate_identically_from_the_same_seed():
    spec = table_registry()["bound_tightness"]
    a = spec.build(BuildContext("quick", seed=11))
    b = spec.build(BuildContext("quick", seed=11))
    c = spec.build(BuildContext("quick", seed=12))
    for fmt in FORMATS:
        assert render(a, fmt) == render(b, fmt)
    assert render(a, "csv") != render(c, "csv")
    assert a.seeds == [11] and c.seeds == [12]


def test_cli_regenerates_identical_files(tmp_path):
    for d in ("a", "b"):
        assert main(["table", "--claim", "C5", "--quick", "--seed", "3", "--format", "csv",
                     "latex", "--out", str(tmp_path / d), "--quiet"]) == 0
    for name in ("bound_tightness.csv", "bound_tightness.tex"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_cli_writes_tables_and_manifest(tmp_path, capsys):
    out = tmp_path / "tables"
    rc = main(["table", "--claim", "C5", "C1", "--quick", "--format", "md", "json", "--out",
               str(out), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert {t["table"] for t in report["tables"]} == {"bound_tightness", "batch_moments"}
    manifest = read_manifest(out)
    files = manifest["outputs"]
    assert set(files) == {"bound_tightness.md", "bound_tightness.json", "batch_moments.md",
                          "batch_moments.json"}
    entry = files["bound_tightness.md"]
    assert entry["seeds"] == [505] and entry["configuration"]["scale"] == "quick"
    assert entry["configuration"]["notion"].startswith("mean-square")
    assert entry["sha256"] == hashlib.sha256((out / "bound_tightness.md").read_bytes()).hexdigest()
    for key in ("unlearnstab", "python", "numpy", "scipy", "sympy", "torch"):
        assert key in entry["versions"]
    assert "git" in entry and "created" in entry and entry["command"]


def test_cli_prints_without_out(capsys):
    assert main(["table", "--table", "batch_moments", "--format", "rst", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith(".. list-table::")


def test_cli_lists_tables(capsys):
    assert main(["table", "--list", "--json"]) == 0
    rows = {r["table"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["bound_tightness"]["available"] and rows["bound_tightness"]["claims"] == ["C5"]


def test_cli_bad_requests(capsys):
    assert main(["table", "--claim", "C99"]) == 2
    assert "unknown claim id C99" in capsys.readouterr().err
    assert main(["table", "--table", "nope"]) == 2
    assert "unknown table nope" in capsys.readouterr().err


def test_unavailable_table_is_reported(monkeypatch, capsys):
    def never(ctx):
        raise AssertionError("must not be built")

    spec = TableSpec("waiting", "a table on a module not landed yet", ("C5",), never,
                     ("theory.not_landed_yet",), "§0")
    table_registry()
    only = {"waiting": spec, "batch_moments": table_registry()["batch_moments"]}
    monkeypatch.setattr(base, "_REGISTRY", only)
    assert not spec.available and "theory.not_landed_yet" in spec.unavailable_reason()
    with pytest.raises(base.TableUnavailable, match="theory.not_landed_yet"):
        spec.make()
    assert main(["table", "--table", "waiting"]) == 1  # asked for explicitly: an error
    assert "unavailable until theory.not_landed_yet exists" in capsys.readouterr().err
    assert main(["table", "--all", "--json"]) == 0  # --all: skipped and reported
    out = json.loads(capsys.readouterr().out)
    assert [t["table"] for t in out["tables"]] == ["batch_moments"]
    assert out["unavailable"][0]["table"] == "waiting"


def test_manifest_merges_entries(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    record_outputs(tmp_path, ["a.txt"], command=["x"], configuration={"k": 1}, seeds=[1])
    record_outputs(tmp_path, [tmp_path / "b.txt"], command=["y"], configuration={"k": 2})
    m = read_manifest(tmp_path)
    assert m["outputs"]["a.txt"]["command"] == ["x"] and m["outputs"]["b.txt"]["seeds"] == []
    assert versions()["unlearnstab"]
    rev = git_revision()
    assert rev is None or len(rev["commit"]) == 40


def test_cnn_table_on_a_tiny_sweep(monkeypatch):
    from dataclasses import replace

    from numerics.verify.claims import cnn as cc

    spec = cc.SWEEPS["quick"]
    tiny = replace(spec, snrs=(0.05, 1.6), seeds=(0,), config=replace(spec.config, steps=40))
    monkeypatch.setitem(cc.SWEEPS, "quick", tiny)
    table = table_registry()["cnn_snr"].build(BuildContext("quick", seed=0))
    low, high = table.rows
    assert (low["snr"], high["snr"]) == (0.05, 1.6)
    assert low["sigma_joint"] < high["sigma_joint"] and low["rho"] > high["rho"]
    assert table.seeds == [0] and table.config["steps"] == 40
    assert "nonlinear" in table.notion and "Claims: C7, C8." in table.caption


def test_cli_table_store_reuses_cells(monkeypatch, tmp_path, capsys):
    """``table --store`` keeps the cells and a second build reuses them (identical table)."""
    from numerics.sweep.store import open_store
    from numerics.verify.tables import heatmap_agreement

    monkeypatch.setattr(heatmap_agreement, "grid_axes", lambda scale: ((5, 10), (6, 14)))
    args = ["table", "--table", "heatmap_agreement", "--quick", "--quiet"]
    assert main([*args, "--store", str(tmp_path / "st")]) == 0
    first = capsys.readouterr().out
    with open_store(tmp_path / "st") as store:
        stored = len(store)
    assert stored == 2 * 2 * len(heatmap_agreement.EXPERIMENTS)
    monkeypatch.setattr(heatmap_agreement, "cell", None)  # a reused cell is never recomputed
    assert main([*args, "--store", str(tmp_path / "st")]) == 0
    assert capsys.readouterr().out == first


def test_cli_table_bad_sweep_options(capsys):
    assert main(["table", "--table", "claims", "--quick", "--workers", "2"]) == 2
    assert "--workers sizes the process pool" in capsys.readouterr().err
