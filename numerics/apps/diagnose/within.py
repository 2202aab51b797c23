r"""Finite-horizon prescriptions: what makes it escape within, or resist for, :math:`K` steps.

The predicted step is the one of :mod:`numerics.apps.diagnose.forecast` (the only place of its
mathematics): the first :math:`t` at which the mean-square displacement of the forced recursion
from :math:`\delta_0=0` reaches the radius at which the quadratic model of the forget loss reaches
its uninformative level,

.. math:: t^\star(\alpha,\eta)=\min\{t\le K:\ \mathbb E\|\delta_t\|^2\ge r_t^2\},

and the event "escapes within :math:`K` steps" is :math:`t^\star(\alpha,\eta)\le K`
(:meth:`StepsModel.escapes_within`).  Both knobs are searched from the user's point in the
direction that moves the event: a larger step size, or a larger :math:`\alpha`, drives the
displacement (the forcing :math:`\eta\bar g` grows with both, and :math:`A(\alpha)` loses
curvature as :math:`\alpha` grows), so the search for "escapes within :math:`K`" goes upwards and
the one for "resists for :math:`K`" downwards.  That monotonicity is not guaranteed, so a search
is a grid (``grid`` points: :math:`\alpha` on :math:`[0,1]`, :math:`\eta` geometric over
:data:`ETA_SPAN` decades on the searched side) walked outwards from the user's value until the
event changes, then a bisection between the last grid point that kept the user's state and the
first that changed it (relative precision :data:`RTOL` in :math:`\eta`, absolute :data:`ATOL` in
:math:`\alpha`).  The prescribed value is the end of the bracket inside the new region and is
stored with its predicted step (``check.at``) and the other end's (``check.neighbour``).

Notion: mean-square, the forced affine recursion from :math:`\delta_0=0`, the loss level read
through the quadratic model (as ``steps_to_escape_predicted``); not the asymptotic verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from numerics.apps.diagnose.criterion import Criterion
from numerics.apps.diagnose.forecast import LossLevel, Prediction, predict_steps
from numerics.apps.diagnose.prescribe import Prescription
from numerics.core.forcing import Forcing
from numerics.core.inputs import InputError, UnlearningConfig
from numerics.core.operator import SecondMomentOperator

__all__ = ["StepsModel", "WithinOptions", "within_prescriptions", "check_within", "RTOL",
           "ATOL", "ETA_SPAN", "NOTION", "budgeted", "BUDGET_S"]

#: Relative precision of the step-size bisection.
RTOL = 1e-3
#: Absolute precision of the mixing-weight bisection.
ATOL = 1e-4
#: Decades of step size searched on each side of the user's step size.
ETA_SPAN = 3.0
#: The notion of every number of this module.
NOTION = ("mean-square, forced affine recursion from delta_0 = 0; forget-loss level read through "
          "the quadratic model (the notion of steps_to_escape_predicted)")


def check_within(value: object) -> int:
    r"""The horizon :math:`K\ge1` of the prescriptions (``InputError`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise InputError(f"within must be an integer number of steps >= 1, got {value!r}")
    return int(value)


@dataclass
class StepsModel:
    r"""The predicted step :math:`t^\star(\alpha,\eta)` at the user's batch sizes.

    Attributes
    ----------
    crit:
        The criterion (its operators are cached per :math:`\alpha`).
    forcing:
        Projected per-sample gradients at :math:`\theta^\star` (coordinates of ``crit``).
    event:
        The forget-loss level and its value at :math:`\theta^\star`.
    batches:
        ``(batch_retain, batch_forget)``.
    evaluations:
        How many distinct predictions were computed (each at most :math:`K` operator steps;
        repeated ones are remembered).
    """

    crit: Criterion
    forcing: Forcing
    event: LossLevel
    batches: tuple[int, int]
    evaluations: int = field(default=0)
    _zero: SecondMomentOperator | None = field(default=None, repr=False)
    _memo: dict[tuple[float, float, int], Prediction] = field(default_factory=dict, repr=False)

    def steps(self, alpha: float, eta: float, horizon: int) -> Prediction:
        """:func:`~numerics.apps.diagnose.forecast.predict_steps` at ``(alpha, eta)``."""
        key = (float(alpha), float(eta), int(horizon))
        if key not in self._memo:
            self.evaluations += 1
            self._memo[key] = predict_steps(self.operator(key[0]), self.forcing, key[1],
                                            self.event, key[2])
        return self._memo[key]

    def operator(self, alpha: float) -> SecondMomentOperator:
        r"""The operator at :math:`\alpha` (at 0 with the forget pool kept, weight 0).

        The forget pool's mean gradient and curvature define the event at every :math:`\alpha`.
        """
        if alpha > 0.0:
            return self.crit.operator(alpha, *self.batches)
        if self._zero is None:
            cfg = UnlearningConfig(0.0, *self.batches, self.crit.sampling)
            self._zero = SecondMomentOperator(self.crit.retain, self.crit.forget, cfg,
                                              reduce=False)
        return self._zero

    def escapes_within(self, alpha: float, eta: float, horizon: int) -> bool:
        r""":math:`t^\star(\alpha,\eta)\le K` (``horizon``)."""
        return self.steps(alpha, eta, horizon).steps is not None


@dataclass(frozen=True)
class WithinOptions:
    """The user's point and the search: ``alpha``, ``eta``, ``within`` = K, ``grid`` points."""

    alpha: float
    eta: float
    within: int
    grid: int = 8


def _cell(alpha: float, eta: float, pred: Prediction) -> dict:
    return {"alpha": float(alpha), "eta": float(eta), "steps_predicted": pred.steps}


@dataclass(frozen=True)
class _Axis:
    """One knob: its name, the candidates in search order, and the bisection in its scale."""

    knob: str
    candidates: np.ndarray
    midpoint: Callable[[float, float], float]
    close: Callable[[float, float], bool]
    point: Callable[[float], tuple[float, float]]


def _axis(knob: str, opts: WithinOptions, up: bool) -> _Axis:
    """Candidates from the user's value outwards (``up``: increasing) and the bisection scale."""
    if knob == "eta":
        e0 = opts.eta
        side = np.geomspace(1.0, 10.0**ETA_SPAN, opts.grid + 1)[1:]
        cand = e0 * (side if up else 1.0 / side)
        return _Axis("eta", cand, lambda a, b: float(np.sqrt(a * b)),
                     lambda a, b: abs(np.log(b / a)) <= RTOL, lambda x: (opts.alpha, x))
    a0 = opts.alpha
    grid = np.linspace(0.0, 1.0, opts.grid)
    cand = np.append(grid[grid > a0], 1.0) if up else np.append(grid[grid < a0][::-1], 0.0)
    cand = np.unique(cand)[::1 if up else -1]
    cand = cand[cand != a0]
    return _Axis("alpha", cand, lambda a, b: 0.5 * (a + b), lambda a, b: abs(b - a) <= ATOL,
                 lambda x: (x, opts.eta))


def _search(model: StepsModel, opts: WithinOptions, knob: str, escapes_now: bool
            ) -> Prescription:
    """The nearest value of ``knob`` (in its search direction) where the event changes."""
    K = opts.within
    goal = "resist_for" if escapes_now else "escape_within"
    ax = _axis(knob, opts, up=not escapes_now)
    here = opts.eta if knob == "eta" else opts.alpha
    keep, keep_pred = here, model.steps(*ax.point(here), K)
    flip = flip_pred = None
    for x in ax.candidates:
        pred = model.steps(*ax.point(float(x)), K)
        if (pred.steps is not None) != escapes_now:
            flip, flip_pred = float(x), pred
            break
        keep, keep_pred = float(x), pred
    other = "alpha" if knob == "eta" else "eta"
    other_val = opts.alpha if knob == "eta" else opts.eta
    want = "keeps resisting for" if escapes_now else "escapes within"
    if flip is None:
        span = (f"{ax.candidates[-1]:.4g}" if ax.candidates.size else f"{here:.4g}")
        what = "keeps it resisting for" if escapes_now else "makes it escape within"
        txt = (f"no {knob} between {here:.4g} and {span} (searched on {ax.candidates.size} points) "
               f"{what} {K} steps at {other} = {other_val:.4g}")
        return Prescription(knob, goal, "none", None, None, txt,
                            {"within": K, "searched_to": float(ax.candidates[-1])
                             if ax.candidates.size else None, "notion": NOTION})
    while not ax.close(keep, flip):
        mid = ax.midpoint(keep, flip)
        pred = model.steps(*ax.point(mid), K)
        if (pred.steps is not None) != escapes_now:
            flip, flip_pred = mid, pred
        else:
            keep, keep_pred = mid, pred
    up = flip > here
    rel = ">=" if up else "<="
    steps_txt = ("" if flip_pred.steps is None else
                 f" (predicted step {flip_pred.steps} there)")
    txt = (f"it {want} {K} steps at {other} = {other_val:.4g} with {knob} {rel} {flip:.6g}"
           f"{steps_txt}; edge by bisection of the predicted steps to escape")
    check = {"at": _cell(*ax.point(flip), flip_pred), "neighbour": _cell(*ax.point(keep),
                                                                          keep_pred),
             "within": K, "flips": (flip_pred.steps is not None) != escapes_now,
             "notion": NOTION}
    return Prescription(knob, goal, rel, flip, flip, txt, check)


def within_prescriptions(model: StepsModel, opts: WithinOptions) -> dict:
    r"""Prescriptions for the event "escapes within :math:`K` steps" at the user's point.

    Parameters
    ----------
    model:
        The predicted step :math:`t^\star(\alpha,\eta)` (:class:`StepsModel`).
    opts:
        The user's :math:`(\alpha,\eta)`, :math:`K` and the grid size of each search.

    Returns
    -------
    dict
        ``within`` (:math:`K`), ``steps_predicted`` at the user's point (``None``: not within
        :math:`K`), ``escapes_within`` (bool), ``prescriptions`` (one per knob, goal
        ``resist_for`` when it escapes within :math:`K` now, else ``escape_within``; each with
        its re-evaluated predicted step), ``evaluations`` and ``notion``.
    """
    K = check_within(opts.within)
    now = model.steps(opts.alpha, opts.eta, K)
    escapes_now = now.steps is not None
    pres = []
    if escapes_now and now.steps == 0:
        pres.append(Prescription("eta", "resist_for", "none", None, None,
                                 "the forget loss is at its uninformative level already at w*: "
                                 "no step size or alpha changes that", {"within": K}))
    else:
        pres = [_search(model, opts, "eta", escapes_now),
                _search(model, opts, "alpha", escapes_now)]
    return {"within": K, "steps_predicted": now.steps, "escapes_within": escapes_now,
            "prescriptions": pres, "evaluations": model.evaluations, "notion": NOTION}


#: Seconds the default (implicit ``within``) prescriptions may be expected to take; above it they
#: are skipped with a note (an explicit ``within`` is always computed).
BUDGET_S = 60.0


def _max_evaluations(grid: int) -> int:
    """Upper estimate of the predictions of one :func:`within_prescriptions` call.

    The user's point, two walks over ``grid`` points and two bisections (at most 14 halvings).
    """
    return 1 + 2 * (grid + 1 + 14)


def budgeted(model: StepsModel, opts: WithinOptions, seconds_per_step: float,
             explicit: bool) -> tuple[list[dict], str | None]:
    r"""The prescriptions' JSON entries and a note, or none and the reason when over budget.

    Parameters
    ----------
    model, opts:
        As in :func:`within_prescriptions`.
    seconds_per_step:
        Measured cost of one step of the forced recursion (one operator application).
    explicit:
        ``within`` was given by the user: computed whatever the estimate.

    Returns
    -------
    tuple
        ``(entries, note)``: the prescriptions as dicts (goal ``escape_within`` or ``resist_for``)
        and a one-line note for the report (``None`` when there is nothing to say).
    """
    estimate = _max_evaluations(opts.grid) * opts.within * seconds_per_step
    if not explicit and estimate > BUDGET_S:
        return [], (f"the 'escape within / resist for {opts.within} steps' prescriptions were "
                    f"skipped: up to {_max_evaluations(opts.grid)} predictions of {opts.within} "
                    f"steps at {seconds_per_step * 1e3:.3g} ms a step (active dimension "
                    f"{model.crit.dim}) could take {estimate:.0f} s, above {BUDGET_S:.0f} s; "
                    "--within K computes them")
    out = within_prescriptions(model, opts)
    entries = [p.as_dict() for p in out["prescriptions"]]
    state = ("escapes" if out["escapes_within"] else "does not escape")
    note = (f"finite horizon K = {out['within']}: it {state} within K steps "
            f"(predicted step {out['steps_predicted']}); {out['evaluations']} predictions for "
            "the prescriptions")
    return entries, note
