"""Command-line options shared by every command that runs a sweep (``frontier``, ``verify``, CNN).

The options are the fields of :class:`SweepOptions` (each with its flag and help); those that say
where and how cells run, without the progress switch, are :class:`ExecutionOptions`, which
``diagnose`` carries as one of its option groups (the same flags, written once).  A command
calls :func:`add_sweep_arguments` on its parser and passes :func:`sweep_options` of the parsed
arguments (a :class:`~numerics.sweep.engine.SweepSettings`) and ``--store`` to
:func:`numerics.sweep.run_sweep`; the options then mean the same everywhere.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from numerics.core.inputs import InputError
from numerics.core.options import Options, add_options, option, options_from_args
from numerics.sweep.engine import SweepSettings
from numerics.sweep.executors import EXECUTORS

__all__ = ["ExecutionOptions", "SweepOptions", "add_sweep_arguments", "sweep_options", "parse_values"]


@dataclass(frozen=True)
class ExecutionOptions(Options):
    """Where and how the cells of a sweep run: store, executor, workers, chunks, retries."""

    kind = "sweep option"

    store: str | None = option(None, type=str, metavar="DIR",
                               help="result store directory: finished cells are kept there and "
                                    "reused", default_text="memory only")
    executor: str | None = option(None, type=str, choices=EXECUTORS,
                                  help="where cells run: inprocess (default), processes or dask")
    workers: int | None = option(None, type=int, metavar="K",
                                 help="size of the process pool of --executor processes",
                                 default_text="CPU count")
    dask_workers: int | None = option(None, type=int, metavar="K", exclusive="dask",
                                      help="start a local Dask cluster of K worker processes "
                                           "(implies dask)")
    scheduler: str | None = option(None, type=str, metavar="ADDR", exclusive="dask",
                                   help="use the running Dask scheduler at ADDR, e.g. "
                                        "tcp://host:8786 (implies dask)")
    chunk_size: int = option(1, metavar="C",
                             help="cells per task for processes and dask; raise it when cells "
                                  "take only milliseconds")
    retry_failed: bool = option(False, help="run again the cells stored as failed")

    def validate(self) -> None:
        """The executor the options imply, and counts >= 1 (errors name the flags)."""
        if self.dask_workers is not None or self.scheduler is not None:
            if self.executor not in (None, "dask"):
                flag = "--dask-workers" if self.dask_workers is not None else "--scheduler"
                raise InputError(f"{flag} needs --executor dask, not {self.executor}")
        if self.workers is not None and self.resolved_executor() != "processes":
            raise InputError("--workers sizes the process pool of --executor processes; for "
                             "Dask use --dask-workers")
        for flag, value in (("--workers", self.workers), ("--dask-workers", self.dask_workers),
                            ("--chunk-size", self.chunk_size)):
            if value is not None and value < 1:
                raise InputError(f"{flag} must be >= 1, got {value}")

    def resolved_executor(self) -> str:
        """``dask`` when a Dask option is given, else ``--executor`` (default ``inprocess``).

        Returns
        -------
        str
            The executor name.
        """
        if self.dask_workers is not None or self.scheduler is not None:
            return "dask"
        return self.executor or "inprocess"

    def settings(self, *, progress: bool | None = None) -> SweepSettings:
        """The engine settings these options describe.

        Parameters
        ----------
        progress:
            Show a progress bar (default: no).

        Returns
        -------
        SweepSettings
            Executor, workers, scheduler, retries, progress and chunk size.
        """
        executor = self.resolved_executor()
        workers = self.dask_workers if executor == "dask" else self.workers
        return SweepSettings(executor=executor, workers=workers, scheduler=self.scheduler,
                             retry_failed=self.retry_failed, progress=bool(progress),
                             chunk_size=self.chunk_size)


@dataclass(frozen=True)
class SweepOptions(ExecutionOptions):
    """The sweep-execution options of the command line (see docs/sweeps.md)."""

    quiet: bool = option(False, help="no progress bar")

    def settings(self, *, progress: bool | None = None) -> SweepSettings:
        """The engine settings these options describe.

        Parameters
        ----------
        progress:
            Show a progress bar (default: unless ``--quiet``).

        Returns
        -------
        SweepSettings
            Executor, workers, scheduler, retries, progress and chunk size.
        """
        show = (not self.quiet) if progress is None else progress
        return super().settings(progress=show)


def add_sweep_arguments(parser: argparse.ArgumentParser, *, quiet: bool = True) -> None:
    """Add the sweep options (the fields of :class:`SweepOptions`) to ``parser``.

    Parameters
    ----------
    parser:
        The command's parser; the options go into their own argument group.
    quiet:
        Add ``--quiet`` too (``False`` for a command that has its own).
    """
    g = parser.add_argument_group("sweep execution (see docs/sweeps.md)")
    add_options(g, SweepOptions, skip=() if quiet else ("quiet",))


def sweep_options(args: argparse.Namespace, *, progress: bool | None = None) -> SweepSettings:
    """The engine settings of the parsed sweep options (``--store`` is ``args.store``).

    Parameters
    ----------
    args:
        Arguments parsed by a parser with :func:`add_sweep_arguments`.
    progress:
        Show a progress bar (default: unless ``--quiet``).

    Returns
    -------
    SweepSettings
        For :func:`numerics.sweep.run_sweep`.
    """
    return options_from_args(args, SweepOptions).settings(progress=progress)


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
