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

Cost: a cell stops at its event, so it costs at most :math:`K` operator applications.  The grid
is the largest with at most ``size`` points per axis whose worst case
:math:`g^2K\,c_{\text{step}}` fits the budget (:func:`plan_grid`); the cells run through the
active mapper (:func:`numerics.apps.diagnose.spread.mapper`), so ``--executor`` spreads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.apps.diagnose.spread import mapper
from numerics.apps.diagnose.within import NOTION, StepsModel

__all__ = ["EventGrid", "plan_grid", "event_map", "BUDGET_S", "MIN_SIZE", "cell_steps"]

#: Seconds the map may be expected to take in the worst case (every cell runs all K steps).
BUDGET_S = 60.0
#: Fewer points per axis than this draw no useful contour: the map is skipped instead.
MIN_SIZE = 3


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


def plan_grid(size: int, horizon: int, seconds_per_step: float,
              budget_s: float | None = None) -> tuple[int, str | None]:
    r"""Points per axis :math:`g\le` ``size`` with :math:`g^2K\,c_{\text{step}}\le` ``budget_s``.

    Parameters
    ----------
    size:
        The requested points per axis (the mean-square map's).
    horizon:
        :math:`K`.
    seconds_per_step:
        Measured cost of one operator step of the forced recursion.
    budget_s:
        Seconds allowed for the worst case (default :data:`BUDGET_S`).

    Returns
    -------
    tuple
        ``(g, note)``: ``g = 0`` (skipped) with the reason when even :data:`MIN_SIZE` points do
        not fit; a note when the grid was made coarser than ``size``; ``None`` otherwise.
    """
    budget_s = BUDGET_S if budget_s is None else float(budget_s)
    per_cell = max(float(seconds_per_step), 0.0) * int(horizon)
    fits = int(np.floor(np.sqrt(budget_s / per_cell))) if per_cell > 0 else int(size)
    g = min(int(size), fits)
    if g >= int(size):
        return int(size), None
    if g < MIN_SIZE:
        return 0, (f"the map of predicted steps to the run's event was skipped: "
                   f"{MIN_SIZE}x{MIN_SIZE} cells of up to {horizon} steps at "
                   f"{seconds_per_step * 1e3:.3g} ms a step could take "
                   f"{MIN_SIZE**2 * per_cell:.0f} s, above {budget_s:.0f} s; the figure shows "
                   "the mean-square 1000-fold growth map instead")
    return g, (f"the map of predicted steps to the run's event uses {g}x{g} cells instead of "
               f"{size}x{size} (up to {g * g * per_cell:.0f} s at {seconds_per_step * 1e3:.3g} "
               f"ms a step, budget {budget_s:.0f} s)")


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
    return {"alpha": [float(a) for a in grid.alphas], "eta": [float(e) for e in grid.etas],
            "steps": steps, "horizon": int(grid.horizon),
            "event": "forget loss reaches its uninformative level", "notion": NOTION}
