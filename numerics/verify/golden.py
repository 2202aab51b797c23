r"""Golden files of the derived expressions: the theory's regression test.

Every expression of the catalog (:mod:`theory.catalog`) is serialised canonically into one JSON
file, ``tests/golden/expressions/<name>.json``, holding

* ``srepr`` -- sympy's exact, re-parsable form (symbols with their assumptions),
* ``latex`` and ``text`` -- for people,
* ``values`` -- the value at each reference point (exact where rational, else 30 digits),
* ``provenance`` and ``description``.

:func:`check` compares the current derivation with the golden one.  Two expressions are *the
same* when their ``srepr`` agree, *equivalent* when they differ in form but agree numerically at
the reference points **and** at seeded random points (relative tolerance
:data:`RTOL`, evaluated with 30 digits) **or** :math:`\operatorname{simplify}(old-new)=0`; anything
else is *changed*.  An algebraically equal rewrite (expanded vs factored) therefore never fails.
:func:`format_entry` prints a changed expression as the old and new forms and their values at the
reference points.  :func:`update` re-blesses after review.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

from theory.catalog import Expression, expressions, missing_modules, skipped

__all__ = [
    "DEFAULT_DIR",
    "RTOL",
    "GoldenEntry",
    "GoldenReport",
    "serialize",
    "equivalent",
    "check",
    "update",
    "rebless",
    "selected",
    "format_entry",
]

#: Where the golden files live (one JSON per expression).
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "tests" / "golden" / "expressions"
#: Relative tolerance of the numeric comparison (values are evaluated with :data:`DIGITS` digits).
RTOL = 1e-12
DIGITS = 30
#: Random points per comparison, on top of the reference points.
RANDOM_POINTS = 8
#: Above this many operations a symbolic ``simplify`` is skipped (numerics decide).
SIMPLIFY_MAX_OPS = 400

#: Statuses that fail a check.
FAILING = ("changed", "new", "removed", "error")


# ------------------------------------------------------------------------------ serialisation
def _value_text(value: sp.Expr) -> str:
    """Exact text for rationals, 30 significant digits otherwise, ``nan``/``zoo`` as is."""
    if value.is_Rational or value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return str(value)
    return str(sp.N(value, DIGITS))


def _evaluate(expr: sp.Expr, point: Mapping[str, sp.Expr]) -> sp.Expr:
    """The value of ``expr`` at ``point`` (by symbol *name*: assumptions may differ)."""
    subs = {s: point[str(s)] for s in expr.free_symbols if str(s) in point}
    try:
        out = expr.subs(subs)
        return out if out.is_Rational else sp.N(out, DIGITS)
    except (TypeError, ValueError, ZeroDivisionError):
        return sp.nan


def serialize(entry: Expression, expr: sp.Expr | None = None) -> dict[str, Any]:
    """The golden record of ``entry`` (its current derivation unless ``expr`` is given)."""
    expr = entry.expr() if expr is None else expr
    return {
        "name": entry.name,
        "description": entry.description,
        "provenance": entry.provenance,
        "symbols": [str(s) for s in entry.symbols],
        "srepr": sp.srepr(expr),
        "text": sp.sstr(expr),
        "latex": sp.latex(expr),
        "values": [
            {"point": {k: str(v) for k, v in p.items()},
             "value": _value_text(_evaluate(expr, p))}
            for p in entry.reference_points
        ],
    }


def dumps(record: Mapping[str, Any]) -> str:
    """Canonical JSON text of a record (stable key order, one trailing newline)."""
    return json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


_SYMPY_NAMESPACE: dict[str, Any] = {"__builtins__": {}}
_SYMPY_NAMESPACE.update({k: getattr(sp, k) for k in dir(sp) if not k.startswith("_")})


def parse(record: Mapping[str, Any]) -> sp.Expr:
    """Rebuild the golden expression from its ``srepr`` (sympy names only, no builtins)."""
    return eval(record["srepr"], dict(_SYMPY_NAMESPACE))  # noqa: S307 -- our own golden files


# ------------------------------------------------------------------------------- comparison
def _random_points(entry: Expression, seed: int, count: int) -> list[dict[str, sp.Rational]]:
    """Seeded points scattered around the reference points (each coordinate scaled 0.7..1.4)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        base = entry.reference_points[i % len(entry.reference_points)]
        out.append({k: sp.Rational(v) * sp.Rational(rng.randint(700, 1400), 1000) + sp.Rational(
            rng.randint(1, 97), 1000) for k, v in base.items()})
    return out


def _complex(x: sp.Expr) -> complex | None:
    """``x`` as a Python complex, or ``None`` when it is not a finite number."""
    if not x.is_number or x.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return None
    try:
        return complex(sp.N(x, DIGITS))
    except (TypeError, ValueError):
        return None


def _close(a: sp.Expr, b: sp.Expr) -> bool:
    """Numeric agreement to :data:`RTOL` (two non-finite values count as agreeing)."""
    fa, fb = _complex(a), _complex(b)
    if fa is None or fb is None:
        return fa is None and fb is None
    return abs(fa - fb) <= RTOL * max(abs(fa), abs(fb)) + 1e-25


def _numerically_equal(entry: Expression, old: sp.Expr, new: sp.Expr) -> tuple[bool, str]:
    points = list(entry.reference_points)
    points += _random_points(entry, sum(map(ord, entry.name)), RANDOM_POINTS)
    finite = 0
    for point in points:
        a, b = _evaluate(old, point), _evaluate(new, point)
        if not _close(a, b):
            where = ", ".join(f"{k}={v}" for k, v in point.items())
            return False, f"values differ at {where}: {_value_text(a)} vs {_value_text(b)}"
        finite += _complex(a) is not None
    if not finite:
        return False, "no point where both are finite numbers"
    return True, f"agree at {finite} points (rel {RTOL:g})"


def equivalent(entry: Expression, old: sp.Expr, new: sp.Expr) -> tuple[bool, str]:
    r"""Whether ``old`` and ``new`` are the same function, and how that was decided.

    True when they agree numerically at the reference and random points, or when
    :math:`\operatorname{simplify}(old-new)=0`.
    """
    ok, how = _numerically_equal(entry, old, new)
    if ok:
        return True, "numerically equal: " + how
    diff = old - new
    if sp.count_ops(diff) <= SIMPLIFY_MAX_OPS:
        try:
            if sp.cancel(sp.together(diff)) == 0 or sp.simplify(diff) == 0:
                return True, "symbolically equal (simplify(old - new) = 0)"
        except (TypeError, ValueError, NotImplementedError):
            pass
    return False, how


# ---------------------------------------------------------------------------------- checking
@dataclass
class GoldenEntry:
    """The comparison of one expression with its golden file.

    ``status`` is ``same`` (identical ``srepr``), ``equivalent`` (rewritten, equal), ``changed``,
    ``new`` (no golden file), ``removed`` (golden file without an expression), ``unavailable``
    (its theory module is not in the tree), ``skipped`` (the expression does not exist for a
    stated reason, e.g. a sampling scheme its closed form cannot take) or ``error`` (the
    derivation raised).
    """

    name: str
    status: str
    detail: str = ""
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        """Whether this entry fails the check."""
        return self.status in FAILING

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary (for ``--json``)."""
        out: dict[str, Any] = {"name": self.name, "status": self.status, "detail": self.detail}
        for side in ("old", "new"):
            rec = getattr(self, side)
            if rec is not None:
                out[side] = {k: rec[k] for k in ("text", "latex", "values", "srepr")}
        return out


@dataclass
class GoldenReport:
    """All comparisons of one check or update."""

    directory: Path
    entries: list[GoldenEntry] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[GoldenEntry]:
        """The entries that fail."""
        return [e for e in self.entries if e.failed]

    def counts(self) -> dict[str, int]:
        """Number of entries per status."""
        out: dict[str, int] = {}
        for e in self.entries:
            out[e.status] = out.get(e.status, 0) + 1
        return dict(sorted(out.items()))


def _path(directory: Path, name: str) -> Path:
    return directory / f"{name}.json"


def selected(name: str, wanted: Iterable[str] | None) -> bool:
    """Whether ``name`` is one of ``wanted`` or in a group they name (all when none)."""
    if not wanted:
        return True
    return any(name == w or name.startswith(w.rstrip(".") + ".") for w in wanted)


def _compare(entry: Expression, directory: Path) -> GoldenEntry:
    path = _path(directory, entry.name)
    try:
        expr = entry.expr()
        old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        if old is not None and old.get("srepr") == sp.srepr(expr):
            return GoldenEntry(entry.name, "same", "identical srepr", old, old)
        new = serialize(entry, expr)
    except Exception as exc:  # noqa: BLE001 -- a derivation that raises is reported, not hidden
        return GoldenEntry(entry.name, "error", f"derivation raised {exc!r}")
    if old is None:
        return GoldenEntry(entry.name, "new", "no golden file yet", None, new)
    try:
        old_expr = parse(old)
    except Exception as exc:  # noqa: BLE001 -- an unreadable golden file is a change to review
        return GoldenEntry(entry.name, "changed", f"golden srepr does not parse: {exc!r}", old, new)
    ok, how = equivalent(entry, old_expr, expr)
    return GoldenEntry(entry.name, "equivalent" if ok else "changed", how, old, new)


def check(directory: Path | str | None = None, names: Iterable[str] | None = None,
          progress: bool = False) -> GoldenReport:
    """Compare every catalog expression (or those under ``names``) with its golden file."""
    directory = Path(directory) if directory is not None else DEFAULT_DIR
    wanted = list(names) if names else None
    catalog = {k: v for k, v in expressions().items() if selected(k, wanted)}
    report = GoldenReport(directory)
    items = list(catalog.values())
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="golden", unit="expr", disable=None, leave=False)
    for entry in items:
        report.entries.append(_compare(entry, directory))
    for name, reason in skipped().items():
        if selected(name, wanted):
            report.entries.append(GoldenEntry(name, "skipped", reason))
    missing_groups = {m.rsplit(".", 1)[-1] for m in missing_modules()}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        name = path.stem
        if name in catalog or not selected(name, wanted) or name in expressions() \
                or name in skipped():
            continue
        old = json.loads(path.read_text(encoding="utf-8"))
        if name.split(".", 1)[0] in missing_groups:
            report.entries.append(GoldenEntry(name, "unavailable",
                                              "its theory module is not in this tree", old))
        else:
            report.entries.append(GoldenEntry(name, "removed", "no such expression any more", old))
    report.entries.sort(key=lambda e: e.name)
    return report


def update(directory: Path | str | None = None, names: Iterable[str] | None = None,
           progress: bool = False) -> GoldenReport:
    """Re-bless: write changed, new and rewritten expressions, delete removed ones."""
    return rebless(check(directory, names, progress))


def rebless(report: GoldenReport) -> GoldenReport:
    """Write the new record of every changed, new or rewritten entry; delete removed ones."""
    report.directory.mkdir(parents=True, exist_ok=True)
    for e in report.entries:
        path = _path(report.directory, e.name)
        if e.status in ("changed", "new", "equivalent") and e.new is not None:
            path.write_text(dumps(e.new), encoding="utf-8")
            report.written.append(e.name)
        elif e.status == "removed":
            path.unlink()
            report.deleted.append(e.name)
    return report


# -------------------------------------------------------------------------------- formatting
def _values_lines(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[str]:
    rows = (new or old or {}).get("values", [])
    old_vals = {json.dumps(v["point"], sort_keys=True): v["value"] for v in (old or {}).get(
        "values", [])}
    new_vals = {json.dumps(v["point"], sort_keys=True): v["value"] for v in (new or {}).get(
        "values", [])}
    lines = []
    for row in rows:
        key = json.dumps(row["point"], sort_keys=True)
        at = ", ".join(f"{k}={v}" for k, v in row["point"].items())
        lines.append(f"    at {at}: old = {old_vals.get(key, '-')}   new = {new_vals.get(key, '-')}")
    return lines


def format_entry(entry: GoldenEntry) -> str:
    """A readable diff: old and new forms (text and LaTeX) and their values at reference points."""
    head = f"{entry.status.upper():<11} {entry.name}"
    rec = entry.new or entry.old or {}
    if rec.get("provenance"):
        head += f"  ({rec['provenance']})"
    lines = [head]
    if entry.detail:
        lines.append(f"    {entry.detail}")
    if entry.status in ("changed", "new", "removed", "equivalent"):
        if entry.old is not None:
            lines.append(f"    old: {entry.old['text']}")
            lines.append(f"         latex: {entry.old['latex']}")
        if entry.new is not None:
            lines.append(f"    new: {entry.new['text']}")
            lines.append(f"         latex: {entry.new['latex']}")
        if entry.status != "equivalent":
            lines.extend(_values_lines(entry.old, entry.new))
    return "\n".join(lines)
