r"""Claim C12.c: ``diagnose``'s predicted steps to escape against its own unlearning run.

``steps_to_escape_predicted`` (:mod:`numerics.apps.diagnose.forecast`: mean-square, the forced
affine recursion from :math:`\delta_0=0`, the forget-loss level read through the quadratic model)
is compared with ``steps_to_escape_observed``, the first recorded step at which the real run's
forget loss reaches its uninformative level.  The run records its loss every ``escape_resolution``
steps, so the observed step :math:`s_o` is the true one rounded up to that grid; the claim is

.. math:: s_p/F\ \le\ s_o\ \le\ F\,s_p+\text{resolution},\qquad F=\texttt{FACTOR}=2,

on every cell where the linearisation holds (a bracket, judged by the policy's ``bracket`` rule).

**Cell selection: cells where the linearisation holds, i.e. the event displacement lies within
the trust radius.**  ``diagnose`` measures along its own run the displacement at which the
curvature departs from the curvature at :math:`w^\star` by the trust fraction (50 %; the trust
radius :math:`r`, :mod:`numerics.apps.diagnose.trust`).  A cell is compared unless its observed
event (the run's displacement at :math:`s_o`) or its predicted event (the radius at which the
quadratic model reaches the level, at :math:`s_p`) lies beyond :math:`r`: there the run left the
linearisation before the event, and the prediction extrapolates the curvature at
:math:`w^\star` to where it no longer holds.  Excluded cells are listed with their reason in the
claim's evidence (``excluded``); the selection applies to every cell alike.

* **least squares with outliers** (:mod:`numerics.apps.examples.outliers`): a linear model with a
  squared loss has a constant Hessian, so the run never leaves the trust region: it *is* the
  affine recursion and the forget loss *is* its quadratic model; with full batches the run is
  deterministic and the prediction exact (up to the recording grid); with minibatches the run is
  one realisation of the recursion whose mean square is predicted;
* **digits, squared loss** (:mod:`numerics.apps.examples.digits` with ``loss="mse"``, a ReLU MLP
  on one-hot targets): the event is close to :math:`w^\star` (forget loss 0.33 against the
  uninformative 0.5) and the curvature departure stays below 50 % along the whole run;
* **digits, cross-entropy**: the event is :math:`\log 10=2.30` against a forget loss of
  0.002--0.19 at :math:`w^\star`.  Compared where the run stays in the trust region up to the
  event (class forget set at :math:`\eta_{rel}=1`: event at displacement 1.47, trust radius
  11.6); excluded where it does not (mislabeled at :math:`\eta_{rel}=0.4`: the curvature departs
  by 50 % at displacement 0.14, step 4, and the event is at 0.74 observed, 0.84 predicted).

Why the cross-entropy predictions were off by up to 10x in both directions on the example's own
configuration (``DigitsConfig()``, P = 334, K = 400, :math:`\alpha=0.1`, :math:`\eta_{rel}=0.4`,
``docs/results/digits.md``, predicted/observed 15/40 mislabeled, 292/20 atypical, none/80 random,
none/60 class): in every one of these cells the run left the trust region long before its
event, trust radius 0.037, 0.12, 0.41, 0.034 (left at steps 1, 8, 8, 1) against displacements
at the event of 1.47, 1.98, 3.15, 6.16.  The forecast reads the curvature at :math:`w^\star`
out to a displacement 4 to 180 times the one at which the run's curvature had already moved by
half its norm; neither the direction nor the size of its error is then constrained.

Measured (default scale): least squares 141/160, 71/80, 140/140, 140/160, 211/240
(predicted/observed, resolution 20); digits squared loss 135/140, 61/40, 7/10; digits
cross-entropy class 11/10 (resolution 10); excluded: digits cross-entropy mislabeled 24/10.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, register
from numerics.verify.claims.policy import Kind, Notion

#: The stated factor between predicted and observed steps.
FACTOR = 2.0
#: Which cells are compared.
SELECTION = ("cells where the linearisation holds: event displacement within the trust radius "
             "(neither the observed nor the predicted event lies beyond the displacement at "
             "which the run's curvature departed from the curvature at w* by the trust fraction; "
             "numerics.apps.diagnose.trust)")

#: Least-squares cells: (alpha, eta, batch_retain, batch_forget, seed, steps).
LSQ_CELLS: dict[str, tuple[tuple[float, float, int, int, int, int], ...]] = {
    "quick": ((0.6, 0.002, 36, 4, 0, 400), (0.6, 0.002, 8, 2, 1, 400)),
    "default": ((0.6, 0.002, 36, 4, 0, 400), (0.6, 0.004, 36, 4, 0, 400),
                (0.6, 0.002, 8, 2, 1, 400), (0.6, 0.002, 8, 2, 2, 400),
                (0.8, 0.001, 8, 2, 3, 400)),
}
#: Digits cells: (loss, forget kind, eta_rel); squared-loss ones are compared, cross-entropy
#: ones are evidence only.
DIGITS_CELLS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "quick": (("mse", "mislabeled", 1.0),),
    "default": (("mse", "mislabeled", 0.5), ("mse", "mislabeled", 1.0), ("mse", "class", 0.2),
                ("ce", "mislabeled", 0.4), ("ce", "class", 1.0)),
}
#: The digits experiment at the claim's scale (small: 100 samples, 6 hidden units).
DIGITS = {"n_train": 100, "hidden": 6, "n_forget": 6, "steps": 800}
#: The digits run: K steps and batches.
DIGITS_RUN = {"unlearn_steps": 200, "batch_retain": 16, "batch_forget": 4}


def _options(**kw: Any):
    from numerics.apps.diagnose.options import DiagnoseOptions

    return DiagnoseOptions.from_flat({"prescribe": False, "steps_grid": 0, "deletion": False,
                                      "progress": False, **kw})


def _row(name: str, rep) -> dict[str, Any]:
    u, tr = rep.unlearning, rep.trust
    ev = tr["events"]
    row = {"cell": name, "predicted": rep.steps_to_escape_predicted,
           "observed": rep.steps_to_escape_observed, "resolution": u["escape_resolution"],
           "horizon": u["horizon"], "forget_loss_before": u["forget_loss_before"],
           "level": u["uninformative_forget_loss"], "outcome": u["outcome"],
           "trust_radius": tr["trust_radius"], "left_at_step": tr["left_at_step"],
           "observed_event_distance": ev["observed_distance"],
           "predicted_event_distance": ev["predicted_distance"]}
    row["excluded"] = _exclusion(tr, ev)
    return row


def _exclusion(trust: dict[str, Any], events: dict[str, Any]) -> str | None:
    """Why a cell is not one where the linearisation holds (``None``: it is)."""
    which = [(name, events[f"{name}_distance"]) for name in ("observed", "predicted")
             if events[f"{name}_beyond_trust"]]
    if not which:
        return None
    said = ", ".join(f"{name} event at displacement {d:.3g}" for name, d in which)
    return (f"the linearisation left before the event: the run's curvature departed by "
            f"{trust['trust_fraction']:.0%} at displacement r = {trust['trust_radius']:.3g} "
            f"(step {trust['left_at_step']}), below the {said}")


def _lsq(cell: tuple[float, float, int, int, int, int]) -> dict[str, Any]:
    from numerics.apps.diagnose import diagnose
    from numerics.apps.examples import outliers

    alpha, eta, br, bf, seed, steps = cell
    model, r, f = outliers.problem()
    rep = diagnose(model, outliers.half_squares, r, f, _options(
        alpha=alpha, eta=eta, batch_retain=br, batch_forget=bf, seed=seed, unlearn_steps=steps))
    return _row(f"least squares alpha={alpha} eta={eta} B=({br},{bf}) seed={seed}", rep)


def _digits(cell: tuple[str, str, float]) -> dict[str, Any]:
    from numerics.apps.diagnose import diagnose
    from numerics.apps.examples import digits

    loss, kind, eta_rel = cell
    e = digits.make_entry(kind, loss=loss, **DIGITS)
    opts = _options(**{**e["options"], **DIGITS_RUN, "eta_rel": eta_rel, "seed": 0})
    rep = diagnose(e["model"], e["loss"], e["retain"], e["forget"], opts)
    return _row(f"digits {loss} {kind} eta_rel={eta_rel}", rep)


def _check(scale: str) -> CheckOutcome:
    level = "quick" if scale == "quick" else "default"
    rows = [_lsq(c) for c in LSQ_CELLS[level]] + [_digits(c) for c in DIGITS_CELLS[level]]
    compared = [r for r in rows if r["excluded"] is None]
    both = [r for r in compared if r["predicted"] is not None and r["observed"] is not None]
    # a cell where one side escapes and the other does not is a violation, never skipped
    one = [r for r in compared if (r["predicted"] is None) != (r["observed"] is None)]
    pred = np.array([r["predicted"] for r in both], dtype=float)
    obs = np.array([r["observed"] for r in both], dtype=float)
    res = np.array([r["resolution"] for r in both], dtype=float)
    for r in rows:
        if r["predicted"] is not None and r["observed"] is not None:
            r["ratio_observed_to_predicted"] = r["observed"] / max(r["predicted"], 1)
    c = Comparison(f"observed step in [predicted/{FACTOR:g}, {FACTOR:g} x predicted + "
                   "resolution]", np.stack([pred / FACTOR, FACTOR * pred + res]), obs)
    excluded = [{"cell": r["cell"], "reason": r["excluded"]} for r in rows
                if r["excluded"] is not None]
    return CheckOutcome([c], {"cells": rows, "factor": FACTOR, "digits": DIGITS,
                              "digits_run": DIGITS_RUN, "selection": SELECTION,
                              "excluded": excluded},
                        conditions={"both escape within the horizon, or neither": not one})


register(Claim(
    "C12.c", "diagnose's predicted steps to escape are within a factor 2 of its run's",
    r"on the cells where the linearisation holds (the event displacement, observed and "
    r"predicted, within the trust radius that diagnose measures along its run), the first "
    r"step $s_p$ at which the forced recursion's root-mean-square displacement reaches the "
    r"forget-loss level of the quadratic model, and the first recorded "
    r"step $s_o$ of that level in the real run, satisfy $s_p/2\le s_o\le2s_p+\mathrm{resolution}$",
    Kind.BRACKET, Notion.NONLINEAR, "SPEC §1.3 remark [D]; issue 12 §4", _check))
