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
* function distance :math:`d_S(a,b)=\frac1{|S|}\sum_{x\in S}\|f_a(x)-f_b(x)\|_2^2` on the retain,
  forget and (when given) test inputs.

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

from numerics.diagnose.data import DataSet, FlatModel
from numerics.inputs import InputError

__all__ = ["KAPPA", "retrain", "function_distance", "deletion_report", "interpret"]

#: Tolerance factor of the "already met" rule.
KAPPA = 2.0


def retrain(train: Callable[..., torch.nn.Module], retain: DataSet, seed: int,
            flat: FlatModel) -> torch.Tensor:
    """Call ``train(inputs, targets, seed)`` on the retain set; its trainable parameters, flat."""
    try:
        model = train(retain.inputs, retain.targets, seed)
    except InputError:
        raise
    except Exception as exc:
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
                      data: DataSet) -> float:
    r""":math:`\frac1{|S|}\sum_{x\in S}\|f_a(x)-f_b(x)\|_2^2`."""
    with torch.no_grad():
        d = flat.forward(theta_a, data.inputs) - flat.forward(theta_b, data.inputs)
        return float((d.reshape(data.n, -1) ** 2).sum(dim=1).mean())


def deletion_report(flat: FlatModel, retain: DataSet, forget: DataSet, test: DataSet | None,
                    theta_retrained: torch.Tensor, theta_unlearned: torch.Tensor | None,
                    ) -> dict[str, Any]:
    """Parameter and function distances among original, retrained and unlearned models."""
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
                           "function_distance": {}}
    for a, b in pairs:
        key = f"{a}-{b}"
        dp = float((models[a] - models[b]).norm())
        out["parameter_distance"][key] = dp
        out["relative_parameter_distance"][key] = dp / norm
        out["function_distance"][key] = {s: function_distance(flat, models[a], models[b], d)
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
        out["unlearned_closer_on_forget"] = bool(fu["forget"] < fd["forget"])
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
    if met and not (every_eta or verdict_escapes):
        msg = ("The two standards disagree in name but not in substance: the coherence lens says "
               f"the model {lens}, and by the deletion standard it is already unlearned "
               "(retraining without the forget set changes its forget outputs no more than its "
               "outputs on held-out data). Resisting is harmless here.")
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
    closer = deletion.get("unlearned_closer_on_forget")
    if closer is not None:
        msg += (" The unlearning run moved the forget outputs "
                + ("towards" if closer else "away from")
                + " the retrained model's.")
    return msg
