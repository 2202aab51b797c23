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
  :math:`[-F,0)` (cell centres; the barrier is half a cell above the top centre) with linear
  interpolation (error :math:`O(h)`, measured by halving :math:`h`).
  Below the floor :math:`-F` the survival is held at :math:`u_t(-F)` (a start deeper than
  :math:`F` survives at least as often, since :math:`u_t` is non-increasing in :math:`y`), so the
  escape probability :math:`1-u_T` is an upper bound in the floor; the floor is exact when
  :math:`F\ge T\max_j\xi_j`.  The transition is one sparse matrix, fixed in :math:`t`, applied
  :math:`T` times to a batch of laws at once.

**Speed and accuracy.**  :func:`survival_grid` is the reference (every step, the deepest floor).
:func:`first_passage_table` computes the same programme with bounded shortcuts (each axis within
its ``tol`` of the reference; default :data:`DEFAULT_TOL`) and steps it with
:mod:`theory.passage_steps`: an FFT engine (cost :math:`O(N\log N)` per step whatever the number
of offsets; the same matrix, float64, agreeing with the sparse one to about :math:`10^{-12}`) for
laws with many offsets, a banded sparse engine in cache-sized blocks for the others.  A coarser
``tol`` (a map-level ``accuracy`` in :func:`numerics.core.horizon.escape_probabilities`) buys
shallower floors and earlier stops.  On the near-critical σ-family map of
``benchmarks/horizon.py --near`` (50 x 50 cells, n = 100, Bernoulli, α = 0, η = 1, 417 cells
strictly between 1 % and 99 %), one thread, CPU time: 48 s before these engines, 11.8 s at the
default tolerance and 6.4 s at accuracy :math:`10^{-4}` (measured error against the reference
at most :math:`3.5\cdot10^{-5}`), against about 112 s projected for the full programme.  The spacing
:math:`h` is not changed by any of these: its own error (linear split of :math:`\xi/h`,
:math:`O(h^2)` for laws with many support points) is measured by halving :math:`h`.

Everything here is pure theory of the multiplier law; the operator layer
(:mod:`numerics.core.horizon`) chooses the axes, the start and the barrier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps

from theory.passage_steps import block_transition, iterate

__all__ = ["log_increment_law", "drift", "drift_variance", "SurvivalGrid", "survival_grid",
           "first_passage_table", "never_escapes", "DEFAULT_TOL",
           "DEFAULT_SPACING", "DEFAULT_FLOOR"]

#: Default grid spacing of the first-passage programme in units of :math:`\log|x|` (0.04 and
#: 0.005 agree to 5e-4 on the cells of C10.b).
DEFAULT_SPACING = 0.04
#: Kernel weights below this are dropped (hypergeometric tails): survival changes by at most
#: this times the number of offsets per step.
KERNEL_PRUNE = 1e-15
#: Default floor depth :math:`F` (a factor :math:`e^{80}` below the barrier).  Holding the survival
#: at the floor overestimates escape where walks with small drift and large variance go deep and
#: come back: at :math:`F=40` one cell near :math:`\eta^\star_{as}` read 0.58 against 0.535 at
#: :math:`F=60,80,120` (simulated 0.51 +- 0.025).
DEFAULT_FLOOR = 80.0


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
        if u.size == 1:
            return 1.0 - np.where(s >= 0.0, 0.0, u[0])
        # the grid is uniform: linear interpolation by index arithmetic, held beyond both ends
        h = (self.y[-1] - self.y[0]) / (u.size - 1)
        pos = np.clip((s - self.y[0]) / h, 0.0, u.size - 1.0)
        bad = np.isnan(pos)  # NaN in, NaN out
        i = np.minimum(np.where(bad, 0.0, pos).astype(int), u.size - 2)
        f = pos - i
        val = u[i] * (1.0 - f) + u[i + 1] * f
        return 1.0 - np.where(s >= 0.0, 0.0, val)


def _split(xi: np.ndarray, p: np.ndarray, h: float, G: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Offsets and weights of every :math:`\xi_j/h` split linearly between two grid offsets.

    Unmerged; values below :math:`-G` (and :math:`\xi=-\infty`) are moved to :math:`-G`.
    """
    live = p > 0
    xi, p = xi[live], p[live]
    z = np.maximum(np.where(np.isfinite(xi), xi / h, -np.inf), -float(G))
    o0 = np.floor(z).astype(int)
    f = z - o0
    return np.concatenate([o0, o0 + 1]), np.concatenate([p * (1.0 - f), p * f])


def _kernel(xi: np.ndarray, p: np.ndarray, h: float, G: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Grid offsets and weights of one law: :math:`\xi_j/h` split linearly between two offsets.

    Offsets below :math:`-G` (and :math:`\xi=-\infty`) are merged at :math:`-G` (they land below
    the floor); offsets above :math:`G` are dropped (they land above the barrier).
    """
    off, w = _split(xi, p, h, G)
    keep = (w > KERNEL_PRUNE) & (off <= G)  # dropped mass <= KERNEL_PRUNE per offset and step
    off, w = np.maximum(off[keep], -G), w[keep]
    uniq, inv = np.unique(off, return_inverse=True)
    return uniq, np.bincount(inv, weights=w, minlength=uniq.size)


def _transition(xi: np.ndarray, p: np.ndarray, G: int, h: float) -> sps.csr_matrix:
    r"""Block-diagonal sparse kernel :math:`K` with :math:`(Ku)_i=\sum_ok_o\,u^{ext}_{i+o}`.

    :math:`u^{ext}_m=u_0` for :math:`m<0` (below the floor: held), :math:`u_m` on the grid and
    :math:`0` for :math:`m\ge G` (at or above the barrier, which lies half a cell above the top
    centre).  The linear split of :math:`\xi_j/h` is the same for every row (the grid is uniform),
    so each law is one banded Toeplitz kernel with at most :math:`\mathrm{range}(\xi)/h+2`
    offsets, however many support points the law has.
    """
    kernels = [_kernel(xi[law], p[law], h, G) for law in range(xi.shape[0])]
    return block_transition(kernels, np.full(xi.shape[0], G))


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
    K = _transition(xi, p, G, spacing)
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


# ----------------------------------------------------------------------------- fast programme
#: Default accuracy of :func:`first_passage_table`: every shortcut it takes (a law skipped by a
#: bound, a shallower floor, a programme stopped before :math:`T`) moves the escape probability of
#: one axis by at most this much against the full programme of :func:`survival_grid`.
DEFAULT_TOL = 1e-10
#: Exponents :math:`\theta` (per grid cell) tried in the Chernoff bounds of
#: :func:`first_passage_table`; any :math:`\theta>0` gives a valid bound, the grid only decides how
#: tight it is.
_THETAS = np.geomspace(1e-4, 60.0, 96)


def _log_mgf(off: np.ndarray, w: np.ndarray, theta: np.ndarray) -> np.ndarray:
    r""":math:`\log\sum_ow_oe^{\theta o}` for every :math:`\theta` (log-sum-exp, no overflow)."""
    if off.size == 0:
        return np.full(theta.shape, -np.inf)
    z = np.multiply.outer(theta, off.astype(float)) + np.log(w)[None, :]
    top = z.max(axis=1)
    return top + np.log(np.exp(z - top[:, None]).sum(axis=1))


@dataclass(frozen=True)
class _WalkBounds:
    r"""Chernoff and Doob bounds of one grid walk over :math:`T` steps (offsets in cells).

    ``rise`` holds :math:`T\max(\log M(\theta),0)` and ``stay`` :math:`T\log M(-\theta)` on the
    grid :data:`_THETAS`, where :math:`M(\theta)=\sum_ow_oe^{\theta o}` over *every* offset of the
    walk, including those that jump past the barrier.
    """

    rise: np.ndarray
    stay: np.ndarray
    horizon: int

    @classmethod
    def of(cls, off: np.ndarray, w: np.ndarray, horizon: int) -> _WalkBounds:
        """Bounds of the walk with offsets ``off`` and weights ``w``."""
        return cls(horizon * np.maximum(_log_mgf(off, w, _THETAS), 0.0),
                   horizon * _log_mgf(off, w, -_THETAS), int(horizon))

    def crossing(self, cells) -> np.ndarray:
        r"""Bound on :math:`\Pr(\max_{t\le T}S_t\ge c)` for each ``cells`` :math:`c`.

        For :math:`\theta>0`, :math:`e^{\theta S_t}/\max(M(\theta),1)^t` is a non-negative
        supermartingale, so by Doob's maximal inequality
        :math:`\Pr(\max_{t\le T}S_t\ge c)\le\max(M(\theta),1)^Te^{-\theta c}`; the minimum over
        the grid of :math:`\theta` (1 for :math:`c\le0`).
        """
        c = np.atleast_1d(np.asarray(cells, dtype=float))
        b = np.exp(np.min(self.rise[None, :] - np.multiply.outer(c, _THETAS), axis=1))
        return np.where(c > 0, np.minimum(b, 1.0), 1.0)

    def shallowest(self, lowest: int, deepest: int, level: float) -> int:
        r"""Smallest depth in ``lowest..deepest`` with :math:`B(D)\le` ``level`` (else ``deepest``).

        :math:`B` is non-increasing, and :math:`B(c)\le\ell` as soon as
        :math:`c\ge c^\star=\min_\theta(T\max(\log M(\theta),0)-\log\ell)/\theta`, so only a few
        depths around :math:`\lceil c^\star\rceil` are evaluated (all of them when that fails).
        """
        star = np.min((self.rise - np.log(level)) / _THETAS) if level > 0 else np.inf
        if np.isfinite(star):
            near = np.arange(max(lowest, int(np.ceil(star)) - 2), deepest + 1)[:5]
            ok = np.flatnonzero(self.crossing(near) <= level)
            if ok.size and (ok[0] > 0 or near[0] == lowest):
                return int(near[ok[0]])
        depths = np.arange(lowest, deepest + 1)
        ok = np.flatnonzero(self.crossing(depths) <= level)
        return int(depths[ok[0]]) if ok.size else int(deepest)

    def staying(self, cells: float) -> float:
        r"""Bound on :math:`\Pr(S_T<c)`, :math:`\min_{\theta>0}M(-\theta)^Te^{\theta c}` (Chernoff).

        Staying below the barrier for :math:`T` steps implies ending below it, so this also
        bounds the survival of a walk that starts :math:`c` cells below the barrier.
        """
        return float(np.exp(np.min(self.stay + _THETAS * max(cells, 0.0))))


def _full_kernel(xi: np.ndarray, p: np.ndarray, h: float, G: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Offsets and weights of :func:`_split`, merged, none dropped above the barrier."""
    off, w = _split(xi, p, h, G)
    keep = w > 0
    uniq, inv = np.unique(off[keep], return_inverse=True)
    return uniq, np.bincount(inv, weights=w[keep], minlength=uniq.size)


def _never_escapes(wb: _WalkBounds, start: float, spacing: float, G: int, tol: float) -> bool:
    """Whether the programme's escape from every start up to ``start`` is below ``tol/2``."""
    hi_cells = min(-start / spacing - 0.5, G - 0.5)
    return bool(wb.crossing(hi_cells)[0] + wb.horizon * wb.crossing(G)[0] <= 0.5 * tol)


def never_escapes(xi: np.ndarray, p: np.ndarray, horizon: int, start: float, *,
                  spacing: float = DEFAULT_SPACING, floor: float = DEFAULT_FLOOR,
                  tol: float = DEFAULT_TOL) -> np.ndarray:
    r"""Laws proven never to escape: below ``tol/2`` from every start at or below ``start``.

    The bound of :func:`first_passage_table` on the programme's escape probability (Doob's maximal
    inequality, plus a walk held at the floor); starts are relative to the barrier.

    Parameters
    ----------
    xi, p:
        Log-increment laws, shape ``(L, S)``.
    horizon:
        :math:`T\ge1`.
    start:
        Highest start relative to the barrier (:math:`<0`).
    spacing, floor, tol:
        As in :func:`first_passage_table`.

    Returns
    -------
    numpy.ndarray
        Boolean, shape ``(L,)``.
    """
    xi = np.atleast_2d(np.asarray(xi, dtype=float))
    p = np.atleast_2d(np.asarray(p, dtype=float))
    G = int(np.ceil(floor / spacing))
    return np.array([_never_escapes(_WalkBounds.of(*_full_kernel(xi[j], p[j], spacing, G),
                                                   int(horizon)), start, spacing, G, tol)
                     for j in range(xi.shape[0])], dtype=bool)


def first_passage_table(xi: np.ndarray, p: np.ndarray, horizon: int, reach: np.ndarray, *,
                        spacing: float = DEFAULT_SPACING, floor: float = DEFAULT_FLOOR,
                        tol=DEFAULT_TOL) -> SurvivalGrid:
    r"""The first-passage programme of :func:`survival_grid` at horizon :math:`T`, with shortcuts.

    Same grid, kernel and answer :math:`u_T(y)` as :func:`survival_grid` (the reference), to within
    ``tol`` per law for every start in ``[reach[l, 0], reach[l, 1]]`` (relative to the barrier).
    The programme's walk on grid cells is :math:`X_{t+1}=\max(X_t+o_t,0)` (held at the floor cell
    0), killed at cell :math:`G=F/h`; with :math:`S_t` the free walk (offsets :math:`o`, weights
    :math:`w_o`, :math:`M(\theta)=\sum_ow_oe^{\theta o}`),
    :math:`X_t=\max(X_0+S_t,\max_{1\le s\le t}(S_t-S_s))`.  Doob's maximal inequality for the
    supermartingale :math:`e^{\theta S_t}/\max(M(\theta),1)^t` bounds a rise of :math:`c` cells
    within :math:`T` steps by :math:`B(c)=\min_{\theta>0}\max(M(\theta),1)^Te^{-\theta c}`, so a
    start :math:`c` cells below the barrier escapes with probability at most
    :math:`B(c)+(T-1)B(G)` (union over the last time held at the floor).  Three shortcuts follow:

    * **skipped laws.** When that bound at the highest start is below ``tol/2`` the law is never
      iterated (:math:`u\equiv1`).  Survival implies :math:`X_0+S_T<G`, so it is at most
      :math:`\min_{\theta>0}M(-\theta)^Te^{\theta c}` (Chernoff); when that is below ``tol`` at
      the lowest start, :math:`u\equiv0`;
    * **shallower floor.** The walk held at a floor :math:`D` cells deep stays above the
      reference's, and escapes after first being held with probability at most :math:`TB(D)`; the
      floor is the smallest :math:`D` (below every start) with :math:`TB(D)\le` ``tol/2``;
    * **early stop.** Each law stops iterating once :math:`(T-t)\|u_{t-1}-u_t\|_\infty\le` ``tol/2``
      (see :func:`theory.passage_steps.iterate`: the survival cannot move further).

    Parameters
    ----------
    xi, p:
        Log-increments and probabilities of ``L`` laws, shape ``(L, S)`` (pad with ``p = 0``).
    horizon:
        :math:`T\ge1`.
    reach:
        Lowest and highest start of each law relative to its barrier, shape ``(L, 2)``.
    spacing, floor:
        Grid spacing :math:`h` and deepest floor :math:`F` (as in :func:`survival_grid`).
    tol:
        Accuracy per law against :func:`survival_grid`: one number, or one per law.

    Returns
    -------
    SurvivalGrid
        ``u`` of shape ``(1, L, G)`` on the reference grid (a law with a shallower floor holds its
        floor value below it, exactly as the programme treats starts below a floor).
    """
    xi = np.atleast_2d(np.asarray(xi, dtype=float))
    p = np.atleast_2d(np.asarray(p, dtype=float))
    reach = np.atleast_2d(np.asarray(reach, dtype=float))
    T = int(horizon)
    if T < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if not (spacing > 0 and floor > spacing):
        raise ValueError(f"need 0 < spacing < floor, got spacing={spacing}, floor={floor}")
    tols = np.broadcast_to(np.asarray(tol, dtype=float), (xi.shape[0],))
    if not np.all(tols > 0):
        raise ValueError(f"tol must be > 0, got {tol}")
    G = int(np.ceil(floor / spacing))
    y = -(np.arange(G, 0, -1) - 0.5) * spacing
    L = xi.shape[0]
    u = np.ones((1, L, G))
    todo, kernels, sizes, stops = [], [], [], []
    for law in range(L):
        wb = _WalkBounds.of(*_full_kernel(xi[law], p[law], spacing, G), T)
        tol = float(tols[law])
        if _never_escapes(wb, reach[law, 1], spacing, G, tol):
            continue  # never escapes from any start of this law
        if wb.staying(-reach[law, 0] / spacing + 1.5) <= tol:
            u[0, law] = 0.0  # escapes from every start of this law
            continue
        # the shallowest floor D (cells) with T B(D) <= tol/2, deep enough for every start
        lowest = min(max(int(np.ceil(-reach[law, 0] / spacing)) + 1, 1), G)
        depth = wb.shallowest(lowest, G, 0.5 * tol / T)
        k_off, k_w = _kernel(xi[law], p[law], spacing, depth)
        todo.append(law)
        kernels.append((k_off, k_w))
        sizes.append(depth)
        stops.append(0.5 * tol)
    if todo:
        for law, v in zip(todo, iterate(kernels, np.array(sizes), T, np.array(stops)), strict=True):
            u[0, law, G - v.size:] = v
            u[0, law, : G - v.size] = v[0]
    return SurvivalGrid(y, np.array([T]), u)
