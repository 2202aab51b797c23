r"""Finite-horizon predictions of the linearised recursion: *when* does it escape.

Three notions, each named in the results:

* **mean-square at horizon t** -- :func:`ms_growth` and :func:`steps_to_growth`:
  :math:`g(t)=\mathbb E\|\delta_t\|^2/\|\delta_0\|^2=\langle I,\mathcal T^t(M_0)\rangle/\operatorname{tr}M_0`
  (SPEC §2.1), from powers of :math:`\mathcal T(\eta)` applied matrix-free.  Powers come from a
  Lanczos process on symmetric :math:`r\times r` matrices with the Frobenius inner product
  (:math:`\mathcal T` is self-adjoint there): with :math:`m` Lanczos steps from :math:`X_0`,
  :math:`\langle X_0,\mathcal T^tX_0\rangle\approx\|X_0\|^2e_1^\top T_m^te_1` (Gauss
  quadrature, exact for :math:`t\le2m-1`) and
  :math:`\mathcal T^tX_0\approx\|X_0\|V_mT_m^te_1` (exact for :math:`t\le m-1`); one growth curve
  costs :math:`m` applications of :math:`\mathcal T`, like one :math:`\rho(\mathcal T)` evaluation.
* **in probability at horizon T** -- :func:`escape_probability`: the probability that a run with
  the companion rule's start (:math:`w_0\sim U(0,1)^d`, SPEC §1.5) reaches
  :math:`\|w_t\|^2\ge G\|w_0\|^2` for some :math:`t\le T` (first passage).  For commuting families
  of diagonal-law type it comes from the exact multiplier law of every axis
  (:mod:`theory.horizon`); otherwise from the simulated rule with its standard error.
* **almost-sure limit** -- :math:`T\to\infty` with :math:`G` growing (see :func:`escape_probability`).

The forced (affine) recursion from :math:`\delta_0=0` is in :mod:`numerics.core.forcing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from numerics.core.commuting import DiagonalAxes, diagonal_axes
from numerics.core.inputs import InputError, check_eta
from numerics.core.operator import SecondMomentOperator
from theory import horizon as th
from theory.families import AxisLaw
from theory.lyapunov import axis_multiplier_law

__all__ = [
    "HorizonEstimate",
    "START_KINDS",
    "ms_growth",
    "steps_to_growth",
    "escape_probability",
    "majority_probability",
    "check_growth",
    "check_horizon",
    "escape_step_size",
    "rule_starts",
    "StartSample",
    "KRYLOV_STEPS",
    "ESCAPE_METHODS",
    "EscapeProblem",
    "axis_law_groups",
    "escape_probabilities",
]

#: Lanczos steps for the powers of :math:`\mathcal T` (capped by :math:`r(r+1)/2`).
KRYLOV_STEPS = 60
#: Methods of :func:`escape_probability`.
ESCAPE_METHODS = ("auto", "exact", "exact reference", "monte carlo")
#: Start kinds of the mean-square growth curve.
START_KINDS = ("isotropic", "worst")
#: Notion labels used in results.
MS_NOTION = "mean-square at horizon t"
PROB_NOTION = "in probability at horizon T (first passage)"


@dataclass(frozen=True)
class HorizonEstimate:
    r"""A finite-horizon prediction with its error and how it was computed.

    Attributes
    ----------
    value:
        The probability (or other quantity).
    stderr:
        Standard error of ``value`` (Monte Carlo over runs, or over the sampled starts of the
        exact per-axis computation); ``0.0`` for a deterministic start.
    method:
        ``"exact multiplier law"`` (commuting family, first-passage programme) or
        ``"monte carlo"`` (simulated rule).
    notion:
        The notion of ``value`` (:data:`PROB_NOTION`).
    samples:
        Number of Monte-Carlo runs or sampled starts.
    """

    value: float
    stderr: float
    method: str
    notion: str
    samples: int


def check_growth(growth: float) -> float:
    """Return the growth factor :math:`G` as float, or raise unless :math:`G>1` is finite."""
    g = float(growth)
    if not np.isfinite(g) or g <= 1.0:
        raise InputError(f"growth factor G must be finite and > 1, got {growth}")
    return g


def check_horizon(horizon: int, name: str = "horizon T") -> int:
    """Return the horizon as int, or raise unless it is an integer >= 1."""
    if isinstance(horizon, bool) or int(horizon) != horizon or int(horizon) < 1:
        raise InputError(f"{name} must be an integer >= 1, got {horizon}")
    return int(horizon)


# ------------------------------------------------------------------------------ mean-square
def _start_matrix(op: SecondMomentOperator, start) -> np.ndarray:
    r""":math:`M_0` with trace 1: ``isotropic`` :math:`I/r`, or :math:`\hat\delta\hat\delta^\top`."""
    if isinstance(start, str):
        if start not in START_KINDS:
            raise InputError(f"unknown start {start!r}; expected one of {', '.join(START_KINDS)} "
                             "or a vector")
        return np.eye(op.dim) / op.dim
    v = np.asarray(start, dtype=float).ravel()
    if v.size != op.ambient_dim:
        raise InputError(f"start vector has length {v.size}; expected the ambient dimension "
                         f"{op.ambient_dim}")
    v = op.basis.T @ v  # the component outside V never moves; growth is measured on V
    nrm = float(v @ v)
    if not np.isfinite(nrm) or nrm <= 0.0:
        raise InputError("start vector must be finite with a non-zero component on the active "
                         "subspace")
    return np.outer(v, v) / nrm


@dataclass(frozen=True)
class _Krylov:
    """Lanczos basis ``V`` (m, r, r), tridiagonal eigenpairs and the start norm."""

    V: np.ndarray
    theta: np.ndarray
    S: np.ndarray
    norm: float

    def coefficients(self, t: np.ndarray) -> np.ndarray:
        r"""Rows :math:`T_m^te_1` for every ``t`` (shape ``(len(t), m)``)."""
        with np.errstate(over="ignore"):
            pw = np.power(self.theta[None, :], np.asarray(t, dtype=float)[:, None])  # (nt, m)
        return (pw * self.S[0][None, :]) @ self.S.T

    def quadratic(self, t: np.ndarray) -> np.ndarray:
        r""":math:`\langle X_0,\mathcal T^tX_0\rangle` (Gauss quadrature)."""
        with np.errstate(over="ignore"):
            pw = np.power(self.theta[None, :], np.asarray(t, dtype=float)[:, None])
        return self.norm**2 * (pw @ (self.S[0] ** 2))


def _lanczos(op: SecondMomentOperator, eta: float, X0: np.ndarray, steps: int) -> _Krylov:
    r"""Lanczos on :math:`\mathcal T(\eta)` from :math:`X_0` with full reorthogonalisation."""
    r = op.dim
    m_max = max(1, min(steps, r * (r + 1) // 2))
    norm = float(np.linalg.norm(X0))
    V = np.empty((m_max, r, r))
    V[0] = X0 / norm
    a, b = [], []
    m = m_max
    for j in range(m_max):
        W = op.apply(V[j], eta)
        W = 0.5 * (W + W.T)
        a.append(float(np.sum(W * V[j])))
        W = W - a[j] * V[j] - (b[j - 1] * V[j - 1] if j > 0 else 0.0)
        coef = np.tensordot(V[: j + 1], W, axes=([1, 2], [0, 1]))  # re-orthogonalise twice
        W = W - np.tensordot(coef, V[: j + 1], axes=1)
        coef = np.tensordot(V[: j + 1], W, axes=([1, 2], [0, 1]))
        W = W - np.tensordot(coef, V[: j + 1], axes=1)
        beta = float(np.linalg.norm(W))
        if j == m_max - 1 or beta <= 1e-13 * max(abs(a[j]), 1.0):
            m = j + 1  # invariant subspace (or budget): the quadrature is exact from here on
            break
        b.append(beta)
        V[j + 1] = W / beta
    Tm = np.diag(a[:m]) + np.diag(b[: m - 1], 1) + np.diag(b[: m - 1], -1)
    theta, S = np.linalg.eigh(Tm)
    return _Krylov(V[:m], theta, S, norm)


def ms_growth(op: SecondMomentOperator, eta: float, steps: int, start="isotropic", *,
              krylov_steps: int = KRYLOV_STEPS) -> np.ndarray:
    r"""Mean-square growth :math:`g(t)=\mathbb E\|\delta_t\|^2/\|\delta_0\|^2`, :math:`t=0..` ``steps``.

    Notion: mean-square at horizon :math:`t` (exact second moments, no sampling).

    Parameters
    ----------
    op:
        The operator :math:`\mathcal T`; the start lies on its active subspace :math:`V`.
    eta:
        Step size.
    steps:
        Last horizon :math:`t\ge1`.
    start:
        ``"isotropic"``: :math:`\delta_0` uniform on the unit sphere of :math:`V`
        (:math:`M_0=I/r`); a vector in ambient coordinates (length :math:`d`), projected on
        :math:`V`: that direction; ``"worst"``: for each :math:`t` the worst unit start,
        :math:`g(t)=\max_{\|\delta_0\|=1}\mathbb E\|\delta_t\|^2=\lambda_{\max}(\mathcal T^t(I))`
        (:math:`\mathcal T` is self-adjoint, so
        :math:`\mathbb E\|\delta_t\|^2=\delta_0^\top\mathcal T^t(I)\delta_0`); the maximising start
        may differ between horizons.
    krylov_steps:
        Lanczos steps :math:`m`; :math:`g(t)` is exact (to round-off) for :math:`t<m` and a
        Gauss-quadrature approximation beyond (tested against exact iteration).

    Returns
    -------
    numpy.ndarray
        ``g`` of length ``steps + 1`` with ``g[0] = 1``.
    """
    eta = check_eta(eta)
    steps = check_horizon(steps, "steps")
    t = np.arange(steps + 1)
    if isinstance(start, str) and start == "worst":
        kr = _lanczos(op, eta, np.eye(op.dim), krylov_steps)
        out = np.empty(steps + 1)
        for lo in range(0, steps + 1, 256):
            c = kr.coefficients(t[lo:lo + 256]) * kr.norm  # (nt, m)
            mats = np.tensordot(c, kr.V, axes=1)  # T^t(I), (nt, r, r)
            out[lo:lo + 256] = np.linalg.eigvalsh(0.5 * (mats + mats.transpose(0, 2, 1)))[:, -1]
        return out
    M0 = _start_matrix(op, start)
    I_r = np.eye(op.dim)
    if isinstance(start, str):  # isotropic: <I, T^t I> / r
        return _lanczos(op, eta, I_r, krylov_steps).quadratic(t) / op.dim
    # <I, T^t M0> by polarisation of two quadratic forms: <X,T^tY> = (q(X+Y) - q(X-Y)) / 4
    X = I_r / np.sqrt(op.dim)
    Y = M0
    qp = _lanczos(op, eta, X + Y, krylov_steps).quadratic(t)
    qm = _lanczos(op, eta, X - Y, krylov_steps).quadratic(t)
    return np.sqrt(op.dim) * (qp - qm) / 4.0


def steps_to_growth(op: SecondMomentOperator, eta: float, growth: float, start="isotropic", *,
                    max_steps: int = 100_000, krylov_steps: int = KRYLOV_STEPS) -> int | None:
    r"""Smallest :math:`t\le` ``max_steps`` with :math:`g(t)\ge G` (mean-square notion).

    :math:`g` is :func:`ms_growth`; ``None`` when the mean-square norm does not grow by ``growth``
    within ``max_steps`` steps (for instance when :math:`\rho(\mathcal T)\le1`).
    """
    G = check_growth(growth)
    max_steps = check_horizon(max_steps, "max_steps")
    g = ms_growth(op, eta, max_steps, start, krylov_steps=krylov_steps)
    hit = np.flatnonzero(g >= G)
    return int(hit[0]) if hit.size else None


# ------------------------------------------------------------------------------ in probability
def majority_probability(p: float | np.ndarray, repetitions: int) -> float | np.ndarray:
    r"""Probability that a strict majority of ``repetitions`` independent runs escape.

    :math:`\Pr(\mathrm{Bin}(R,p)>R/2)`: the companion rule's majority verdict (SPEC §1.5) when each
    run escapes with probability :math:`p`.
    """
    R = check_horizon(repetitions, "repetitions")
    return stats.binom.sf(R // 2, R, p)


@dataclass(frozen=True)
class StartSample:
    r"""Sampled rule starts: per-axis coordinates ``x`` (``N x K``) and :math:`\|w_0\|^2` (``N``)."""

    x: np.ndarray
    total: np.ndarray


def rule_starts(op: SecondMomentOperator, axes: DiagonalAxes, samples: int,
                seed: int) -> StartSample:
    r"""Starts of the companion rule, :math:`w_0\sim U(0,1)^d` (ambient), on the family's axes."""
    rng = np.random.default_rng(seed)
    w0 = rng.random((samples, op.ambient_dim))
    ambient_axes = op.basis @ axes.directions.T  # (d, K)
    return StartSample(w0 @ ambient_axes, np.einsum("ij,ij->i", w0, w0))


@dataclass(frozen=True)
class EscapeProblem:
    r"""One first-passage question of the rule on a commuting family, ready for the programme.

    Axis :math:`k` escapes when :math:`x_k^2\ge G\|w_0\|^2-(\|w_0\|^2-x_{k,0}^2)` (the other axes
    at their start), i.e. when its walk :math:`\log|x_k|-\log|x_{k,0}|` rises by :math:`-y_k`,
    with the start relative to the barrier

    .. math:: y_k=\log|x_{k,0}|-\tfrac12\log\big((G-1)\|w_0\|^2+x_{k,0}^2\big)
              =\tfrac12\log\frac{r_k}{G-1+r_k},\qquad r_k=x_{k,0}^2/\|w_0\|^2\le1 .

    Attributes
    ----------
    laws:
        The distinct log-increment laws :math:`(\xi, p)` of the axes
        (:func:`theory.horizon.log_increment_law`).
    law_of:
        Index into ``laws`` of every axis, shape ``(K,)``.
    growth:
        :math:`G>1`.
    samples:
        Number of sampled starts :math:`N`.
    draw:
        Returns the sampled starts (:class:`StartSample`, ``N x K``, coordinates as magnitudes
        :math:`|x_{k,0}|`); called only when some law
        may escape (a cell whose laws provably never escape from :math:`r\le1` needs no starts).
    """

    laws: tuple[tuple[np.ndarray, np.ndarray], ...]
    law_of: np.ndarray
    growth: float
    samples: int
    draw: Callable[[], StartSample]

    def relative(self, ratio: np.ndarray) -> np.ndarray:
        r"""Starts relative to the barrier, :math:`y=\tfrac12\log(r/(G-1+r))`."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return 0.5 * np.log(ratio / (self.growth - 1.0 + ratio))


def _columns(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Columns ``idx`` of ``x`` (a view when they are contiguous)."""
    if idx.size and idx[-1] - idx[0] == idx.size - 1:
        return x[:, idx[0]:idx[-1] + 1]
    return np.take(x, idx, axis=1)


def _stack(rows: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Laws of different support sizes as ``(L, S)`` arrays padded with ``p = 0``."""
    S = max(v.size for v, _ in rows)
    xi = np.zeros((len(rows), S))
    p = np.zeros((len(rows), S))
    for j, (v, q) in enumerate(rows):
        xi[j, : v.size], p[j, : v.size] = v, q
    return xi, p


def _rising(prob: EscapeProblem) -> list[int]:
    """Laws of ``prob`` that carry an axis and can rise (a law that never rises never crosses)."""
    return [j for j, (xi, p) in enumerate(prob.laws)
            if np.any(prob.law_of == j) and np.any((xi > 0) & (p > 0))]


def _settled(problems: Sequence[EscapeProblem], T: int, grid: tuple[float, float],
             tols: Sequence[float]) -> list[set[int]]:
    r"""Per problem, the laws proven never to escape from any start (:math:`r\le1`)."""
    spacing, floor = grid
    out: list[set[int]] = []
    for prob, tol in zip(problems, tols, strict=True):
        js = _rising(prob)
        if not js:
            out.append(set())
            continue
        xi, p = _stack([prob.laws[j] for j in js])
        top = float(prob.relative(np.array(1.0)))
        never = th.never_escapes(xi, p, T, top, spacing=spacing, floor=floor, tol=tol)
        out.append({j for j, nv in zip(js, never, strict=True) if nv})
    return out


#: Sampled start coordinates kept between the two passes of :func:`escape_probabilities`; beyond
#: this many, a problem's starts are drawn again for the second pass (``draw`` is deterministic).
KEEP_STARTS = 1 << 24


@dataclass
class _Rows:
    """Laws of a batch of problems stacked for one programme (first pass of the estimate)."""

    laws: list = field(default_factory=list)
    reach: list = field(default_factory=list)
    tol: list = field(default_factory=list)
    slots: list = field(default_factory=list)
    starts: list = field(default_factory=list)


def _axis_tolerance(prob: EscapeProblem, accuracy: float | None) -> float:
    r"""Per-axis accuracy of the shortcuts: ``accuracy`` shared equally by the axes that can rise.

    The run's escape probability :math:`1-\mathbb E\prod_k(1-P_k)` moves by at most
    :math:`\sum_k|\Delta P_k|`, so :math:`K` rising axes at ``accuracy / K`` each keep it within
    ``accuracy``; ``None`` is :data:`theory.horizon.DEFAULT_TOL` per axis.
    """
    if accuracy is None:
        return th.DEFAULT_TOL
    rising = np.isin(prob.law_of, _rising(prob)).sum()
    return float(accuracy) / max(int(rising), 1)


def _first_pass(problems: Sequence[EscapeProblem], T: int, grid: tuple[float, float],
                options: tuple[bool, float | None]) -> _Rows:
    """Draw each problem's starts once and stack the laws that may escape, with their reach."""
    reference, accuracy = options
    tols = [_axis_tolerance(prob, accuracy) for prob in problems]
    settled = ([set() for _ in problems] if reference
               else _settled(problems, T, grid, tols))
    rows, kept = _Rows(), 0
    for prob, done, tol in zip(problems, settled, tols, strict=True):
        js = [j for j in _rising(prob) if j not in done]
        starts = prob.draw() if js else None
        slots = {}
        for j in js:
            x = _columns(starts.x, np.flatnonzero(prob.law_of == j))
            # y is increasing in r = x^2/|w0|^2: the lowest and highest start need only extremes
            lo = np.nanmin(np.min(x, axis=1) ** 2 / starts.total)
            hi = np.nanmax(np.max(x, axis=1) ** 2 / starts.total)
            slots[j] = len(rows.laws)
            rows.laws.append(prob.laws[j])
            rows.reach.append(prob.relative(np.array([lo, hi])))
            rows.tol.append(tol)
        if starts is not None:
            kept += starts.x.size
        rows.slots.append(slots)
        rows.starts.append(starts if kept <= KEEP_STARTS or starts is None else prob.draw)
    return rows


def _estimate(prob: EscapeProblem, slots: dict[int, int], starts, sg: th.SurvivalGrid | None,
              reference: bool) -> HorizonEstimate:
    """The run's escape probability over the sampled starts from the programme's table."""
    if starts is None:  # no law can escape: every start survives
        return HorizonEstimate(0.0, 0.0, "exact multiplier law", PROB_NOTION, prob.samples)
    if callable(starts):
        starts = starts()
    surv = np.ones(starts.total.size)
    for j, slot in slots.items():
        u = sg.u[-1, slot]
        if not reference and u.min() == 1.0:
            continue  # never escapes from any drawn start: factor 1
        x = _columns(starts.x, np.flatnonzero(prob.law_of == j))
        y = prob.relative(x * x / starts.total[:, None])
        esc = sg.escape(y.ravel(), slot).reshape(y.shape)
        surv = surv * np.prod(1.0 - esc, axis=1)
    per_start = 1.0 - surv
    n = per_start.size
    se = float(per_start.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    value = float(np.clip(per_start.mean(), 0.0, 1.0))
    return HorizonEstimate(value, se, "exact multiplier law", PROB_NOTION, n)


def escape_probabilities(problems: Sequence[EscapeProblem], horizon: int, *,
                         grid: tuple[float, float] = (th.DEFAULT_SPACING, th.DEFAULT_FLOOR),
                         reference: bool = False,
                         accuracy: float | None = None) -> list[HorizonEstimate]:
    r"""Escape probability of one run for a batch of :class:`EscapeProblem` (one programme).

    Notion: in probability at horizon :math:`T` (first passage).  The run escapes unless no axis
    does, :math:`1-\mathbb E_{w_0}\prod_k(1-P_k(y_k))`, averaged over the sampled starts (its
    standard error is ``stderr``).  The laws of every problem go through one first-passage
    programme, :func:`theory.horizon.first_passage_table`, whose shortcuts move each axis'
    escape probability by at most a tolerance against the full programme
    (:data:`theory.horizon.DEFAULT_TOL`, or ``accuracy`` shared by the axes that can rise): a law
    proven never to escape from the highest possible start (:math:`r=1`) is dropped before any
    start is drawn, and one proven never (or always) to escape from the drawn starts is not
    interpolated.  With ``reference=True`` the full programme :func:`theory.horizon.survival_grid`
    runs instead (every step, the deepest floor, no shortcut).

    Two passes: the first draws every problem's starts (for the lowest and highest start of each
    law), then one programme runs for all laws, then the second pass averages over the starts
    (kept up to :data:`KEEP_STARTS` coordinates in all, drawn again beyond that).

    Parameters
    ----------
    problems:
        The questions (their laws are stacked).
    horizon:
        :math:`T\ge1`.
    grid:
        ``(spacing, floor)`` of the programme.
    reference:
        Run the full programme instead of the bounded shortcuts.
    accuracy:
        Bound on each problem's error against the full programme, split equally over its axes
        that can rise (the shortcuts are then coarser and faster); ``None``:
        :data:`theory.horizon.DEFAULT_TOL` per axis.

    Returns
    -------
    list[HorizonEstimate]
        One estimate per problem, ``method="exact multiplier law"``.
    """
    T = check_horizon(horizon)
    if accuracy is not None and not (np.isfinite(accuracy) and 0 < accuracy < 1):
        raise InputError(f"accuracy must lie in (0, 1), got {accuracy}")
    spacing, floor = grid
    rows = _first_pass(problems, T, grid, (reference, accuracy))
    sg = None
    if rows.laws:
        xi_m, p_m = _stack(rows.laws)
        if reference:
            sg = th.survival_grid(xi_m, p_m, T, spacing=spacing, floor=floor)
        else:
            lo_hi = np.nan_to_num(np.clip(np.array(rows.reach), -floor, 0.0), nan=-floor)
            sg = th.first_passage_table(xi_m, p_m, T, lo_hi, spacing=spacing, floor=floor,
                                        tol=np.array(rows.tol))
    return [_estimate(prob, slots, starts, sg, reference)
            for prob, slots, starts in zip(problems, rows.slots, rows.starts, strict=True)]


def axis_law_groups(op: SecondMomentOperator, axes: DiagonalAxes
                    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    r"""Distinct multiplier laws of the axes and the law of every axis.

    Axes with equal sample counts and curvatures share one law (built once): on the σ-family
    every private axis carries the same law.
    """
    keys = np.stack([axes.m_r, axes.m_f, axes.lam_r, axes.lam_f], axis=1).astype(float)
    uniq, law_of = np.unique(keys, axis=0, return_inverse=True)
    cfg = op.config
    n_f = op.forget.n if op.forget is not None else 1
    b_f = cfg.batch_forget if op.forget is not None else 1
    laws = [axis_multiplier_law(AxisLaw(cfg.sampling, cfg.alpha, float(lr), int(mr), op.retain.n,
                                        cfg.batch_retain, float(lf), int(mf), n_f, b_f))
            for mr, mf, lr, lf in uniq]
    return laws, law_of.ravel()


def _exact_escape(op: SecondMomentOperator, axes: DiagonalAxes, eta: float, G: float, T: int,
                  starts: StartSample, options: tuple[tuple[float, float], bool]
                  ) -> HorizonEstimate:
    laws, law_of = axis_law_groups(op, axes)
    sample = StartSample(np.abs(starts.x), starts.total)
    problem = EscapeProblem(tuple(th.log_increment_law(x, p, eta) for x, p in laws), law_of, G,
                            starts.total.size, lambda: sample)
    grid, reference = options
    return escape_probabilities([problem], T, grid=grid, reference=reference)[0]


def escape_probability(op: SecondMomentOperator, eta: float, growth: float, horizon: int, *,
                       method: str = "auto", samples: int = 2000, seed: int = 0,
                       grid: tuple[float, float] = (th.DEFAULT_SPACING, th.DEFAULT_FLOOR)
                       ) -> HorizonEstimate:
    r"""Probability that one run of the rule escapes: :math:`\|w_t\|^2\ge G\|w_0\|^2` for a :math:`t\le T`.

    Notion: in probability at horizon :math:`T` (first passage), for one run of the companion
    rule's start :math:`w_0\sim U(0,1)^d` (SPEC §1.5); the rule's majority verdict over :math:`R`
    runs then escapes with probability :func:`majority_probability`.

    ``method="exact"`` (default for commuting families of diagonal-law type): every axis
    coordinate is a random walk in :math:`\log|x|` with the exact multiplier law; its
    first-passage probability over the barrier
    :math:`x_k^2\ge G\|w_0\|^2-(\|w_0\|^2-x_{k,0}^2)` is the programme of
    :mod:`theory.horizon`, and the run escapes unless no axis does:
    :math:`1-\mathbb E_{w_0}\prod_k(1-P_k)`.  Two approximations, both measured against the
    simulated rule (claim C10.b): axes are treated as independent (exact for Bernoulli sampling,
    where each sample's inclusion is independent; WOR and WR couple axes through the batch size),
    and the run is counted as escaping when *one* axis alone crosses its barrier while the others
    keep their start size (a sum of several grown axes crossing first is not counted).  The
    average over :math:`w_0` uses ``samples`` seeded starts; ``stderr`` is its standard error.
    The programme takes bounded shortcuts (:func:`theory.horizon.first_passage_table`: each
    axis' probability within :data:`theory.horizon.DEFAULT_TOL` of the full programme);
    ``method="exact reference"`` runs the full programme (:func:`theory.horizon.survival_grid`,
    every step to :math:`T` at the deepest floor), the reference the shortcuts are tested against.

    ``method="monte carlo"`` (default otherwise): ``samples`` runs of
    :func:`numerics.core.simulate.trajectory_rule`; ``stderr`` is the binomial standard error.

    Almost-sure limit: for fixed :math:`G`, as :math:`T\to\infty` the probability tends to 1 where
    :math:`\gamma>0` and to the probability that the walk *ever* crosses where :math:`\gamma<0`
    (positive, shrinking to 0 as :math:`G\to\infty`); so the rule's 50 % step size tends to
    :math:`\eta^\star_{as}` only when :math:`G` grows with :math:`T`.

    Parameters
    ----------
    op, eta:
        Operator and step size.
    growth, horizon:
        :math:`G>1` and :math:`T\ge1`.
    method:
        ``"auto"``, ``"exact"``, ``"exact reference"`` or ``"monte carlo"``.
    samples, seed:
        Sampled starts (exact) or runs (Monte Carlo), and the seed.
    grid:
        ``(spacing, floor)`` of the first-passage programme.

    Returns
    -------
    HorizonEstimate
    """
    eta = check_eta(eta)
    G = check_growth(growth)
    T = check_horizon(horizon)
    samples = check_horizon(samples, "samples")
    if method not in ESCAPE_METHODS:
        raise InputError(f"unknown method {method!r}; expected {', '.join(ESCAPE_METHODS)}")
    axes = diagonal_axes(op) if method != "monte carlo" else None
    if method.startswith("exact") and axes is None:
        raise InputError("exact escape probability needs a commuting family of diagonal-law "
                         "type; use method='monte carlo'")
    if axes is not None:
        starts = rule_starts(op, axes, samples, seed)
        return _exact_escape(op, axes, eta, G, T, starts, (grid, method == "exact reference"))
    from numerics.core.simulate import trajectory_rule

    out = trajectory_rule(op, eta, horizon=T, growth=G, repetitions=samples, seed=seed)
    p = out.fraction
    return HorizonEstimate(p, float(np.sqrt(p * (1.0 - p) / samples)), "monte carlo",
                           PROB_NOTION, samples)


def escape_step_size(op: SecondMomentOperator, growth: float, horizon: int,
                     bracket: tuple[float, float], *, level: float = 0.5, samples: int = 2000, seed: int = 0,
                     grid: tuple[float, float] = (th.DEFAULT_SPACING, th.DEFAULT_FLOOR)
                     ) -> float | None:
    r"""Step size at which one run of the rule escapes with probability ``level`` (default 50 %).

    Notion: in probability at horizon :math:`T`; root of
    :math:`\eta\mapsto` :func:`escape_probability` :math:`-\,` ``level`` in ``bracket`` (the same
    sampled starts at every :math:`\eta`, so the function is smooth), or ``None`` when the
    probability does not cross ``level`` inside ``bracket``.
    """
    from scipy.optimize import brentq

    lo, hi = (check_eta(b) for b in bracket)
    if not 0.0 < level < 1.0 or not lo < hi:
        raise InputError(f"need 0 < level < 1 and lo < hi, got level={level}, bracket={bracket}")

    def f(eta: float) -> float:
        return escape_probability(op, eta, growth, horizon, samples=samples, seed=seed,
                                  grid=grid).value - level

    f_lo, f_hi = f(lo), f(hi)
    if f_lo * f_hi > 0:
        return None
    return float(brentq(f, lo, hi, xtol=1e-6 * hi, rtol=1e-10))
