r"""Finite-horizon frontier maps for the CNN: (SNR x α), (SNR x B_r), (α x B_r).

Why finite-horizon.  In this model :math:`\lambda_{\min}(A|_V)<0` in essentially every cell
(SPEC §5.5): the forget noise directions are outside the retain span, so by SPEC §2.3(c)
:math:`\rho(\mathcal T(\eta))>1` for every :math:`\eta>0` and the linearised iterate escapes
*asymptotically* everywhere.  An asymptotic stability frontier does not exist; what changes with
SNR, α and :math:`B_r` is the *rate*.  The frontier is therefore defined at a finite horizon.

**Definition (predicted finite-horizon frontier).**  A cell is predicted to escape within
:math:`T` steps when the mean-square growth of the linearised recursion reaches the factor
:math:`G` by then,

.. math:: T\,\log\rho(\mathcal T(\eta))\ \ge\ \log G ,

and the predicted boundary is the level set :math:`T\log\rho=\log G`.  We use :math:`G=1000` and
:math:`T=1000` for the linear rule (the companion rule's numbers) and :math:`T=K` (the number of
nonlinear steps) for the nonlinear runs.

**Observed.**  (a) the companion rule on the linearised recursion on :math:`V` (fraction of
:math:`R` runs whose :math:`\|\delta_t\|^2` grows :math:`G`-fold within :math:`T` steps;
majority = escape), (b) the nonlinear gradient-difference run from :math:`W^\star` (escape =
forget loss :math:`\ge\log2` after :math:`K` steps; fraction over seeds).

Step sizes are :math:`\eta=\eta_{\rm rel}\cdot2/\lambda_{\max}(\bar H_r)` in every cell.  The map
also reports the *calibrated* level :math:`\log\rho_c` that best separates the nonlinear outcomes
(a one-threshold classifier on :math:`\log\rho`), which measures how far the nonlinear frontier
departs from the linear prediction.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from numerics.apps.cnn.cells import CNN_CELL, restore_non_finite
from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.core.inputs import InputError
from numerics.sweep import CellFailed
from numerics.sweep import run_sweep as run_cells

__all__ = ["AXES", "FrontierMap", "frontier_map", "plot_frontier", "calibrated_level"]

#: Axes a map may use.
AXES: tuple[str, ...] = ("snr", "alpha", "batch_retain")


@dataclass
class FrontierMap:
    r"""A frontier map; every grid is ``(len(y_values), len(x_values))``, seeds averaged.

    Attributes
    ----------
    x_name, y_name, x_values, y_values:
        The two axes (from :data:`AXES`).
    log_rho:
        :math:`\log\rho(\mathcal T(\eta))` (mean over seeds).
    lambda_min_rel:
        :math:`\lambda_{\min}(A|_V)/\lambda_{\max}(\bar H_r)`.
    linear_escape:
        Fraction of seeds whose linear companion rule escapes (majority of :math:`R` runs).
    nonlinear_escape:
        Fraction of seeds whose nonlinear run escapes.
    forget_loss_growth:
        Mean :math:`\log(L_f(W_K)/L_f(W^\star))`.
    predicted_linear, predicted_nonlinear:
        The predicted finite-horizon escape, :math:`T\log\rho\ge\log G` with :math:`T` the
        linear horizon and the nonlinear :math:`K` respectively.
    agreement_linear, agreement_nonlinear:
        Fraction of cells where the majority outcome equals the prediction.
    calibrated_log_rho:
        The level of :math:`\log\rho` that best separates the nonlinear outcomes.
    """

    x_name: str
    y_name: str
    x_values: list[float]
    y_values: list[float]
    log_rho: np.ndarray
    lambda_min_rel: np.ndarray
    linear_escape: np.ndarray
    nonlinear_escape: np.ndarray
    forget_loss_growth: np.ndarray
    predicted_linear: np.ndarray
    predicted_nonlinear: np.ndarray
    agreement_linear: float
    agreement_nonlinear: float
    calibrated_log_rho: float
    config: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary (arrays as nested lists)."""
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, np.ndarray):
                out[k] = v.tolist()
        return out


def calibrated_level(log_rho: np.ndarray, escaped: np.ndarray) -> float:
    r"""Threshold :math:`c` maximising the agreement of ``log_rho >= c`` with ``escaped`` (> 1/2).

    Candidates are the midpoints between sorted values (and the two ends); ties go to the
    smallest :math:`c`.
    """
    x = np.asarray(log_rho, float).ravel()
    e = np.asarray(escaped, float).ravel() > 0.5
    xs = np.unique(x)
    cands = np.concatenate([[xs[0] - 1.0], 0.5 * (xs[1:] + xs[:-1]), [xs[-1] + 1.0]])
    scores = [(np.mean((x >= c) == e), -c) for c in cands]
    best = max(range(len(cands)), key=lambda i: scores[i])
    return float(cands[best])


def _check_axis(name: str, values: list[float]) -> list[float]:
    if name not in AXES:
        raise InputError(f"unknown frontier axis {name!r}; expected one of {', '.join(AXES)}")
    if len(values) == 0:
        raise InputError(f"axis {name} has no values")
    if name == "batch_retain":
        return [int(v) for v in values]
    return [float(v) for v in values]


def frontier_map(x_name: str, x_values: list[float], y_name: str, y_values: list[float],
                 config: ExperimentConfig, seeds: tuple[int, ...] = (0,),
                 snr: float | None = None, **sweep: Any) -> FrontierMap:
    r"""Compute a frontier map (see the module docstring).

    ``snr`` fixes the SNR when neither axis is ``snr``.  Every (cell, seed) is one cell of the
    sweep engine (:mod:`numerics.apps.cnn.cells`); ``sweep`` passes ``store``, ``executor``,
    ``workers``... to :func:`numerics.sweep.run_sweep`.  A model is trained once per (SNR, seed)
    and process and reused across the other axis (common random numbers: a seed fixes data,
    initialisation and batches in every cell).
    """
    if x_name == y_name:
        raise InputError("the two axes of a frontier map must differ")
    xs, ys = _check_axis(x_name, x_values), _check_axis(y_name, y_values)
    if "snr" not in (x_name, y_name) and snr is None:
        raise InputError("a map without an SNR axis needs a fixed snr")
    shape = (len(ys), len(xs), len(seeds))
    grids = {k: np.zeros(shape) for k in ("log_rho", "lam", "lin", "nl", "growth")}
    configs, where = [], []
    base = asdict(config)
    for iy, yv in enumerate(ys):
        for ix, xv in enumerate(xs):
            cell = {x_name: xv, y_name: yv}
            for ik, seed in enumerate(seeds):
                configs.append(dict(base, seed=int(seed), snr=float(cell.get("snr", snr)),
                                    **{k: v for k, v in cell.items() if k != "snr"}))
                where.append((iy, ix, ik))
    # cells sharing a model (one SNR and seed) next to each other: in process, each model is
    # trained once and reused (the per-process cache of numerics.apps.cnn.cells keeps a few)
    order = sorted(range(len(configs)), key=lambda i: (configs[i]["snr"], configs[i]["seed"]))
    configs, where = [configs[i] for i in order], [where[i] for i in order]
    sweep.setdefault("blas_threads", None)  # the cell sets its own threads (config.threads)
    result = run_cells(CNN_CELL, configs, **sweep)
    if result.failed:
        raise CellFailed(result.failures)
    for (iy, ix, ik), raw in zip(where, result.records, strict=True):
        rec = restore_non_finite(raw)
        grids["log_rho"][iy, ix, ik] = rec["log_rho"]
        grids["lam"][iy, ix, ik] = rec["lambda_min_A_rel"]
        grids["lin"][iy, ix, ik] = float(bool(rec["linear_escapes"]))
        grids["nl"][iy, ix, ik] = float(rec["escaped"])
        grids["growth"][iy, ix, ik] = rec["forget_loss_growth"]
    mean = {k: v.mean(axis=2) for k, v in grids.items()}
    log_g = math.log(config.growth)
    pred_lin = config.horizon * mean["log_rho"] >= log_g
    pred_nl = config.steps * mean["log_rho"] >= log_g
    return FrontierMap(
        x_name, y_name, list(xs), list(ys), mean["log_rho"], mean["lam"], mean["lin"], mean["nl"],
        mean["growth"], pred_lin, pred_nl,
        float(np.mean((mean["lin"] > 0.5) == pred_lin)),
        float(np.mean((mean["nl"] > 0.5) == pred_nl)),
        calibrated_level(grids["log_rho"], grids["nl"]),
        {**asdict(config), "seeds": list(seeds), "snr": snr},
    )


_LABELS = {"snr": "SNR", "alpha": r"$\alpha$", "batch_retain": r"$B_r$"}


def plot_frontier(fmap: FrontierMap, path: str | None = None):
    r"""Three panels (:math:`\log\rho`, linear rule, nonlinear runs) with the predicted boundary.

    The boundary :math:`T\log\rho=\log G` is drawn on each outcome panel with its own horizon;
    the figure states that the frontier is a finite-horizon one.  Returns the figure; saves it
    to ``path`` when given.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = fmap.config
    log_g = math.log(cfg.get("growth", 1000.0))
    xi, yi = np.arange(len(fmap.x_values)), np.arange(len(fmap.y_values))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), constrained_layout=True)
    panels = [
        (fmap.log_rho, r"$\log\rho(\mathcal{T})$ (mean-square growth rate)", "viridis", None),
        (fmap.linear_escape,
         f"linear rule escapes (T={cfg.get('horizon')}, G={cfg.get('growth'):g})",
         "RdBu_r", cfg.get("horizon")),
        (fmap.nonlinear_escape, f"nonlinear run escapes (K={cfg.get('steps')}, "
                                r"$L_f\geq\log 2$)", "RdBu_r", cfg.get("steps")),
    ]
    for ax, (grid, title, cmap, horizon) in zip(axes, panels, strict=True):
        vmin, vmax = (0, 1) if horizon else (None, None)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        fig.colorbar(im, ax=ax, shrink=0.85)
        horizons = [horizon] if horizon else [cfg.get("horizon"), cfg.get("steps")]
        for h, style in zip(horizons, ("-", "--"), strict=False):
            level = log_g / h
            if np.nanmin(fmap.log_rho) < level < np.nanmax(fmap.log_rho) and min(grid.shape) > 1:
                cs = ax.contour(xi, yi, fmap.log_rho, levels=[level], colors="k",
                                linewidths=2, linestyles=style)
                ax.clabel(cs, fmt={level: f"T log ρ = log G, T={h}"}, fontsize=7)
        ax.set_xticks(xi, [f"{v:g}" for v in fmap.x_values], rotation=45, fontsize=7)
        ax.set_yticks(yi, [f"{v:g}" for v in fmap.y_values], fontsize=7)
        ax.set_xlabel(_LABELS[fmap.x_name])
        ax.set_ylabel(_LABELS[fmap.y_name])
        ax.set_title(title, fontsize=9)
    fixed = "" if "snr" in (fmap.x_name, fmap.y_name) else f" at SNR {cfg.get('snr')}"
    fig.suptitle(
        "Finite-horizon frontier" + fixed + ": predicted escape iff T·log ρ(T) ≥ log G "
        f"(G = {cfg.get('growth', 1000.0):g}; black line).  "
        r"$\lambda_{\min}(A|_V)<0$ in every cell "
        f"(max λ_min/λ_max = {np.max(fmap.lambda_min_rel):.2g}): asymptotically every cell "
        "escapes.\n"
        f"Agreement with the prediction: linear rule {fmap.agreement_linear:.0%}, nonlinear runs "
        f"{fmap.agreement_nonlinear:.0%}; level separating the nonlinear outcomes: "
        f"log ρ = {fmap.calibrated_log_rho:.3g} (predicted {log_g / cfg.get('steps', 1):.3g}).",
        fontsize=9,
    )
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
