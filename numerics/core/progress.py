r"""Progress on stderr for long phases, the phase clock, and Ctrl-C naming the phase.

A long computation is cut into *phases* (``with clock.phase(...)``).  Each phase

* shows a ``tqdm`` bar on stderr once it has run for :data:`SHOW_AFTER` seconds (shorter phases
  print nothing): with a known ``total`` the bar gives the rate and the time left, otherwise the
  count and the elapsed time;
* is the *current* phase while it runs, so that code deep inside it reports without being handed
  a bar: :func:`advance` counts a unit of work (e.g. one criterion solve) and :func:`solver_tick`
  states how far an iterative eigen-solve is through its budget (operator applications, seconds
  of its time budget used and left);
* adds its wall time to :attr:`PhaseClock.timings` (``<key>_s``); :meth:`PhaseClock.finish` adds
  ``other_s`` (time outside every phase) and ``total_s`` (the whole call), so that the parts sum
  to the total;
* turns a ``KeyboardInterrupt`` into :class:`Interrupted`, which names the phase (the command
  line prints it as one line and exits with status 130).

Bars are shown only when asked for and when stderr is a terminal, unless the environment
variable :data:`ENV` forces them (``1``/``always``) or silences them (``0``/``never``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from numerics.core.inputs import InputError

__all__ = ["ENV", "SHOW_AFTER", "Interrupted", "Phase", "PhaseClock", "PhaseSpec", "advance",
           "current_phase", "progress_enabled", "solver_tick"]

#: Environment variable forcing progress bars on (``1``, ``always``) or off (``0``, ``never``).
ENV = "UNLEARNSTAB_PROGRESS"
#: A phase's bar appears after this many seconds (phases shorter than that print nothing).
SHOW_AFTER = 1.0
#: Seconds between refreshes of a bar whose count does not move (elapsed time, solver state).
REFRESH_S = 0.5
_FORCE = ("1", "always", "force", "yes", "true", "on")
_NEVER = ("0", "never", "no", "false", "off")

_CURRENT: ContextVar[Phase | None] = ContextVar("unlearnstab_phase", default=None)


class Interrupted(KeyboardInterrupt):  # noqa: N818 -- it is a KeyboardInterrupt, named for what it says
    """Ctrl-C during a phase; ``phase`` is that phase's label."""

    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


def progress_enabled(requested: bool = True) -> bool:
    """Whether bars are shown: requested, and stderr a terminal or :data:`ENV` forcing them.

    Parameters
    ----------
    requested:
        False (``--quiet``, ``--no-progress``) silences them whatever the environment says.

    Returns
    -------
    bool
    """
    if not requested:
        return False
    raw = os.environ.get(ENV, "").strip().lower()
    if raw in _FORCE:
        return True
    if raw in _NEVER:
        return False
    if raw not in ("", "auto"):
        raise InputError(f"environment variable {ENV}={raw!r}: expected 1/always, 0/never or "
                         "auto")
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stderr
        return False


@dataclass(frozen=True)
class PhaseSpec:
    """A phase: its timing key (``<key>_s``), its label on the bar, its total and unit.

    ``total`` ``None``: no count is known (the bar shows the elapsed time).
    """

    key: str
    label: str
    total: int | None = None
    unit: str = "step"


class Phase:
    """The running phase: its label and (when shown) its bar."""

    def __init__(self, spec: PhaseSpec, show: bool) -> None:
        self.spec = spec
        self.label = spec.label
        self.count = 0
        self._t0 = time.monotonic()
        self._bar: Any = None
        self._last = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if show:
            from tqdm.auto import tqdm

            fmt = None if spec.total is not None else "{desc}: {elapsed} elapsed{postfix}"
            self._bar = tqdm(total=spec.total, desc=spec.label, unit=spec.unit, file=sys.stderr,
                             leave=False, dynamic_ncols=True, delay=SHOW_AFTER, smoothing=0.1,
                             bar_format=fmt)
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        """Refresh the bar (elapsed time, notes) once the phase has run :data:`SHOW_AFTER` s."""
        while not self._stop.wait(REFRESH_S):
            bar = self._bar
            if bar is not None and time.monotonic() - self._t0 >= SHOW_AFTER:
                bar.refresh()
                bar.last_print_t = time.time()  # shown: closing the bar clears its line

    @property
    def shown(self) -> bool:
        """True when this phase has a bar."""
        return self._bar is not None

    def advance(self, n: int = 1) -> None:
        """Count ``n`` units of work (the total grows when an estimate was too small)."""
        self.count += n
        bar = self._bar
        if bar is None:
            return
        if bar.total is not None and self.count > bar.total:
            bar.total = self.count
        bar.update(n)

    def note(self, text: str) -> None:
        """Show ``text`` beside the bar (at most every :data:`REFRESH_S` seconds)."""
        bar = self._bar
        if bar is None:
            return
        now = time.monotonic()
        if now - self._last >= REFRESH_S:
            self._last = now
            bar.set_postfix_str(text, refresh=False)

    def close(self, *, clear: bool = False) -> None:
        """Stop the refresh and remove the bar (``clear``: wipe its line even if it seems unshown).

        An interrupt can land between a bar's drawing and its record of having drawn; ``clear``
        makes sure the line is wiped before the one-line message that follows.
        """
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2 * REFRESH_S)
        if self._bar is not None:
            if clear:
                self._bar.last_print_t = time.time()
            self._bar.close()
            self._bar = None


def current_phase() -> Phase | None:
    """The phase running now in this context, or ``None``."""
    return _CURRENT.get()


def advance(n: int = 1) -> None:
    """Count ``n`` units of work in the current phase (nothing outside a phase)."""
    ph = _CURRENT.get()
    if ph is not None:
        ph.advance(n)


def solver_tick(applications: int, elapsed: float, budget_s: float,
                cap: int | None = None) -> None:
    """State an iterative solve's effort beside the current phase's bar.

    Parameters
    ----------
    applications:
        Operator applications so far in this solve.
    elapsed, budget_s:
        Seconds spent, and its time budget (the solve stops with a
        :class:`~numerics.core.operator.BudgetError` there).
    cap:
        Largest number of applications its iteration cap allows, when known.
    """
    ph = _CURRENT.get()
    if ph is None or not ph.shown:
        return
    of = "" if cap is None else f" of at most {cap}"
    ph.note(f"eigen-solve: {applications} operator applications{of}, {elapsed:.0f} s of its "
            f"{budget_s:.0f} s budget ({max(budget_s - elapsed, 0.0):.0f} s left)")


class PhaseClock:
    """Times disjoint phases of one call and shows their progress (module docstring).

    Parameters
    ----------
    show:
        Show bars (already resolved, e.g. by :func:`progress_enabled`).
    """

    def __init__(self, show: bool = False) -> None:
        self.show = bool(show)
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def phase(self, spec: PhaseSpec, *, bar: bool = True) -> Iterator[Phase]:
        """Run the block as the phase ``spec`` (timed into ``<key>_s``; ``bar`` False: no bar).

        Parameters
        ----------
        spec:
            The phase.
        bar:
            False when the phase shows its own bars (it is still timed and named).

        Returns
        -------
        Iterator[Phase]
            The running phase (a context manager).
        """
        ph = Phase(spec, self.show and bar)
        token = _CURRENT.set(ph)
        t0 = time.perf_counter()
        interrupted = False
        try:
            yield ph
        except Interrupted:
            interrupted = True
            raise
        except KeyboardInterrupt:
            interrupted = True
            raise Interrupted(spec.label) from None
        finally:
            key = f"{spec.key}_s"
            self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t0
            _CURRENT.reset(token)
            ph.close(clear=interrupted)

    def finish(self) -> dict[str, float]:
        """The timings with ``other_s`` (outside every phase) and ``total_s`` (since creation).

        Returns
        -------
        dict[str, float]
            ``<key>_s`` per phase, ``other_s`` and ``total_s``; the parts sum to ``total_s``.
        """
        total = time.perf_counter() - self._start
        parts = {k: v for k, v in self.timings.items() if k not in ("other_s", "total_s")}
        out = dict(parts)
        out["other_s"] = max(total - sum(parts.values()), 0.0)
        out["total_s"] = total
        self.timings = out
        return out
