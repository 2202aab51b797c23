r"""Claim C12.c: ``diagnose``'s predicted steps to escape against its own unlearning run.

``steps_to_escape_predicted`` (:mod:`numerics.apps.diagnose.forecast`: mean-square, the forced
affine recursion from :math:`\delta_0=0`, the forget-loss level read through the quadratic model)
is compared with ``steps_to_escape_observed``, the first recorded step at which the real run's
forget loss reaches its uninformative level.  The run records its loss every ``escape_resolution``
steps, so the observed step :math:`s_o` is the true one rounded up to that grid; the claim is

.. math:: s_p/F\ \le\ s_o\ \le\ F\,s_p+\text{resolution},\qquad F=\texttt{FACTOR}=2,

on every cell where the linearisation holds (a bracket, judged by the policy's ``bracket`` rule).

Cells, and why the linearisation holds there:

* **least squares with outliers** (:mod:`numerics.apps.examples.outliers`): a linear model with a
  squared loss has a constant Hessian, so the run *is* the affine recursion and the forget loss
  *is* its quadratic model; with full batches the run is deterministic and the prediction exact
  (up to the recording grid); with minibatches the run is one realisation of the recursion whose
  mean square is predicted;
* **digits, squared loss** (:mod:`numerics.apps.examples.digits` with ``loss="mse"``, a ReLU MLP
  on one-hot targets, mislabeled forget samples): the loss is quadratic in the outputs and the
  event is close to :math:`w^\star` (forget loss 0.33 against the uninformative 0.5), so the run
  stays where the curvature at :math:`w^\star` describes it.

Not covered, measured as evidence at the default scale: **digits with cross-entropy**.  There the
event is :math:`\log 10=2.30` against a forget loss of 0.002--0.19 at :math:`w^\star`, a 10- to
1000-fold rise of the loss that the quadratic model of a cross-entropy minimum does not carry, and
the prediction has no consistent direction: on the example's own configuration
(``DigitsConfig()``, P = 334, K = 400, :math:`\eta_{rel}` 0.4--3) it comes early, 3--15
predicted steps against 20--60 observed; at this claim's small configuration it comes late, 24
and 11 predicted against at most 10 observed (the run's first record).

Measured (default scale): least squares 141/160, 71/80, 140/140, 140/160, 211/240
(predicted/observed, resolution 20); digits squared loss 135/140, 61/40, 7/10 (resolution 10).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, register
from numerics.verify.claims.policy import Kind, Notion

#: The stated factor between predicted and observed steps.
FACTOR = 2.0

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
    u = rep.unlearning
    return {"cell": name, "predicted": rep.steps_to_escape_predicted,
            "observed": rep.steps_to_escape_observed, "resolution": u["escape_resolution"],
            "horizon": u["horizon"], "forget_loss_before": u["forget_loss_before"],
            "level": u["uninformative_forget_loss"], "outcome": u["outcome"]}


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
    compared = [r for r in rows if not r["cell"].startswith("digits ce")]
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
    return CheckOutcome([c], {"cells": rows, "factor": FACTOR, "digits": DIGITS,
                              "digits_run": DIGITS_RUN},
                        conditions={"both escape within the horizon, or neither": not one})


register(Claim(
    "C12.c", "diagnose's predicted steps to escape are within a factor 2 of its run's",
    r"where the linearisation holds (least squares: exactly; digits with a squared loss: near "
    r"$w^\star$), the first step $s_p$ at which the forced recursion's root-mean-square "
    r"displacement reaches the forget-loss level of the quadratic model, and the first recorded "
    r"step $s_o$ of that level in the real run, satisfy $s_p/2\le s_o\le2s_p+\mathrm{resolution}$",
    Kind.BRACKET, Notion.NONLINEAR, "SPEC §1.3 remark [D]; issue 12 §4", _check))
