r"""``diagnose``: does gradient-difference unlearning escape for *this* model and forget set.

Given a trained model, a per-sample loss, a retain set and a forget set, :func:`diagnose`

1. computes per-sample curvature at the trained weights by the best exact route the model
   allows (:mod:`numerics.apps.diagnose.route`), with a progress bar;
2. reduces it to the active subspace :math:`V` (:func:`numerics.curvature.hessians.reduce_to_active`);
3. evaluates the exact mean-square criterion of SPEC §2.3 (:mod:`numerics.apps.diagnose.criterion`):
   :math:`\lambda_{\min}(A|_V)` and its witness, :math:`\eta^\star_{ms}`, :math:`\rho(\mathcal
   T(\eta))`, and the coherences σ_r, σ_f, σ_rf, σ_joint (SPEC §3);
4. states a verdict -- "escapes at every step size", "escapes above η = …" or "resists below
   η = …" -- and prescriptions that change it, each re-checked by the exact criterion
   (:mod:`numerics.apps.diagnose.prescribe`);
5. optionally runs the actual unlearning (:mod:`numerics.apps.diagnose.unlearn`) and the deletion
   check against a model retrained without the forget set (:mod:`numerics.apps.diagnose.deletion`).

:func:`diagnose_curvature` runs steps 3--4 from per-sample curvature given directly (factors or
Hessians), e.g. for the synthetic families of SPEC §4.

Notion: every stability statement is **mean-square** (the spectral radius of the second-moment
operator); it predicts the asymptotic behaviour of the linearised dynamics.  "Escapes" means the
linearised iterates leave :math:`\theta^\star` (unlearning moves the model), "resists" that they
are pulled back.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from numerics.apps.diagnose.criterion import Criterion, Point
from numerics.apps.diagnose.data import (
    FlatModel,
    as_dataset,
    check_disjoint,
    check_loss,
    subsample,
)
from numerics.apps.diagnose.deletion import deletion_report, interpret, retrain
from numerics.apps.diagnose.event_map import MapRequest, refined_map
from numerics.apps.diagnose.forecast import LossLevel, projected_gradients
from numerics.apps.diagnose.memory import (
    WORKING_COPIES,
    LaterNeeds,
    LaterPlan,
    plan_later_phases,
    working_budget,
)
from numerics.apps.diagnose.noise import HESSIAN_ROUTES, attribute, noise_level, noise_note
from numerics.apps.diagnose.options import (
    DEFAULT_BATCH,
    DiagnoseOptions,
    PrescriptionOptions,
    UnlearningOptions,
)
from numerics.apps.diagnose.prescribe import ALPHA_RTOL, REPORT_TOL, prescribe, steps_map
from numerics.apps.diagnose.route import DEFAULT_BUDGET_GB, compute_curvature
from numerics.apps.diagnose.route_choice import RouteRequest, loss_kind, select_route
from numerics.apps.diagnose.spread import spreading
from numerics.apps.diagnose.stationary import STATIONARY_TOL, stationarity
from numerics.apps.diagnose.subspace_route import (
    RouteMemory,
    SubspaceTarget,
    boundary_note,
    restricted_pools,
    subspace_curvature,
)
from numerics.apps.diagnose.trust import (
    TrustOptions,
    event_distances,
    event_text,
    measure_trust,
    trust_text,
)
from numerics.apps.diagnose.unlearn import gradient_difference
from numerics.apps.diagnose.within import StepsModel, WithinOptions, budgeted
from numerics.core.device import gpu_memory_cap, resolve_device, resolve_dtype, thread_limit
from numerics.core.forcing import Forcing
from numerics.core.inputs import (
    InputError,
    UnlearningConfig,
    check_batch,
    check_eta,
)
from numerics.core.pools import CurvaturePool, make_pool
from numerics.core.progress import PhaseClock, PhaseSpec, progress_enabled
from numerics.curvature.coherence import Coherence, coherence, coherence_dense
from numerics.curvature.hessians import out_of_span_fraction, reduce_to_active

__all__ = ["DiagnoseReport", "diagnose", "diagnose_curvature", "REPORT_KEYS",
           "DEFAULT_BATCH"]

#: Keys every JSON report carries.
REPORT_KEYS: tuple[str, ...] = (
    "verdict", "verdict_code", "escapes", "eta", "rho", "rho_converged", "eta_star_ms", "escapes_at_every_eta",
    "lambda_min_A", "lambda_max_A", "alpha_c", "sigma_r", "sigma_f", "sigma_rf", "sigma_joint",
    "curvature_route", "curvature", "prescription", "prescriptions", "config", "active_dim",
    "out_of_span_forget", "witness_summary", "region", "unlearning", "deletion", "standards",
    "notes", "timings", "escape_event", "horizon", "steps_to_escape_predicted",
    "steps_to_escape_observed", "subspace_dim", "subspace_tolerance", "peak_memory_gb",
    "trust_radius", "trust", "route_reason", "negative_curvature",
    "predicted_event_beyond_trust",
)
#: Mean-square growth factor used for the finite-horizon step count (the companion rule's 1000).
GROWTH = 1000.0
#: Curvature (relative to the largest) below which a direction of :math:`V` is treated as flat:
#: its growth or decay per step is below this fraction, i.e. inert over any feasible horizon, and
#: float64 cannot resolve :math:`A` there anyway.  Singular values of the factors are cut at the
#: square root.
FLAT_RTOL = 1e-12


def _reduce(fr: Any, ff: Any) -> tuple[Any, int]:
    """Active-subspace reduction with the flat-direction cut; also the number of flat ones cut."""
    red = reduce_to_active(fr, ff, rtol=math.sqrt(FLAT_RTOL), keep_basis=True)
    sv = red.singular_values
    flat = int(((sv > 1e-10 * sv[0]) & (sv <= math.sqrt(FLAT_RTOL) * sv[0])).sum())
    return red, flat


@dataclass
class DiagnoseReport:
    r"""What :func:`diagnose` found; :meth:`as_dict` is the JSON report.

    When: ``escape_event`` names the event of the real (nonlinear) unlearning run (forget loss
    reaching its uninformative level, :math:`\log C` for :math:`C`-class cross-entropy),
    ``horizon`` its number of steps :math:`K`, ``steps_to_escape_observed`` the first recorded step
    of that event in the run (``None``: not within :math:`K`); ``steps_to_escape_predicted`` is
    the mean-square prediction of that step from the affine recursion started at
    :math:`\delta_0=0` (:mod:`numerics.apps.diagnose.forecast`; ``None``: not within :math:`K`,
    the reason in ``notes``).  ``region.event_map`` holds that prediction over an
    :math:`(\alpha,\eta)` grid (the figure's contours; :mod:`numerics.apps.diagnose.event_map`);
    ``region.steps_map`` holds the mean-square steps to a 1000-fold growth of
    :math:`\mathbb E\|\delta\|^2` on the same ranges (a different event, named there).

    The main attributes mirror the JSON keys (:data:`REPORT_KEYS`); ``witness`` (the unit
    eigenvector of :math:`\lambda_{\min}(A|_V)` in parameter coordinates) and
    ``coherence_matrix`` (the joint :math:`S`, retain block first) are arrays kept out of the
    JSON unless asked for.
    """

    verdict: str
    verdict_code: str
    escapes: bool | None
    eta: float | None
    rho: float | None
    rho_converged: bool | None
    eta_star_ms: float | None
    escapes_at_every_eta: bool
    lambda_min_A: float
    lambda_max_A: float
    alpha_c: float
    sigma_r: float
    sigma_f: float | None
    sigma_rf: float | None
    sigma_joint: float
    curvature_route: str
    curvature: dict[str, Any]
    prescriptions: list[dict[str, Any]]
    config: dict[str, Any]
    active_dim: int
    out_of_span_forget: float
    witness_summary: dict[str, Any]
    region: dict[str, Any]
    unlearning: dict[str, Any] | None = None
    deletion: dict[str, Any] | None = None
    standards: str | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    witness: np.ndarray | None = field(default=None, repr=False)
    coherence_matrix: np.ndarray | None = field(default=None, repr=False)
    n_retain_block: int = 0
    escape_event: str | None = None
    horizon: int | None = None
    steps_to_escape_predicted: int | None = None
    #: Predicted displacement at the predicted event (``trust['events']`` compares it with the
    #: trust radius).
    predicted_event_distance: float | None = None
    steps_to_escape_observed: int | None = None
    #: Peak resident memory of the process when the report was made (``ru_maxrss``), GiB.
    peak_memory_gb: float | None = None
    #: How far the linearisation holds along the run (:mod:`numerics.apps.diagnose.trust`).
    trust: dict[str, Any] | None = None

    #: The exact Hessian's negative curvature against the training noise, with the Gauss-Newton
    #: verdict when below it (:mod:`numerics.apps.diagnose.noise`); ``None`` when
    #: :math:`\lambda_{\min}(A|_V)\ge0` or the route is not an exact-Hessian one.
    negative_curvature: dict[str, Any] | None = None

    @property
    def predicted_event_beyond_trust(self) -> bool | None:
        """Whether ``steps_to_escape_predicted``'s event lies beyond the trust radius (``trust``).

        ``True``: the run left the trust region at a smaller displacement than the predicted
        event's, so the prediction extrapolates past where the linearisation was measured to hold;
        ``None``: not known (no predicted event, or no run).
        """
        return None if self.trust is None else self.trust["events"]["predicted_beyond_trust"]

    @property
    def trust_radius(self) -> float | None:
        """Displacement at which the run's curvature departed from w*'s (``trust``), or None."""
        return None if self.trust is None else self.trust["trust_radius"]

    @property
    def route_reason(self) -> str | None:
        """Why this curvature route was taken (``--route auto`` states the sizes and the loss)."""
        return self.curvature.get("route_reason")

    @property
    def subspace_dim(self) -> int | None:
        """Dimension k of the Lanczos subspace (``matrix-free`` route), else ``None``."""
        return self.curvature.get("subspace_dim")

    @property
    def subspace_tolerance(self) -> float | None:
        """Last relative change of lambda_min(A), rho, eta*_ms as k grew (``matrix-free``)."""
        return self.curvature.get("subspace_tolerance")

    @property
    def prescription(self) -> str:
        """The prescriptions whose re-check flipped the verdict, as one text."""
        texts = [p["text"] for p in self.prescriptions
                 if p.get("check", {}).get("flips") or p["relation"] == "none"]
        return "; ".join(texts)

    def as_dict(self, include_arrays: bool = False) -> dict[str, Any]:
        """The JSON report (arrays only with ``include_arrays``)."""
        out = {k: getattr(self, k) for k in REPORT_KEYS}
        if include_arrays:
            out["witness"] = None if self.witness is None else self.witness.tolist()
            out["coherence_matrix"] = (None if self.coherence_matrix is None
                                       else self.coherence_matrix.tolist())
        return out


def _verdict(p: Point) -> tuple[str, str]:
    if p.escapes_at_every_eta:
        return ("escapes_at_every_eta",
                f"escapes at every step size (lambda_min(A|V) = {p.lambda_min_A:.4g} <= 0: "
                "ascent on the forget set is not neutralised by descent on the retain set)")
    if p.neutral:
        return "neutral", (f"neutral at every step size (lambda_min(A|V) = {p.lambda_min_A:.4g} "
                           "with no batch noise along its witness: rho(T) = 1 for every eta, "
                           "that component neither grows nor decays; no step size is "
                           "mean-square stable)")
    es = p.eta_star_ms
    if p.eta is None:
        return "resists_below", f"resists below eta = {es:.6g} (escapes above it)"
    rho = "" if p.rho is None else f", rho(T) = {p.rho:.6g}"
    if p.escapes:
        return ("escapes_above", f"escapes above eta = {es:.6g}: at eta = {p.eta:.6g} it "
                f"escapes{rho}")
    return ("resists_below", f"resists below eta = {es:.6g}: at eta = {p.eta:.6g} it "
            f"resists{rho}")


def _witness_summary(crit: Criterion, esc_witness: np.ndarray, top: int = 5) -> dict[str, Any]:
    r"""Which samples carry the witness direction :math:`v`: shares of :math:`v^\top H_iv`."""
    out: dict[str, Any] = {}
    for name, pool in (("retain", crit.retain), ("forget", crit.forget)):
        q = pool.quadratic_forms(esc_witness[:, None])[:, 0]  # v^T H_i v, signs included
        total = float(np.abs(q).sum()) or 1.0
        order = np.argsort(-np.abs(q))[:top]
        out[f"{name}_curvature_along_witness"] = float(q.sum() / pool.n)
        out[f"top_{name}_samples"] = [{"index": int(i), "share": float(q[i] / total)}
                                      for i in order]
    return out


def _prescription_solves(crit: Criterion, grid_size: int) -> int:
    """Estimated criterion solves of :func:`prescribe` (the progress bar's total).

    The alpha grid, the alpha bisection to its relative precision, an integer bisection per batch
    size and the re-checks (two solves each).
    """
    bisect_alpha = math.ceil(math.log2(1.0 / ALPHA_RTOL))
    batches = (math.ceil(math.log2(max(crit.n_retain, 2)))
               + math.ceil(math.log2(max(crit.n_forget, 2))))
    return int(grid_size + bisect_alpha + batches + 2 * 5)


def _analyse(crit: Criterion, un: UnlearningOptions, cfg: dict[str, Any],
             pres_opts: PrescriptionOptions, clock: PhaseClock, ms_map: bool = True
             ) -> dict[str, Any]:
    """Verdict, prescriptions and region for a criterion (shared by both entry points).

    Phases (timed by ``clock``): ``operator`` (the criterion at the user's point),
    ``prescribe`` (prescriptions, or the critical alpha alone) and ``steps_map`` (the
    mean-square map; with ``ms_map=False`` only its range, ``region.map_span``, for the map of
    the run's event that replaces it).
    """
    lam_r = float(np.linalg.eigvalsh(crit.mean_retain)[-1])
    alpha, batch_retain, batch_forget = cfg["alpha"], cfg["batch_retain"], cfg["batch_forget"]
    eta = un.eta
    if un.eta_rel is not None:
        eta = check_eta(un.eta_rel * 2.0 / lam_r)
    with clock.phase(PhaseSpec("operator", "second-moment operator (eta*_ms, rho)", 2, "solve")):
        cur = crit.point(alpha, batch_retain, batch_forget, eta, REPORT_TOL)
    code, text = _verdict(cur)
    if pres_opts.prescribe:
        spec = PhaseSpec("prescribe", "prescriptions",
                         _prescription_solves(crit, pres_opts.grid_size), "solve")
        with clock.phase(spec):
            pres, region, alpha_c, how = prescribe(crit, cur, grid_size=pres_opts.grid_size)
    else:
        with clock.phase(PhaseSpec("prescribe", "critical alpha")):
            alpha_c, how = crit.alpha_c()
        pres, region = [], {"alpha": [], "eta_star": [], "alpha_c": alpha_c}
    region.update({"alpha_c_method": how, "user_alpha": alpha, "user_eta": eta,
                   "lambda_max_retain_mean": lam_r})
    if pres_opts.steps_grid > 0:
        finite = [v for v in region.get("eta_star", []) if v is not None]
        top = 1.3 * max([*finite, *([eta] if eta else []), cur.eta_star_ms or 0.0]
                        or [2.0 / lam_r])
        top = top if top > 0 else 2.0 / lam_r
        low = top / 30.0 if not eta else min(top / 30.0, eta / 2.0)  # the user's eta inside
        region["map_span"] = [low, top]
    esc = crit.mean_escape(alpha, batch_retain, batch_forget)
    growth = None
    if cur.rho is not None and cur.rho > 1.0:
        growth = math.log(GROWTH) / math.log(cur.rho)
    if ms_map:
        _ms_map(crit, cur, region, (pres_opts.steps_grid, growth), clock)
    return {"point": cur, "code": code, "text": text, "prescriptions": pres, "region": region,
            "alpha_c": alpha_c, "witness_reduced": esc.witness, "eta": eta,
            "lambda_max_retain_mean": lam_r, "ms_growth_steps": growth}


def _ms_map(crit: Criterion, cur: Point, region: dict[str, Any],
            size_and_growth: tuple[int, float | None], clock: PhaseClock) -> None:
    """``region.steps_map``: mean-square steps to a 1000-fold growth on ``region.map_span``."""
    size, growth = size_and_growth
    if size <= 0 or "map_span" not in region:
        return
    spec = PhaseSpec("steps_map", "steps-to-escape map (mean-square)", size**2, "solve")
    with clock.phase(spec):
        region["steps_map"] = steps_map(crit, cur, tuple(region["map_span"]), size, GROWTH,
                                        float(region["alpha_c"]))
    region["steps_map"]["user_steps"] = growth  # at the user's point exactly (None: resists)


def _minimum_check(crit: Criterion) -> dict[str, Any]:
    r""":math:`\lambda_{\min}` of the mean training-set Hessian (retain and forget) on :math:`V`."""
    n_r, n_f = crit.n_retain, crit.n_forget
    H = (n_r * crit.mean_retain + n_f * crit.mean_forget) / (n_r + n_f)
    ev = np.linalg.eigvalsh(0.5 * (H + H.T))
    top = max(abs(ev[0]), abs(ev[-1]), np.finfo(float).tiny)
    return {"lambda_min": float(ev[0]), "lambda_max": float(ev[-1]),
            "relative": float(ev[0] / top), "is_minimum": bool(ev[0] >= -1e-10 * top)}


def _coherence_signed_safe(fr, ff, sr, sf) -> Coherence:
    """Coherence from factors; from dense Hessians when signed (the trace needs the signs)."""
    if sr is None and sf is None:
        return coherence(fr, ff, keep_matrices=True)
    return coherence_dense(make_pool(fr, sr, "retain").dense(), make_pool(ff, sf, "forget").dense(),
                           keep_matrices=True)


@dataclass(frozen=True)
class _Found:
    """What the curvature step found, besides the criterion: route, info, basis, out-of-span."""

    route: str
    info: dict[str, Any]
    basis: np.ndarray | None
    oos: float


def _report(crit: Criterion, res: dict[str, Any], coh: Coherence, found: _Found,
            config: dict[str, Any], notes: list[str], timings: dict[str, float]
            ) -> DiagnoseReport:
    route, curvature_info, basis, oos = found.route, found.info, found.basis, found.oos
    cur: Point = res["point"]
    if cur.rho_converged is False:
        notes.append("rho(T) did not converge to tolerance (many eigenvalues of T crowd at 1); "
                     "the value is a lower bound; the verdict uses eta*_ms, not rho")
    w_red = res["witness_reduced"]
    witness = w_red if basis is None else np.asarray(basis) @ w_red
    summary = _witness_summary(crit, w_red)
    if res["ms_growth_steps"] is not None:
        summary["ms_growth_steps_1000x"] = res["ms_growth_steps"]
    return DiagnoseReport(
        verdict=res["text"], verdict_code=res["code"], escapes=cur.escapes, eta=res["eta"],
        rho=cur.rho, rho_converged=cur.rho_converged, eta_star_ms=cur.eta_star_ms,
        escapes_at_every_eta=cur.escapes_at_every_eta,
        lambda_min_A=cur.lambda_min_A, lambda_max_A=cur.lambda_max_A, alpha_c=res["alpha_c"],
        sigma_r=coh.sigma_r, sigma_f=coh.sigma_f, sigma_rf=coh.sigma_rf,
        sigma_joint=coh.sigma_joint, curvature_route=route, curvature=curvature_info,
        prescriptions=[p.as_dict() for p in res["prescriptions"]], config=config,
        active_dim=crit.dim, out_of_span_forget=oos, witness_summary=summary,
        region=res["region"], notes=notes, timings=timings, witness=witness,
        coherence_matrix=coh.S_joint, n_retain_block=crit.n_retain)


def _config(un: UnlearningOptions, n_r: int, n_f: int) -> dict[str, Any]:
    """The unlearning configuration of the report, batch sizes checked against the set sizes."""
    s = un.sampling
    br = min(DEFAULT_BATCH, n_r) if un.batch_retain is None else un.batch_retain
    bf = min(DEFAULT_BATCH, n_f) if un.batch_forget is None else un.batch_forget
    return {"alpha": un.alpha, "batch_retain": check_batch(br, n_r, "retain", s),
            "batch_forget": check_batch(bf, n_f, "forget", s), "sampling": s,
            "n_retain": n_r, "n_forget": n_f}


def peak_memory_gb() -> float:
    """Peak resident memory of this process so far (``resource.getrusage``), GiB."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return float(rss) / (2**30 if sys.platform == "darwin" else 2**20)


def _curvature(flat: FlatModel, loss: Callable, sets: tuple[Any, Any], opts: DiagnoseOptions,
               cfg: dict[str, Any]) -> Any:
    """Per-sample curvature by the requested route (the subspace route needs the configuration)."""
    cv = opts.curvature
    budget_gb, cap = _route_budget(opts)
    cur = _route(flat, loss, sets, opts, cfg,
                 RouteMemory(budget_gb, cap, cv.memory_budget_gb))
    if cap is not None:
        cur.info.update(budget_gib=float(cv.memory_budget_gb), budget_scope="whole process",
                        working_budget_gib=cap / 2**30)
    return cur


def _route_budget(opts: DiagnoseOptions) -> tuple[float, float | None]:
    """GiB a route may size its work by, and the working budget in bytes (``None``: no cap)."""
    budget_gb = opts.curvature.memory_budget_gb
    if budget_gb is None:
        return DEFAULT_BUDGET_GB, None
    cap = working_budget(budget_gb)
    return cap / WORKING_COPIES / 2**30, cap


def _route(flat: FlatModel, loss: Callable, sets: tuple[Any, Any], opts: DiagnoseOptions,
           cfg: dict[str, Any], memory: RouteMemory) -> Any:
    """The route of :func:`~numerics.apps.diagnose.route_choice.select_route`, run with the budget."""
    cv, ro, un = opts.curvature, opts.run, opts.unlearning
    budget_gb = memory.budget_gb
    with torch.no_grad():
        C = int(flat.single(flat.theta, sets[0].inputs[0]).numel())
    req = RouteRequest(cv.route, flat.P, sets[0].n + sets[1].n, C, float(budget_gb) * 2**30)
    choice = select_route(req, lambda: loss_kind(flat, loss, sets[0]))
    if choice.route in ("subspace", "subspace-ggn"):
        target = SubspaceTarget(UnlearningConfig(cfg["alpha"], cfg["batch_retain"],
                                                 cfg["batch_forget"], cfg["sampling"]),
                                un.eta, un.eta_rel)
        cur = subspace_curvature(flat, loss, sets, target, memory=memory,
                                 progress=progress_enabled(ro.progress),
                                 kind=choice.curvature_kind)
    else:
        cur = compute_curvature(flat, loss, sets[0], sets[1], route=choice.route,
                                budget_gb=budget_gb, progress=progress_enabled(ro.progress),
                                seed=ro.seed)
    cur.info.update(requested=cv.route, route_reason=choice.reason)
    if choice.loss_kind is not None:
        cur.info["loss_kind"] = choice.loss_kind
    return cur


def _noise_check(flat: FlatModel, loss: Callable, sets: tuple[Any, Any], opts: DiagnoseOptions,
                 found: dict[str, Any]) -> dict[str, Any] | None:
    """:func:`_negative_curvature` and its note in ``found["notes"]``."""
    neg = _negative_curvature(flat, loss, sets, opts, found)
    if neg is not None and neg["below_noise"]:
        found["notes"].append(noise_note(neg))
    return neg


def _negative_curvature(flat: FlatModel, loss: Callable, sets: tuple[Any, Any],
                        opts: DiagnoseOptions, found: dict[str, Any]) -> dict[str, Any] | None:
    r"""The exact Hessian's :math:`\lambda_{\min}(A|_V)<0` against the training noise.

    ``found`` holds the report's ``route``, ``point`` (:class:`Point`), ``eta``, ``cfg``,
    ``gradient_norm`` and ``basis`` (the matrix-free route's ``P x k`` subspace, else ``None``).
    Below the noise, the same configuration is re-checked on the PSD Gauss--Newton curvature:
    materialised after ``dense``; after ``matrix-free``, restricted to the Hessian route's own
    subspace (:func:`~numerics.apps.diagnose.subspace_route.restricted_pools`: ``k`` Jacobian-
    vector products per sample, no new Krylov solve), which holds the Hessian's bottom
    eigenvectors, i.e. the directions whose negative curvature is in question.  There a
    negative Gauss--Newton :math:`\lambda_{\min}(A|_U)` is negative curvature of the full
    Gauss--Newton matrix (interlacing), so ``data`` is exact; ``training`` says the
    Gauss--Newton curvature is not negative on those directions.
    """
    cur: Point = found["point"]
    if found["route"] not in HESSIAN_ROUTES or not cur.lambda_min_A < 0.0:
        return None
    scale = max(abs(cur.lambda_min_A), abs(cur.lambda_max_A))
    entry = noise_level(cur.lambda_min_A, scale, found["gradient_norm"])
    if not entry["below_noise"]:
        return entry
    cfg = found["cfg"]
    on = {}
    try:
        if found.get("basis") is not None:
            pr, pf, g_info = restricted_pools(flat, loss, sets, found["basis"],
                                              kind="gauss-newton",
                                              budget_gb=_route_budget(opts)[0])
            g_route = g_info["route"]
            fr, ff = torch.as_tensor(pr.factors), torch.as_tensor(pf.factors)
            on = {"subspace": "the Hessian route's", "subspace_dim": g_info["subspace_dim"],
                  "products": g_info["products"]}
        else:
            g_opts = opts.replace_flat(route="ggn", progress=False)
            g = _curvature(flat, loss, sets, g_opts, cfg)
            g_route, fr, ff = g.route, g.retain, g.forget
    except InputError as exc:
        entry.update(ggn_unavailable=str(exc), attributed_to=attribute(entry))
        return entry
    red, _ = _reduce(fr, ff)
    crit = Criterion(make_pool(red.factors[0], None, "retain"),
                     make_pool(red.factors[1], None, "forget"), cfg["sampling"])
    pt = crit.point(cfg["alpha"], cfg["batch_retain"], cfg["batch_forget"], found["eta"],
                    REPORT_TOL)
    code, text = _verdict(pt)
    entry["ggn"] = {"route": g_route, **on, "verdict_code": code, "verdict": text,
                    "escapes_at_every_eta": pt.escapes_at_every_eta, "escapes": pt.escapes,
                    "eta": found["eta"], "eta_star_ms": pt.eta_star_ms, "rho": pt.rho,
                    "lambda_min_A": pt.lambda_min_A, "lambda_max_A": pt.lambda_max_A}
    entry["attributed_to"] = attribute(entry)
    return entry


def diagnose_curvature(retain: Any, forget: Any, options: DiagnoseOptions | None = None, *,
                       retain_signs: np.ndarray | None = None,
                       forget_signs: np.ndarray | None = None) -> DiagnoseReport:
    r"""The verdict and prescriptions from per-sample curvature given directly.

    Parameters
    ----------
    retain, forget:
        Factors ``(n, d, k)`` / rank-one ``(n, d)`` (numpy or torch) or
        :class:`~numerics.core.pools.CurvaturePool`; with ``*_signs`` ``(n, k)`` the Hessians are
        :math:`F_iS_iF_i^\top` (indefinite allowed).
    options:
        Its ``unlearning`` group (step size or ``eta_rel`` in units of
        :math:`2/\lambda_{\max}(\bar H_r)`, :math:`\alpha`, batch sizes defaulting to
        ``min(32, n)``, sampling) and ``prescription`` group (prescriptions; grid of
        :math:`[0,\alpha_c)` for :math:`\eta^\star(\alpha)`) are used.
    retain_signs, forget_signs:
        Optional signs ``(n, k)`` of the factor columns (see :class:`numerics.core.pools.SignedPool`).

    Returns
    -------
    DiagnoseReport
        Verdict, :math:`\eta^\star_{ms}`, coherences, prescriptions (route ``given``).

    Examples
    --------
    Two identical rank-one retain samples and one forget sample along the same axis
    (:math:`\bar H_r = 1`, :math:`\bar H_f = 1`): :math:`A = (1-\alpha) - \alpha`, so ascent
    wins past :math:`\alpha_c = 1/2`.

    >>> import numpy as np
    >>> rep = diagnose_curvature(np.ones((2, 1)), np.ones((1, 1)),
    ...                          DiagnoseOptions.from_flat({"alpha": 0.7, "prescribe": False}))
    >>> rep.verdict_code, round(rep.alpha_c, 12)
    ('escapes_at_every_eta', 0.5)
    """
    opts = DiagnoseOptions() if options is None else options
    un, pres = opts.unlearning, opts.prescription
    clock = PhaseClock(progress_enabled(opts.run.progress))

    def factors(x: Any, name: str) -> np.ndarray:
        if isinstance(x, CurvaturePool):
            return x.factors
        arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        arr = np.asarray(arr, dtype=np.float64)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[0] == 0:
            raise InputError(f"{name} curvature must be (n, d, k) factors or (n, d) vectors, "
                             f"got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise InputError(f"{name} curvature contains NaN or inf")
        return arr

    with clock.phase(PhaseSpec("curvature", "curvature (given: reduction, coherence)")):
        fr, ff = factors(retain, "retain"), factors(forget, "forget")
        if isinstance(retain, CurvaturePool) and retain.signs is not None:
            retain_signs = retain.signs
        if isinstance(forget, CurvaturePool) and forget.signs is not None:
            forget_signs = forget.signs
        red, n_flat = _reduce(fr, ff)
        pr = make_pool(red.factors[0], retain_signs, "retain")
        pf = make_pool(red.factors[1], forget_signs, "forget")
        crit = Criterion(pr, pf, un.sampling)
        cfg = _config(un, pr.n, pf.n)
        coh = _coherence_signed_safe(fr, ff, retain_signs, forget_signs)
        oos, _ = out_of_span_fraction(red.factors[0], red.factors[1])
    with spreading(opts.execution, opts.run.threads, progress=opts.run.progress):
        res = _analyse(crit, un, cfg, pres, clock)
    with clock.phase(PhaseSpec("report", "report")):
        signed = retain_signs is not None or forget_signs is not None
        info = {"route": "given", "route_reason": "curvature given directly", "exact": True,
                "omits": "nothing (curvature given)",
                "indefinite": bool(signed), "n_params": int(fr.shape[1]), "active_dim": red.rank,
                "flat_directions_cut": n_flat, "flat_rtol": FLAT_RTOL}
        basis = red.basis.cpu().numpy() if red.basis is not None else None
        rep = _report(crit, res, coh, _Found("given", info, basis, oos), cfg, [], {})
    rep.timings = clock.finish()
    rep.peak_memory_gb = peak_memory_gb()
    return rep


def _attach_run(report: DiagnoseReport, record: dict[str, Any], notes: list[str]) -> None:
    """The unlearning run's record and its event (real nonlinear run) on the report."""
    report.unlearning = record
    record["agrees_with_verdict"] = bool(record["outcome"] != "collapse"
                                         and record["escaped"] == bool(report.escapes))
    report.escape_event = record["escape_event"]
    report.horizon = record["horizon"]
    report.steps_to_escape_observed = record["steps_to_escape_observed"]
    if record["outcome"] == "collapse":
        notes.append("the unlearning run collapsed: retain accuracy fell to chance "
                     f"({record['retain_acc_after']:.3g}); the model was destroyed, not resisting")


@dataclass(frozen=True)
class _Forecast:
    """What the predicted escape step needs: the criterion, the model, the pools' samples, Q."""

    crit: Criterion
    flat: FlatModel
    loss: Callable
    sets: tuple[Any, Any]
    basis: np.ndarray
    prescription: PrescriptionOptions


def _attach_prediction(report: DiagnoseReport, fc: _Forecast, eta: float,
                       notes: list[str]) -> tuple[StepsModel, float]:
    """``steps_to_escape_predicted`` of the run's event, and the within-K prescriptions.

    The prediction is :mod:`numerics.apps.diagnose.forecast`'s; the prescriptions for escaping
    within / resisting for K steps are :mod:`numerics.apps.diagnose.within`'s.  Returns the
    predicted-step model and the measured seconds per step (for the event map).
    """
    rec, cfg = report.unlearning, report.config
    forcing = Forcing(projected_gradients(fc.flat, fc.loss, fc.sets[0], fc.basis),
                      projected_gradients(fc.flat, fc.loss, fc.sets[1], fc.basis))
    model = StepsModel(fc.crit, forcing, LossLevel(rec["forget_loss_before"],
                                                   rec["uninformative_forget_loss"]),
                       (cfg["batch_retain"], cfg["batch_forget"]))
    horizon = int(rec["horizon"])
    t0 = time.perf_counter()
    pred = model.steps(cfg["alpha"], eta, horizon)
    per_step = (time.perf_counter() - t0) / max(pred.steps or horizon, 1)
    report.steps_to_escape_predicted = pred.steps
    report.predicted_event_distance = pred.displacement
    if pred.reason is not None:
        notes.append(f"steps_to_escape_predicted is null: {pred.reason}")
    po = fc.prescription
    if po.prescribe:
        K = horizon if po.within is None else po.within
        entries, note = budgeted(model, WithinOptions(cfg["alpha"], eta, K, po.grid_size),
                                 per_step, po.within is not None)
        report.prescriptions.extend(entries)
        if note:
            notes.append(note)
    return model, per_step


def _attach_event_map(report: DiagnoseReport, model: StepsModel, request: MapRequest,
                      notes: list[str]) -> None:
    """``region.event_map``: predicted steps to the run's event over the figure's grid.

    On ``region.map_span``, refined as far as the budget allows
    (:func:`~numerics.apps.diagnose.event_map.refined_map`).
    """
    emap, note = refined_map(model, request)
    if note:
        notes.append(note)
    if emap is not None:
        emap["user_steps"] = report.steps_to_escape_predicted
        report.region["event_map"] = emap


def _forecast_phases(report: DiagnoseReport, fc: _Forecast, res: dict[str, Any],
                     clock: PhaseClock, notes: list[str]) -> None:
    """The forecast, then the map of the run's event (or, failing it, the mean-square map)."""
    K = int(report.unlearning["horizon"])
    spec = PhaseSpec("forecast", "predicted steps to escape (forced recursion)", K, "step")
    with clock.phase(spec):
        steps_model, per_step = _attach_prediction(report, fc, res["eta"], notes)
    span = report.region.get("map_span")
    if span is not None:
        with clock.phase(PhaseSpec("event_map", "map of predicted steps to the run's event")):
            _attach_event_map(report, steps_model, MapRequest(
                tuple(span), K, fc.prescription.steps_grid, per_step,
                budget_s=fc.prescription.map_budget, alpha_c=float(report.region["alpha_c"])),
                notes)
    if "event_map" not in report.region:  # the run's map was not made: the asymptotic one
        _ms_map(fc.crit, res["point"], report.region,
                (fc.prescription.steps_grid, res["ms_growth_steps"]), clock)


def _attach_trust(report: DiagnoseReport, trust: dict[str, Any], notes: list[str]) -> None:
    """The trust radius on the report, its sentence, and a note when the run left the region."""
    trust["text"] = trust_text(trust, report.verdict_code)
    trust["events"] = event_distances(trust, report.predicted_event_distance,
                                      report.unlearning or {})
    report.trust = trust
    if trust["left_at_step"] is not None:
        notes.append(trust["text"])
    beyond = event_text(trust, report.steps_to_escape_predicted)
    if beyond is not None:
        notes.append(beyond)


def diagnose(model: torch.nn.Module, loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
             retain: Any, forget: Any, options: DiagnoseOptions | None = None, *,
             test: Any = None, train: Callable[..., torch.nn.Module] | None = None,
             output_map: Callable[[torch.Tensor], torch.Tensor] | None = None) -> DiagnoseReport:
    r"""Diagnose gradient-difference unlearning of ``model`` on ``forget`` (see the module docstring).

    Parameters
    ----------
    model:
        ``torch.nn.Module`` at its trained weights (not modified: a float64 copy is analysed).
    loss:
        ``loss(output, target)`` returning per-sample losses ``(n,)`` (``reduction='none'``).
    retain, forget, test:
        ``(inputs, targets)`` pairs of tensors or torch ``Dataset`` s (``test`` optional, for the
        deletion check's function distance).
    options:
        :class:`~numerics.apps.diagnose.options.DiagnoseOptions` (default: every default), e.g.
        ``DiagnoseOptions.from_flat({"eta_rel": 0.5, "alpha": 0.1})``.  Its groups: the
        unlearning configuration (SPEC §1.2, §1.4); curvature (route, memory budget, a seeded
        subsample of at most ``max_samples`` of each set that the criterion then treats as the
        pool, device and dtype); the run (``unlearn_steps`` of the actual unlearning, 0 skips it
        and it needs a step size; its relative ``init_noise``; the ``seed`` of the subsample,
        the Gauss-Newton residual subsample and the batches; CPU ``threads``, default 1 since
        the per-sample work is many small kernels, ``None`` leaves torch/BLAS alone; progress
        bars; ``out``, a directory for ``report.json``, ``diagnose.png`` and ``witness.npy``);
        the deletion check (on/off, ``train_seed``); the prescriptions (on/off, α grid size).
    train, output_map:
        ``train(inputs, targets, seed) -> model`` for the deletion check (same seed and schedule
        as the original); without it the deletion check is skipped and the report says so.
        ``output_map`` (e.g. a softmax) maps outputs before the function distance.

    Returns
    -------
    DiagnoseReport
        The verdict, the numbers behind it, prescriptions, and the unlearning run and deletion
        check when they ran.
    """
    opts = DiagnoseOptions() if options is None else options
    un, cv, ro = opts.unlearning, opts.curvature, opts.run
    clock = PhaseClock(progress_enabled(ro.progress))
    notes: list[str] = []
    dev = resolve_device(cv.device)
    dt = resolve_dtype(dev, cv.dtype)
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    with thread_limit(ro.threads), gpu_memory_cap(dev, cv.memory_budget_gb), \
            spreading(opts.execution, ro.threads, device=str(dev), progress=ro.progress) as spread:
        with clock.phase(PhaseSpec("setup", "setup (model copy, data checks)")):
            work = copy.deepcopy(model).to(device=dev, dtype=dt)
            flat = FlatModel(work)
            sets = {name: as_dataset(d, name).to(dev, dt)
                    for name, d in (("retain", retain), ("forget", forget))}
            test_set = as_dataset(test, "test").to(dev, dt) if test is not None else None
            r_set, f_set = sets["retain"], sets["forget"]
            check_disjoint(r_set, f_set)
            check_loss(flat, loss, r_set)
            check_loss(flat, loss, f_set)
            rng = np.random.default_rng(ro.seed)
            r_sub, _ = subsample(r_set, cv.max_samples, rng)
            f_sub, _ = subsample(f_set, cv.max_samples, rng)
        if r_sub.n < r_set.n or f_sub.n < f_set.n:
            notes.append(f"curvature of a seeded subsample: {r_sub.n} of {r_set.n} retain and "
                         f"{f_sub.n} of {f_set.n} forget samples; the criterion treats the "
                         "subsample as the pool (batch sizes are relative to it)")
        cfg = _config(un, r_sub.n, f_sub.n)
        with clock.phase(PhaseSpec("curvature", "curvature"), bar=False):  # the route's own bars
            curv = _curvature(flat, loss, (r_sub, f_sub), opts, cfg)
        with clock.phase(PhaseSpec("active_subspace", "active subspace (SVD of the factors)")):
            red, n_flat = _reduce(curv.retain, curv.forget)
            pr = make_pool(red.factors[0], curv.retain_signs, "retain")
            pf = make_pool(red.factors[1], curv.forget_signs, "forget")
            crit = Criterion(pr, pf, cfg["sampling"])
            oos, _ = out_of_span_fraction(red.factors[0], red.factors[1])
        if red.rank > 400:
            notes.append(f"active dimension {red.rank}: the matrix-free operator is slow at this "
                         "size; --max-samples reduces it")
        plan = _plan(opts, crit, flat, (r_set, f_set))
        if plan is not None:
            crit.cache_limit = plan.operator_cache
            notes.extend(plan.notes)
        will_run = (un.eta is not None or un.eta_rel is not None) and ro.unlearn_steps > 0
        forecast = will_run and (plan is None or plan.forecast)
        res = _analyse(crit, un, cfg, opts.prescription, clock, ms_map=not forecast)
        with clock.phase(PhaseSpec("checks", "stationarity and minimum checks")):
            info = dict(curv.info)
            info.update(active_dim=red.rank, flat_directions_cut=n_flat, flat_rtol=FLAT_RTOL,
                        minimum_check=_minimum_check(crit))
            info["stationarity"] = stationarity(flat, loss, (r_set, f_set), seed=ro.seed,
                                                **({} if plan is None else
                                                   {"chunk": plan.gradient_chunk}))
            if plan is not None:
                info["memory_plan"] = plan.as_dict()
        _check_notes(info, n_flat, notes, res["point"].rho)
        with clock.phase(PhaseSpec("noise_check", "negative curvature against the training noise")):
            neg = _noise_check(flat, loss, (r_sub, f_sub), opts, {
                "route": curv.route, "basis": curv.basis, "point": res["point"],
                "eta": res["eta"], "cfg": cfg,
                "gradient_norm": info["stationarity"]["mean_gradient_norm"], "notes": notes})
        with clock.phase(PhaseSpec("report", "report (witness, layers)")):
            basis = (red.basis if curv.basis is None else curv.basis @ red.basis).cpu().numpy()
            report = _report(crit, res, curv.coherence, _Found(curv.route, info, basis, oos),
                             cfg, notes, {})
            report.negative_curvature = neg
            report.witness_summary["layers"] = flat.layer_shares(report.witness)
        eta_abs = res["eta"]
        theta_un = None
        if eta_abs is not None and ro.unlearn_steps > 0:
            spec = PhaseSpec("unlearn", "unlearning run", ro.unlearn_steps, "step")
            with clock.phase(spec):
                ucfg = UnlearningConfig(cfg["alpha"], min(cfg["batch_retain"], r_set.n),
                                        min(cfg["batch_forget"], f_set.n), cfg["sampling"])
                run = gradient_difference(flat, loss, r_set, f_set, ucfg, eta_abs, run=ro,
                                          test=test_set)
            _attach_run(report, run.record, notes)
            theta_un = run.theta
            if forecast:
                _forecast_phases(report, _Forecast(crit, flat, loss, (r_sub, f_sub), basis,
                                                   opts.prescription), res, clock, notes)
            with clock.phase(PhaseSpec("trust", "linearisation trust radius")):
                _attach_trust(report, measure_trust(flat, loss, (r_sub, f_sub), cfg["alpha"],
                                                    run.snapshots, ro.unlearn_steps,
                                                    TrustOptions(ro.trust_fraction,
                                                                 seed=ro.seed)), notes)
        elif ro.unlearn_steps > 0:
            notes.append("no step size given: the actual unlearning run needs --eta or --eta-rel")
        dl = opts.deletion
        if dl.deletion and train is not None:
            with clock.phase(PhaseSpec("retrain", "retraining without the forget set (train)")):
                theta_re = retrain(train, r_set, dl.train_seed, flat)
            with clock.phase(PhaseSpec("deletion", "deletion check")):
                report.deletion = deletion_report(flat, r_set, f_set, test_set, theta_re,
                                                  theta_un, output_map)
                report.deletion["train_seed"] = int(dl.train_seed)
                report.standards = interpret(report.escapes, report.escapes_at_every_eta,
                                             report.deletion)
        elif dl.deletion:
            notes.append("deletion check skipped: it needs a train(inputs, targets, seed) -> "
                         "model callable (entry key 'train') to retrain without the forget set")
        notes.extend(spread.notes())
        flat.restore()
        if ro.out is not None:
            write_outputs(report, ro.out, clock=clock)
        else:
            report.timings = clock.finish()
            report.peak_memory_gb = peak_memory_gb()
    return report


def _plan(opts: DiagnoseOptions, crit: Criterion, flat: FlatModel,
          sets: tuple[Any, Any]) -> LaterPlan | None:
    """The later phases checked against ``--memory-budget-gb`` (``None`` without a budget)."""
    budget = opts.curvature.memory_budget_gb
    if budget is None:
        return None
    un, ro = opts.unlearning, opts.run
    steps = ro.unlearn_steps if (un.eta is not None or un.eta_rel is not None) else 0
    data = float(sum(t.element_size() * t.nelement() for d in sets
                     for t in (d.inputs, d.targets)))
    k = max(crit.retain.factors.shape[2], crit.forget.factors.shape[2])
    need = LaterNeeds(crit.dim, crit.n_retain + crit.n_forget, int(k), int(steps), flat.P, data)
    return plan_later_phases(budget, need)


def _check_notes(info: dict[str, Any], n_flat: int, notes: list[str],
                 rho: float | None = None) -> None:
    """Notes on the checks, the flat directions cut, and a subspace rho near 1 (boundary_note)."""
    st = info["stationarity"]
    if not st["stationary"]:
        notes.append(f"the trained weights are not a stationary point of the training loss: "
                     f"|mean gradient| = {st['mean_gradient_norm']:.3g}, "
                     f"{st['relative']:.2g} of the mean per-sample gradient norm (above "
                     f"{STATIONARY_TOL:g}); the verdict linearises at w* as if it were a "
                     "minimum: train to convergence first")
    if not info["minimum_check"]["is_minimum"]:
        mc = info["minimum_check"]
        notes.append(f"the trained weights are not a minimum of the training loss for this "
                     f"curvature: lambda_min(mean Hessian) = {mc['lambda_min']:.3g} "
                     f"({mc['relative']:.3g} of the largest); the linearisation assumes a "
                     "minimum, and escape rates of that size reflect unfinished training")
    if n_flat:
        notes.append(f"{n_flat} direction(s) with curvature below {FLAT_RTOL:g} of the "
                     "largest were treated as flat (inert)")
    boundary = boundary_note(info, rho)
    if boundary is not None:
        notes.append(boundary)


def write_outputs(report: DiagnoseReport, out: str | Path, *,
                  clock: PhaseClock | None = None) -> dict[str, str]:
    """Write the outputs under ``out`` and return their paths.

    They are ``diagnose.png``, ``witness.npy``, the self-contained ``report.html``
    (:mod:`numerics.apps.diagnose.report_html`) and, last, ``report.json``.

    Parameters
    ----------
    report:
        The report.
    out:
        The directory (created when missing).
    clock:
        The call's phase clock: the figure and pages are timed as the ``outputs`` phase, and the
        report's ``timings`` and ``peak_memory_gb`` are finished before ``report.json`` is
        written, so that they account for the whole call.

    Returns
    -------
    dict[str, str]
        Paths by kind: ``report``, ``figure``, ``witness`` (when there is one), ``html``.
    """
    import json

    from numerics.core.serialise import jsonable

    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {path}: {exc}") from None
    if clock is None:
        written = _write_files(report, path)
    else:
        with clock.phase(PhaseSpec("outputs", "figure and report pages")):
            written = _write_files(report, path)
        report.timings = clock.finish()
        report.peak_memory_gb = peak_memory_gb()
    js = path / "report.json"
    js.write_text(json.dumps(jsonable(report.as_dict()), indent=2) + "\n")
    return {"report": str(js), **written}


def _write_files(report: DiagnoseReport, path: Path) -> dict[str, str]:
    """The figure, the witness and the HTML page under ``path``."""
    from numerics.apps.diagnose import report_html
    from numerics.apps.diagnose.plot import figure

    png = path / "diagnose.png"
    figure(report, png)
    out = {"figure": str(png)}
    if report.witness is not None:
        wit = path / "witness.npy"
        np.save(wit, np.asarray(report.witness, dtype=np.float64))
        out["witness"] = str(wit)
    out["html"] = str(report_html.write(report, path / "report.html", [png]))
    return out
