r"""Agreement of trajectory heatmaps with the ms and a.s. predictions (SPEC §2.4; C6, C10).

On a :math:`(\sigma, B)` grid of the σ-family, each cell runs the companion code's finite-horizon
rule (growth :math:`\ge1000\times` within :math:`T` steps, majority of :math:`R` repetitions) and
compares its verdict with the two predictions: mean-square (:math:`\eta<\eta^\star_{ms}`) and
almost-sure (:math:`\eta<\eta^\star_{as}`).  The rule measures the a.s. boundary; the ms
prediction misses exactly the cells with :math:`\eta^\star_{ms}<\eta<\eta^\star_{as}`.
"""

from __future__ import annotations

from typing import Any

from numerics.verify.tables.base import BuildContext, Column, Table, TableSpec, register_table

EXPERIMENTS = (("plain SGD", 0.0), ("unlearning", 0.1))


def grid_axes(scale: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The σ and B values of the grid at ``scale``."""
    if scale == "quick":  # small, but with cells between the two thresholds in both experiments
        return (2, 5, 10, 40), (1, 6, 14, 30)
    return (1, 2, 3, 5, 10, 20, 30, 50, 100), (1, 2, 4, 8, 12, 16, 25, 35, 50)


def cell(config: dict[str, Any]) -> dict[str, Any]:
    """One grid cell: :func:`numerics.apps.frontier.sigma_family_cell` with the trajectory rule on.

    The record holds ``eta_star_ms, ms_stable`` (closed forms of :mod:`theory.families`),
    ``eta_star_as, as_stable`` (exact exponent of :mod:`theory.lyapunov`) and
    ``traj_escapes, traj_escape_fraction`` (the companion rule).
    """
    from numerics.apps.frontier import sigma_family_cell

    return sigma_family_cell(dict(config, notion="trajectory"))


def build(ctx: BuildContext) -> Table:
    """Agreement counts per experiment."""
    sigmas, batches = grid_axes(ctx.scale)
    base = {"n": 100, "sampling": "wor", "eta": 0.5, "c": 2.0,
            "horizon": ctx.pick(1000, 1000, 1000), "repetitions": ctx.pick(10, 10, 20)}
    seed = ctx.seed_or(0)
    cells = [dict(base, alpha=a, sigma=s, batch=b, seed=seed + k)
             for a in (e[1] for e in EXPERIMENTS)
             for k, (s, b) in enumerate((s, b) for s in sigmas for b in batches)]
    from numerics.apps.frontier import evaluate

    records = evaluate(cells, "numerics.verify.tables.heatmap_agreement:cell", desc="trajectory cells",
                       **ctx.sweep_kwargs())
    rows = []
    for name, a in EXPERIMENTS:
        recs = [r for r in records if r["alpha"] == a]
        agree_ms = sum(r["traj_escapes"] != r["ms_stable"] for r in recs)
        agree_as = sum(r["traj_escapes"] != r["as_stable"] for r in recs)
        gap = [r for r in recs if r["eta_star_ms"] <= r["eta"] < r["eta_star_as"]]
        ms_miss_outside = sum(r["traj_escapes"] == r["ms_stable"] for r in recs
                              if r not in gap)
        rows.append({"experiment": f"{name}, alpha={a:g}", "cells": len(recs),
                     "agree_ms": agree_ms, "agree_as": agree_as,
                     "rate_ms": agree_ms / len(recs), "rate_as": agree_as / len(recs),
                     "gap_cells": len(gap), "ms_miss_outside_gap": ms_miss_outside,
                     "ms_below_as": all(r["eta_star_ms"] <= r["eta_star_as"] * (1 + 1e-12)
                                        for r in recs)})
    return Table(
        "heatmap_agreement", "Agreement of the trajectory heatmaps with the ms and a.s. "
        "predictions",
        [Column("experiment", "experiment"), Column("cells", "cells", fmt="d"),
         Column("agree_ms", "agree with ms", fmt="d"),
         Column("rate_ms", "ms rate", fmt=".3f"),
         Column("agree_as", "agree with a.s.", fmt="d"),
         Column("rate_as", "a.s. rate", fmt=".3f"),
         Column("gap_cells", "cells with eta*_ms <= eta < eta*_as",
                r"\#\{\eta^\star_{ms}\le\eta<\eta^\star_{as}\}", "d"),
         Column("ms_miss_outside_gap", "ms misses outside that gap", fmt="d"),
         Column("ms_below_as", "eta*_ms <= eta*_as everywhere",
                r"\eta^\star_{ms}\le\eta^\star_{as}")],
        rows, "finite-horizon trajectory rule against mean-square and almost-sure predictions",
        {**{k: base[k] for k in ("n", "sampling", "eta", "c", "horizon", "repetitions")},
         "growth": 1000, "sigma grid": list(sigmas), "B grid": list(batches),
         "family": "σ-family (unlearning: retain list = forget list)", "scale": ctx.scale},
        [seed, seed + len(sigmas) * len(batches) - 1], "SPEC §2.4 [D✓ C-SIM, C-UNL]",
        ("C6", "C10"),
        "Cell k of the grid (row-major) runs the rule with seed base+k; the seeds give the range",
    )


register_table(TableSpec("heatmap_agreement", "ms / a.s. agreement of the trajectory heatmaps",
                         ("C6", "C10"), build, ("theory.families", "theory.lyapunov",
                                                "numerics.core.families"), "§2.4"))
