r"""Finite-horizon theory of one axis of a commuting (diagonal-law) family (SPEC §2.4, §4.1).

On an axis of a diagonal family the coordinate evolves by i.i.d. scalar multipliers
:math:`J=1+\eta X` with the exact law of :func:`theory.lyapunov.axis_multiplier_law`, so
:math:`\log|x_t|=\log|x_0|+S_t` with the random walk :math:`S_t=\sum_{s\le t}\xi_s`,
:math:`\xi=\log|1+\eta X|` (:math:`-\infty` where a multiplier is exactly zero).

* **Drift and variance** (almost-sure / in-probability notion): :math:`\gamma=\mathbb E\xi`
  (the axis' Lyapunov exponent) and :math:`v=\operatorname{Var}\xi` (``inf`` when some multiplier
  is zero with positive probability); by the central limit theorem
  :math:`\log|x_t|\approx\log|x_0|+\gamma t+\sqrt{vt}\,Z` when :math:`v<\infty`.
* **First passage** (in probability at horizon :math:`T`): with the start written relative to the
  barrier, :math:`y=\log|x_0|-b`, the survival function
  :math:`u_t(y)=\Pr(y+S_s<0\ \forall s\le t)` obeys the backward dynamic programme

  .. math::
     u_0(y)=\mathbb 1[y<0],\qquad u_{t+1}(y)=\sum_jp_j\,u_t(y+\xi_j)\ \ (y<0),\qquad
     u_{t+1}(y)=0\ \ (y\ge0),

  exact in the multiplier law; it is evaluated on a grid of spacing :math:`h` over
  :math:`[-F,0)` with linear interpolation (error :math:`O(h)`, measured by halving :math:`h`).
  Below the floor :math:`-F` the survival is held at :math:`u_t(-F)` (a start deeper than
  :math:`F` survives at least as often, since :math:`u_t` is non-increasing in :math:`y`), so the
  escape probability :math:`1-u_T` is an upper bound in the floor; the floor is exact when
  :math:`F\ge T\max_j\xi_j`.  The transition is one sparse matrix, fixed in :math:`t`, applied
  :math:`T` times to a batch of laws at once.

Everything here is pure theory of the multiplier law; the operator layer
(:mod:`numerics.core.horizon`) chooses the axes, the start and the barrier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps

__all__ = ["log_increment_law", "drift", "drift_variance", "SurvivalGrid", "survival_grid",
           "DEFAULT_SPACING", "DEFAULT_FLOOR"]

#: Default grid spacing of the first-passage programme in units of :math:`\log|x|`.
DEFAULT_SPACING = 0.02
#: Default floor depth :math:`F` (a factor :math:`e^{40}\approx2\times10^{17}` below the barrier).
DEFAULT_FLOOR = 40.0


def log_increment_law(x: np.ndarray, p: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Support :math:`\xi=\log|1+\eta x|` and pmf of the log-multiplier (``-inf`` for :math:`J=0`)."""
    with np.errstate(divide="ignore"):
        xi = np.log(np.abs(1.0 + float(eta) * np.asarray(x, dtype=float)))
    return xi, np.asarray(p, dtype=float)


def drift(x: np.ndarray, p: np.ndarray, eta: float) -> float:
    r"""Drift :math:`\gamma=\mathbb E\log|1+\eta X|` (the axis' almost-sure growth rate per step)."""
    xi, p = log_increment_law(x, p, eta)
    live = p > 0
    return float(xi[live] @ p[live])


def drift_variance(x: np.ndarray, p: np.ndarray, eta: float) -> float:
    r"""Variance :math:`\operatorname{Var}\log|1+\eta X|`; ``inf`` when :math:`\Pr(J=0)>0`."""
    xi, p = log_increment_law(x, p, eta)
    live = p > 0
    xi, p = xi[live], p[live]
    if not np.all(np.isfinite(xi)):
        return float("inf")
    g = float(xi @ p)
    return float(((xi - g) ** 2) @ p)


@dataclass(frozen=True)
class SurvivalGrid:
    r"""Survival functions :math:`u_t(y)` of a batch of laws on a common grid.

    Attributes
    ----------
    y:
        Grid of starts relative to the barrier (cell centres in :math:`[-F, 0)`), shape ``(G,)``.
    times:
        The horizons at which ``u`` was recorded, shape ``(m,)``.
    u:
        Survival probabilities, shape ``(m, L, G)``: ``u[i, l, g]`` is the probability that law
        ``l`` started at ``y[g]`` stays below the barrier for ``times[i]`` steps.
    """

    y: np.ndarray
    times: np.ndarray
    u: np.ndarray

    def escape(self, start: np.ndarray, law: int, time_index: int = -1) -> np.ndarray:
        r""":math:`1-u_t(y_0)` at arbitrary starts ``start`` (relative to the barrier)."""
        s = np.asarray(start, dtype=float)
        u = self.u[time_index, law]
        val = np.interp(s, self.y, u, left=u[0], right=u[-1])
        return 1.0 - np.where(s >= 0.0, 0.0, val)


def _transition(xi: np.ndarray, p: np.ndarray, y: np.ndarray, h: float) -> sps.csr_matrix:
    r"""Block-diagonal sparse kernel :math:`K` with :math:`(Ku)(y_i)=\sum_jp_ju(y_i+\xi_j)`."""
    L, S = xi.shape
    G = y.size
    rows, cols, vals = [], [], []
    base = np.arange(G)
    for j in range(S):
        target = y[None, :] + xi[:, j:j + 1]  # (L, G)
        pj = np.broadcast_to(p[:, j:j + 1], (L, G))
        alive = (target < 0.0) & (pj > 0)
        z = (target - y[0]) / h
        z = np.where(np.isfinite(z), z, -1.0)
        z = np.clip(z, 0.0, G - 1.0)  # below the floor: hold u(-F); above the top centre: u(y_top)
        i0 = np.floor(z).astype(int)
        i0 = np.minimum(i0, G - 2) if G > 1 else np.zeros_like(i0)
        f = z - i0 if G > 1 else np.zeros_like(z)
        off = (np.arange(L) * G)[:, None]
        r = off + base[None, :]
        for idx, w in ((i0, 1.0 - f), (np.minimum(i0 + 1, G - 1), f)):
            keep = alive & (w > 0)
            rows.append(r[keep])
            cols.append((off + idx)[keep])
            vals.append((pj * w)[keep])
    rows_a, cols_a, vals_a = (np.concatenate(a) for a in (rows, cols, vals))
    return sps.csr_matrix((vals_a, (rows_a, cols_a)), shape=(L * G, L * G))


def survival_grid(xi: np.ndarray, p: np.ndarray, horizon: int, *, times=None,
                  spacing: float = DEFAULT_SPACING, floor: float = DEFAULT_FLOOR) -> SurvivalGrid:
    r"""Backward first-passage programme for a batch of log-increment laws.

    Parameters
    ----------
    xi, p:
        Log-increments :math:`\xi_{lj}` and their probabilities, shape ``(L, S)`` (pad with
        ``p = 0``); ``-inf`` marks a zero multiplier.
    horizon:
        :math:`T\ge1`, the number of steps.
    times:
        Horizons :math:`\le T` at which to record :math:`u_t` (default: only :math:`T`).
    spacing, floor:
        Grid spacing :math:`h` and floor depth :math:`F` (see the module docstring).

    Returns
    -------
    SurvivalGrid
        :math:`u_t(y)` for every law, recorded horizon and grid point.
    """
    xi = np.atleast_2d(np.asarray(xi, dtype=float))
    p = np.atleast_2d(np.asarray(p, dtype=float))
    T = int(horizon)
    if T < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if not (spacing > 0 and floor > spacing):
        raise ValueError(f"need 0 < spacing < floor, got spacing={spacing}, floor={floor}")
    rec = np.array(sorted({T} if times is None else {int(t) for t in times}), dtype=int)
    if rec.size == 0 or rec[0] < 0 or rec[-1] > T:
        raise ValueError(f"recorded times must lie in 0..{T}")
    G = int(np.ceil(floor / spacing))
    y = -(np.arange(G, 0, -1) - 0.5) * spacing
    K = _transition(xi, p, y, spacing)
    L = xi.shape[0]
    u = np.ones(L * G)
    out = np.empty((rec.size, L, G))
    k = 0
    for t in range(T + 1):
        while k < rec.size and rec[k] == t:
            out[k] = u.reshape(L, G)
            k += 1
        if t < T:
            u = K @ u
    return SurvivalGrid(y, rec, out)
