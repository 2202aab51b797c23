r"""How far the linearisation at :math:`\theta^\star` can be trusted along the real unlearning run.

Every verdict of ``diagnose`` is a statement about the linearised recursion
:math:`\delta\leftarrow(I-\eta A_t)\delta`, with :math:`A_t` the curvature at :math:`\theta^\star`.
It describes the real run only while the curvature the run meets stays close to that one.  This
module measures it: at the parameters :math:`\theta_t` that the run kept
(:func:`~numerics.apps.diagnose.unlearn.snapshot_steps`), the **curvature departure**

.. math:: D(\theta)=\frac{\|A(\theta)-A(\theta^\star)\|_2}{\|A(\theta^\star)\|_2},\qquad
   A(\theta)=(1-\alpha)\,\bar H_r(\theta)-\alpha\,\bar H_f(\theta),

with :math:`\bar H_r,\bar H_f` the mean *exact* Hessians of the retain and forget sets (the sets
the criterion analysed), computed by Lanczos on Hessian-vector products (forward-over-reverse
``torch.func``; no per-sample matrix is formed).  By Weyl's inequality every eigenvalue of
:math:`A(\theta)` lies within :math:`D(\theta)\,\|A(\theta^\star)\|_2` of the corresponding one
at :math:`\theta^\star`; in particular :math:`\eta\lambda_{\max}` can grow by the factor
:math:`1+D` where :math:`\lambda_{\max}(A^\star)=\|A^\star\|_2`, which moves the step-size
boundary by up to :math:`1/(1+D)`.

The **trust radius** at fraction :math:`f` (``trust_fraction``) is the smallest displacement
:math:`\|\theta_t-\theta^\star\|` among the kept points whose departure reached :math:`f`,

.. math:: r_f=\min\{\|\theta_t-\theta^\star\|:\ D(\theta_t)\ge f\},

and the run *left the trust region* at the first kept step with :math:`D\ge f`.  When no kept
point reached :math:`f`, :math:`r_f` is not known (``None``) and the largest displacement checked
is a lower bound for it.  Notion: the real (nonlinear) run, measured at the kept steps; a
"resists" verdict whose run left the trust region within its horizon is a local statement only
(it holds for perturbations smaller than :math:`r_f`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from numerics.apps.diagnose.data import DataSet, FlatModel
from numerics.apps.diagnose.subspace_route import sample_functions
from numerics.core.inputs import InputError
from numerics.curvature.matrix_free import MatrixFreeCurvature

__all__ = ["TRUST_FRACTION", "TrustOptions", "CurvatureDeparture", "trust_region", "trust_text",
           "measure_trust", "DEFINITION", "beyond_trust", "event_distances", "event_text"]

#: Default departure fraction f of the trust radius.
TRUST_FRACTION = 0.5
#: Stated in the report beside the numbers.
DEFINITION = ("trust_radius = smallest |theta_t - theta*| among the run's kept steps (1, 2, 4, "
              "..., K) at which D = ||A(theta_t) - A(theta*)||_2 / ||A(theta*)||_2 >= "
              "trust_fraction, A = (1-alpha) mean H_retain - alpha mean H_forget (exact "
              "Hessians, by Lanczos on Hessian-vector products)")


@dataclass(frozen=True)
class TrustOptions:
    r"""Fraction :math:`f` of the trust radius and the Lanczos solve of :math:`\|\cdot\|_2`.

    Attributes
    ----------
    fraction:
        :math:`f>0`: the departure at which the run is said to have left the trust region.
    tol:
        Relative residual at which the Lanczos solve stops.
    seed:
        Seed of the Lanczos start vector.
    """

    fraction: float = TRUST_FRACTION
    tol: float = 1e-4
    seed: int = 0

    def validated(self) -> TrustOptions:
        """Checked copy (``InputError`` on a fraction that is not a positive finite number)."""
        f = float(self.fraction)
        if not math.isfinite(f) or f <= 0:
            raise InputError(f"trust_fraction must be a positive number, got {self.fraction}")
        return self


#: Most Lanczos steps of one spectral-norm solve (the Krylov space is also capped at P).
MAX_LANCZOS = 200


def _spectral_norm(mv: Callable[[np.ndarray], np.ndarray], P: int, opts: TrustOptions) -> float:
    r""":math:`\|M\|_2` of the symmetric map ``mv``: Lanczos with full reorthogonalisation.

    Stops when the residual :math:`\beta_k|s_{k,j}|` of the largest-magnitude Ritz pair is below
    ``opts.tol`` times its Ritz value, or when the Krylov space is invariant (:math:`\beta_k=0`:
    then the Ritz values are exact; :math:`M=0` gives 0).
    """
    v = np.random.default_rng(opts.seed).standard_normal(P)
    Q = np.zeros((P, min(P, MAX_LANCZOS)))
    Q[:, 0] = v / np.linalg.norm(v)
    alphas: list[float] = []
    betas: list[float] = []
    top = 0.0
    for k in range(Q.shape[1]):
        w = np.asarray(mv(Q[:, k]), dtype=np.float64)
        alphas.append(float(Q[:, k] @ w))
        w = w - Q[:, : k + 1] @ (Q[:, : k + 1].T @ w)  # full reorthogonalisation, twice
        w = w - Q[:, : k + 1] @ (Q[:, : k + 1].T @ w)
        beta = float(np.linalg.norm(w))
        T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        theta, S = np.linalg.eigh(T)
        j = int(np.argmax(np.abs(theta)))
        top = float(abs(theta[j]))
        scale = max(top, float(np.abs(alphas).max()), np.finfo(float).tiny)
        if beta <= 1e-14 * scale or beta * abs(S[-1, j]) <= opts.tol * max(top, 1e-300):
            return top
        if k + 1 < Q.shape[1]:
            Q[:, k + 1] = w / beta
            betas.append(beta)
    return top


class CurvatureDeparture:
    r""":math:`D(\theta)` of the module docstring for one model, loss, pair of sets and :math:`\alpha`.

    Parameters
    ----------
    flat, loss:
        The model at :math:`\theta^\star` and the per-sample loss.
    sets:
        ``(retain, forget)`` data sets whose mean Hessians make :math:`A`.
    alpha:
        The mixing weight :math:`\alpha`.
    options:
        :class:`TrustOptions`.
    """

    def __init__(self, flat: FlatModel, loss: Callable, sets: tuple[DataSet, DataSet],
                 alpha: float, options: TrustOptions | None = None) -> None:
        self.flat, self.loss, self.sets = flat, loss, sets
        self.alpha = float(alpha)
        self.options = (TrustOptions() if options is None else options).validated()
        self.fns = sample_functions(flat, loss, sets[0].inputs[0])
        self.theta_star = flat.theta.detach()
        self._star = self._curvature(self.theta_star)
        #: :math:`\|A(\theta^\star)\|_2`.
        self.norm_star = _spectral_norm(self._matvec(self._star, None), flat.P, self.options)

    def _curvature(self, theta: torch.Tensor) -> tuple[MatrixFreeCurvature, ...]:
        r, f = self.sets
        return tuple(MatrixFreeCurvature(self.fns, theta, (d.inputs, d.targets), "hessian")
                     for d in ((r, f) if self.alpha > 0 else (r,)))

    def _apply(self, curv: tuple[MatrixFreeCurvature, ...], V: torch.Tensor) -> torch.Tensor:
        out = (1.0 - self.alpha) * curv[0].mean_matvec(V)
        if len(curv) > 1:
            out = out - self.alpha * curv[1].mean_matvec(V)
        return out

    def _matvec(self, curv: tuple[MatrixFreeCurvature, ...],
                minus: tuple[MatrixFreeCurvature, ...] | None) -> Callable[[np.ndarray], np.ndarray]:
        theta = self.theta_star
        P = self.flat.P

        def mv(v: np.ndarray) -> np.ndarray:
            V = torch.as_tensor(np.asarray(v).reshape(P, -1), dtype=theta.dtype,
                                device=theta.device)
            out = self._apply(curv, V)
            if minus is not None:
                out = out - self._apply(minus, V)
            return out.cpu().numpy().reshape(np.shape(v))

        return mv

    def __call__(self, theta: torch.Tensor) -> float:
        r""":math:`D(\theta)` (``nan`` when :math:`\theta` is not finite; ``inf`` when :math:`A^\star=0`)."""
        if not bool(torch.isfinite(theta).all()):
            return math.nan
        diff = _spectral_norm(self._matvec(self._curvature(theta.detach()), self._star),
                              self.flat.P, self.options)
        if self.norm_star == 0.0:
            return math.inf if diff > 0 else 0.0
        return diff / self.norm_star


def trust_region(departure: CurvatureDeparture, snapshots: dict[int, torch.Tensor],
                 horizon: int) -> dict[str, Any]:
    r"""The trust radius of the run whose kept parameters are ``snapshots`` (module docstring).

    Parameters
    ----------
    departure:
        :class:`CurvatureDeparture` at :math:`\theta^\star`.
    snapshots:
        Step :math:`\to\theta_t` (:attr:`~numerics.apps.diagnose.unlearn.UnlearnRun.snapshots`).
    horizon:
        The run's :math:`K`.

    Returns
    -------
    dict
        ``trust_radius`` (:math:`r_f`, ``None`` when no kept point reached :math:`f`),
        ``trust_fraction``, ``left_at_step`` (first kept step with :math:`D\ge f`, or ``None``),
        ``distance_checked`` (largest displacement with :math:`D<f` before leaving),
        ``max_departure`` (NaN propagates), ``curvature_norm_at_start``
        (:math:`\|A(\theta^\star)\|_2`), ``path`` (step, distance, departure), ``horizon``,
        ``definition`` and ``notion``.
    """
    f = float(departure.options.fraction)
    star = departure.theta_star
    path = []
    for step in sorted(snapshots):
        theta = snapshots[step]
        path.append({"step": int(step), "distance": float((theta - star).norm()),
                     "departure": departure(theta)})
    if not path:
        raise InputError("the trust radius needs the parameters of at least one step of the run")
    deps = np.array([p["departure"] for p in path], dtype=np.float64)
    dist = np.array([p["distance"] for p in path], dtype=np.float64)
    out_idx = np.flatnonzero(~(deps < f))  # NaN counts as out: an unmeasurable point is not trusted
    left = int(out_idx[0]) if out_idx.size else None
    inside = dist[: left if left is not None else len(path)]
    return {
        "trust_radius": float(dist[out_idx].min()) if out_idx.size else None,
        "trust_fraction": f,
        "left_at_step": None if left is None else path[left]["step"],
        "distance_at_left": None if left is None else path[left]["distance"],
        "distance_checked": float(inside.max()) if inside.size else 0.0,
        "max_departure": float(np.max(deps)),  # np.max propagates NaN
        "curvature_norm_at_start": departure.norm_star,
        "parameter_norm_at_start": float(star.norm()),
        "horizon": int(horizon),
        "path": path,
        "definition": DEFINITION,
        "notion": "real (nonlinear) run at the kept steps; curvature of the exact Hessians",
    }


def trust_text(trust: dict[str, Any], verdict_code: str) -> str:
    """One sentence for the text report: how far the linear prediction holds along the run."""
    f = trust["trust_fraction"]
    if trust["left_at_step"] is None:
        return (f"the curvature stayed within {f:.0%} of its value at w* along the whole run "
                f"(largest departure {trust['max_departure']:.3g}, displacement up to "
                f"{trust['distance_checked']:.3g}): the linear prediction holds over the run's "
                f"{trust['horizon']} steps")
    text = (f"the linear prediction is trustworthy while the parameters move less than "
            f"r = {trust['trust_radius']:.3g} (curvature ||A(theta) - A(w*)|| within {f:.0%} "
            f"of ||A(w*)|| = {trust['curvature_norm_at_start']:.3g}); the run left that region "
            f"at step {trust['left_at_step']} of {trust['horizon']} (|theta - w*| = "
            f"{trust['distance_at_left']:.3g}, largest departure {trust['max_departure']:.3g})")
    if verdict_code == "resists_below":
        text += ("; the verdict 'resists' is a local statement only: it holds for perturbations "
                 "smaller than r, and this run went beyond")
    return text


def beyond_trust(trust: dict[str, Any], distance: float | None) -> bool | None:
    r"""Whether an event at displacement ``distance`` from :math:`w^\star` lies beyond the trust radius.

    ``True`` when the run left the trust region at a smaller displacement
    (:math:`d>r_f`): the linearisation stopped holding before the event; ``False`` when the run
    was measured inside the region at least that far (:math:`d\le` ``distance_checked``);
    ``None`` when neither is known (no event, a non-finite distance, or :math:`d` between the
    displacement checked and :math:`r_f`).
    """
    if distance is None or not math.isfinite(distance):
        return None
    if trust["trust_radius"] is not None and distance > trust["trust_radius"]:
        return True
    if distance <= trust["distance_checked"]:
        return False
    return None


def event_distances(trust: dict[str, Any], predicted: float | None,
                    run: dict[str, Any]) -> dict[str, Any]:
    r"""The predicted and the observed escape event against the trust radius.

    Parameters
    ----------
    trust:
        :func:`trust_region`'s record.
    predicted:
        Predicted displacement at the predicted event (mean-square, the radius :math:`r_t` of
        :mod:`numerics.apps.diagnose.forecast`), ``None`` without a predicted event.
    run:
        The unlearning run's record (its ``trajectory`` holds the displacement at every recorded
        step, the observed event's step among them).

    Returns
    -------
    dict
        ``predicted_distance``, ``predicted_beyond_trust``, ``observed_distance`` (the run's
        displacement at ``steps_to_escape_observed``; ``None`` when it did not escape or the
        event step was not recorded) and ``observed_beyond_trust`` (:func:`beyond_trust`).
    """
    step = run.get("steps_to_escape_observed")
    seen = [p["distance"] for p in run.get("trajectory", []) if p["step"] == step]
    observed = seen[0] if step is not None and seen else None
    return {"predicted_distance": predicted,
            "predicted_beyond_trust": beyond_trust(trust, predicted),
            "observed_distance": observed,
            "observed_beyond_trust": beyond_trust(trust, observed)}


def event_text(trust: dict[str, Any], predicted_steps: int | None) -> str | None:
    """A note when the predicted escape event lies beyond the trust radius (else ``None``)."""
    ev = trust.get("events", {})
    if not ev.get("predicted_beyond_trust"):
        return None
    return (f"steps_to_escape_predicted = {predicted_steps} lies beyond the trust radius: the "
            f"predicted event is at |theta - w*| = {ev['predicted_distance']:.3g}, and the run "
            f"left the linearisation's trust region at r = {trust['trust_radius']:.3g}; the "
            "prediction extrapolates the curvature at w* past where the run measured it to hold")


def measure_trust(flat: FlatModel, loss: Callable, sets: tuple[DataSet, DataSet], alpha: float,
                  snapshots: dict[int, torch.Tensor], horizon: int,
                  options: TrustOptions | None = None) -> dict[str, Any]:
    r""":func:`trust_region` of a run from :math:`\theta^\star` (``flat.theta``) over ``sets``.

    Parameters
    ----------
    flat, loss, sets, alpha:
        As for :class:`CurvatureDeparture`.
    snapshots, horizon:
        As for :func:`trust_region`.
    options:
        :class:`TrustOptions`.

    Returns
    -------
    dict
        :func:`trust_region`'s record.
    """
    return trust_region(CurvatureDeparture(flat, loss, sets, alpha, options), snapshots, horizon)
