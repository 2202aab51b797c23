r"""Which curvature route ``--route auto`` takes, and why (the report's ``curvature.route_reason``).

The choice uses the size of the model and of the sets and the kind of loss:

* :math:`P\le` :data:`SUBSPACE_MIN_P` -- the materialised routes of
  :func:`~numerics.apps.diagnose.route.choose_route`: the dense exact Hessians when their
  :math:`nP^2` floats fit the budget, else the Gauss--Newton factors (:math:`nPC` floats), else
  (neither fits) the matrix-free subspace route, whose memory does not grow with :math:`nP`.
* :math:`P>` :data:`SUBSPACE_MIN_P` -- the matrix-free subspace route
  (:mod:`numerics.apps.diagnose.subspace_route`), on Gauss--Newton--vector products when the loss
  is cross-entropy-like (``subspace-ggn``) and on Hessian--vector products otherwise
  (``subspace``).

The kind of loss is read from its curvature in the model output,
:math:`\Lambda_i=\nabla^2_f\ell(f_i,t_i)`, on a few samples (:func:`loss_kind`):

``quadratic``
    :math:`\Lambda_i` the same at every sample (mean squared error): the Gauss--Newton matrix
    omits only the residual term, and the Hessian route is used.
``cross-entropy``
    :math:`\Lambda_i\succeq0` varying with the output (softmax or logistic cross-entropy).  Its
    minimum lies at infinite weights on separable data, so a trained network sits on a slope and
    its exact Hessian carries a little negative curvature from unfinished training (the term
    :math:`\sum_c\partial_{f_c}\ell_i\nabla^2_\theta f_c`, proportional to the output residual);
    on a model too large for the dense route that cannot be told apart from the data's, so the
    PSD Gauss--Newton curvature is analysed.  On the dense route the report measures it instead
    (:mod:`numerics.apps.diagnose.noise`).
``not-convex``
    some :math:`\Lambda_i` has a negative eigenvalue: the Gauss--Newton matrix is not PSD and
    only the Hessian routes apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import hessian, vmap

from numerics.apps.diagnose.data import DataSet, FlatModel
from numerics.apps.diagnose.route import DENSE_MAX_P, ROUTES, VMAP_HINT, choose_route
from numerics.core.inputs import InputError

__all__ = ["SUBSPACE_MIN_P", "LOSS_KINDS", "RouteRequest", "RouteChoice", "loss_kind",
           "select_route"]

#: Above this many trainable parameters ``--route auto`` takes the matrix-free subspace route.
#: Measured with ``diagnose`` (prescriptions on, no unlearning run or deletion check) on the
#: digits cross-entropy MLP 16-h-10 (200 samples, 12 random forget samples, alpha = 0.1,
#: eta = 0.4 * 2/lambda_max, B_r = 16, B_f = 4) on one thread of the shared 2-core CPU under a
#: load average of 7-13; wall seconds, dense exact route / subspace route (Hessian):
#: h = 2, P = 64: 16.3 / 43.6; h = 4, P = 118: 83.9 / 85.7; h = 8, P = 226: 409 / 228.  The
#: dense route's time grows with its active dimension (35, 87, 165 here), the subspace route's
#: with the Lanczos solves on k = 16 directions; they cross at P of about 120, and the constant
#: sits between the measured sizes (the same verdict at all three,
#: lambda_min(A) within 2e-8 relative).
SUBSPACE_MIN_P = 150

#: Kinds of loss told apart by :func:`loss_kind`.
LOSS_KINDS: tuple[str, ...] = ("quadratic", "cross-entropy", "not-convex")
#: Samples whose output curvature is inspected.
PROBE_SAMPLES = 8
#: Relative tolerance (to the largest output curvature) of the kind tests.
PROBE_RTOL = 1e-10


@dataclass(frozen=True)
class RouteRequest:
    """The requested route and the sizes the choice depends on (one field each, below)."""

    #: One of :data:`~numerics.apps.diagnose.route.ROUTES`.
    route: str
    #: Trainable parameters.
    P: int
    #: Samples of both sets.
    n: int
    #: Model outputs per sample.
    C: int
    #: Memory for the per-sample curvature, bytes.
    budget_bytes: float


@dataclass(frozen=True)
class RouteChoice:
    """The route taken (``dense``, ``ggn``, ``subspace`` or ``subspace-ggn``) and why."""

    route: str
    reason: str
    loss_kind: str | None = None

    @property
    def curvature_kind(self) -> str:
        """``gauss-newton`` for the Gauss-Newton routes, else ``hessian``."""
        return "gauss-newton" if self.route in ("ggn", "subspace-ggn") else "hessian"


def loss_kind(flat: FlatModel, loss: Callable, data: DataSet) -> str:
    r"""Kind of the loss (:data:`LOSS_KINDS`) from :math:`\Lambda_i` on the first samples.

    Parameters
    ----------
    flat, loss:
        The model at :math:`\theta^\star` and the per-sample loss.
    data:
        A set; its first :data:`PROBE_SAMPLES` samples are inspected.

    Returns
    -------
    str
        ``quadratic``, ``cross-entropy`` or ``not-convex`` (module docstring).
    """
    x, t = data.inputs[:PROBE_SAMPLES], data.targets[:PROBE_SAMPLES]
    with torch.no_grad():
        shape = flat.single(flat.theta, x[0]).shape
        out = vmap(lambda xi: flat.single(flat.theta, xi).reshape(-1))(x)

    def of_output(o: torch.Tensor, ti: torch.Tensor) -> torch.Tensor:
        return loss(o.reshape(shape).unsqueeze(0), ti.unsqueeze(0)).reshape(())

    try:
        lam = vmap(hessian(of_output))(out, t).detach()
    except RuntimeError as exc:
        raise InputError(VMAP_HINT.format(err=str(exc).splitlines()[0])) from None
    lam = 0.5 * (lam + lam.transpose(1, 2))
    ev = torch.linalg.eigvalsh(lam)
    scale = float(ev.abs().max())
    if not scale > 0 or float(ev.min()) < -PROBE_RTOL * scale:
        return "not-convex"
    spread = float((lam - lam[:1]).abs().max())
    return "quadratic" if spread <= PROBE_RTOL * scale else "cross-entropy"


def _gib(b: float) -> str:
    return f"{b / 2**30:.3g} GiB"


def select_route(req: RouteRequest, kind: Callable[[], str]) -> RouteChoice:
    """The route for ``req`` (module docstring), with the reason stated in the report.

    Parameters
    ----------
    req:
        :class:`RouteRequest`.
    kind:
        Returns the :func:`loss_kind` (called only when the choice depends on it).

    Returns
    -------
    RouteChoice
        Route, reason and (when read) the loss kind.
    """
    key = str(req.route).lower()
    if key not in ROUTES:
        raise InputError(f"unknown curvature route {req.route!r}; expected one of "
                         f"{', '.join(ROUTES)}")
    if key != "auto":
        return RouteChoice(key, f"requested (--route {key})")
    P, n, C, budget = req.P, req.n, req.C, req.budget_bytes
    dense_b, ggn_b = 8.0 * n * P * P, 8.0 * n * P * C
    if P <= SUBSPACE_MIN_P:
        try:
            mat = choose_route("auto", P, n, C, budget)
        except InputError:
            mat = None
        if mat == "dense":
            return RouteChoice("dense", f"P = {P} <= {SUBSPACE_MIN_P} parameters and the exact "
                               f"per-sample Hessians ({_gib(dense_b)}) fit the budget "
                               f"({_gib(budget)}): dense exact route")
        if mat == "ggn":
            why = (f"the exact per-sample Hessians need {_gib(dense_b)}" if P <= DENSE_MAX_P
                   else f"P = {P} > {DENSE_MAX_P}")
            return RouteChoice("ggn", f"P = {P} <= {SUBSPACE_MIN_P} parameters but {why} "
                               f"(budget {_gib(budget)}): materialised Gauss-Newton factors "
                               f"({_gib(ggn_b)})")
        size = (f"P = {P} <= {SUBSPACE_MIN_P} parameters, but neither the exact Hessians "
                f"({_gib(dense_b)}) nor the Gauss-Newton factors ({_gib(ggn_b)}) of the "
                f"{n} samples fit the budget ({_gib(budget)})")
    else:
        size = (f"P = {P} > {SUBSPACE_MIN_P} parameters (above it the dense route's operator "
                "on an active subspace of dimension about P is slower than the Lanczos "
                "subspace; measured threshold)")
    lk = kind()
    if lk == "cross-entropy":
        return RouteChoice("subspace-ggn", f"{size}; cross-entropy-like loss (output curvature "
                           "PSD and varying with the output): matrix-free subspace route on "
                           "Gauss-Newton-vector products, which leave out the negative "
                           "curvature of unfinished training", lk)
    what = ("quadratic loss (the Gauss-Newton matrix would only drop the residual term)"
            if lk == "quadratic" else "loss not convex in the model output (the Gauss-Newton "
            "matrix is not PSD)")
    return RouteChoice("subspace", f"{size}; {what}: matrix-free subspace route on exact "
                       "Hessian-vector products", lk)
