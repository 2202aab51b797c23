"""Cells: a pure function of (configuration, seed) returning a JSON record.

A cell function is named by an importable dotted path ``"package.module:function"`` so that it
pickles by reference to any worker.  Its configuration is a JSON object that holds a ``seed``;
the function must take all of its randomness from that seed, so the same configuration gives the
same record on every executor and worker.

Everything that crosses a process boundary or reaches the store is *canonical JSON*: sorted keys,
no whitespace, finite floats written by :func:`repr` (exact round trip), numpy scalars and arrays
converted, non-finite floats written as ``null``.  A cell's key is the SHA-256 of the canonical
JSON of its function path, configuration, seed and the package version.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics import __version__
from numerics.core.inputs import InputError

__all__ = [
    "CellSpec", "canonical_json", "normalise", "cell_key", "cell_path", "resolve", "make_cells",
    "execute_cell", "execute_cells", "CellRun", "is_importable",
]

CellFn = Callable[[dict[str, Any]], dict[str, Any]]


def normalise(value: Any) -> Any:
    """Plain JSON data for ``value``: numpy scalars/arrays, tuples and non-finite floats mapped.

    Raises
    ------
    TypeError
        When ``value`` holds something JSON cannot represent (a set, an object...).
    """
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int, np.integer)):
                raise TypeError(f"record keys must be strings, got {type(k).__name__} {k!r}")
            out[str(k)] = normalise(v)
        return out
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, np.ndarray):
        return normalise(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON data: {value!r:.80}")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (see the module docstring)."""
    return json.dumps(normalise(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False)


def cell_key(fn: str, config: dict[str, Any], version: str = __version__) -> str:
    """SHA-256 key of a cell: its function path, configuration (with its seed) and the version."""
    text = canonical_json({"cell": fn, "config": config, "seed": config.get("seed"),
                           "version": version})
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def cell_path(fn: str | CellFn) -> str:
    """The dotted path ``module:qualname`` of a cell function (given as a path or a function)."""
    if isinstance(fn, str):
        return fn
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not name:
        raise InputError(f"cell {fn!r} has no module and name; pass a 'module:function' path")
    return f"{module}:{name}"


_RESOLVED: dict[str, CellFn] = {}


def resolve(path: str) -> CellFn:
    """Import the cell function named by ``path`` (``"package.module:function"``)."""
    fn = _RESOLVED.get(path)
    if fn is not None:
        return fn
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(f"cell path {path!r} must look like 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import the module of cell {path!r}: {exc}") from None
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise InputError(f"module {module_name!r} has no cell {attr!r}")
    if not callable(obj):
        raise InputError(f"cell {path!r} is not callable")
    _RESOLVED[path] = obj
    return obj


def is_importable(fn: CellFn) -> bool:
    """True when ``fn`` can be found again from its dotted path (so it pickles by reference)."""
    try:
        return resolve(cell_path(fn)) is fn
    except InputError:
        return False


@dataclass(frozen=True)
class CellSpec:
    """One cell of a sweep: the function path, the canonical configuration and its key.

    Attributes
    ----------
    fn:
        Dotted path of the cell function.
    config:
        Normalised configuration, including ``seed``.
    config_json:
        Its canonical JSON text (what the store keeps).
    key:
        :func:`cell_key` of the cell.
    """

    fn: str
    config: dict[str, Any]
    config_json: str
    key: str

    @property
    def seed(self) -> int:
        """The cell's seed."""
        return int(self.config["seed"])


def make_cells(fn: str | CellFn, configs: Iterable[dict[str, Any]], *,
               version: str = __version__, default_seed: int = 0) -> list[CellSpec]:
    """Cell specs of ``configs`` in order, without duplicates (the first occurrence is kept).

    A configuration without ``seed`` gets ``default_seed``; a seed must be an integer.
    """
    path = cell_path(fn)
    out: list[CellSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(configs):
        if not isinstance(raw, dict):
            raise InputError(f"cell configuration #{i} is a {type(raw).__name__}, not a dict")
        cfg = dict(raw)
        cfg.setdefault("seed", default_seed)
        seed = cfg["seed"]
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise InputError(f"cell configuration #{i}: seed must be an integer, got {seed!r}")
        try:
            norm = normalise(cfg)
        except TypeError as exc:
            raise InputError(f"cell configuration #{i} is not JSON data: {exc}") from None
        key = cell_key(path, norm, version)
        if key in seen:
            continue
        seen.add(key)
        out.append(CellSpec(path, norm, canonical_json(norm), key))
    return out


@dataclass(frozen=True)
class CellRun:
    """What a worker sends back for one cell: never an exception, always this.

    Attributes
    ----------
    key:
        The cell key.
    ok:
        Whether the cell returned a record.
    record_json:
        Canonical JSON of the record (``None`` when the cell failed).
    error:
        ``"ExcType: message"`` and the traceback when it failed (``None`` otherwise).
    seconds:
        Wall time of the cell function.
    worker:
        ``host:pid`` of the process that ran it.
    """

    key: str
    ok: bool
    record_json: str | None
    error: str | None
    seconds: float
    worker: str


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute_cell(fn: str | CellFn, key: str, config: dict[str, Any], blas_threads: int | None = 1
                 ) -> CellRun:
    """Run one cell and capture its record or its error (the function every executor ships).

    ``blas_threads`` caps the BLAS/OpenMP thread pools during the cell (``None``: leave them), so
    that a cell computes the same floating-point result in every executor.
    """
    start = time.perf_counter()
    try:
        func = resolve(fn) if isinstance(fn, str) else fn
        if blas_threads is None:
            record = func(dict(config))
        else:
            with _limit_threads(blas_threads):
                record = func(dict(config))
        if not isinstance(record, dict):
            raise TypeError(f"a cell must return a dict, got {type(record).__name__}")
        text = canonical_json(record)
    except Exception as exc:  # noqa: BLE001 -- a failing cell is recorded, never raised
        err = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        return CellRun(key, False, None, err, time.perf_counter() - start, _worker_id())
    return CellRun(key, True, text, None, time.perf_counter() - start, _worker_id())


def execute_cells(fn: str | CellFn, items: list[tuple[str, dict[str, Any]]],
                  blas_threads: int | None = 1) -> list[CellRun]:
    """Run a chunk of cells ``[(key, config), ...]`` one after the other (one task, many cells)."""
    return [execute_cell(fn, key, config, blas_threads) for key, config in items]


_CONTROLLER: list[Any] = [None, -1]  # the controller and len(sys.modules) when it was built


def _limit_threads(n: int):
    """Context manager capping the native thread pools.

    The (slow to build) controller is kept per process and rebuilt when modules were imported
    since, which may have loaded another native library.
    """
    if _CONTROLLER[0] is None or _CONTROLLER[1] != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        _CONTROLLER[0] = ThreadpoolController()
        _CONTROLLER[1] = len(sys.modules)
    return _CONTROLLER[0].limit(limits=n)
