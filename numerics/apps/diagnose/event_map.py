r"""The phase figure's map of predicted steps to the run's own escape event over :math:`(\alpha,\eta)`.

Each cell holds :math:`t^\star(\alpha,\eta)` of :mod:`numerics.apps.diagnose.within`
(:class:`~numerics.apps.diagnose.within.StepsModel`, the mathematics of
:mod:`numerics.apps.diagnose.forecast`): the first :math:`t\le K` at which the mean-square
displacement of the forced recursion from :math:`\delta_0=0` reaches the radius at which the
quadratic model of the forget loss reaches its uninformative level,

.. math:: t^\star(\alpha,\eta)=\min\{t\le K:\ \mathbb E\|\delta_t\|^2\ge r_t^2\},

``None`` where no such :math:`t\le K` exists.  It is the event of ``steps_to_escape_predicted``
and of the unlearning run (same start :math:`\theta^\star`, same horizon :math:`K`, same
forget-loss level), so the figure's contours and the run's observed step speak of one event; the
mean-square growth map (:func:`numerics.apps.diagnose.prescribe.steps_map`, steps until
:math:`\mathbb E\|\delta\|^2` grows 1000-fold) is the asymptotic rate, not this event.

Cost: a cell stops at its event, so it costs at most :math:`K` operator applications.  The map
is refined coarse to fine on nested grids of :data:`LEVELS` points per axis (up to the first
level with at least ``size`` points): the first level is computed when its worst case
:math:`g^2K\,c_{\text{step}}` fits twice the budget, each finer one when its new cells, at the
mean cost per cell measured so far, fit what is left of the budget (:func:`refined_map`).  The
cells run through the active mapper (:func:`numerics.apps.diagnose.spread.mapper`), so
``--executor`` spreads them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.apps.diagnose.prescribe import alpha_points
from numerics.apps.diagnose.spread import mapper
from numerics.apps.diagnose.within import NOTION, StepsModel

__all__ = ["EventGrid", "MapRequest", "LEVELS", "levels", "event_map", "refined_map", "BUDGET_S",
           "cell_steps"]

#: Seconds the map may take: the first level's worst case (every cell runs all K steps) must fit
#: twice this, each finer level's measured estimate what is left of it.
BUDGET_S = 60.0


@dataclass(frozen=True)
class EventGrid:
    r"""The map's grid and horizon.

    Attributes
    ----------
    alphas:
        :math:`\alpha` values (points of :math:`[0,1]`).
    etas:
        Step sizes (geometric, the range of the mean-square map).
    horizon:
        :math:`K`, the run's number of steps.
    """

    alphas: tuple[float, ...]
    etas: tuple[float, ...]
    horizon: int


#: Points per axis of the nested grids of :func:`refined_map` (each contains the previous one).
LEVELS = (3, 5, 9, 17)


@dataclass(frozen=True)
class MapRequest:
    r"""What :func:`refined_map` is asked for.

    Attributes
    ----------
    span:
        ``(eta_low, eta_high)``, the step-size range (geometric grid).
    horizon:
        :math:`K`.
    size:
        Points per axis wanted: the levels run up to the first with at least this many.
    seconds_per_step:
        Measured cost of one operator step of the forced recursion.
    budget_s:
        Seconds allowed (default :data:`BUDGET_S`).
    alpha_c:
        The critical :math:`\alpha` (it decides the spacing of the :math:`\alpha` points,
        :func:`~numerics.apps.diagnose.prescribe.alpha_points`).
    """

    span: tuple[float, float]
    horizon: int
    size: int
    seconds_per_step: float
    budget_s: float | None = None
    alpha_c: float = 1.0


def levels(size: int) -> tuple[int, ...]:
    """The nested grid sizes up to the first of :data:`LEVELS` with at least ``size`` points."""
    if size < LEVELS[0]:
        return (int(size),) if size > 0 else ()
    out = []
    for g in LEVELS:
        out.append(g)
        if g >= size:
            break
    return tuple(out)


def cell_steps(model: StepsModel, item: tuple[float, float, int]) -> int | None:
    r""":math:`t^\star(\alpha,\eta)` at ``item = (alpha, eta, K)`` (``None``: not within :math:`K`).

    Parameters
    ----------
    model:
        The predicted step of :mod:`numerics.apps.diagnose.within`.
    item:
        ``(alpha, eta, horizon)``.

    Returns
    -------
    int or None
        The predicted step of the run's event.
    """
    alpha, eta, horizon = item
    return model.steps(alpha, eta, horizon).steps


def event_map(model: StepsModel, grid: EventGrid) -> dict[str, Any]:
    r"""Predicted steps to the run's event on every cell of ``grid`` (module docstring).

    Parameters
    ----------
    model:
        The predicted step (criterion, forcing, loss level, batch sizes of the run).
    grid:
        The :math:`(\alpha,\eta)` grid and the horizon :math:`K`.

    Returns
    -------
    dict
        ``alpha``, ``eta``, ``steps`` (``steps[i][j]`` at ``alpha[i]``, ``eta[j]``; ``None``: no
        event within :math:`K`), ``horizon``, ``event`` and ``notion``.
    """
    items = [(float(a), float(e), int(grid.horizon)) for a in grid.alphas for e in grid.etas]
    values = iter(mapper().map(cell_steps, model, items))
    steps = [[next(values) for _ in grid.etas] for _ in grid.alphas]
    return _as_map(grid, steps)


def _as_map(grid: EventGrid, steps: list[list[int | None]]) -> dict[str, Any]:
    return {"alpha": [float(a) for a in grid.alphas], "eta": [float(e) for e in grid.etas],
            "steps": steps, "horizon": int(grid.horizon),
            "event": "forget loss reaches its uninformative level", "notion": NOTION}


def refined_map(model: StepsModel, req: MapRequest) -> tuple[dict[str, Any] | None, str | None]:
    r"""The map on the finest nested grid the budget allows (module docstring).

    Parameters
    ----------
    model:
        The predicted step.
    req:
        Step-size range, horizon, wanted size, cost of a step and budget.

    Returns
    -------
    tuple
        ``(map, note)``: the map of :func:`event_map` on the finest level computed (``None``
        when even the first level's worst case exceeds twice the budget) and a one-line note
        when it is coarser than asked or skipped (``None`` otherwise).
    """
    budget = BUDGET_S if req.budget_s is None else float(req.budget_s)
    sizes = levels(req.size)
    if not sizes:
        return None, None
    fine = sizes[-1]
    alphas = alpha_points(fine, req.alpha_c)
    etas = np.geomspace(req.span[0], req.span[1], fine)
    K = int(req.horizon)
    first = sizes[0] ** 2 * K * max(float(req.seconds_per_step), 0.0)
    if first > 2.0 * budget:
        return None, (f"the map of predicted steps to the run's event was skipped: "
                      f"{sizes[0]}x{sizes[0]} cells of up to {K} steps at "
                      f"{req.seconds_per_step * 1e3:.3g} ms a step could take {first:.0f} s, "
                      f"above twice the {budget:.0f} s budget; the figure shows the mean-square "
                      "1000-fold growth map instead")
    known: dict[tuple[int, int], int | None] = {}
    spent, done, note = 0.0, None, None
    for g in sizes:
        stride = (fine - 1) // (g - 1) if g > 1 else 1
        idx = [(i, j) for i in range(0, fine, stride) for j in range(0, fine, stride)]
        new = [c for c in idx if c not in known]
        if known and spent / len(known) * len(new) > budget - spent:
            note = (f"the map of predicted steps to the run's event stopped at {done}x{done} "
                    f"cells: {g}x{g} would take about {spent / len(known) * len(new):.0f} s more "
                    f"at {spent / len(known):.2g} s a cell (budget {budget:.0f} s)")
            break
        t0 = time.perf_counter()
        values = mapper().map(cell_steps, model,
                              [(float(alphas[i]), float(etas[j]), K) for i, j in new])
        spent += time.perf_counter() - t0
        known.update(zip(new, values, strict=True))
        done = g
    stride = (fine - 1) // (done - 1) if done > 1 else 1
    keep = range(0, fine, stride)
    grid = EventGrid(tuple(alphas[list(keep)]), tuple(etas[list(keep)]), K)
    return _as_map(grid, [[known[(i, j)] for j in keep] for i in keep]), note
