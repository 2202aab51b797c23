r"""The exact threshold against the mixing weight α (SPEC §2.3(f); claim C4).

Unlearning with identical retain and forget lists on the σ-family: every axis has net curvature
:math:`(1-2\alpha)c/\sigma`, so the mean is stable only for :math:`\alpha<\frac12`, and
:math:`\eta^\star_{ms}(\alpha)` is *not* monotone -- a little ascent lowers the net curvature and
the overshoot, and near :math:`\alpha=\frac12` the batch noise dominates.
"""

from __future__ import annotations

from numerics.verify.tables.base import BuildContext, Column, Table, TableSpec, register_table

ALPHAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.45, 0.49)
CONFIG = {"n": 100, "sigma": 10, "batch": 8, "sampling": "wor", "c": 2.0}


def build(ctx: BuildContext) -> Table:
    r""":math:`\eta^\star_{ms}` and :math:`\eta^\star_{as}` per α."""
    from theory import families as fam
    from theory import lyapunov as lya

    n, sigma, b, s, c = (CONFIG[k] for k in ("n", "sigma", "batch", "sampling", "c"))
    rows = []
    for a in ctx.iterate(ALPHAS, "eta*(alpha)", total=len(ALPHAS)):
        ms = float(fam.identical_lists_eta_star(s, sigma, n, b, a, c))
        as_ = float(lya.identical_lists_eta_star_as(s, sigma, n, b, a, c))
        rows.append({"alpha": a, "eta_star_ms": ms, "eta_star_as": as_,
                     "ratio": as_ / ms if ms > 0 else None,
                     "net_curvature": (1 - 2 * a) * c / sigma})
    return Table(
        "eta_star_alpha", "Exact step-size threshold against the mixing weight",
        [Column("alpha", "alpha", r"\alpha", "g"),
         Column("eta_star_ms", "eta*_ms", r"\eta^\star_{ms}", ".4f"),
         Column("eta_star_as", "eta*_as", r"\eta^\star_{as}", ".4f"),
         Column("ratio", "eta*_as / eta*_ms", r"\eta^\star_{as}/\eta^\star_{ms}", ".3f"),
         Column("net_curvature", "net curvature (1-2 alpha) c/sigma", r"(1-2\alpha)c/\sigma",
                ".4f")],
        rows, "mean-square (ms) and almost-sure (a.s.), exact",
        {**CONFIG, "family": "σ-family, retain list = forget list, B_r = B_f"}, [],
        "SPEC §2.3(f) [D✓ C-UNL]", ("C4",),
        "Not monotone in alpha: a little ascent stabilises, and eta* tends to 0 as alpha "
        "approaches 1/2",
    )


register_table(TableSpec("eta_star_alpha", "eta*_ms against the mixing weight alpha", ("C4",),
                         build, ("theory.families", "theory.lyapunov"), "§2.3(f)"))
