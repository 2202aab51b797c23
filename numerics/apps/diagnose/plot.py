r"""The ``diagnose`` figure: coherence-matrix blocks and the verdict region in the α × η plane.

Left: the joint coherence matrix :math:`S_{ij}=\sqrt{\operatorname{tr}(H_iH_j)}` (retain block
first, forget block last, on a log colour scale), with the block boundary drawn; at large n the
mean coherence of groups of samples instead (:mod:`numerics.apps.diagnose.plot_coherence`).

Right: the verdict region (a symmetric-log α axis when :math:`\alpha_c<0.05`), with contours of the
predicted steps to the run's own escape event (the report's ``region.event_map``: the forced
recursion from :math:`\delta_0=0` until the forget loss reaches its level, within the run's
horizon :math:`K`; cells with no event within :math:`K` are marked) and the user's point labelled
with its predicted and observed steps.  Without a run (or over the map's time budget) the
contours are the mean-square steps to a 1000-fold growth instead
(:math:`\log G/\log\rho(\mathcal T)`, ``region.steps_map``), labelled as such.  For
:math:`\alpha>\alpha_c` the mean escapes: every step size escapes.
For :math:`\alpha<\alpha_c` the model resists for :math:`\eta<\eta^\star_{ms}(\alpha)` (computed
on the grid of the report, joined by straight lines) and escapes above.  The user's
:math:`(\alpha,\eta)` is marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from numerics.apps.diagnose.prescribe import SYMLOG_BELOW

if TYPE_CHECKING:  # pragma: no cover
    from numerics.apps.diagnose import api

__all__ = ["figure"]


def _log_steps(smap: dict) -> np.ndarray:
    """``log10`` of the map's steps as an ``(eta, alpha)`` array (NaN where ``None``)."""
    S = np.array([[np.nan if v is None else v for v in row] for row in smap["steps"]], float).T
    return np.log10(np.where(np.isfinite(S), np.maximum(S, 1.0), np.nan))


def _contours(ax, smap: dict, label: str) -> np.ndarray:
    """Labelled ``log10`` contours of ``smap``; returns the ``log10`` array."""
    a = np.asarray(smap["alpha"], float)
    e = np.asarray(smap["eta"], float)
    L = _log_steps(smap)
    if np.isfinite(L).any():
        lo, hi = np.floor(np.nanmin(L)), np.ceil(np.nanmax(L))
        decades = np.arange(lo, hi + 1.0)
        levels = np.log10(np.outer(10.0**decades, [1.0, 2.0, 5.0]).ravel())
        levels = levels[(levels >= np.nanmin(L)) & (levels <= np.nanmax(L))]
        if levels.size >= 2:
            cs = ax.contour(a, e, L, levels=levels, colors="k", linewidths=0.8, alpha=0.7)
            ax.clabel(cs, fmt=lambda v: f"{10 ** v:.0f} step{'' if round(10 ** v) == 1 else 's'}",
                      fontsize=7)
        ax.plot([], [], "k-", lw=0.8, label=label)
    return L


def _label_user(ax, at: tuple[float, float], text: str) -> None:
    """The user's label beside the point, on the side with room (left of it when alpha > 0.5)."""
    left = at[0] > 0.5
    ax.annotate(text, at, xytext=(-8 if left else 8, 10), textcoords="offset points",
                fontsize=7, ha="right" if left else "left",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})


def _steps_contours(ax, region: dict, report: api.DiagnoseReport) -> None:
    r"""Contours of predicted steps to escape and the user's point labelled with its count.

    The run's own event (``region.event_map``: forced recursion from :math:`\delta_0=0` to the
    forget-loss level within :math:`K` steps) when it was computed; otherwise the mean-square
    1000-fold growth (``region.steps_map``), labelled as such.
    """
    emap, smap = region.get("event_map"), region.get("steps_map")
    ua, ue = region.get("user_alpha"), region.get("user_eta")
    if emap and emap.get("steps"):
        K = emap["horizon"]
        L = _contours(ax, emap, f"predicted steps to the run's event (forced, K = {K})")
        A, E = np.meshgrid(np.asarray(emap["alpha"], float), np.asarray(emap["eta"], float))
        none = ~np.isfinite(L)
        if none.any():
            ax.plot(A[none], E[none], "o", ms=3, mfc="none", mec="0.35", lw=0,
                    label=f"no event within K = {K} steps (predicted)")
        if ua is not None and ue is not None:
            pred = report.steps_to_escape_predicted
            obs = report.steps_to_escape_observed
            txt = (f"predicted {pred}" if pred is not None else f"predicted none in {K}")
            txt += f", observed {obs}" if obs is not None else f", observed none in {K}"
            _label_user(ax, (ua, ue), f"you: {txt}")
        return
    if not smap or not smap.get("steps"):
        return
    _contours(ax, smap, f"predicted steps to {smap['growth']:g}x E|δ|² (ms)")
    if ua is not None and ue is not None:
        v = smap.get("user_steps")
        txt = "resists (rho <= 1)" if v is None else f"{v:.3g} steps to {smap['growth']:g}x"
        _label_user(ax, (ua, ue), f"you: {txt}")


def figure(report: api.DiagnoseReport, path: str | Path) -> Path:
    """Draw the two panels into ``path`` (PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from numerics.apps.diagnose.plot_coherence import coherence_panel

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 4.6))
    coherence_panel(fig, ax0, report)  # full matrix when small, group means when large
    reg = report.region
    alpha_c = float(reg.get("alpha_c", 0.0))
    alphas = np.asarray(reg.get("alpha", []), dtype=float)
    stars = np.asarray([np.nan if s is None else s for s in reg.get("eta_star", [])], float)
    finite = stars[np.isfinite(stars)]
    user_eta = reg.get("user_eta")
    top = max([*(finite.tolist() or [1.0]), *([user_eta] if user_eta else [])]) * 1.3
    ax1.axvspan(alpha_c, 1.0, color="tab:red", alpha=0.25, lw=0,
                label="escapes at every η (α > α_c)")
    if alphas.size and np.isfinite(stars).any():
        a = np.append(alphas, alpha_c)
        s = np.append(np.nan_to_num(stars, nan=0.0), 0.0)
        ax1.fill_between(a, 0, s, color="tab:green", alpha=0.3, lw=0, label="resists (η < η*)")
        ax1.fill_between(a, s, top, color="tab:red", alpha=0.12, lw=0, label="escapes (η > η*)")
        ax1.plot(a, s, "k.-", lw=1, ms=4, label="η*_ms(α)")
    _steps_contours(ax1, reg, report)
    ax1.axvline(alpha_c, color="k", ls="--", lw=1)
    ax1.text(alpha_c, top * 0.95, f" α_c={alpha_c:.3g}", fontsize=8, va="top")
    ua = reg.get("user_alpha")
    if ua is not None:
        y = user_eta if user_eta is not None else (report.eta_star_ms or top / 2)
        ax1.plot([ua], [y], marker="*", ms=14, color="tab:blue", mec="k",
                 label="your (α, η)" if user_eta is not None else "your α")
    ax1.set_xlim(0.0, 1.0)
    if 0.0 < alpha_c < SYMLOG_BELOW:  # resolve [0, alpha_c) next to the rest of [0, 1]
        ax1.set_xscale("symlog", linthresh=alpha_c / 2, linscale=1.0)
    grid = reg.get("event_map") or reg.get("steps_map") or {}
    low = min([*grid.get("eta", []), *([user_eta] if user_eta else [])], default=0.0) / 1.3
    if low > 0.0 and top / low > 20.0:  # the map spans decades: a log step-size axis
        ax1.set_yscale("log")
        ax1.set_ylim(low, top)
    else:
        ax1.set_ylim(0.0, top)
    ax1.set_xlabel("α (weight of the forget ascent)")
    ax1.set_ylabel("step size η")
    if report.verdict_code == "escapes_at_every_eta" or report.eta_star_ms is None:
        title = "escapes at every step size"
    elif report.verdict_code == "escapes_above":
        title = f"escapes above η* = {report.eta_star_ms:.4g}"
    else:
        title = f"resists below η* = {report.eta_star_ms:.4g}"
    if report.eta is not None and report.rho is not None:
        title += f" (at η = {report.eta:.3g}: ρ(T) = {report.rho:.4g})"
    ax1.set_title(title, fontsize=10)
    ax1.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), framealpha=0.9)
    fig.tight_layout(w_pad=3.0)
    p = Path(path)
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return p
