r"""Prescriptions: what to change so that the verdict changes, from the exact criterion.

Every prescription is computed from the exact mean-square criterion of SPEC §2.3 and then
*re-checked*: the criterion is evaluated again at the prescribed value (and, for integer knobs,
at its neighbour) and the result is stored with the prescription.

Mixing weight :math:`\alpha`
    :math:`A(\alpha)` is affine in :math:`\alpha`, so the mean escapes at every step size exactly
    for :math:`\alpha>\alpha_c` (:meth:`~numerics.apps.diagnose.criterion.Criterion.alpha_c`, a
    generalised eigenvalue).  When a step size is given, the largest :math:`\alpha` that resists
    at it (or the smallest that escapes) is found on a grid of :math:`[0,\alpha_c)` refined by
    bisection on :math:`\rho(\mathcal T(\eta;\alpha))=1`; :math:`\eta^\star(\alpha)` is not
    monotone (SPEC §2.3(f)), so a grid point is the honest starting point, and the report says so.
Step size :math:`\eta`
    For :math:`A\succ0` the stable set is exactly :math:`(0,\eta^\star)` (SPEC §2.3(d)).
Batch sizes
    :math:`\eta^\star` is non-decreasing in :math:`B_r` and in :math:`B_f` (SPEC §2.3(e)), so at a
    fixed :math:`\eta` the resisting batch sizes form an up-set of integers; its edge is found by
    integer bisection.  The batch sizes do not move :math:`A`, so they cannot change the verdict
    "escapes at every step size".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numerics.apps.diagnose.criterion import Criterion, Point
from numerics.apps.diagnose.spread import mapper

__all__ = ["Prescription", "prescribe", "steps_map", "alpha_points", "SYMLOG_BELOW", "MARGIN",
           "REPORT_TOL"]

#: Relative margin by which a prescribed continuous value sits inside the new region.
MARGIN = 1e-3
#: Lanczos tolerance of the re-checks and of the reported values.
REPORT_TOL = 1e-11
#: Relative precision of the bisections on alpha.
ALPHA_RTOL = 1e-4


@dataclass
class Prescription:
    r"""One way to change the verdict.

    Attributes
    ----------
    knob:
        ``alpha``, ``eta``, ``batch_retain`` or ``batch_forget``.
    goal:
        ``resist`` or ``escape`` (the verdict the change produces).
    relation, bound:
        The condition on the knob, e.g. ``("<", 0.12)``; ``relation`` is ``"none"`` when no value
        of the knob reaches the goal.
    value:
        A concrete prescribed value (inside the new region), or ``None``.
    text:
        One sentence.
    check:
        The exact criterion re-evaluated at ``value`` (and at the neighbour on the other side for
        integer knobs); ``flips`` is True when the verdict at ``value`` is the goal.
    """

    knob: str
    goal: str
    relation: str
    bound: float | int | None
    value: float | int | None
    text: str
    check: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"knob": self.knob, "goal": self.goal, "relation": self.relation,
                "bound": self.bound, "value": self.value, "text": self.text, "check": self.check}


def _goal_reached(p: Point, goal: str, eta: float | None) -> bool:
    if goal == "escape":
        return bool(p.escapes) if eta is not None else p.escapes_at_every_eta
    return (not p.escapes) if eta is not None else not p.escapes_at_every_eta


def _check(crit: Criterion, goal: str, eta: float | None, at: dict, other: dict | None = None
           ) -> dict[str, Any]:
    p = crit.point(at["alpha"], at["batch_retain"], at["batch_forget"], eta, REPORT_TOL,
                   with_rho=crit.dim <= 40)
    out = {"at": p.as_dict(), "flips": _goal_reached(p, goal, eta)}
    if other is not None:
        q = crit.point(other["alpha"], other["batch_retain"], other["batch_forget"], eta,
                       REPORT_TOL, with_rho=crit.dim <= 40)
        out["neighbour"] = q.as_dict()
        out["neighbour_unchanged"] = not _goal_reached(q, goal, eta)
    return out


def _stable(crit: Criterion, eta: float, alpha: float, br: int, bf: int) -> bool:
    return crit.stable_at(eta, alpha, br, bf)


def _alpha_prescriptions(crit: Criterion, cur: Point, alpha_c: float, how: str,
                         eta: float | None, grid: dict[str, Any]) -> list[Prescription]:
    a, br, bf = cur.alpha, cur.batch_retain, cur.batch_forget
    cfg = {"batch_retain": br, "batch_forget": bf}
    out: list[Prescription] = []
    if alpha_c <= 0.0:
        if crit.escapes_mean(0.0):
            txt = ("no alpha resists, not even alpha = 0: the mean retain Hessian has negative "
                   "curvature, so the trained weights are not a minimum of the retain loss and "
                   "even fine-tuning on the retain set moves away (train to a minimum first; the "
                   "Gauss-Newton route, which keeps only the PSD part, isolates the curvature "
                   "that unlearning adds)")
            out.append(Prescription("alpha", "resist", "none", None, None, txt))
            return out
        txt = ("no alpha > 0 resists: the forget set curves a direction that the retain set "
               "curves not at all or below the resolution of the mean-escape test (alpha_c "
               "below 1e-9; out_of_span_forget says how much forget curvature leaves the retain "
               "span), and ascent along it is never neutralised; only alpha = 0 (fine-tuning on "
               "the retain set alone) resists")
        out.append(Prescription("alpha", "resist", "<=", 0.0, 0.0, txt,
                                _check(crit, "resist", None, {"alpha": 0.0, **cfg})))
        return out
    if cur.escapes_at_every_eta:
        val = alpha_c * (1.0 - MARGIN)
        txt = (f"escapes at every step size because alpha = {a:.4g} >= alpha_c = {alpha_c:.6g} "
               f"({how}); any alpha < alpha_c resists for small enough step sizes, "
               f"e.g. alpha = {val:.6g}")
        out.append(Prescription("alpha", "resist", "<", alpha_c, val, txt,
                                _check(crit, "resist", None, {"alpha": val, **cfg})))
    elif alpha_c < 1.0:
        val = min(alpha_c * (1.0 + MARGIN), 1.0)
        txt = (f"alpha > alpha_c = {alpha_c:.6g} ({how}) makes ascent win: it then escapes at "
               f"every step size, e.g. alpha = {val:.6g}")
        out.append(Prescription("alpha", "escape", ">", alpha_c, val, txt,
                                _check(crit, "escape", None, {"alpha": val, **cfg})))
    if eta is None or not grid.get("alpha"):
        return out
    alphas = np.asarray(grid["alpha"])
    stars = np.asarray([np.nan if s is None else s for s in grid["eta_star"]], dtype=float)
    stable = np.where(np.isnan(stars), False, stars > eta)
    if cur.escapes:
        # largest alpha that resists at eta: top stable grid point, refined towards the next one
        idx = np.flatnonzero(stable)
        if idx.size == 0:
            txt = (f"no alpha on a {alphas.size}-point grid of [0, alpha_c) resists at "
                   f"eta = {eta:.4g}: eta exceeds eta*(alpha) there; lower the step size")
            out.append(Prescription("alpha", "resist", "none", None, None, txt))
            return out
        j = int(idx[-1])
        lo, hi = float(alphas[j]), float(alphas[j + 1]) if j + 1 < alphas.size else alpha_c
        while hi - lo > ALPHA_RTOL * alpha_c:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if _stable(crit, eta, mid, br, bf) else (lo, mid)
        txt = (f"at eta = {eta:.4g} it resists for alpha up to {lo:.6g} (largest resisting "
               f"alpha: {alphas.size}-point grid of [0, alpha_c), edge by bisection)")
        out.append(Prescription("alpha", "resist", "<=", lo, lo, txt,
                                _check(crit, "resist", eta, {"alpha": lo, **cfg})))
    else:
        # smallest alpha above the current one that escapes at eta
        above = np.flatnonzero((alphas > a) & ~stable)
        lo = a
        hi = float(alphas[above[0]]) if above.size else alpha_c * (1.0 + MARGIN)
        if above.size:
            below = np.flatnonzero((alphas > a) & (alphas < hi) & stable)
            lo = float(alphas[below[-1]]) if below.size else a
        hi = min(hi, 1.0)
        while hi - lo > ALPHA_RTOL * max(alpha_c, 1e-12):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if _stable(crit, eta, mid, br, bf) else (lo, mid)
        txt = (f"at eta = {eta:.4g} it escapes from alpha = {hi:.6g} on (smallest escaping "
               f"alpha above {a:.4g}; grid of [0, alpha_c), edge by bisection)")
        out.append(Prescription("alpha", "escape", ">=", hi, hi, txt,
                                _check(crit, "escape", eta, {"alpha": hi, **cfg})))
    return out


def _batch_prescription(crit: Criterion, cur: Point, knob: str, eta: float) -> Prescription:
    a, br, bf = cur.alpha, cur.batch_retain, cur.batch_forget
    n = crit.n_retain if knob == "batch_retain" else crit.n_forget
    b0 = br if knob == "batch_retain" else bf
    label = "retain" if knob == "batch_retain" else "forget"

    def cfg(b: int) -> dict:
        return ({"alpha": a, "batch_retain": b, "batch_forget": bf} if knob == "batch_retain"
                else {"alpha": a, "batch_retain": br, "batch_forget": b})

    def stable(b: int) -> bool:
        c = cfg(b)
        return _stable(crit, eta, a, c["batch_retain"], c["batch_forget"])

    if cur.escapes:  # find the smallest B in (b0, n] that resists
        if b0 >= n or not stable(n):
            txt = (f"no {label} batch size up to the set size {n} makes it resist at "
                   f"eta = {eta:.4g}")
            return Prescription(knob, "resist", "none", None, None, txt)
        lo, hi = b0, n  # lo escapes, hi resists
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if stable(mid) else (mid, hi)
        txt = (f"it resists at eta = {eta:.4g} with a {label} batch of {hi} or more "
               f"(eta* is non-decreasing in the batch size; edge by integer bisection)")
        return Prescription(knob, "resist", ">=", hi, hi, txt,
                            _check(crit, "resist", eta, cfg(hi), cfg(hi - 1)))
    # resists: find the largest B in [1, b0) that escapes
    if b0 <= 1 or stable(1):
        txt = f"no smaller {label} batch size makes it escape at eta = {eta:.4g}"
        return Prescription(knob, "escape", "none", None, None, txt)
    lo, hi = 1, b0  # lo escapes, hi resists
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if stable(mid) else (mid, hi)
    txt = (f"it escapes at eta = {eta:.4g} with a {label} batch of {lo} or fewer "
           f"(edge by integer bisection)")
    return Prescription(knob, "escape", "<=", lo, lo, txt,
                        _check(crit, "escape", eta, cfg(lo), cfg(lo + 1)))


def _eta_prescriptions(crit: Criterion, cur: Point) -> list[Prescription]:
    es = cur.eta_star_ms
    base = {"alpha": cur.alpha, "batch_retain": cur.batch_retain,
            "batch_forget": cur.batch_forget}
    lo, hi = es * (1.0 - MARGIN), es * (1.0 + MARGIN)
    out = []
    if cur.eta is None or cur.escapes:
        out.append(Prescription("eta", "resist", "<", es, lo,
                                f"resists for step sizes eta < eta*_ms = {es:.6g}",
                                _check(crit, "resist", lo, base)))
    if cur.eta is None or not cur.escapes:
        out.append(Prescription("eta", "escape", ">", es, hi,
                                f"escapes for step sizes eta > eta*_ms = {es:.6g}",
                                _check(crit, "escape", hi, base)))
    return out


def eta_star_at(crit: Criterion, at: tuple[float, int, int]) -> float | None:
    r""":math:`\eta^\star_{ms}` at ``(alpha, batch_retain, batch_forget)`` (one grid point).

    Parameters
    ----------
    crit:
        The criterion.
    at:
        The configuration.

    Returns
    -------
    float or None
        :meth:`Criterion.eta_star <numerics.apps.diagnose.criterion.Criterion.eta_star>`.
    """
    return crit.eta_star(*at)


def rho_at(crit: Criterion, at: tuple[float, float, int, int]) -> float:
    r""":math:`\rho(\mathcal T(\eta;\alpha))` at ``(eta, alpha, batch_retain, batch_forget)``.

    Parameters
    ----------
    crit:
        The criterion.
    at:
        The configuration.

    Returns
    -------
    float
        :meth:`Criterion.rho <numerics.apps.diagnose.criterion.Criterion.rho>`.
    """
    return crit.rho(*at)


def alpha_grid(crit: Criterion, alpha_c: float, size: int, batch_retain: int,
               batch_forget: int) -> dict[str, Any]:
    r""":math:`\eta^\star_{ms}(\alpha)` on ``size`` points of :math:`[0,\alpha_c)` (the figure's boundary)."""
    if size < 1 or alpha_c <= 0.0:
        pts = [0.0] if size >= 1 else []
    else:
        pts = list(alpha_c * np.arange(size) / size)
    stars = mapper().map(eta_star_at, crit, [(a, batch_retain, batch_forget) for a in pts])
    return {"alpha": [float(a) for a in pts], "eta_star": stars, "alpha_c": alpha_c}


def prescribe(crit: Criterion, cur: Point, *, grid_size: int = 8) -> tuple[
        list[Prescription], dict[str, Any], float, str]:
    r"""All prescriptions for the configuration ``cur``.

    Returns ``(prescriptions, grid, alpha_c, how)`` where ``grid`` holds
    :math:`\eta^\star_{ms}(\alpha)` on a grid of :math:`[0,\alpha_c)` (for the figure).
    """
    alpha_c, how = crit.alpha_c()
    grid = alpha_grid(crit, alpha_c, grid_size, cur.batch_retain, cur.batch_forget)
    out = _alpha_prescriptions(crit, cur, alpha_c, how, cur.eta, grid)
    if cur.neutral:
        out.append(Prescription(
            "eta", "resist", "none", None, None,
            "no step size changes 'neutral at every step size': rho(T) = 1 along the neutral "
            "direction for every eta"))
        return out, grid, alpha_c, how
    if cur.escapes_at_every_eta:
        out.append(Prescription(
            "batch_retain", "resist", "none", None, None,
            "batch sizes cannot change 'escapes at every step size': the mean curvature A "
            "does not depend on them"))
        return out, grid, alpha_c, how
    out += _eta_prescriptions(crit, cur)
    if cur.eta is not None:
        out.append(_batch_prescription(crit, cur, "batch_retain", cur.eta))
        if cur.alpha > 0.0:
            out.append(_batch_prescription(crit, cur, "batch_forget", cur.eta))
    return out, grid, alpha_c, how


#: Below this critical alpha the figure's alpha axis is symmetric-log (linear up to alpha_c / 2).
SYMLOG_BELOW = 0.05


def alpha_points(size: int, alpha_c: float) -> np.ndarray:
    r"""``size`` values of :math:`\alpha` in :math:`[0,1]`, evenly spread on the figure's axis.

    Linear when :math:`\alpha_c\ge` :data:`SYMLOG_BELOW`; otherwise :math:`0` and ``size - 1``
    geometric points from :math:`\alpha_c/4` to 1 (the axis is symmetric-log there, so a linear
    grid would put every point but one far right of :math:`\alpha_c`).
    """
    if size < 2 or not 0.0 < alpha_c < SYMLOG_BELOW:
        return np.linspace(0.0, 1.0, size)
    return np.concatenate([[0.0], np.geomspace(alpha_c / 4.0, 1.0, size - 1)])


def steps_map(crit: Criterion, cur: Point, span: tuple[float, float], size: int,
              growth: float = 1000.0, alpha_c: float = 1.0) -> dict:
    r"""Predicted steps to escape over an :math:`(\alpha,\eta)` grid (the figure's regime panel).

    Notion: mean-square, asymptotic rate: :math:`t=\log G/\log\rho(\mathcal T(\eta;\alpha))`
    steps for :math:`\mathbb E\|\delta_t\|^2` to grow by :math:`G` (``None`` where
    :math:`\rho\le1`: it resists).  :math:`\alpha` on ``size`` points of :math:`[0,1]`,
    :math:`\eta` on ``size`` geometric points of ``span`` :math:`=[\eta_{lo},\eta_{hi}]`, at the
    user's batch sizes; one :math:`\rho` evaluation per point.  :math:`\alpha` on
    :func:`alpha_points` (``span`` and :math:`\alpha_c` from the report's region).
    """
    alphas = alpha_points(size, alpha_c)
    etas = np.geomspace(span[0], span[1], size)
    points = [(float(e), float(a), cur.batch_retain, cur.batch_forget)
              for a in alphas for e in etas]
    rhos = iter(mapper().map(rho_at, crit, points))
    steps = []
    for _ in alphas:
        row = []
        for _ in etas:
            rho = next(rhos)
            row.append(float(np.log(growth) / np.log(rho)) if rho > 1.0 else None)
        steps.append(row)
    return {"alpha": alphas.tolist(), "eta": etas.tolist(), "steps": steps, "growth": growth,
            "notion": "mean-square: steps until E|delta|^2 grows by the factor, "
                      "log(growth) / log rho(T)"}
