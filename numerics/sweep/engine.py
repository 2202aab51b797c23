"""The sweep engine: run the missing cells of a sweep on an executor and keep them in a store.

:func:`run_sweep` is the one loop over cells of the package: frontier maps, ``verify`` and the
CNN grids call it.  It looks every cell up in the store first (by key), runs only the missing ones
(and, with ``retry_failed``, the failed ones), writes each result as it arrives, and returns the
records in sweep order, so the result does not depend on the executor or on completion order.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from numerics import __version__
from numerics.core.inputs import InputError
from numerics.sweep.cells import CellFn, CellSpec, cell_path, is_importable, make_cells
from numerics.sweep.executors import Executor, check_executor, make_executor
from numerics.sweep.store import MemoryStore, Store, StoredCell

__all__ = ["CellOutcome", "SweepResult", "CellFailed", "run_sweep"]


@dataclass(frozen=True)
class CellOutcome:
    """One cell of a finished sweep.

    Attributes
    ----------
    key:
        The cell key.
    config:
        Its configuration (with ``seed``).
    ok:
        Whether it produced a record.
    record:
        The record (``None`` when it failed).
    error:
        The error text (``None`` when it succeeded).
    reused:
        Taken from the store rather than computed in this run.
    seconds:
        Compute time of the cell (when it was computed).
    worker:
        ``host:pid`` that computed it.
    """

    key: str
    config: dict[str, Any]
    ok: bool
    record: dict[str, Any] | None
    error: str | None
    reused: bool
    seconds: float
    worker: str

    @property
    def row(self) -> dict[str, Any]:
        """The record, or for a failed cell its configuration with the error's first line."""
        if self.ok and self.record is not None:
            return self.record
        first = (self.error or "").strip().splitlines()
        return dict(self.config, error=first[0] if first else "failed")


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes
    ----------
    cells:
        One :class:`CellOutcome` per distinct cell, in sweep order.
    computed:
        Cells run in this call.
    reused:
        Cells taken from the store.
    failed:
        Cells whose outcome is a failure (computed now or reused).
    seconds:
        Wall time of the call.
    store:
        Where the results are kept (a directory, or ``memory``).
    executor:
        The executor that ran the computed cells.
    """

    cells: list[CellOutcome]
    computed: int
    reused: int
    failed: int
    seconds: float
    store: str = "memory"
    executor: str = "inprocess"

    @property
    def records(self) -> list[dict[str, Any]]:
        """One row per cell (see :attr:`CellOutcome.row`), in sweep order."""
        return [c.row for c in self.cells]

    @property
    def failures(self) -> list[CellOutcome]:
        """The failed cells."""
        return [c for c in self.cells if not c.ok]

    def summary(self) -> dict[str, Any]:
        """Counts, time and places, for printing."""
        return {"cells": len(self.cells), "computed": self.computed, "reused": self.reused,
                "failed": self.failed, "seconds": self.seconds, "store": self.store,
                "executor": self.executor}


class CellFailed(RuntimeError):
    """Raised by callers that need every cell (e.g. :func:`numerics.apps.frontier.evaluate`).

    Attributes
    ----------
    failures:
        The failed :class:`CellOutcome` objects (their errors hold the tracebacks).
    """

    def __init__(self, failures: list[CellOutcome]) -> None:
        self.failures = failures
        first = failures[0]
        super().__init__(f"{len(failures)} cell(s) failed; first {first.config}: "
                         f"{first.row['error']}")


def _outcome(spec: CellSpec, cell: StoredCell, reused: bool) -> CellOutcome:
    record = None if cell.record_json is None else json.loads(cell.record_json)
    return CellOutcome(spec.key, spec.config, cell.ok, record, cell.error, reused, cell.seconds,
                       cell.worker)


@dataclass(frozen=True)
class SweepSettings:
    """How a sweep runs: executor, workers, retries, progress, threads, chunking, version.

    Attributes
    ----------
    executor, workers, scheduler:
        ``"inprocess"`` (default), ``"processes"`` (``workers`` processes) or ``"dask"``
        (a ``LocalCluster`` of ``workers`` processes, or the scheduler at ``scheduler``); or an
        :class:`~numerics.sweep.executors.Executor` instance, which is not closed by the sweep.
    retry_failed:
        Also run the cells whose stored outcome is a failure (otherwise they are reported).
    progress, desc:
        Show a progress bar on stderr (done, reused, failed, rate, time left), labelled ``desc``.
    blas_threads:
        Native thread-pool size inside each cell (the same everywhere, so records agree).
    chunk_size:
        Cells per task for the process pool and Dask (default 1).  Larger chunks amortise the
        scheduling cost of very short cells; a killed worker then loses its whole chunk.
    version:
        Package version that goes into the cell keys.
    """

    executor: str | Executor = "inprocess"
    workers: int | None = None
    scheduler: str | None = None
    retry_failed: bool = False
    progress: bool = False
    desc: str = "cells"
    blas_threads: int | None = 1
    chunk_size: int = 1
    version: str = __version__

    def __post_init__(self) -> None:
        check_executor(self.executor, self.workers, self.scheduler)
        if int(self.chunk_size) < 1:
            raise InputError(f"chunk_size must be >= 1, got {self.chunk_size}")


def run_sweep(cell: str | CellFn, configs: Iterable[dict[str, Any]],
              store: str | Path | Store | MemoryStore | None = None,
              settings: SweepSettings | None = None, *,
              on_cell: Callable[[CellOutcome], None] | None = None,
              **overrides: Any) -> SweepResult:
    """Run a sweep: every configuration of ``configs`` through the cell function ``cell``.

    Parameters
    ----------
    cell:
        ``"package.module:function"`` or the function itself (a function that cannot be imported
        back from its name runs only in process).
    configs:
        Cell configurations (JSON data; ``seed`` defaults to 0).  Duplicates are run once.
    store:
        A store directory, an open :class:`Store`, or ``None`` for an in-memory store.
    settings:
        How the sweep runs (:class:`SweepSettings`; default: in process, no progress bar).
    on_cell:
        Called with each :class:`CellOutcome` as it is stored (in completion order).
    **overrides:
        Fields of :class:`SweepSettings` replacing those of ``settings`` (e.g.
        ``executor="processes", workers=2``); an unknown name is an error.

    Returns
    -------
    SweepResult
        Records in sweep order, with the counts of computed, reused and failed cells.

    Examples
    --------
    >>> res = run_sweep("numerics.sweep.demo:toy_cell", [{"seed": 1}, {"seed": 2}])
    >>> res.computed, res.reused, res.failed
    (2, 0, 0)
    """
    st_ = SweepSettings() if settings is None else settings
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in fields(SweepSettings)})
        if unknown:
            raise InputError(f"unknown sweep setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(f.name for f in fields(SweepSettings))}")
        st_ = replace(st_, **overrides)
    executor, workers, scheduler = st_.executor, st_.workers, st_.scheduler
    retry_failed, progress, desc = st_.retry_failed, st_.progress, st_.desc
    blas_threads, chunk_size, version = st_.blas_threads, st_.chunk_size, st_.version
    start = time.perf_counter()
    path = cell_path(cell)
    run_fn: str | CellFn = path if isinstance(cell, str) or is_importable(cell) else cell
    specs = make_cells(path, configs, version=version)  # settings were checked: fail early
    own_store = not isinstance(store, (Store, MemoryStore))
    st = (MemoryStore() if store is None else Store(store)) if own_store else store
    try:
        stored = st.lookup(s.key for s in specs)
        outcomes: dict[str, CellOutcome] = {}
        todo: list[CellSpec] = []
        for s in specs:
            hit = stored.get(s.key)
            if hit is not None and (hit.ok or not retry_failed):
                outcomes[s.key] = _outcome(s, hit, reused=True)
            else:
                todo.append(s)
        reused = len(outcomes)
        n_failed = sum(not o.ok for o in outcomes.values())
        ex_name = executor if isinstance(executor, str) else executor.describe()
        computed = 0
        if todo:
            own_ex = not isinstance(executor, Executor)
            ex = make_executor(executor, workers=workers, scheduler=scheduler)
            ex_name = ex.describe()
            bar = _bar(progress, len(specs), reused, desc)
            run = _SharedRun(st, todo, retry_failed, _claim_size(executor, workers, chunk_size))
            try:
                _postfix(bar, 0, reused, n_failed)
                for out, fresh in run.outcomes(ex, run_fn, blas_threads, chunk_size, version):
                    outcomes[out.key] = out
                    computed += fresh
                    reused += not fresh
                    n_failed += not out.ok
                    if bar is not None:
                        _postfix(bar, computed, reused, n_failed)
                        bar.update(1)
                    if on_cell is not None:
                        on_cell(out)
            finally:
                run.release()
                if bar is not None:
                    bar.close()
                if own_ex:
                    ex.close()
    finally:
        if own_store:
            st.close()
    cells = [outcomes[s.key] for s in specs]
    return SweepResult(cells, computed, reused, sum(not c.ok for c in cells),
                       time.perf_counter() - start, st.location, ex_name)


#: Seconds between looks at the store while another run computes the cells left.
POLL_SECONDS = 0.2


def _claim_size(executor: str | Executor, workers: int | None, chunk_size: int) -> int:
    """Cells claimed at a time: enough to keep the executor busy, few enough to share."""
    if executor == "inprocess":
        return max(1, int(chunk_size))
    return 2 * max(1, int(chunk_size)) * max(1, int(workers or os.cpu_count() or 1))


class _SharedRun:
    """The cells left to compute, shared with concurrent runs on the same store through claims.

    Each round claims a few cells (:meth:`Store.claim`), computes them, stores them and drops
    the claims; cells another live run has claimed are not computed here but read back from the
    store once they are there (a claim whose process died is taken over).
    """

    def __init__(self, store: Any, todo: list[CellSpec], retry_failed: bool, size: int) -> None:
        self.store, self.size = store, size
        self.by_key = {s.key: s for s in todo}
        self.pending = [s.key for s in todo]
        self.owner = uuid.uuid4().hex
        # failures stored before this run that it retries: not "done" when read back
        self.retrying = ({k for k, c in store.lookup(self.pending).items() if not c.ok}
                         if retry_failed else set())

    def _finished_elsewhere(self) -> list[tuple[CellOutcome, bool]]:
        out = []
        for key, hit in self.store.lookup(self.pending).items():
            if hit.ok or key not in self.retrying:
                out.append((_outcome(self.by_key[key], hit, reused=True), False))
        done = {o.key for o, _ in out}
        self.pending = [k for k in self.pending if k not in done]
        return out

    def outcomes(self, ex: Executor, run_fn: Any, blas_threads: int | None, chunk_size: int,
                 version: str) -> Iterator[tuple[CellOutcome, bool]]:
        """``(outcome, computed_here)`` for every pending cell, in completion order."""
        while self.pending:
            yield from self._finished_elsewhere()
            if not self.pending:
                break
            claim = self.store.claim(self.pending, self.owner, self.size)
            if not claim.mine:
                time.sleep(POLL_SECONDS)
                continue
            batch = [self.by_key[k] for k in claim.mine]
            mine = set(claim.mine)
            self.pending = [k for k in self.pending if k not in mine]
            for run in ex.run(run_fn, batch, blas_threads, chunk_size):
                spec = self.by_key[run.key]
                kept = StoredCell.from_run(spec, run, version)
                self.store.put(kept)
                self.store.release([run.key], self.owner)
                yield _outcome(spec, kept, reused=False), True

    def release(self) -> None:
        """Drop every claim this run still holds (it stopped early)."""
        self.store.release(list(self.by_key), self.owner)


def _bar(progress: bool, total: int, initial: int, desc: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="cell", file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)


def _postfix(bar: Any, done: int, reused: int, failed: int) -> None:
    if bar is not None:
        bar.set_postfix_str(f"computed={done} reused={reused} failed={failed}", refresh=False)
