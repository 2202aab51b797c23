r"""Spreading the independent pieces of ``diagnose`` over the sweep engine's executors.

Two parts of ``diagnose`` are independent pieces of work:

* the per-sample curvature, computed in chunks of samples (exact Hessians
  :math:`\nabla^2_\theta\ell_i` on the ``dense`` route, output Jacobians :math:`J_i` and output
  curvatures :math:`\Lambda_i` on the ``ggn`` route, :math:`Q^\top\nabla^2_\theta\ell_iQ` on the
  ``subspace`` route's Lanczos basis :math:`Q`);
* the prescriptions' grid: :math:`\eta^\star_{ms}(\alpha)` on the :math:`\alpha` grid and
  :math:`\rho(\mathcal T(\eta;\alpha))` on the :math:`(\alpha,\eta)` map of the figure.

Each is written as ``fn(shared, item)`` -- ``shared`` the state every piece reads (the model with
its loss, or the criterion), ``item`` the piece's own arguments -- and evaluated by the active
:class:`Mapper`.  The default evaluates the pieces in process, in order, on the live objects:
exactly the loop it replaces.  Under :func:`spreading` with execution options that name the
``processes`` or ``dask`` executor (:class:`~numerics.sweep.options.ExecutionOptions`), the
pieces become cells of :func:`numerics.sweep.run_sweep`: a cell's configuration carries
``shared`` and a few items as base64 text of their pickles (``cloudpickle`` when installed, so a
loss written as a lambda or inside an entry file travels by value), and its record returns the
values the same way, so tensors and floats come back bit for bit.

Each item of a cell is evaluated on a fresh copy of ``shared``, so a value does not depend on how
the items were grouped into cells or on which worker ran them.  In process, the criterion's
Lanczos solves above :data:`~numerics.core.operator.DENSE_MAX_DIM` active dimensions start from
the previous grid point's vector; on workers each grid point starts from the state the criterion
had when the grid began, so there the spread values agree with the in-process ones within the
Lanczos tolerance instead of bit for bit.  At most :data:`~numerics.core.operator.DENSE_MAX_DIM`
dimensions (dense operator) and for every curvature chunk they agree bit for bit.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from numerics.core.device import thread_limit
from numerics.core.inputs import InputError
from numerics.curvature.matrix_free import in_order
from numerics.sweep.cells import cell_path, is_importable, resolve
from numerics.sweep.engine import run_sweep
from numerics.sweep.executors import make_executor
from numerics.sweep.options import ExecutionOptions

__all__ = ["Mapper", "SweepMapper", "mapper", "spreading", "map_cell", "MAP_CELL",
           "pack", "unpack"]

#: The cell that evaluates a group of pieces on a worker.
MAP_CELL = "numerics.apps.diagnose.spread:map_cell"
#: Cells per worker a map is cut into (a few, so that a slow worker does not hold the rest).
CELLS_PER_WORKER = 2


def _pickler() -> Any:
    try:
        import cloudpickle
    except ImportError:  # the Dask extra brings it; plain pickle for importable objects
        return pickle
    return cloudpickle


def pack(obj: Any) -> str:
    """``obj`` as ASCII text: base64 of its pickle (cloudpickle when installed).

    Parameters
    ----------
    obj:
        Anything picklable (torch tensors and modules, numpy arrays, the criterion).

    Returns
    -------
    str
        Text that :func:`unpack` turns back into an equal object (floats bit for bit).
    """
    try:
        data = _pickler().dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 -- anything unpicklable in a user's model or loss
        raise InputError(f"cannot send {type(obj).__name__} to the workers: {exc}; define the "
                         "model and the loss in an importable module or an entry file") from None
    return base64.b64encode(data).decode("ascii")


def unpack(text: str) -> Any:
    """The object :func:`pack` wrote as ``text``.

    Parameters
    ----------
    text:
        Output of :func:`pack`.

    Returns
    -------
    Any
        The object.
    """
    return pickle.loads(base64.b64decode(text.encode("ascii")))  # noqa: S301 -- our own cells


def map_cell(config: dict[str, Any]) -> dict[str, Any]:
    """The sweep cell: ``fn(shared, item)`` for each item of the cell, on a fresh ``shared``.

    Parameters
    ----------
    config:
        ``fn`` (a ``module:function`` path), ``shared`` and ``items`` (:func:`pack` text),
        ``threads`` (torch and BLAS threads, ``None``: leave them) and ``seed`` (unused: the pieces
        are deterministic).

    Returns
    -------
    dict
        ``{"values": pack([fn(shared, item) for item in items])}``.
    """
    fn = resolve(config["fn"])
    items = unpack(config["items"])
    with thread_limit(config.get("threads")):
        values = [fn(unpack(config["shared"]), item) for item in items]
    return {"values": pack(values)}


class Mapper:
    """Evaluate ``fn(shared, item)`` for each item in this process, in order (the default)."""

    name = "inprocess"

    def map(self, fn: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any],
            done: Callable[[int], None] | None = None) -> list[Any]:
        """``[fn(shared, item) for item in items]``.

        Parameters
        ----------
        fn:
            A module-level function (it must be importable by name when spread).
        shared:
            The state every piece reads.
        items:
            The pieces' arguments.
        done:
            Called with each item's index once its value is known.

        Returns
        -------
        list
            One value per item, in order.
        """
        return in_order(fn, shared, items, done)

    def notes(self) -> list[str]:
        """What the report says about where the pieces ran (nothing when in process)."""
        return []

    def close(self) -> None:
        """Release the workers (nothing in process)."""


class SweepMapper(Mapper):
    """Evaluate the pieces as cells of :func:`numerics.sweep.run_sweep` on an executor.

    Parameters
    ----------
    options:
        The execution options (executor, workers or scheduler, store, chunk size, retries).
    threads:
        Torch and BLAS threads inside each piece (the in-process value, so the arithmetic
        agrees); ``None`` leaves them.
    progress:
        Show the engine's progress bar for each map.
    """

    def __init__(self, options: ExecutionOptions, threads: int | None = 1,
                 progress: bool = False) -> None:
        settings = options.settings(progress=progress)
        self.executor = make_executor(settings.executor, workers=settings.workers,
                                      scheduler=settings.scheduler)
        self.settings = replace(settings, executor=self.executor, blas_threads=threads)
        self.store = options.store
        self.threads = threads
        self.name = self.executor.describe()
        #: Cells run (or reused from the store) by this mapper.
        self.cells = 0

    def map(self, fn: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any],
            done: Callable[[int], None] | None = None) -> list[Any]:
        """One sweep: the items cut into a few cells per worker (see :meth:`Mapper.map`)."""
        if not items:
            return []
        if not is_importable(fn):
            raise InputError(f"{cell_path(fn)} cannot be imported by name, so it cannot run "
                             "on the workers")
        blob = pack(shared)
        count = min(len(items), CELLS_PER_WORKER * max(1, int(self.executor.workers)))
        bounds = [(len(items) * j // count, len(items) * (j + 1) // count) for j in range(count)]
        configs = [{"fn": cell_path(fn), "shared": blob, "items": pack(list(items[a:b])),
                    "first": a, "threads": self.threads, "seed": 0} for a, b in bounds]
        desc = f"{cell_path(fn).rsplit(':', 1)[-1].strip('_')} on {self.name}"
        result = run_sweep(MAP_CELL, configs, self.store, replace(self.settings, desc=desc))
        self.cells += len(result.cells)
        if result.failures:
            raise _failure(result.failures[0].error or "failed")
        out: list[Any] = []
        for cell in result.cells:
            out.extend(unpack(cell.record["values"]))
        if done is not None:
            for i in range(len(out)):
                done(i)
        return out

    def notes(self) -> list[str]:
        """One note naming the executor and the number of cells."""
        return [f"per-sample curvature chunks and the prescriptions' grid ran on {self.name} "
                f"as {self.cells} sweep cells"]

    def close(self) -> None:
        """Close the executor (and the Dask cluster it started)."""
        self.executor.close()


def _failure(error: str) -> Exception:
    """The error of a failed piece: an ``InputError`` stays one (one line), anything else not."""
    first = error.strip().splitlines()[0] if error.strip() else "failed"
    kind, _, message = first.partition(": ")
    if kind == "InputError":
        return InputError(message)
    return RuntimeError(f"a diagnose piece failed on a worker: {error}")


_ACTIVE: contextvars.ContextVar[Mapper | None] = contextvars.ContextVar("diagnose_mapper",
                                                                        default=None)


def mapper() -> Mapper:
    """The active mapper: the one :func:`spreading` set up, else in process.

    Returns
    -------
    Mapper
        Where the pieces of the running ``diagnose`` are evaluated.
    """
    return _ACTIVE.get() or Mapper()


def spreads(options: ExecutionOptions | None) -> bool:
    """Whether ``options`` send the pieces through the sweep engine (an executor or a store)."""
    return options is not None and (options.resolved_executor() != "inprocess"
                                    or options.store is not None)


@contextlib.contextmanager
def spreading(options: ExecutionOptions | None, threads: int | None = 1, *,
              device: str = "cpu", progress: bool = False) -> Iterator[Mapper]:
    """Make the pieces of ``diagnose`` run as :func:`spreads` says, inside the block.

    Parameters
    ----------
    options:
        The execution options (``None`` or in process without a store: the default loops).
    threads:
        Threads inside each piece.
    device:
        The curvature device; spreading needs ``cpu`` (the pieces travel as CPU tensors).
    progress:
        Show the engine's progress bars.

    Yields
    ------
    Mapper
        The active mapper (closed when the block ends).
    """
    if not spreads(options):
        yield mapper()
        return
    if str(device) != "cpu":
        raise InputError(f"--executor {options.resolved_executor()} spreads CPU work; the "
                         f"curvature device {device!r} is not spread: use --device cpu")
    active = SweepMapper(options, threads, progress)
    token = _ACTIVE.set(active)
    try:
        yield active
    finally:
        _ACTIVE.reset(token)
        active.close()
