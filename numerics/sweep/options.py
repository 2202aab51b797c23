"""Command-line options shared by every command that runs a sweep (``frontier``, ``verify``, CNN).

A command calls :func:`add_sweep_arguments` on its parser and passes :func:`sweep_options` of the
parsed arguments to :func:`numerics.sweep.run_sweep`; the options then mean the same everywhere.
"""

from __future__ import annotations

import argparse
from typing import Any

from numerics.core.inputs import InputError
from numerics.sweep.executors import EXECUTORS

__all__ = ["add_sweep_arguments", "sweep_options", "parse_values"]


def add_sweep_arguments(parser: argparse.ArgumentParser, *, quiet: bool = True) -> None:
    """Add the sweep options to ``parser``.

    They are ``--store``, ``--executor``, ``--workers``, ``--dask-workers`` / ``--scheduler``,
    ``--chunk-size``, ``--retry-failed`` and (unless the command has its own) ``--quiet``.
    """
    g = parser.add_argument_group("sweep execution (see docs/sweeps.md)")
    g.add_argument("--store", metavar="DIR",
                   help="result store directory: finished cells are kept there and reused "
                        "(default: memory only)")
    g.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="where cells run: inprocess (default), processes or dask")
    g.add_argument("--workers", type=int, metavar="K",
                   help="size of the process pool of --executor processes (default: CPU count)")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--dask-workers", type=int, metavar="K",
                       help="start a local Dask cluster of K worker processes (implies dask)")
    where.add_argument("--scheduler", metavar="ADDR",
                       help="use the running Dask scheduler at ADDR, e.g. tcp://host:8786 "
                            "(implies dask)")
    g.add_argument("--chunk-size", type=int, default=1, metavar="C",
                   help="cells per task for processes and dask (default 1); raise it when "
                        "cells take only milliseconds")
    g.add_argument("--retry-failed", action="store_true",
                   help="run again the cells stored as failed")
    if quiet:
        g.add_argument("--quiet", action="store_true", help="no progress bar")


def sweep_options(args: argparse.Namespace, *, progress: bool | None = None) -> dict[str, Any]:
    """Keyword arguments for :func:`numerics.sweep.run_sweep` from the parsed options."""
    executor = args.executor
    dask_workers, scheduler = args.dask_workers, args.scheduler
    if dask_workers is not None or scheduler is not None:
        if executor not in (None, "dask"):
            flag = "--dask-workers" if dask_workers is not None else "--scheduler"
            raise InputError(f"{flag} needs --executor dask, not {executor}")
        executor = "dask"
    executor = executor or "inprocess"
    if args.workers is not None and executor != "processes":
        raise InputError("--workers sizes the process pool of --executor processes; for Dask "
                         "use --dask-workers")
    for flag, value in (("--workers", args.workers), ("--dask-workers", dask_workers),
                        ("--chunk-size", args.chunk_size)):
        if value is not None and value < 1:
            raise InputError(f"{flag} must be >= 1, got {value}")
    workers = dask_workers if executor == "dask" else args.workers
    show = (not getattr(args, "quiet", False)) if progress is None else progress
    return {"store": args.store, "executor": executor, "workers": workers,
            "scheduler": scheduler, "retry_failed": bool(args.retry_failed), "progress": show,
            "chunk_size": args.chunk_size}


def parse_values(text: str, name: str, *, integer: bool = True) -> list[Any]:
    """Values of a grid axis, in order and without repeats.

    ``text`` is ``A:B:STEP`` (``B`` included when it lies on the grid), ``A:B`` (step 1), a comma
    list ``a,b,c`` or one value.
    """
    conv = int if integer else float
    kind = "integers" if integer else "numbers"
    try:
        if ":" in text:
            parts = [conv(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
        else:
            values = [conv(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"{name} must be A:B:STEP, A:B or a comma list of {kind}, "
                         f"got {text!r}") from None
    if ":" in text:
        start, stop = parts[0], parts[1]
        step = parts[2] if len(parts) == 3 else 1
        if step <= 0 or stop < start:
            raise InputError(f"{name} {text!r}: need A <= B and STEP > 0")
        count = int((stop - start) // step) + 1
        values = [start + i * step for i in range(count)]
    if not values:
        raise InputError(f"{name} is empty")
    return list(dict.fromkeys(values))
