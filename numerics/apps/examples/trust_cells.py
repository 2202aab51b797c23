r"""Cells of a trust study: a ``diagnose`` verdict, the real run, the exact linearised run.

One row per (:math:`\eta`, seed) of an example entry: the verdict (on the entry's route, and on
other routes when asked), the real unlearning run (outcome, forget loss, retain accuracy,
distance), the exact linearised run with the same batches (:func:`linear_run`) and the trust
radius of :mod:`numerics.apps.diagnose.trust`.  The worked examples
:mod:`numerics.apps.examples.softmax_digits` and :mod:`numerics.apps.examples.cnn_digits` write
their docs tables with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.func import grad, jvp, vmap

from numerics.core.inputs import InputError

__all__ = ["linear_run", "TrustStudy", "eta_star", "measure", "route_verdict", "cross_entropy",
           "check_digit_split", "digit_split"]


def cross_entropy(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy (``reduction='none'``), the loss of the digits trust examples."""
    return torch.nn.functional.cross_entropy(out, target, reduction="none")


def check_digit_split(per_class: int, digit: int) -> None:
    """``InputError`` unless ``2 <= per_class <= 150`` and ``digit`` is in ``0..9``."""
    if not 2 <= per_class <= 150:
        raise InputError(f"per_class must be in [2, 150], got {per_class}")
    if not 0 <= digit <= 9:
        raise InputError(f"digit must be in 0..9, got {digit}")


def digit_split(data: tuple[np.ndarray, np.ndarray], per_class: int, digit: int, seed: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``per_class`` seeded samples of each digit and the indices that keep / forget ``digit``.

    Parameters
    ----------
    data:
        ``(inputs, labels)`` of every sample.
    per_class, digit, seed:
        Samples per digit, the forgotten digit and the seed of the draw.

    Returns
    -------
    tuple
        ``(X, y, retain_idx, forget_idx)``: the drawn samples and the index tensors of the
        retained (label != digit) and forgotten (label == digit) ones.
    """
    Xall, yall = data
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.permutation(np.flatnonzero(yall == c))[:per_class]
                          for c in range(10)])
    y = yall[idx]
    return (torch.as_tensor(Xall[idx]), torch.as_tensor(y),
            torch.as_tensor(np.flatnonzero(y != digit)), torch.as_tensor(np.flatnonzero(y == digit)))


def linear_run(model: torch.nn.Module, loss: Callable, sets: tuple[Any, Any],
               weights: np.ndarray, eta: float) -> np.ndarray:
    r"""Displacements of the exact linearised (affine) run with the real run's batches.

    .. math:: \delta_{t+1}=\delta_t-\eta\sum_i\omega_{t,i}\big(g_i+H_i\delta_t\big),\quad
       \delta_0=0,

    with :math:`g_i` the exact per-sample gradients at :math:`w^\star` and :math:`H_i\delta_t`
    exact Hessian-vector products at :math:`w^\star` (forward-over-reverse ``torch.func``, float64
    as the model is): the gradient-difference step on the second-order expansion of every loss,
    forcing term included.  No per-sample matrix is formed, so any model size works.

    Parameters
    ----------
    model:
        The trained model at :math:`w^\star` (its trainable parameters are :math:`\theta`).
    loss:
        Per-sample loss ``loss(output, target) -> (n,)``.
    sets:
        ``((X_r, y_r), (X_f, y_f))``.
    weights:
        ``(K, n_r + n_f)`` per-step weights :math:`\omega_t`
        (:func:`numerics.apps.diagnose.unlearn.batch_weight_rows`).
    eta:
        Step size.

    Returns
    -------
    numpy.ndarray
        :math:`\|\delta_t\|` for :math:`t=1..K`.
    """
    from numerics.apps.diagnose.data import FlatModel

    flat = FlatModel(model)
    try:
        X = torch.cat([sets[0][0], sets[1][0]])
        y = torch.cat([sets[0][1], sets[1][1]])
        theta = flat.theta

        def one(th: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return loss(flat.single(th, x).unsqueeze(0), t.unsqueeze(0)).reshape(())

        G = vmap(grad(one), in_dims=(None, 0, 0))(theta, X, y)
        w = torch.as_tensor(np.asarray(weights), dtype=theta.dtype)
        Gw = w @ G  # (K, P): the forcing of every step
        delta = torch.zeros_like(theta)
        out = np.empty(w.shape[0])
        for t in range(w.shape[0]):  # the recursion itself is sequential
            sel = torch.nonzero(w[t]).reshape(-1)
            wt, Xt, yt = w[t, sel], X[sel], y[sel]

            def batch(th: torch.Tensor, wt=wt, Xt=Xt, yt=yt) -> torch.Tensor:
                return (wt * loss(flat.forward(th, Xt), yt)).sum()

            _, hv = jvp(grad(batch), (theta,), (delta,))
            delta = delta - eta * (Gw[t] + hv)
            out[t] = float(delta.norm())
    finally:
        flat.restore()
    return out


@dataclass(frozen=True)
class TrustStudy:
    """An example's entry and the diagnose options of its cells.

    Attributes
    ----------
    entry:
        The entry dict (``model, loss, retain, forget, options``).
    options:
        Flat diagnose options of every cell (``eta`` and ``seed`` are set per cell).
    routes:
        Curvature routes whose verdict is recorded beside the cell's own (``options['route']``).
    """

    entry: dict[str, Any]
    options: dict[str, Any]
    routes: tuple[str, ...] = ()

    def diagnose(self, **overrides: Any):
        """``diagnose`` of the entry with the study's options and ``overrides``."""
        from numerics.apps.diagnose import DiagnoseOptions, diagnose

        e = self.entry
        flat = {"prescribe": False, "steps_grid": 0, "progress": False, **self.options,
                **overrides}
        return diagnose(e["model"], e["loss"], e["retain"], e["forget"],
                        DiagnoseOptions.from_flat(flat))


def eta_star(study: TrustStudy, route: str | None = None) -> float | None:
    r""":math:`\eta^\star_{ms}` of the study's model on ``route`` (default: the study's own)."""
    rep = study.diagnose(eta=None, unlearn_steps=0,
                         **({} if route is None else {"route": route}))
    return rep.eta_star_ms


def route_verdict(study: TrustStudy, route: str, eta: float) -> dict[str, Any]:
    """The verdict of ``route`` at ``eta`` (no unlearning run): code, escapes, eta*_ms, lambda_min."""
    rep = study.diagnose(eta=eta, unlearn_steps=0, route=route)
    return {"verdict": rep.verdict_code, "escapes": rep.escapes, "eta*_ms": rep.eta_star_ms,
            "lambda_min(A)": rep.lambda_min_A, "route": rep.curvature_route}


def measure(study: TrustStudy, etas: Sequence[float], seeds: Sequence[int],
            star: float | None = None) -> list[dict[str, Any]]:
    r"""One row per (:math:`\eta`, seed): verdicts, real run, exact linearised run, trust radius.

    The linearised run is :func:`linear_run` with the real run's batches; "max departure" is the
    largest :math:`D(\theta_t)` over the kept steps (:mod:`numerics.apps.diagnose.trust`); the
    real run's distance at its event is the recorded distance at ``steps_to_escape_observed``.

    Parameters
    ----------
    study:
        The entry, its options and the extra routes.
    etas, seeds:
        The cells.
    star:
        :math:`\eta^\star_{ms}` of the study's route (computed when ``None``).

    Returns
    -------
    list of dict
        The rows (every column; a docs table prints a selection).
    """
    from numerics.apps.diagnose.unlearn import batch_weight_rows
    from numerics.core.inputs import UnlearningConfig

    e, o = study.entry, study.options
    star = eta_star(study) if star is None else star
    others = {(route, eta): route_verdict(study, route, eta) for route in study.routes
              for eta in etas}
    n_r, n_f = len(e["retain"][1]), len(e["forget"][1])
    rows = []
    for eta in etas:
        for seed in seeds:
            rep = study.diagnose(eta=eta, seed=seed)
            u, tr = rep.unlearning, rep.trust
            cfg = UnlearningConfig(o["alpha"], o["batch_retain"], o["batch_forget"])
            wts = np.stack(list(batch_weight_rows(np.random.default_rng(seed), cfg, n_r, n_f,
                                                  o["unlearn_steps"])))
            lin = linear_run(e["model"], e["loss"], (e["retain"], e["forget"]), wts, eta)
            at_event = [p["distance"] for p in u["trajectory"]
                        if p["step"] == u["steps_to_escape_observed"]]
            row = {"eta": eta, "eta/eta*_ms": eta / star, "seed": seed,
                   "verdict": rep.verdict_code}
            row.update({f"verdict ({r})": others[(r, eta)]["verdict"] for r in study.routes})
            row.update({"run": u["outcome"], "forget loss after": u["forget_loss_after"],
                        "max forget loss": max(p["forget_loss"] for p in u["trajectory"]),
                        "retain acc after": u["retain_acc_after"],
                        "steps to escape observed": u["steps_to_escape_observed"],
                        "distance at event": at_event[0] if at_event else None,
                        "real distance": u["parameter_distance"],
                        "linear distance (max)": float(lin.max()),
                        "distance checked": tr["distance_checked"],
                        "trust radius": tr["trust_radius"], "left at step": tr["left_at_step"],
                        "max departure": tr["max_departure"], "notes": list(rep.notes)})
            rows.append(row)
    return rows
