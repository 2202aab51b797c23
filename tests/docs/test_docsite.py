"""The generated documentation pages: every claim listed with its provenance and command, one page
per claim family, tables (or a note when a module is missing), expressions, API pages, and the
Sphinx configuration that CI builds."""

import ast
import json
import re
import sys
from pathlib import Path

import pytest

from numerics.verify.claims import families
from numerics.verify.claims.base import registry
from numerics.verify.tables import base
from numerics.verify.tables.base import TableSpec, table_registry

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "_ext"))
import docsite  # noqa: E402  (documentation tooling lives with the docs)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Generate into a temporary directory with a fast subset of the tables."""
    out = tmp_path_factory.mktemp("generated")
    mp = pytest.MonkeyPatch()
    table_registry()
    subset = {k: v for k, v in base._REGISTRY.items()
              if k in ("bound_tightness", "batch_moments", "claims")}
    subset["waiting"] = TableSpec("waiting", "waits", ("C5",), lambda ctx: None,
                                  ("theory.not_landed_yet",), "§0")
    mp.setattr(base, "_REGISTRY", subset)
    try:
        result = docsite.generate(out, "quick", run_claims=False, gallery=DOCS / "gallery")
    finally:
        mp.undo()
    return result


def test_claims_page_lists_every_claim(site):
    text = (site.directory / "claims.rst").read_text()
    for cid, claim in registry().items():
        assert f":doc:`{cid} </generated/theory/" in text
        assert f"``unlearnstab verify --claim {cid} --scale quick``" in text
        assert claim.kind.value in text and claim.notion.value in text
    assert "derived and checked" in text


def test_one_theory_page_per_claim_family(site):
    for family in families():
        page = (site.directory / "theory" / f"{family}.rst").read_text()
        assert f":mod:`numerics.verify.claims.{family}`" in page
        for cid, claim in registry().items():
            if claim.check.__module__.endswith("." + family):
                assert f"{cid}: " in page and ":Provenance:" in page and ":Reproduce:" in page
    index = (site.directory / "theory.rst").read_text()
    assert all(f"/generated/theory/{f}" in index for f in families())
    tight = (site.directory / "theory" / "linear_exact.rst").read_text()
    assert ".. include:: /generated/tables/bound_tightness.rst" in tight


def test_tables_and_unavailable_note(site):
    assert set(site.tables) == {"bound_tightness", "batch_moments", "claims"}
    rendered = (site.directory / "tables" / "bound_tightness.rst").read_text()
    assert rendered.startswith(".. list-table::") and ":name:" not in rendered
    note = (site.directory / "tables" / "waiting.rst").read_text()
    assert note.startswith(".. note::") and "theory.not\\_landed\\_yet" in note
    index = (site.directory / "tables.rst").read_text()
    assert "unlearnstab table --table bound_tightness" in index


def test_expressions_page_typesets_the_catalog(site):
    text = (site.directory / "expressions.rst").read_text()
    assert "``moments.wor.diag_coeff``" in text and ".. math::" in text
    assert "\\frac" in text


def test_api_pages_cover_the_packages(site):
    api = (site.directory / "api.rst").read_text()
    for mod in ("theory.moments", "theory.catalog", "numerics.core.operator", "numerics.verify.tables.base",
                "numerics.verify.golden", "numerics.core.manifest"):
        assert f"/generated/api/{mod}" in api
        assert (site.directory / "api" / f"{mod}.rst").is_file()
    assert "_common" not in api


def test_manifest_records_the_generated_pages(site):
    manifest = json.loads((site.directory / "manifest.json").read_text())
    assert "claims.rst" in manifest["outputs"]
    assert manifest["outputs"]["claims.rst"]["configuration"]["scale"] == "quick"


def test_rst_inline_math_and_escapes():
    assert docsite.rst_inline(r"$\eta^\star$ is *it*_x") == r":math:`\eta^\star` is \*it\*\_x"


def test_gallery_scripts_assert_what_they_show():
    scripts = sorted((DOCS / "gallery").glob("plot_*.py"))
    assert {s.stem for s in scripts} >= {"plot_notions", "plot_sigma_heatmap"}
    for script in scripts:
        tree = ast.parse(script.read_text())
        assert any(isinstance(node, ast.Assert) for node in ast.walk(tree)), script.name
        assert re.search(r"^Claims: C\d+", ast.get_docstring(tree), re.MULTILINE), script.name


def test_ci_builds_the_docs_with_warnings_as_errors():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "sphinx -W --keep-going -b html docs" in ci and ".[test,docs]" in ci
    conf = (DOCS / "conf.py").read_text()
    for ext in ("sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax",
                "sphinx_gallery.gen_gallery"):
        assert ext in conf
    for page in ("quickstart", "notions", "theory", "claims", "tables", "expressions", "api"):
        assert (DOCS / f"{page}.rst").is_file()


def test_each_figure_appears_once_per_family(site):
    for family in families():
        page = (site.directory / "theory" / f"{family}.rst").read_text()
        figures = re.findall(r"^\.\. figure:: (\S+)", page, re.MULTILINE)
        assert len(figures) == len(set(figures)), family


def test_inputs_page_lists_every_fuzz_case(site):
    import importlib.util

    spec = importlib.util.spec_from_file_location("unlearnstab_fuzz_cases",
                                                  ROOT / "tests" / "fuzz" / "cases.py")
    cases = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = cases
    spec.loader.exec_module(cases)
    text = (site.directory / "inputs.rst").read_text()
    assert f"**{len(cases.CASES)} cases**" in text
    for case in cases.CASES:
        assert f"``{case.id}``" in text, case.id
    assert "inputs.rst" in site.pages
