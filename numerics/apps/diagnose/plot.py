r"""The ``diagnose`` figure: coherence-matrix blocks and the verdict region in the α × η plane.

Left: the joint coherence matrix :math:`S_{ij}=\sqrt{\operatorname{tr}(H_iH_j)}` (retain block
first, forget block last, on a log colour scale), with the block boundary drawn; at large n the
mean coherence of groups of samples instead (:mod:`numerics.apps.diagnose.plot_coherence`).

Right: the verdict region (a symmetric-log α axis when :math:`\alpha_c<0.05`), with contours of the
predicted mean-square steps to escape (:math:`\log G/\log\rho(\mathcal T)`, the report's
``region.steps_map``) and the user's point labelled with its count.  For
:math:`\alpha>\alpha_c` the mean escapes: every step size escapes.
For :math:`\alpha<\alpha_c` the model resists for :math:`\eta<\eta^\star_{ms}(\alpha)` (computed
on the grid of the report, joined by straight lines) and escapes above.  The user's
:math:`(\alpha,\eta)` is marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numerics.apps.diagnose import api

__all__ = ["figure"]


def _steps_contours(ax, smap: dict | None, user_alpha: float | None,
                    user_eta: float | None) -> None:
    r"""Contours of predicted mean-square steps to escape (:math:`\log_{10}` levels) and the user's point."""
    if not smap or not smap.get("steps"):
        return
    a = np.asarray(smap["alpha"], float)
    e = np.asarray(smap["eta"], float)
    S = np.array([[np.nan if v is None else v for v in row] for row in smap["steps"]], float).T
    if not np.isfinite(S).any():
        return
    L = np.log10(np.where(np.isfinite(S), np.maximum(S, 1.0), np.nan))
    lo, hi = np.floor(np.nanmin(L)), np.ceil(np.nanmax(L))
    levels = np.arange(lo, hi + 1.0)
    if levels.size >= 2:
        cs = ax.contour(a, e, L, levels=levels, colors="k", linewidths=0.8, alpha=0.7)
        ax.clabel(cs, fmt=lambda v: f"{10 ** v:.0f} steps", fontsize=7)
    ax.plot([], [], "k-", lw=0.8, label=f"predicted steps to {smap['growth']:g}x E|δ|² (ms)")
    if user_alpha is not None and user_eta is not None:
        v = smap.get("user_steps")
        txt = "resists (rho <= 1)" if v is None else f"{v:.3g} steps to {smap['growth']:g}x"
        ax.annotate(f"you: {txt}", (user_alpha, user_eta), xytext=(8, -12),
                    textcoords="offset points", fontsize=7)


def figure(report: api.DiagnoseReport, path: str | Path) -> Path:
    """Draw the two panels into ``path`` (PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from numerics.apps.diagnose.plot_coherence import coherence_panel

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.6))
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
    _steps_contours(ax1, reg.get("steps_map"), reg.get("user_alpha"), user_eta)
    ax1.axvline(alpha_c, color="k", ls="--", lw=1)
    ax1.text(alpha_c, top * 0.95, f" α_c={alpha_c:.3g}", fontsize=8, va="top")
    ua = reg.get("user_alpha")
    if ua is not None:
        y = user_eta if user_eta is not None else (report.eta_star_ms or top / 2)
        ax1.plot([ua], [y], marker="*", ms=14, color="tab:blue", mec="k",
                 label="your (α, η)" if user_eta is not None else "your α")
    ax1.set_xlim(0.0, 1.0)
    if 0.0 < alpha_c < 0.05:  # resolve [0, alpha_c) next to the rest of [0, 1]
        ax1.set_xscale("symlog", linthresh=alpha_c / 2, linscale=1.0)
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
    ax1.legend(fontsize=8.5, loc="upper right", framealpha=0.9)
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return p
