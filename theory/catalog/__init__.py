r"""A registry of named derived expressions: the theory's regression surface.

Every closed form the theory derives (batch-moment coefficients, thresholds, bounds, critical
mixing weights, predicted coherence limits) is registered here under a dotted name with

* a *getter* that derives it (called lazily: nothing is derived on import),
* the symbols it may depend on,
* a few *reference points* at which its value is recorded and printed in diffs,
* its provenance tag in the theory specification (sourced ``[S:..]``, derived and checked
  ``[D✓]``, derived ``[D]`` or conjectured ``[C]``).

The registrations live in the sub-modules of this package, one per theory module
(``moment_exprs`` for :mod:`theory.moments`, and so on), one :func:`register_expression` call per
expression.  A sub-module imports its theory module as ``import theory.<module> as alias``, so
that a module that is not in the tree raises :class:`ModuleNotFoundError` naming it.
:func:`load_all` imports every sub-module it finds, so a new sub-module is picked up without
editing this file.  A sub-module whose theory module is not in the tree yet (its import
raises :class:`ModuleNotFoundError` for a ``theory.*`` name) is recorded in :func:`unavailable`
instead of failing.

The golden files of :mod:`numerics.verify.golden` serialise every registered expression; the test suite
fails when a derivation changes, and ``unlearnstab golden --update`` re-blesses it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

__all__ = [
    "Expression",
    "register_expression",
    "skip_expression",
    "expressions",
    "skipped",
    "unavailable",
    "load_all",
    "missing_modules",
    "provenance_kind",
    "provenance_kinds",
]

#: A reference point: symbol name -> exact value (int, Fraction, or a decimal string).
Point = Mapping[str, "int | float | str | Fraction"]


def _exact(value: int | float | str | Fraction) -> sp.Rational:
    """An exact sympy number: ints and fractions as is, floats and strings by their decimals."""
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, int):
        return sp.Integer(value)
    return sp.Rational(str(value))


@dataclass(frozen=True)
class Expression:
    r"""A named, lazily derived sympy expression with its provenance.

    Attributes
    ----------
    name:
        Dotted name, ``<module>.<family>.<quantity>[.<variant>]``; also the golden file's name.
    getter:
        Zero-argument callable returning the expression (it runs the derivation).
    symbols:
        The sympy symbols the expression may depend on (its free symbols must be among them).
    reference_points:
        Points (symbol name to exact value) at which the value is recorded and shown in diffs.
    provenance:
        The specification's tag, e.g. ``"SPEC §2.1 [D✓ C-MOM]"``.
    description:
        One line saying what the expression is.
    """

    name: str
    getter: Callable[[], sp.Expr]
    symbols: tuple[sp.Symbol, ...]
    reference_points: tuple[dict[str, sp.Rational], ...]
    provenance: str
    description: str = ""

    @property
    def group(self) -> str:
        """The theory module the expression belongs to (first component of the name)."""
        return self.name.split(".", 1)[0]

    def expr(self) -> sp.Expr:
        """Derive the expression and check that its free symbols are declared."""
        value = sp.sympify(self.getter())
        extra = {str(s) for s in value.free_symbols} - {str(s) for s in self.symbols}
        if extra:
            raise ValueError(f"expression {self.name} has undeclared symbols: {sorted(extra)}")
        return value


_REGISTRY: dict[str, Expression] = {}
_SKIPPED: dict[str, str] = {}
_UNAVAILABLE: dict[str, str] = {}
_MISSING: set[str] = set()
_LOADED = False


def register_expression(name: str, getter: Callable[[], sp.Expr], symbols: Iterable[sp.Symbol],
                        reference_points: Sequence[Point], provenance: str,
                        description: str = "") -> Expression:
    r"""Add a derived expression to the catalog.

    Parameters
    ----------
    name:
        Unique dotted name (letters, digits, ``_`` and ``.``).
    getter:
        Zero-argument callable returning the sympy expression.
    symbols:
        Symbols the expression may depend on.
    reference_points:
        At least one point; every point must give a value to every symbol.
    provenance:
        The specification's provenance tag.
    description:
        One line for the docs and the diffs.

    Returns
    -------
    Expression
        The registered entry.
    """
    if name in _REGISTRY:
        raise ValueError(f"expression {name} is registered twice")
    if not name or any(not (ch.isalnum() or ch in "._") for ch in name):
        raise ValueError(f"expression name {name!r} must use letters, digits, '_' and '.'")
    syms = tuple(symbols)
    names = {str(s) for s in syms}
    points = tuple({str(k): _exact(v) for k, v in p.items()} for p in reference_points)
    if not points:
        raise ValueError(f"expression {name} needs at least one reference point")
    for p in points:
        if set(p) != names:
            raise ValueError(f"reference point {p} of {name} must give exactly {sorted(names)}")
    entry = Expression(name, getter, syms, points, provenance, description)
    _REGISTRY[name] = entry
    return entry


def skip_expression(name: str, reason: str) -> None:
    """Record that the expression ``name`` does not exist, and why.

    For example a sampling scheme its closed form cannot take; the golden check lists it as
    ``skipped`` instead of omitting it.
    """
    if name in _REGISTRY or name in _SKIPPED:
        raise ValueError(f"expression {name} is registered twice")
    if not reason:
        raise ValueError(f"skipped expression {name} needs a reason")
    _SKIPPED[name] = reason


def load_all() -> None:
    """Import every registration sub-module of this package once (idempotent)."""
    global _LOADED
    if _LOADED:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = f"{__name__}.{info.name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a theory module that has not landed yet
            if not (exc.name or "").startswith(("theory.", "numerics.")):
                raise
            _UNAVAILABLE[info.name] = f"needs {exc.name}, which is not in this tree"
            _MISSING.add(str(exc.name))
    _LOADED = True


def expressions() -> dict[str, Expression]:
    """Every registered expression, by name (sorted), loading the sub-modules on first use."""
    load_all()
    return dict(sorted(_REGISTRY.items()))


def skipped() -> dict[str, str]:
    """Expressions recorded by :func:`skip_expression`, with the reason (sorted by name)."""
    load_all()
    return dict(sorted(_SKIPPED.items()))


def unavailable() -> dict[str, str]:
    """Registration sub-modules that could not load, with the reason."""
    load_all()
    return dict(_UNAVAILABLE)


def missing_modules() -> set[str]:
    """The ``theory.*`` / ``numerics.*`` modules some registration sub-module is waiting for."""
    load_all()
    return set(_MISSING)


def provenance_kinds(tag: str) -> list[str]:
    """Every provenance class in a tag, in the order sourced, derived (and checked), conjectured.

    ``[S:P; D✓]`` is ``sourced`` *and* ``derived and checked``.
    """
    text = tag.replace(" ", "")
    parts = [p for chunk in text.split("[")[1:] for p in chunk.split("]")[0].split(";")]
    kinds = []
    if any(p.startswith("S:") for p in parts):
        kinds.append("sourced")
    if any(p.replace(",", "").startswith("D✓") for p in parts):
        kinds.append("derived and checked")
    elif any(p.startswith("D") for p in parts):
        kinds.append("derived")
    if any(p.startswith("C") and not p.startswith("C-") for p in parts):
        kinds.append("conjectured")
    return kinds or ["unclassified"]


def provenance_kind(tag: str) -> str:
    """The provenance classes of a tag joined by ``+`` (see :func:`provenance_kinds`)."""
    return " + ".join(provenance_kinds(tag))
