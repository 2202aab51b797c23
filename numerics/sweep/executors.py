"""Executors: where cells run.  Every executor yields one :class:`CellRun` per cell.

* :class:`InProcess` (the default): one after the other in this process.
* :class:`Processes`: a local pool of worker processes (``concurrent.futures``, spawn context).
* :class:`Dask`: a Dask ``distributed`` cluster, either a ``LocalCluster`` started here
  (``workers=N``) or an existing scheduler (``scheduler="tcp://host:8786"``).  Dask is an
  optional extra: ``pip install unlearnstab[distributed]``.

Workers only compute: each returns its :class:`CellRun` and the parent writes the store, so a
result is stored once however often the cluster had to re-run a task (a lost worker's tasks are
rescheduled by Dask, a broken process pool is restarted).  Results arrive in completion order;
the engine puts them back in sweep order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from numerics import __version__
from numerics.core.inputs import InputError
from numerics.sweep.cells import CellFn, CellRun, CellSpec, execute_cell, execute_cells, resolve

__all__ = ["EXECUTORS", "Executor", "InProcess", "Processes", "Dask", "make_executor",
           "check_executor", "require_dask", "probe_scheduler", "DASK_EXTRA"]

#: Executor names accepted by :func:`make_executor` and the command line.
EXECUTORS: tuple[str, ...] = ("inprocess", "processes", "dask")
#: The scheduler's HTTP endpoint of a local cluster: loopback, a free port, no dashboard.
LOOPBACK_HTTP = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
#: Dask configuration for the worker processes this package starts.  Dask's nanny exports
#: ``MALLOC_TRIM_THRESHOLD_`` to its workers; setting it at all switches off glibc's dynamic mmap
#: threshold, so every large numpy temporary is mmap-ed and unmapped again, which made the
#: frontier cells 4-5 times more CPU-expensive in a worker than in process.  ``None`` unsets it.
NUMERIC_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
#: How to install the Dask extra (named in the error when Dask is missing).
DASK_EXTRA = "pip install 'unlearnstab[distributed]'"


class Executor:
    """Base class: ``run(fn, specs)`` yields a :class:`CellRun` per spec, in completion order."""

    name = "executor"
    workers = 1

    def run(self, fn: str | CellFn, specs: Sequence[CellSpec], blas_threads: int | None = 1,
            chunk_size: int = 1) -> Iterator[CellRun]:
        """Run the cells of ``specs`` with cell function ``fn``, ``chunk_size`` cells a task."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the executor and its workers."""
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def close(self) -> None:
        """Release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcess(Executor):
    """Cells one after the other in this process (also accepts non-importable functions)."""

    name = "inprocess"

    def run(self, fn: str | CellFn, specs: Sequence[CellSpec], blas_threads: int | None = 1,
            chunk_size: int = 1) -> Iterator[CellRun]:  # noqa: ARG002 -- Executor protocol
        """Run each cell in turn (``chunk_size`` does not apply)."""
        for spec in specs:
            yield execute_cell(fn, spec.key, spec.config, blas_threads)


def _chunks(specs: list[CellSpec], size: int) -> list[list[CellSpec]]:
    """``specs`` cut into consecutive chunks of ``size`` cells (the last may be shorter)."""
    size = max(1, int(size))
    return [specs[i:i + size] for i in range(0, len(specs), size)]


def _items(chunk: list[CellSpec]) -> list[tuple[str, dict]]:
    return [(s.key, s.config) for s in chunk]


def _failed(spec: CellSpec, why: str) -> CellRun:
    return CellRun(spec.key, False, None, why, 0.0, "")


class Processes(Executor):
    """A local pool of ``workers`` processes (default: the CPU count).

    Parameters
    ----------
    workers:
        Pool size.
    max_restarts:
        A pool broken by a dying worker is restarted while it makes progress; after this many
        broken pools in a row that finished no cell, the pending cells are recorded as failed
        (``--retry-failed`` runs them again).
    """

    name = "processes"

    def __init__(self, workers: int | None = None, max_restarts: int = 2) -> None:
        self.workers = int(workers if workers is not None else os.cpu_count() or 1)
        if self.workers < 1:
            raise InputError(f"the number of workers must be >= 1, got {self.workers}")
        self.max_restarts = max_restarts

    def run(self, fn: str | CellFn, specs: Sequence[CellSpec], blas_threads: int | None = 1,
            chunk_size: int = 1) -> Iterator[CellRun]:
        """Submit every chunk of cells to the pool and yield results as they finish."""
        _require_path(fn, self.name)
        pending = {s.key: s for s in specs}
        idle_restarts = 0  # consecutive broken pools that finished no cell
        ctx = multiprocessing.get_context("spawn")
        while pending:
            pool = ProcessPoolExecutor(max_workers=min(self.workers, len(pending)),
                                       mp_context=ctx, initializer=_exit_with_parent,
                                       initargs=(os.getpid(),))
            broken, finished = False, 0
            try:
                futs = {pool.submit(execute_cells, fn, _items(chunk), blas_threads): chunk
                        for chunk in _chunks(list(pending.values()), chunk_size)}
                for fut in as_completed(futs):
                    try:
                        runs = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        break
                    for run in runs:
                        pending.pop(run.key, None)
                        finished += 1
                        yield run
            finally:
                pool.shutdown(wait=not broken, cancel_futures=True)
            idle_restarts = 0 if finished else idle_restarts + 1
            if broken and idle_restarts > self.max_restarts:
                for spec in list(pending.values()):
                    pending.pop(spec.key)
                    yield _failed(spec, "BrokenProcessPool: worker processes died "
                                        f"{idle_restarts} times in a row without finishing a "
                                        "cell; cell not run")


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Pool-worker initializer: end this worker when the sweep's process dies (even by SIGKILL).

    Without it, the workers of a killed sweep would go on computing cells nobody will store.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class Dask(Executor):
    """A Dask ``distributed`` cluster.

    Parameters
    ----------
    workers:
        Start a ``LocalCluster`` of this many single-threaded worker processes on 127.0.0.1.
    scheduler:
        Address of an existing scheduler (``tcp://host:8786``); the workers must have the same
        unlearnstab version installed (checked before any cell is sent).
    client:
        An existing ``distributed.Client`` to use (it is not closed here).
    timeout:
        Seconds to wait for the scheduler to answer.
    """

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 client: Any = None, timeout: float = 30.0) -> None:
        distributed = require_dask()
        self._own_cluster = None
        self._own_client = client is None
        if sum(x is not None for x in (workers, scheduler, client)) > 1:
            raise InputError("give at most one of: Dask workers, a scheduler address, a client")
        if client is None and scheduler is not None:
            probe_scheduler(str(scheduler))
            try:
                client = distributed.Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        elif client is None:
            n = int(workers if workers is not None else os.cpu_count() or 1)
            if n < 1:
                raise InputError(f"the number of Dask workers must be >= 1, got {n}")
            import dask

            with dask.config.set(NUMERIC_WORKER_CONFIG):
                self._own_cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, scheduler_kwargs=dict(LOOPBACK_HTTP),
                    silence_logs=logging.CRITICAL)  # lost workers surface as failed cells
            client = distributed.Client(self._own_cluster)
        self.client = client
        self.timeout = timeout
        self.workers = len(client.nthreads())
        self.address = client.scheduler.address

    def describe(self) -> str:
        """Name, scheduler address and number of workers."""
        return f"dask at {self.address} ({self.workers} workers)"

    def _preflight(self, fn: str) -> None:
        """Every worker can import the cell function and runs this package version."""
        if not self.client.nthreads():
            try:
                self.client.wait_for_workers(1, timeout=self.timeout)
            except (OSError, TimeoutError):
                raise InputError(f"the Dask scheduler {self.address} has no workers (waited "
                                 f"{self.timeout:g} s); start some with 'dask worker "
                                 f"{self.address}'") from None
        try:
            found = self.client.run(_worker_check, fn)
        except Exception as exc:  # noqa: BLE001  any failure here means the cluster is unusable
            raise InputError(f"the Dask workers cannot run cell {fn}: {exc}") from None
        trimmed = [addr for addr, v in found.items() if isinstance(v, tuple) and v[1]]
        found = {addr: v[0] if isinstance(v, tuple) else v for addr, v in found.items()}
        if trimmed:
            logging.getLogger(__name__).warning(
                "%d Dask worker(s) run with MALLOC_TRIM_THRESHOLD_ set, which makes numpy-heavy "
                "cells several times slower; start them with "
                "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None "
                "(see docs/sweeps.md)", len(trimmed))
        bad = {addr: v for addr, v in found.items() if v != __version__}
        if bad:
            addr, got = next(iter(bad.items()))
            raise InputError(f"Dask worker {addr} cannot run cell {fn}: {got} (this process "
                             f"has unlearnstab {__version__}); install the same version on "
                             "every worker")

    def run(self, fn: str | CellFn, specs: Sequence[CellSpec], blas_threads: int | None = 1,
            chunk_size: int = 1) -> Iterator[CellRun]:
        """Submit every chunk of cells; yield results as they complete (lost workers re-run)."""
        from distributed import as_completed as dask_as_completed

        path = _require_path(fn, self.name)
        self._preflight(path)
        token = uuid.uuid4().hex[:8]
        chunks = _chunks(list(specs), chunk_size)
        n = len(chunks)
        submitted = self.client.map(
            execute_cells, [path] * n, [_items(c) for c in chunks], [blas_threads] * n,
            key=[f"unlearnstab-cells-{c[0].key[:24]}-{len(c)}-{token}" for c in chunks],
            pure=False)  # one message for the whole sweep
        futs = {f.key: (f, c) for f, c in zip(submitted, chunks, strict=True)}
        arrivals = dask_as_completed(submitted)
        del submitted  # each future is dropped once its result is taken (frees cluster memory)
        try:
            for fut in arrivals:
                chunk = futs.pop(fut.key)[1]
                try:
                    runs = fut.result()
                except Exception as exc:  # noqa: BLE001  e.g. KilledWorker after many losses
                    runs = [_failed(s, f"{type(exc).__name__}: {exc}") for s in chunk]
                fut.release()
                yield from runs
        finally:
            if futs:
                self.client.cancel([f for f, _ in futs.values()])

    def close(self) -> None:
        """Close the client and the cluster this executor started."""
        if self._own_client:
            self.client.close()
        if self._own_cluster is not None:
            self._own_cluster.close()


def _worker_check(fn: str) -> tuple[str, bool]:
    """Run on each Dask worker: its package version and whether it trims malloc.

    The first item is the version, or why the cell cannot be imported; the second tells whether
    ``MALLOC_TRIM_THRESHOLD_`` is set in the worker.
    """
    trim = "MALLOC_TRIM_THRESHOLD_" in os.environ
    try:
        resolve(fn)
    except InputError as exc:
        return str(exc), trim
    return __version__, trim


def _require_path(fn: str | CellFn, executor: str) -> str:
    if isinstance(fn, str):
        return fn
    raise InputError(f"the {executor} executor needs a cell given as an importable "
                     "'module:function' path, not a local function")


def require_dask():
    """Import ``distributed`` or raise an error that names the extra to install."""
    try:
        import distributed
    except ImportError:
        raise InputError(f"the Dask executor needs Dask distributed: {DASK_EXTRA}") from None
    return distributed


#: A Dask scheduler address: ``protocol://host[:port]``.
_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/:]+(:\d+)?/?$")
#: Seconds a TCP connection to the scheduler may take before it counts as unreachable.
PROBE_SECONDS = 3.0
#: Port of a ``tcp://`` or ``tls://`` scheduler address that names none (Dask's default).
DEFAULT_SCHEDULER_PORT = 8786


def probe_scheduler(address: str, seconds: float = PROBE_SECONDS) -> None:
    """Fail at once when nothing listens at a ``tcp://`` or ``tls://`` scheduler address.

    ``distributed.Client`` retries a refused connection until its timeout (30 s by default)
    before it gives up; one plain TCP connection attempt tells a closed port or an unknown host
    within ``seconds``.  Other protocols are left to Dask.

    Parameters
    ----------
    address:
        ``protocol://host[:port]``.
    seconds:
        Connection timeout of the attempt.

    Raises
    ------
    InputError
        Nothing accepts a connection at the address.
    """
    proto, _, rest = address.partition("://")
    if proto not in ("tcp", "tls"):
        return
    host, _, port = rest.rstrip("/").partition(":")
    try:
        with socket.create_connection((host, int(port or DEFAULT_SCHEDULER_PORT)),
                                      timeout=seconds):
            pass
    except OSError as exc:  # refused, unknown host, unreachable network, or timed out
        why = exc.strerror or type(exc).__name__
        raise InputError(f"cannot reach the Dask scheduler {address}: {why}") from None


def check_executor(name: str | Executor, workers: int | None = None,
                   scheduler: str | None = None) -> None:
    """Validate executor options before anything runs (Dask must be importable when named)."""
    if isinstance(name, Executor):
        return
    if name not in EXECUTORS:
        raise InputError(f"unknown executor {name!r}; expected one of {', '.join(EXECUTORS)}")
    if scheduler is not None and not _ADDRESS.match(str(scheduler)):
        raise InputError(f"scheduler address {scheduler!r} is not an address like "
                         "tcp://host:8786")
    if scheduler is not None and name != "dask":
        raise InputError(f"a scheduler address needs the dask executor, not {name!r}")
    if scheduler is not None and workers is not None:
        raise InputError("give either a number of Dask workers or a scheduler address, not both")
    if workers is not None and int(workers) < 1:
        raise InputError(f"the number of workers must be >= 1, got {workers}")
    if name == "dask":
        require_dask()


def make_executor(name: str | Executor = "inprocess", *, workers: int | None = None,
                  scheduler: str | None = None) -> Executor:
    """The executor called ``name`` (or ``name`` itself when it already is one)."""
    if isinstance(name, Executor):
        return name
    check_executor(name, workers, scheduler)
    if name == "inprocess":
        return InProcess()
    if name == "processes":
        return Processes(workers)
    return Dask(workers=workers, scheduler=scheduler)
