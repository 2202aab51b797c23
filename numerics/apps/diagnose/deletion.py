r"""The deletion standard: retrain from scratch without the forget set and measure distances.

A reviewer of the paper objected that when every per-sample curvature is aligned with the rest,
removing a sample does not change the solution, so *by the deletion standard* the model is
already "unlearned" although the coherence lens calls it resistant.  This module makes the
comparison measurable.  With the user's training function ``train(inputs, targets, seed) ->
model`` (same seed and schedule as the original), it retrains on the retain set only and reports,
between the original :math:`\theta^\star`, the retrained :math:`\theta^{\rm re}` and (when a run
was made) the unlearned :math:`\theta^{\rm un}`:

* parameter distance :math:`\|\theta_a-\theta_b\|_2` (trainable parameters), and relative to
  :math:`\|\theta^\star\|`;
* function distance :math:`d_S(a,b)=\frac1{|S|}\sum_{x\in S}\|g(f_a(x))-g(f_b(x))\|_2^2` on the
  retain, forget and (when given) test inputs, where :math:`g` is the entry's ``output_map``
  (identity by default; a softmax compares the predicted probabilities of a classifier, whose
  logits have an arbitrary scale); for classifiers also the arg-max disagreement rate.

**Deletion standard met by the original** (``already_met``): the original is as close to the
retrained model on the forget inputs as it is on held-out inputs,
:math:`d_F(\star,{\rm re})\le\kappa\,d_{\rm ref}(\star,{\rm re})` with the reference set the test
inputs (the retain inputs when no test set is given) and :math:`\kappa=` :data:`KAPPA`.  Then
retraining would not change what the model does on the forget set beyond the change it makes on
data it never saw: there is nothing specific to remove, and "resists" is harmless.

Parameter distances between independently trained networks are not meaningful across
permutation symmetries; with the *same seed and schedule* they measure how far the deletion moved
the training trajectory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from numerics.apps.diagnose.data import DataSet, FlatModel
from numerics.core.inputs import InputError

__all__ = ["KAPPA", "retrain", "function_distance", "disagreement", "deletion_report",
           "interpret"]

#: Tolerance factor of the "already met" rule.
KAPPA = 2.0
#: Relative and absolute tolerances under which two function distances count as the same.
SAME_RTOL = 1e-6
SAME_ATOL = 1e-24


def retrain(train: Callable[..., torch.nn.Module], retain: DataSet, seed: int,
            flat: FlatModel) -> torch.Tensor:
    """Call ``train(inputs, targets, seed)`` on the retain set; its trainable parameters, flat."""
    try:
        model = train(retain.inputs, retain.targets, seed)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 -- the user's train() may raise anything
        raise InputError(f"the entry's train(inputs, targets, seed) failed: "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"train(inputs, targets, seed) must return a torch.nn.Module, got "
                         f"{type(model).__name__}")
    named = {n: p for n, p in model.named_parameters()}
    missing = [n for n in flat.names if n not in named]
    if missing:
        raise InputError(f"the retrained model lacks parameter(s) {missing[:3]}: train must build "
                         "the same architecture as the analysed model")
    bad = [n for n, s in zip(flat.names, flat.shapes, strict=True) if named[n].shape != s]
    if bad:
        raise InputError(f"the retrained model's parameter {bad[0]} has shape "
                         f"{tuple(named[bad[0]].shape)}, expected "
                         f"{tuple(flat.shapes[flat.names.index(bad[0])])}")
    theta = torch.cat([named[n].detach().reshape(-1) for n in flat.names])
    return theta.to(device=flat.theta.device, dtype=flat.theta.dtype)


def function_distance(flat: FlatModel, theta_a: torch.Tensor, theta_b: torch.Tensor,
                      data: DataSet, output_map: Callable | None = None) -> float:
    r""":math:`\frac1{|S|}\sum_{x\in S}\|g(f_a(x))-g(f_b(x))\|_2^2` with ``output_map`` :math:`g`."""
    g = output_map or (lambda o: o)
    with torch.no_grad():
        d = g(flat.forward(theta_a, data.inputs)) - g(flat.forward(theta_b, data.inputs))
        return float((d.reshape(data.n, -1) ** 2).sum(dim=1).mean())


def disagreement(flat: FlatModel, theta_a: torch.Tensor, theta_b: torch.Tensor,
                 data: DataSet) -> float | None:
    """Fraction of inputs whose arg-max output differs (classifiers with several outputs)."""
    with torch.no_grad():
        oa, ob = flat.forward(theta_a, data.inputs), flat.forward(theta_b, data.inputs)
    if oa.ndim != 2 or oa.shape[1] < 2:
        return None
    return float((oa.argmax(dim=1) != ob.argmax(dim=1)).to(torch.float64).mean())


def deletion_report(flat: FlatModel, retain: DataSet, forget: DataSet, test: DataSet | None,
                    theta_retrained: torch.Tensor, theta_unlearned: torch.Tensor | None,
                    output_map: Callable | None = None) -> dict[str, Any]:
    """Parameter and function distances among original, retrained and unlearned models.

    ``output_map`` (e.g. a softmax) is applied to the outputs before the function distance;
    for classifiers the arg-max disagreement is reported too.
    """
    models = {"original": flat.theta, "retrained": theta_retrained}
    if theta_unlearned is not None:
        models["unlearned"] = theta_unlearned
    sets = {"retain": retain, "forget": forget}
    if test is not None:
        sets["test"] = test
    pairs = [("original", "retrained")]
    if theta_unlearned is not None:
        pairs += [("unlearned", "retrained"), ("unlearned", "original")]
    norm = float(flat.theta.norm()) or 1.0
    out: dict[str, Any] = {"parameter_distance": {}, "relative_parameter_distance": {},
                           "function_distance": {}, "disagreement": {},
                           "output_map": getattr(output_map, "__name__", None)
                           if output_map is not None else "identity"}
    for a, b in pairs:
        key = f"{a}-{b}"
        dp = float((models[a] - models[b]).norm())
        out["parameter_distance"][key] = dp
        out["relative_parameter_distance"][key] = dp / norm
        out["function_distance"][key] = {
            s: function_distance(flat, models[a], models[b], d, output_map)
            for s, d in sets.items()}
        out["disagreement"][key] = {s: disagreement(flat, models[a], models[b], d)
                                    for s, d in sets.items()}
    ref = "test" if test is not None else "retain"
    fd = out["function_distance"]["original-retrained"]
    out["reference_set"] = ref
    out["kappa"] = KAPPA
    out["forget_over_reference"] = fd["forget"] / fd[ref] if fd[ref] > 0 else (
        0.0 if fd["forget"] == 0 else float("inf"))
    out["already_met"] = bool(fd["forget"] <= KAPPA * fd[ref])
    if theta_unlearned is not None:
        fu = out["function_distance"]["unlearned-retrained"]
        scale = max(fu["forget"], fd["forget"], fd[ref], fu[ref])
        if abs(fu["forget"] - fd["forget"]) <= SAME_RTOL * scale or scale < SAME_ATOL:
            out["unlearned_vs_original_on_forget"] = "same"
        else:
            out["unlearned_vs_original_on_forget"] = ("closer" if fu["forget"] < fd["forget"]
                                                      else "farther")
        out["unlearned_meets_standard"] = bool(fu["forget"] <= KAPPA * max(fd[ref], fu[ref]))
    return out


def interpret(verdict_escapes: bool | None, every_eta: bool, deletion: dict[str, Any]) -> str:
    """One paragraph setting the coherence verdict beside the deletion standard."""
    met = deletion["already_met"]
    if every_eta or verdict_escapes:
        lens = "escapes (ascent is not neutralised)"
    elif verdict_escapes is None:
        lens = "resists below eta*"
    else:
        lens = "resists (pulled back to the trained minimum)"
    ref = deletion.get("reference_set", "test")
    if met and not (every_eta or verdict_escapes):
        msg = ("The two standards disagree in name but not in substance: the coherence lens says "
               f"the model {lens}, and by the deletion standard it is already unlearned "
               "(retraining without the forget set changes its forget outputs no more than its "
               f"outputs on the {ref} inputs). Resisting is harmless here.")
    elif met:
        msg = (f"The lens says the model {lens}, but by the deletion standard it is already "
               "unlearned: escaping would move it away from a point that retraining would "
               "essentially reproduce (needless damage).")
    elif every_eta or verdict_escapes:
        msg = (f"Both standards say there is something to remove; the lens says the model "
               f"{lens}. Escaping is necessary but not sufficient: compare the unlearned model's "
               "distance to the retrained one.")
    else:
        msg = (f"The standards agree that unlearning is needed and the lens says the model "
               f"{lens}: gradient difference at this configuration will not reach the retrained "
               "model; see the prescriptions.")
    moved = deletion.get("unlearned_vs_original_on_forget")
    if moved is not None:
        msg += {"closer": " The unlearning run moved the forget outputs towards the retrained "
                          "model's.",
                "farther": " The unlearning run moved the forget outputs away from the "
                           "retrained model's.",
                "same": " The unlearning run left the forget outputs where they were."}[moved]
    return msg
