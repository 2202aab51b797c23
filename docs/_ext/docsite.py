r"""Pages of the documentation site generated from the registries (never typed by hand).

:func:`generate` writes reStructuredText into a directory (``docs/generated`` during a Sphinx
build):

* ``claims.rst`` -- every claim with its kind, notion, provenance, status and command;
* ``theory/<family>.rst`` -- one page per claim family (a module of :mod:`numerics.verify.claims`): the
  module's text, each claim's statement and provenance, its tables and its gallery figures;
* ``tables/<table>.rst`` -- every table of :mod:`numerics.verify.tables` at the chosen scale (or a note
  saying which module it waits for);
* ``expressions.rst`` -- the catalog of derived expressions (:mod:`theory.catalog`);
* ``inputs.rst`` -- what each input of the fuzz suite's case list gets (``tests/fuzz/cases.py``);
* ``api/<module>.rst`` and ``api.rst`` -- autodoc pages for every public module;
* ``manifest.json`` -- the configuration, seeds and versions that produced the pages.

Claim families, tables, expressions and modules are discovered, so new ones appear without edits.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["generate", "rst_inline", "GeneratedSite", "PACKAGES"]

#: Packages whose modules get API pages.
PACKAGES: tuple[str, ...] = ("theory", "numerics")
#: Gallery scripts state the claims they illustrate on a line ``Claims: C6, C10``.
_CLAIMS_LINE = re.compile(r"^\s*Claims:\s*(.+)$", re.MULTILINE)


@dataclass
class GeneratedSite:
    """What :func:`generate` wrote: pages, tables built or waiting, and the claim results."""

    directory: Path
    pages: list[str] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)


# ------------------------------------------------------------------------------------ helpers
def rst_inline(text: str) -> str:
    r"""Plain text (with ``$...$`` LaTeX) as inline rst: math becomes ``:math:``, the rest escaped."""
    out = []
    for i, part in enumerate(re.split(r"(?<!\\)\$", text)):
        if i % 2:
            out.append(f":math:`{part}`")
        else:
            for ch in ("\\", "*", "`", "|", "_"):
                part = part.replace(ch, "\\" + ch)
            out.append(part)
    return "".join(out)


def _rel(directory: Path) -> str:
    """The generated directory as seen from the docs source (``generated`` by default)."""
    return _SOURCE_RELATIVE.get(directory.resolve(), directory.name)


#: Generated directory -> its path relative to the docs source, set by :func:`generate`.
_SOURCE_RELATIVE: dict[Path, str] = {}


def _heading(text: str, char: str, over: bool = False) -> str:
    line = char * max(len(text), 3)
    return f"{line}\n{text}\n{line}\n" if over else f"{text}\n{line}\n"


def _write(directory: Path, rel: str, text: str, site: GeneratedSite) -> None:
    """Write only when the text changed (keeps Sphinx's incremental builds incremental)."""
    path = directory / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    site.pages.append(rel)


def _docstring(module_name: str) -> str:
    import inspect

    return inspect.getdoc(importlib.import_module(module_name)) or ""


# --------------------------------------------------------------------------------------- API
def public_modules(packages: Iterable[str] = PACKAGES) -> list[str]:
    """Every public module of ``packages`` (a leading ``_`` is private).

    Modules that wait for a ``theory.*`` / ``numerics.*`` module not in the tree are skipped.
    """
    out: list[str] = []
    for pkg_name in packages:
        pkg = importlib.import_module(pkg_name)
        out.append(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + "."):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            try:
                importlib.import_module(info.name)
            except ModuleNotFoundError as exc:  # waits for a module that has not landed yet
                if (exc.name or "").startswith(("theory.", "numerics.")):
                    continue
                raise
            out.append(info.name)
    return sorted(set(out))


def _members_option(module_name: str) -> str:
    """The automodule member options: the module's own objects, never re-exported ones.

    A class or function in ``__all__`` that the module imports from another module is documented
    on that module's page only: documented twice, the cross-references are ambiguous and the
    source pages' links go to the wrong page.
    """
    module = importlib.import_module(module_name)

    def imported(obj: object) -> bool:  # a class or function defined in another module
        return ((inspect.isclass(obj) or inspect.isroutine(obj))
                and getattr(obj, "__module__", module_name) != module_name)

    foreign = [n for n in getattr(module, "__all__", ()) if imported(getattr(module, n, None))]
    return "   :members:\n" + (f"   :exclude-members: {', '.join(foreign)}\n" if foreign else "")


def _api_pages(directory: Path, site: GeneratedSite) -> None:
    modules = public_modules()
    for mod in modules:
        text = (_heading(f"``{mod}``", "=") + "\n"
                + f".. automodule:: {mod}\n{_members_option(mod)}   :show-inheritance:\n")
        _write(directory, f"api/{mod}.rst", text, site)
    index = ".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   /{_rel(directory)}/api/{m}\n"
                                                       for m in modules)
    _write(directory, "api.rst", index, site)


# ------------------------------------------------------------------------------------ tables
def _table_pages(directory: Path, scale: str, run_claims: bool, site: GeneratedSite) -> None:
    from numerics.verify.tables.base import BuildContext, table_registry
    from numerics.verify.tables.render import render_rst

    ctx = BuildContext(scale=scale)
    index: list[str] = []
    for tid, spec in table_registry().items():
        if not spec.available:
            reason = spec.unavailable_reason()
            site.unavailable[tid] = reason
            text = f".. note::\n\n   {rst_inline(reason)}.\n"
        else:
            table = spec.build(ctx, run=run_claims) if tid == "claims" else spec.build(ctx)
            site.tables[tid] = table
            text = render_rst(table, label=False)  # included on several pages
        _write(directory, f"tables/{tid}.rst", text, site)
        index += [_heading(f"{spec.title} (``{tid}``)", "-"),
                  f"Claims: {', '.join(spec.claims) or 'all'}; specification {spec.section}.  "
                  f"Command: ``unlearnstab table --table {tid} --format md``.", "",
                  f".. include:: /{_rel(directory)}/tables/{tid}.rst", ""]
    _write(directory, "tables.rst", "\n".join(index), site)


# ------------------------------------------------------------------------------------ claims
def _claims_page(site: GeneratedSite, directory: Path) -> None:
    rows = site.claims
    lines = [".. list-table:: Every claim, how it is checked and how to reproduce it.",
             "   :header-rows: 1", "   :widths: 7 31 11 11 16 7 17", "   :class: fit-table", "",
             "   * - claim", "     - statement", "     - kind", "     - notion",
             "     - provenance", "     - status", "     - command"]
    for r in rows:
        family = r.get("family", "")
        ref = f":doc:`{r['claim']} </{_rel(directory)}/theory/{family}>`" if family else r["claim"]
        lines += [f"   * - {ref}", f"     - {rst_inline(r['statement'])}",
                  f"     - {r['kind']}", f"     - {r['notion']}",
                  f"     - {r['provenance']} ({rst_inline(r['source'])})",
                  f"     - {r['status']}", f"     - ``{r['command']}``"]
    _write(directory, "claims.rst", "\n".join(lines) + "\n", site)


def _gallery_claims(gallery: Path | None) -> dict[str, list[tuple[str, str]]]:
    """Map claim id -> [(script stem, title)] from the ``Claims:`` line of each gallery script."""
    out: dict[str, list[tuple[str, str]]] = {}
    if gallery is None or not gallery.is_dir():
        return out
    for script in sorted(gallery.glob("plot_*.py")):
        text = script.read_text(encoding="utf-8")
        match = _CLAIMS_LINE.search(text)
        if not match:
            continue
        doc = re.search(r'"""\s*(.+?)\n', text)
        title = doc.group(1).strip() if doc else script.stem
        for cid in re.findall(r"C\d+(?:\.[a-z])?", match.group(1)):
            out.setdefault(cid, []).append((script.stem, title))
    return out


def _family_pages(directory: Path, site: GeneratedSite, gallery: Path | None,
                  gallery_out: str) -> None:
    from numerics.verify.claims import families
    from numerics.verify.tables.base import table_registry

    figures = _gallery_claims(gallery)
    specs = table_registry()
    by_family: dict[str, list[dict[str, Any]]] = {}
    for r in site.claims:
        by_family.setdefault(r["family"], []).append(r)
    family_names = families()
    for family in family_names:
        doc = _docstring(f"numerics.verify.claims.{family}")
        title, _, body = doc.partition("\n")
        parts = [_heading(title.strip().rstrip(".") or family, "="), body.strip(), "",
                 f"Module: :mod:`numerics.verify.claims.{family}`.", ""]
        tables: list[str] = []
        shown: list[tuple[str, str]] = []
        for r in by_family.get(family, []):
            cid = r["claim"]
            parts += [_heading(f"{cid}: {r['title']}", "-"),
                      f":Statement: {rst_inline(r['statement'])}",
                      f":Kind: {r['kind']}", f":Notion: {r['notion']}",
                      f":Provenance: {r['provenance']} — {rst_inline(r['source'])}",
                      f":Status: {r['status']} (scale ``{r['scale']}``)",
                      f":Reproduce: ``{r['command']}``", ""]
            tables += [s.table_id for s in specs.values() if s.table_id not in tables and any(
                c == cid or cid.startswith(c + ".") for c in s.claims)]
            head = cid.split(".")[0]
            for fig in figures.get(cid, []) + figures.get(head, []):
                if fig not in shown:
                    shown.append(fig)
        if tables:
            parts += [_heading("Tables", "-")]
            for tid in tables:
                parts += [f"``unlearnstab table --table {tid}``", "",
                          f".. include:: /{_rel(directory)}/tables/{tid}.rst", ""]
        if shown:
            parts += [_heading("Figures", "-")]
            for stem, fig_title in shown:
                parts += [f".. figure:: /{gallery_out}/images/sphx_glr_{stem}_001.png",
                          "   :width: 80%", "",
                          f"   {rst_inline(fig_title)} "
                          f"(:ref:`gallery script <sphx_glr_{gallery_out}_{stem}.py>`)", ""]
        _write(directory, f"theory/{family}.rst", "\n".join(parts), site)
    index = ".. toctree::\n   :maxdepth: 2\n\n" + "".join(f"   /{_rel(directory)}/theory/{f}\n"
                                                       for f in family_names)
    _write(directory, "theory.rst", index, site)


def _claim_rows(scale: str, site: GeneratedSite) -> None:
    from numerics.verify.claims.base import registry
    from theory.catalog import provenance_kind

    table = site.tables.get("claims")
    status = {r["claim"]: r["status"] for r in table.rows} if table is not None else {}
    for cid, claim in registry().items():
        site.claims.append({
            "claim": cid, "title": claim.title, "statement": claim.statement,
            "kind": claim.kind.value, "notion": claim.notion.value, "source": claim.source,
            "provenance": provenance_kind(claim.source),
            "status": status.get(cid, "not run"), "scale": scale,
            "family": claim.check.__module__.rsplit(".", 1)[-1],
            "command": claim.command + ("" if scale == "default" else f" --scale {scale}"),
        })


# ------------------------------------------------------------------------------- expressions
def _expressions_page(directory: Path, site: GeneratedSite) -> None:
    import sympy as sp

    from theory.catalog import expressions, provenance_kind, unavailable

    lines = []
    group = None
    for name, entry in expressions().items():
        if entry.group != group:
            group = entry.group
            lines += ["", _heading(f"``{group}``", "-")]
        expr = entry.expr()
        lines += [f"``{name}``", f"   {rst_inline(entry.description)}; "
                  f"{provenance_kind(entry.provenance)} ({rst_inline(entry.provenance)}).", "",
                  "   .. math::", "", f"      {sp.latex(expr)}", ""]
    for mod, reason in sorted(unavailable().items()):
        lines += [f".. note:: The expressions of ``{mod}`` are not listed: {reason}.", ""]
    _write(directory, "expressions.rst", "\n".join(lines).lstrip("\n") + "\n", site)


def _diagnose_pages(directory: Path, site: GeneratedSite) -> None:
    """The synthetic-families table of the ``diagnose`` page (lens vs deletion standard).

    It takes a few seconds, so it is regenerated at every build; the digits tables take minutes
    and are included from ``docs/results/digits.md`` (see :mod:`numerics.apps.examples.digits`).
    """
    from numerics.apps.examples import synthetic

    text = ("<!-- generated by docsite from numerics.apps.examples.synthetic.table() -->\n\n"
            + synthetic.table() + "\n")
    _write(directory, "diagnose/synthetic.md", text, site)


def _inputs_page(directory: Path, site: GeneratedSite) -> None:
    """What every input of the fuzz suite's case list gets (``tests/fuzz/cases.py``)."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "tests" / "fuzz" / "cases.py"
    spec = importlib.util.spec_from_file_location("unlearnstab_fuzz_cases", path)
    cases = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = cases
    spec.loader.exec_module(cases)
    rows = cases.table_rows()
    count = {k: sum(r["outcome"].startswith(k) for r in rows) for k in ("refused", "accepted")}
    pending = sum("pending" in r["outcome"] for r in rows)
    quick = sum(p[1] for p in cases.PROPERTIES.values())
    long = sum(p[2] for p in cases.PROPERTIES.values())
    lines = ["Every input of the fuzz suite (``tests/fuzz/cases.py``), run by the test suite on "
             "every change: *refused* means exit status 2 and one line on stderr containing the "
             "message shown (the Python API: ``InputError``, or a ``TypeError`` naming the "
             "argument), never a traceback; *accepted* means an answer, checked against an "
             "independent route (batch enumeration) where one is named, and a verdict sentence "
             "checked against its own ``rho``, ``eta_star_ms`` and ``escapes_at_every_eta``.  "
             "*pending* marks an input the code does not meet yet (an expected failure that "
             "fails the suite once fixed).", "",
             f"**{len(rows)} cases**: {count['refused']} refused, {count['accepted']} accepted "
             f"({pending} pending).  Besides the list, hypothesis draws {quick} random inputs in "
             f"the default suite and {long} with ``pytest -m fuzz``:", ""]
    for name, (what, n_quick, n_long) in cases.PROPERTIES.items():
        lines.append(f"* **{name}** ({n_quick} / {n_long}): {rst_inline(what)}")
    files = cases.inputs()
    lines += ["", "The files the cases name (written by ``tests/fuzz/inputs.py``):", ""]
    for key, (fname, _) in files.FILES.items():
        lines.append(f"* ``{fname}``: {rst_inline(files.describe(key))}")
    lines += ["", ".. list-table::", "   :header-rows: 1", "   :widths: 12 40 14 34", "",
              "   * - Case", "     - Input", "     - Outcome", "     - Message"]
    for r in rows:
        lines += [f"   * - ``{r['id']}``", f"     - ``{r['input']}``" if r["input"].startswith(
            "unlearnstab") else f"     - {rst_inline(r['target'] + ': ' + r['input'])}",
            f"     - {rst_inline(r['outcome'])}", f"     - {rst_inline(r['message']) or '(any)'}"]
    _write(directory, "inputs.rst", "\n".join(lines) + "\n", site)


def _remove_stale(directory: Path, site: GeneratedSite) -> None:
    """Delete generated pages of an earlier build that this build did not write."""
    keep = set(site.pages)
    for path in directory.rglob("*.rst"):
        if path.relative_to(directory).as_posix() not in keep:
            path.unlink()
    (directory / "manifest.json").unlink(missing_ok=True)  # rewritten for this build's pages


# --------------------------------------------------------------------------------- top level
def generate(directory: Path | str, scale: str = "quick", *, run_claims: bool = True,
             gallery: Path | str | None = None, gallery_out: str = "gallery_auto",
             api: bool = True, source_relative: str | None = None) -> GeneratedSite:
    """Write every generated page into ``directory``.

    Parameters
    ----------
    directory:
        Output directory (created).
    scale:
        Configuration scale of the tables and claim checks (``quick`` in CI).
    run_claims:
        Run every claim's check for the status column (else ``not run``).
    gallery:
        Directory of the gallery scripts, to attach their figures to the claims they illustrate.
    gallery_out:
        Where the gallery writes its pages, relative to the docs source.
    api:
        Also write the API pages.
    source_relative:
        ``directory`` relative to the docs source (default ``generated``).
    """
    from numerics.core.manifest import record_outputs

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _SOURCE_RELATIVE[directory.resolve()] = source_relative or "generated"
    site = GeneratedSite(directory)
    _table_pages(directory, scale, run_claims, site)
    _claim_rows(scale, site)
    _claims_page(site, directory)
    _family_pages(directory, site, Path(gallery) if gallery else None, gallery_out)
    _expressions_page(directory, site)
    _diagnose_pages(directory, site)
    _inputs_page(directory, site)
    if api:
        _api_pages(directory, site)
    _remove_stale(directory, site)
    seeds = sorted({s for t in site.tables.values() for s in t.seeds})
    record_outputs(directory, site.pages, command=["sphinx-build (docs/generated)"],
                   configuration={"scale": scale, "run_claims": run_claims,
                                  "tables": {k: v.config for k, v in site.tables.items()},
                                  "unavailable": site.unavailable},
                   seeds=seeds)
    return site
