"""One sweep engine for frontier maps, claim runs and CNN grids.

A *cell* is a pure function of (configuration, seed) returning a JSON record
(:mod:`~numerics.sweep.cells`); a *sweep* is a list of cell configurations, run by
:func:`~numerics.sweep.engine.run_sweep` on an executor (:mod:`~numerics.sweep.executors`:
in process, a process pool, or Dask) into a resumable store (:mod:`~numerics.sweep.store`: SQLite,
one row per finished cell, keyed by the hash of configuration, seed and package version).
"""

from numerics.sweep.cells import CellSpec, canonical_json, cell_key, make_cells
from numerics.sweep.engine import CellFailed, CellOutcome, SweepResult, SweepSettings, run_sweep
from numerics.sweep.executors import EXECUTORS, Dask, InProcess, Processes, make_executor
from numerics.sweep.store import MemoryStore, Store, StoreError, open_store

__all__ = [
    "CellSpec", "canonical_json", "cell_key", "make_cells",
    "CellFailed", "CellOutcome", "SweepResult", "SweepSettings", "run_sweep",
    "EXECUTORS", "Dask", "InProcess", "Processes", "make_executor",
    "MemoryStore", "Store", "StoreError", "open_store",
]
