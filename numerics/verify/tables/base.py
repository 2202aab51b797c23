r"""The table object, the build context and the registry of table builders.

A :class:`Table` is tidy: a list of :class:`Column` and a list of row dictionaries keyed by the
column keys, plus everything a caption must state -- the notion of stability, the configuration
(sizes, step size, sampling), the seeds and the provenance tag of the statement it documents.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Column",
    "Table",
    "BuildContext",
    "TableSpec",
    "TableUnavailable",
    "register_table",
    "table_registry",
    "tables_for_claims",
]

#: Modules of this package that are infrastructure, not builders.
_NOT_BUILDERS = frozenset({"base", "render"})


@dataclass(frozen=True)
class Column:
    r"""One column of a table.

    Attributes
    ----------
    key:
        Key of the value in each row (also the CSV / JSON field name).
    header:
        Plain-text header (Markdown, CSV comments).
    math:
        Optional LaTeX header, typeset as math in rst / latex / Markdown.
    fmt:
        Format spec for numbers (``".4g"``), or ``"math"`` for values that are LaTeX strings.
    """

    key: str
    header: str
    math: str = ""
    fmt: str = ""

    def format(self, value: Any) -> str:
        """The value as text (``-`` for a missing value)."""
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if self.fmt and self.fmt != "math" and isinstance(value, (int, float)):
            return format(value, self.fmt)
        return str(value)


@dataclass
class Table:
    """A generated table with the configuration that produced it.

    Attributes
    ----------
    table_id:
        Identifier (file stem of the rendered outputs).
    title:
        One line.
    columns, rows:
        The tidy data: ``rows[i][column.key]``.
    notion:
        The notion of stability of the numbers (mean-square, almost-sure, ...).
    config:
        Every setting that produced the rows (sizes, step size, sampling, scale).
    seeds:
        Random seeds used (empty for closed forms).
    source:
        Provenance tag of the statement, as in the specification.
    claims:
        Ids of the claims the table documents.
    note:
        Optional sentence placed before the configuration in the caption.
    seed_note:
        What to say about seeds when ``seeds`` is empty (default: closed forms, none used).
    """

    table_id: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    notion: str
    config: dict[str, Any]
    seeds: list[int] = field(default_factory=list)
    source: str = ""
    claims: tuple[str, ...] = ()
    note: str = ""
    seed_note: str = "none (closed forms)"

    @property
    def caption(self) -> str:
        """Title, note, notion, configuration, seeds and source, in one paragraph."""
        cfg = ", ".join(f"{k}={_short(v)}" for k, v in self.config.items())
        seeds = ", ".join(str(s) for s in self.seeds) if self.seeds else self.seed_note
        parts = [self.title.rstrip(".") + "."]
        if self.note:
            parts.append(self.note.rstrip(".") + ".")
        parts.append(f"Notion: {self.notion}.")
        parts.append(f"Configuration: {cfg}.")
        parts.append(f"Seeds: {seeds}.")
        if self.source:
            parts.append(f"Source: {self.source}.")
        if self.claims:
            parts.append(f"Claims: {', '.join(self.claims)}.")
        return " ".join(parts)

    def formatted_rows(self) -> list[list[str]]:
        """Every cell as text, formatted by its column."""
        return [[c.format(r.get(c.key)) for c in self.columns] for r in self.rows]

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary: metadata, columns and raw rows (for JSON)."""
        return {
            "table_id": self.table_id,
            "title": self.title,
            "caption": self.caption,
            "notion": self.notion,
            "config": self.config,
            "seeds": list(self.seeds),
            "source": self.source,
            "claims": list(self.claims),
            "columns": [{"key": c.key, "header": c.header, "math": c.math} for c in self.columns],
            "rows": [{c.key: r.get(c.key) for c in self.columns} for r in self.rows],
        }


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_short(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class BuildContext:
    """How to build: scale, seed override, progress, and how sweeps run.

    ``sweep`` holds the ``store``, ``executor``, ``workers``... of
    :func:`numerics.sweep.run_sweep` for the builders that run sweeps (empty: in process, in
    memory).
    """

    scale: str = "quick"
    seed: int | None = None
    progress: bool = False
    sweep: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def in_memory(self) -> bool:
        """Whether sweeps run in process with no result store (results may be shared)."""
        return (self.sweep.get("store") is None
                and self.sweep.get("executor", "inprocess") == "inprocess")

    def sweep_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`numerics.sweep.run_sweep` (progress from this context)."""
        return {**self.sweep, "progress": bool(self.progress)}

    def seed_or(self, default: int) -> int:
        """The override seed if given, else ``default``."""
        return default if self.seed is None else int(self.seed)

    def iterate(self, items: Iterable[Any], desc: str, total: int | None = None) -> Iterator[Any]:
        """``items``, wrapped in a progress bar on stderr when progress is on."""
        if not self.progress:
            return iter(items)
        from tqdm.auto import tqdm

        return iter(tqdm(items, desc=desc, total=total, unit="step", leave=False, disable=None))

    def pick(self, quick: Any, default: Any, large: Any) -> Any:
        """The value for this scale."""
        return {"quick": quick, "default": default, "large": large}[self.scale]


class TableUnavailable(RuntimeError):
    """A table whose modules are not in the tree yet (the message names them)."""


@dataclass(frozen=True)
class TableSpec:
    """A table builder.

    Attributes
    ----------
    table_id, title:
        Identifier and one line.
    claims:
        Ids of the claims it documents (``unlearnstab table --claim``).
    build:
        ``build(context) -> Table``.
    requires:
        Modules that must be importable (modules other engineers may not have landed yet).
    section:
        Where it comes from in the specification, e.g. ``"§4.2-4.3"``.
    """

    table_id: str
    title: str
    claims: tuple[str, ...]
    build: Callable[[BuildContext], Table]
    requires: tuple[str, ...] = ()
    section: str = ""

    def missing(self) -> list[str]:
        """The required modules that cannot be found."""
        out = []
        for name in self.requires:
            try:
                found = importlib.util.find_spec(name) is not None
            except ModuleNotFoundError:
                found = False
            if not found:
                out.append(name)
        return out

    @property
    def available(self) -> bool:
        """Whether every required module exists."""
        return not self.missing()

    def unavailable_reason(self) -> str:
        """Why the table cannot be built (empty when it can)."""
        miss = self.missing()
        if not miss:
            return ""
        return (f"table {self.table_id} is unavailable until {', '.join(miss)} "
                f"{'exists' if len(miss) == 1 else 'exist'} in this tree")

    def make(self, context: BuildContext | None = None) -> Table:
        """Build the table, or raise :class:`TableUnavailable`."""
        if not self.available:
            raise TableUnavailable(self.unavailable_reason())
        return self.build(context or BuildContext())


_REGISTRY: dict[str, TableSpec] = {}
_LOADED = False


def register_table(spec: TableSpec) -> TableSpec:
    """Add a table builder (ids are unique)."""
    if spec.table_id in _REGISTRY:
        raise ValueError(f"table {spec.table_id} is registered twice")
    _REGISTRY[spec.table_id] = spec
    return spec


def table_registry() -> dict[str, TableSpec]:
    """Every table builder, by id, importing the builder modules on first use."""
    global _LOADED
    if not _LOADED:
        import numerics.verify.tables as pkg

        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name in _NOT_BUILDERS or info.name.startswith("_"):
                continue
            importlib.import_module(f"{pkg.__name__}.{info.name}")
        _LOADED = True
    return dict(_REGISTRY)


def _matches(claim: str, wanted: str) -> bool:
    return claim == wanted or claim.startswith(wanted + ".") or wanted.startswith(claim + ".")


def tables_for_claims(claim_ids: Sequence[str]) -> list[TableSpec]:
    """The builders that document any of ``claim_ids`` (``C1`` also matches ``C1.a``)."""
    return [spec for spec in table_registry().values()
            if any(_matches(c, w) for c in spec.claims for w in claim_ids)]
