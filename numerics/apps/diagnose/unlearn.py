r"""Real (nonlinear) gradient-difference unlearning of any ``nn.Module`` (SPEC §1.2).

.. math:: \theta_{t+1}=\theta_t-\eta\big[(1-\alpha)\nabla\hat L_{r,t}(\theta_t)
   -\alpha\nabla\hat L_{f,t}(\theta_t)\big],

with minibatches of nominal sizes :math:`B_r, B_f` drawn independently at every step by the
sampling model; the loop (weights, update, divergence test) is
:func:`numerics.curvature.unlearning.gradient_difference_loop`, shared with the CNN experiments,
whose gradient is that network's analytic one; here it is the generic ``functional_call`` +
autograd on the trainable parameters, frozen ones held fixed.
Only the samples in the two batches are evaluated at each step.

**Escape criterion (nonlinear, generic).**  The run *escapes* when the mean forget loss reaches
the loss of the *uninformative predictor* on the forget targets: on average the forget samples are
then fitted no better than by a model that ignores its input.  For multi-class outputs
(``(n, C)`` logits, :math:`C>1`) the uninformative predictor is the uniform one, zero logits, whose
cross-entropy is exactly :math:`\log C`; otherwise it is the constant output :math:`\bar o`, the
mean output of :math:`\theta^\star` over the retain inputs (for a logistic loss with balanced labels
:math:`\bar o\approx0` and the level is :math:`\log2`, the CNN criterion of
:mod:`numerics.apps.cnn.unlearn`).  A run whose parameters become non-finite is reported as
``diverged`` (and escaped).

**Collapse.**  A run that drives the *retain* accuracy to chance (:math:`1/C`, or 1/2 for
:math:`\pm1` labels) destroyed the model rather than unlearning the forget set; its ``outcome`` is
``"collapse"``, never ``"resisted"``: retain accuracy after the run within
:data:`COLLAPSE_FRACTION` of the way from chance to its value before.

**When.**  ``steps_to_escape_observed`` is the first recorded step at which the forget loss reached
the level (``None`` when it did not within ``horizon`` = :math:`K` steps); the loss is recorded
every ``escape_resolution`` steps (about :data:`RECORDS` points), so the step is exact to that
resolution.  Notion: the real (nonlinear) run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from numerics.apps.diagnose.data import DataSet, FlatModel
from numerics.apps.diagnose.options import RunOptions
from numerics.core.inputs import UnlearningConfig
from numerics.core.progress import advance
from numerics.curvature.unlearning import (
    GradientDifferenceOptions,
    gradient_difference_loop,
    weight_chunks,
)

__all__ = ["UnlearnRun", "gradient_difference", "baseline_loss", "uninformative_level", "accuracy",
           "mean_loss", "chance_accuracy", "snapshot_steps", "COLLAPSE_FRACTION", "ESCAPE_EVENT"]

#: Points of the coarse trajectory kept in the record (about this many, evenly spaced).
RECORDS = 20
#: Retain accuracy within this fraction of the way from chance to its value before is a collapse.
COLLAPSE_FRACTION = 0.1
#: The event whose first step is reported (real nonlinear run).
ESCAPE_EVENT = "forget loss >= uninformative level (log C for C-class cross-entropy)"


@dataclass
class UnlearnRun:
    r"""Outcome of one run.

    Attributes
    ----------
    theta:
        Final trainable parameters (the last finite iterate when the run diverged).
    snapshots:
        The parameters after the steps of :func:`snapshot_steps` (those taken), by step.
    record:
        JSON-ready summary: losses and accuracies before/after, uninformative level, parameter
        distance, ``escaped``, ``diverged``, steps, and a coarse trajectory.
    """

    theta: torch.Tensor
    record: dict[str, Any]
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)


def snapshot_steps(steps: int) -> list[int]:
    r"""Steps at which the run keeps its parameters: :math:`1,2,4,\dots,2^j\le K`, and :math:`K`.

    A geometric schedule resolves both the first steps, where a large step size leaves the
    quadratic region, and the whole horizon, with :math:`\lfloor\log_2K\rfloor+2` copies of
    :math:`\theta` at most (:mod:`numerics.apps.diagnose.trust` measures the curvature there).
    """
    out = [2**j for j in range(max(int(steps), 1).bit_length()) if 2**j <= steps]
    return [*out, int(steps)] if steps >= 1 and out[-1] != steps else out


def mean_loss(flat: FlatModel, loss: Callable, theta: torch.Tensor, data: DataSet) -> float:
    """Mean per-sample loss of ``data`` at ``theta``."""
    with torch.no_grad():
        return float(loss(flat.forward(theta, data.inputs), data.targets).mean())


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float | None:
    """Classification accuracy when the outputs/targets look like a classification task."""
    with torch.no_grad():
        if outputs.ndim == 2 and outputs.shape[1] > 1:
            pred = outputs.argmax(dim=1)
            if not targets.is_floating_point() and targets.ndim == 1:
                return float((pred == targets).to(torch.float64).mean())
            if targets.is_floating_point() and targets.shape == outputs.shape:
                return float((pred == targets.argmax(dim=1)).to(torch.float64).mean())
            return None
        o = outputs.reshape(-1)
        t = targets.reshape(-1).to(o.dtype)
        if o.shape == t.shape and bool(((t == 1) | (t == -1)).all()):
            return float((torch.sign(o) == t).to(torch.float64).mean())
    return None


def baseline_loss(flat: FlatModel, loss: Callable, retain: DataSet, data: DataSet) -> float:
    r"""Mean loss on ``data`` of the constant predictor :math:`\bar o` (mean retain output)."""
    with torch.no_grad():
        mean_out = flat.forward(flat.theta, retain.inputs).mean(dim=0, keepdim=True)
        out = mean_out.expand(data.n, *mean_out.shape[1:])
        return float(loss(out, data.targets).mean())


def uninformative_level(flat: FlatModel, loss: Callable, retain: DataSet,
                        data: DataSet) -> tuple[float, str]:
    r"""Mean loss on ``data`` of the uninformative predictor, and which predictor it is.

    Multi-class outputs (``(n, C)``, :math:`C>1`): the uniform predictor (zero logits; for
    cross-entropy the level is exactly :math:`\log C`).  Otherwise the constant mean retain output
    :func:`baseline_loss`.
    """
    with torch.no_grad():
        out = flat.forward(flat.theta, data.inputs[:1])
        if out.ndim == 2 and out.shape[1] > 1:
            zeros = torch.zeros((data.n, out.shape[1]), dtype=out.dtype, device=out.device)
            return float(loss(zeros, data.targets).mean()), "uniform (zero logits)"
    return baseline_loss(flat, loss, retain, data), "constant mean retain output"


def chance_accuracy(flat: FlatModel, data: DataSet) -> float | None:
    """Accuracy of guessing: :math:`1/C` for ``(n, C)`` outputs, 1/2 for a single output."""
    with torch.no_grad():
        out = flat.forward(flat.theta, data.inputs[:1])
    if out.ndim == 2 and out.shape[1] > 1:
        return 1.0 / out.shape[1]
    return 0.5


def _acc(flat: FlatModel, theta: torch.Tensor, data: DataSet) -> float | None:
    with torch.no_grad():
        return accuracy(flat.forward(theta, data.inputs), data.targets)


#: Bytes of batch weights drawn at a time: runs whose weights fit are drawn in one piece (the
#: same stream as ever); longer ones in chunks of this size, so memory does not grow with K.
WEIGHT_CHUNK_BYTES = 64 * 2**20


def batch_weight_rows(rng: np.random.Generator, cfg: UnlearningConfig, n_retain: int,
                      n_forget: int, steps: int) -> Iterator[np.ndarray]:
    r"""The per-step weights :math:`\omega_t` (length :math:`n_r+n_f`), streamed.

    The step is :math:`-\eta\sum_i\omega_{t,i}\nabla\ell_i` with
    :math:`\omega_t=[(1-\alpha)\,w^r_t,\ -\alpha\,w^f_t]`.  Retain and forget weights of a chunk
    of steps are drawn one after the other (:func:`~numerics.curvature.unlearning.weight_chunks`);
    a run of at most
    ``WEIGHT_CHUNK_BYTES / (8 (n_r + n_f))`` steps is one chunk.

    Parameters
    ----------
    rng:
        The run's generator.
    cfg:
        Validated configuration (``alpha``, batch sizes, sampling).
    n_retain, n_forget:
        Set sizes.
    steps:
        :math:`K`.

    Returns
    -------
    Iterator[numpy.ndarray]
        One row per step.
    """
    chunk = max(1, WEIGHT_CHUNK_BYTES // (8 * (n_retain + n_forget)))
    for wr, wf in weight_chunks(rng, cfg, (n_retain, n_forget), steps, chunk):
        yield from np.concatenate([wr, wf], axis=1)


def gradient_difference(flat: FlatModel, loss: Callable, retain: DataSet, forget: DataSet,
                        config: UnlearningConfig, eta: float, *, run: RunOptions | None = None,
                        test: DataSet | None = None) -> UnlearnRun:
    r"""Run :math:`K=` ``run.unlearn_steps`` steps of gradient-difference unlearning from :math:`\theta^\star`.

    ``run.init_noise`` starts from :math:`\theta^\star+\epsilon\|\theta^\star\|\,z/\sqrt P` with a
    seeded standard normal :math:`z` (the "generic :math:`\delta_0`" of SPEC §1.5; useful when
    every per-sample gradient vanishes at :math:`\theta^\star`, where :math:`\delta_0=0` is an
    unstable fixed point that never moves).

    Parameters
    ----------
    flat, loss:
        The model as a function of its flat trainable parameters, and the per-sample loss.
    retain, forget, test:
        The data sets (``test`` optional: its accuracy before and after).
    config:
        :math:`\alpha`, the batch sizes and their sampling (checked against the set sizes).
    eta:
        The step size :math:`\eta`.
    run:
        ``unlearn_steps`` (:math:`K \ge 1`), ``seed`` (batches and start) and ``init_noise``
        (default :class:`~numerics.apps.diagnose.options.RunOptions`: 200 steps, seed 0, no noise).

    Returns
    -------
    UnlearnRun
        Final parameters and the JSON record (losses, accuracies, ``escaped``, trajectory).
    """
    ro = RunOptions() if run is None else run
    opts = GradientDifferenceOptions(eta, config, ro.unlearn_steps, ro.seed,
                                     stop_when_nonfinite=True).validated(retain.n, forget.n)
    cfg, eta, K, seed, init_noise = opts.config, opts.eta, opts.steps, ro.seed, ro.init_noise
    alpha, sampling, br, bf = cfg.alpha, cfg.sampling, cfg.batch_retain, cfg.batch_forget
    rows = batch_weight_rows(np.random.default_rng(seed), cfg, retain.n, forget.n, K)
    X = torch.cat([retain.inputs, forget.inputs])
    T = torch.cat([retain.targets, forget.targets])
    theta0 = flat.theta.clone()
    theta = theta0.clone()
    if init_noise > 0:
        gen = torch.Generator(device="cpu").manual_seed(int(seed) + 1)
        z = torch.randn(theta.shape, generator=gen, dtype=torch.float64).to(theta)
        theta = theta + init_noise * theta0.norm() * z / np.sqrt(theta.numel())
    before = {"forget_loss": mean_loss(flat, loss, theta0, forget),
              "retain_loss": mean_loss(flat, loss, theta0, retain),
              "forget_acc": _acc(flat, theta0, forget), "retain_acc": _acc(flat, theta0, retain)}
    level, predictor = uninformative_level(flat, loss, retain, forget)
    every = max(1, K // RECORDS)
    traj: list[dict[str, float]] = []
    keep = set(snapshot_steps(K))
    snapshots: dict[int, torch.Tensor] = {}

    def gradient(_t: int, theta: torch.Tensor) -> torch.Tensor:  # called for t = 0, 1, ... in order
        row = next(rows)
        idx = np.flatnonzero(row)  # only the samples of the two batches are evaluated
        sel = torch.as_tensor(idx, device=X.device)
        w = torch.as_tensor(row[idx], dtype=theta.dtype, device=theta.device)
        th = theta.detach().requires_grad_(True)
        obj = (w * loss(flat.forward(th, X[sel]), T[sel])).sum()
        (g,) = torch.autograd.grad(obj, th)
        return g.detach()

    def observe(taken: int, theta: torch.Tensor) -> None:
        advance()  # one step, counted by the running phase's progress bar
        if taken in keep:
            snapshots[taken] = theta.detach().clone()
        if taken % every == 0 or taken == K:
            traj.append({"step": taken, "forget_loss": mean_loss(flat, loss, theta, forget),
                         "distance": float((theta - theta0).norm())})

    out = gradient_difference_loop(theta, gradient, opts, observe)
    theta, taken, diverged = out.theta, out.steps_taken, out.diverged
    f_after = mean_loss(flat, loss, theta, forget)
    if not np.isfinite(f_after):
        diverged = True
    escaped = bool(diverged or (np.isfinite(f_after) and f_after >= level))
    hit = [p["step"] for p in traj if p["forget_loss"] >= level]
    observed = hit[0] if hit else (taken + 1 if diverged else None)
    r_before, r_after = before["retain_acc"], _acc(flat, theta, retain)
    chance = chance_accuracy(flat, retain) if r_before is not None else None
    collapsed = bool(r_after is not None and chance is not None and r_before > chance
                     and r_after - chance <= COLLAPSE_FRACTION * (r_before - chance))
    outcome = ("diverged" if diverged else "collapse" if collapsed
               else "escaped" if escaped else "resisted")
    record = {
        "steps": K, "steps_taken": taken, "eta": eta, "alpha": alpha, "batch_retain": br,
        "batch_forget": bf, "sampling": sampling, "seed": int(seed), "init_noise": init_noise,
        "forget_loss_before": before["forget_loss"], "forget_loss_after": f_after,
        "retain_loss_before": before["retain_loss"],
        "retain_loss_after": mean_loss(flat, loss, theta, retain),
        "forget_acc_before": before["forget_acc"], "forget_acc_after": _acc(flat, theta, forget),
        "retain_acc_before": r_before, "retain_acc_after": r_after,
        "uninformative_forget_loss": level, "uninformative_predictor": predictor,
        "chance_retain_accuracy": chance, "collapsed": collapsed, "outcome": outcome,
        "escape_event": ESCAPE_EVENT, "horizon": K, "escape_resolution": every,
        "steps_to_escape_observed": observed,
        "parameter_distance": float((theta - theta0).norm()),
        "relative_parameter_distance": float((theta - theta0).norm() / theta0.norm()),
        "diverged": diverged,
        "escaped": escaped,
        "trajectory": traj,
    }
    if test is not None:
        record["test_acc_before"] = _acc(flat, theta0, test)
        record["test_acc_after"] = _acc(flat, theta, test)
    return UnlearnRun(theta.detach(), record, snapshots)
