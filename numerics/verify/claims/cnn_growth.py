r"""Claim C11: on the squared-loss CNN at a stationary point, the nonlinear run has the linear event.

The same event on both sides (:mod:`numerics.apps.cnn.growth`): start
:math:`W^\star+\varepsilon\|W^\star\|v`, common batch sequences, escape when
:math:`\|\delta_t\|^2\ge G\|\delta_0\|^2` within :math:`T` steps, majority over :math:`R` runs.
The claim is judged at the smallest :math:`\varepsilon` on the near-boundary cells
(:math:`2\gamma T/\log G\in[1/2,2]`) of SNR × α × :math:`B_r` × seeds; the rate on all cells, the
in-probability and mean-square predictions, and (``default``) the agreement at larger
:math:`\varepsilon` are reported as evidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any

import numpy as np

from numerics.apps.cnn.cells import CNN_CELL, cnn_configs, restore_non_finite
from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.apps.cnn.growth import NEAR_FACTOR
from numerics.sweep import CellFailed, run_sweep
from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, register
from numerics.verify.claims.policy import Kind, Notion

__all__ = ["GrowthGrid", "GRIDS", "growth_sweep", "agreement_table"]


@dataclass(frozen=True)
class GrowthGrid:
    """A same-event grid: SNR × α × B_r × seeds × ε and the experiment configuration."""

    snrs: tuple[float, ...]
    alphas: tuple[float, ...]
    batch_retain: tuple[int, ...]
    seeds: tuple[int, ...]
    eps: tuple[float, ...]
    config: ExperimentConfig


#: SPEC §5.6 sizes with the squared loss (GD learning rate 0.02: 0.1 diverges at SNR 1.6),
#: T = 200, G = 1000, R = 10.
_SQUARED = ExperimentConfig(loss="squared", lr=0.02, event="growth", horizon=200, growth=1000.0,
                            repeats=10)
GRIDS: dict[str, GrowthGrid] = {
    "quick": GrowthGrid((0.8, 1.2, 1.6), (0.02, 0.035, 0.05, 0.07, 0.1), (2, 4), (0, 1, 2),
                        (1e-6,), _SQUARED),
    "default": GrowthGrid((0.4, 0.8, 1.2, 1.6), (0.01, 0.02, 0.035, 0.05, 0.07, 0.1),
                          (2, 4, 8), (0, 1, 2, 3, 4), (1e-6, 1e-3, 1e-2, 1e-1), _SQUARED),
    "large": GrowthGrid(
        (0.1, 0.2, 0.4, 0.6, 0.8, 1.2, 1.6), (0.01, 0.02, 0.05, 0.1), (8, 32), tuple(range(5)),
        (1e-6, 1e-3, 1e-2, 1e-1),
        replace(_SQUARED, n=500, n_test=1000, d=5000, m=64, n_forget=50, batch_forget=8,
                horizon=2000, device="auto", threads=None)),
}


def growth_sweep(grid: GrowthGrid) -> list[dict[str, Any]]:
    """Records of every cell of ``grid`` (through the sweep engine, in process)."""
    return list(_sweep(grid))


@cache
def _sweep(grid: GrowthGrid) -> tuple[dict[str, Any], ...]:
    configs = cnn_configs(grid.snrs, grid.seeds, grid.config, alpha=list(grid.alphas),
                          batch_retain=list(grid.batch_retain), eps=list(grid.eps))
    result = run_sweep(CNN_CELL, configs, blas_threads=None, progress=False)
    if result.failed:
        raise CellFailed(result.failures)
    return tuple(restore_non_finite(r) for r in result.records)


def _signed(fraction: np.ndarray) -> np.ndarray:
    """Majority as a signed value: > 0 when more than half of the runs have the event."""
    return np.asarray(fraction, dtype=float) - 0.5


def agreement_table(records: list[dict[str, Any]]) -> dict[str, Any]:
    r"""Agreement of the nonlinear event with each prediction, on all and near-boundary cells.

    Per :math:`\varepsilon`: counts of cells and near-boundary cells, and the fraction of cells
    whose nonlinear majority equals (a) the linear recursion's majority on the same batches,
    (b) the in-probability prediction (probability :math:`\ge1/2`), (c) the mean-square
    prediction at :math:`(G,T)`, (d) :math:`T\log\rho\ge\log G`; and the mean per-run agreement.
    """
    out: dict[str, Any] = {}
    for eps in sorted({r["eps"] for r in records}):
        rows = [r for r in records if r["eps"] == eps]
        nl = np.array([r["nonlinear_escape_fraction"] > 0.5 for r in rows])
        preds = {
            "linear_same_batches": np.array([r["linear_escape_fraction"] > 0.5 for r in rows]),
            "in_probability": np.array([r["predicted_escape"] for r in rows]),
            "mean_square_GT": np.array([r["predicted_ms_escape"] for r in rows]),
            "asymptotic_T_log_rho": np.array(
                [r["horizon"] * r["log_rho"] >= np.log(r["growth"]) for r in rows]),
        }
        near = np.array([r["near_boundary"] for r in rows])
        entry: dict[str, Any] = {"cells": len(rows), "near_boundary_cells": int(near.sum()),
                                 "nonlinear_escapes": int(nl.sum()),
                                 "run_agreement": float(np.mean([r["run_agreement"]
                                                                 for r in rows]))}
        for name, p in preds.items():
            entry[name] = {"all": float(np.mean(p == nl)),
                           "near_boundary": float(np.mean(p[near] == nl[near]))
                           if near.any() else None}
        out[f"{eps:g}"] = entry
    return out


def _check_c11(scale: str) -> CheckOutcome:
    grid = GRIDS[scale]
    records = growth_sweep(grid)
    eps0 = min(grid.eps)
    rows = [r for r in records if r["eps"] == eps0]
    near = [r for r in rows if r["near_boundary"]]
    lin = _signed([r["linear_escape_fraction"] for r in near])
    nl = _signed([r["nonlinear_escape_fraction"] for r in near])
    grad = np.array([r["grad_norm"] for r in records], dtype=float)
    conditions = {
        "every model reached ||grad L|| <= 1e-10 (1 + |L|)": all(r["stationary"] for r in rows),
        "at least 10 near-boundary cells": len(near) >= 10,
        "at least 3 seeds": len(grid.seeds) >= 3,
    }
    evidence = {
        "config": asdict(grid.config),
        "grid": {"snr": list(grid.snrs), "alpha": list(grid.alphas),
                 "batch_retain": list(grid.batch_retain), "seeds": list(grid.seeds),
                 "eps": list(grid.eps)},
        "near_boundary_band": f"2 gamma T / log G in [{1 / NEAR_FACTOR:g}, {NEAR_FACTOR:g}]",
        "max_grad_norm": float(np.max(grad)),
        "agreement": agreement_table(records),
        "event": "||delta_t||^2 >= G ||delta_0||^2 within T steps, majority over R runs",
    }
    return CheckOutcome(
        [Comparison(f"nonlinear vs linear majority, near-boundary cells, eps = {eps0:g}",
                    lin, nl)],
        evidence, conditions)


register(Claim(
    "C11", "Squared-loss CNN at a stationary point: the nonlinear run has the linear event",
    r"With the squared loss trained to $\|\nabla L\|\le10^{-10}(1+|L|)$, a perturbation "
    r"$W^\star+\varepsilon\|W^\star\|v$ ($v\in V$, $\varepsilon=10^{-6}$) grows "
    r"$G$-fold in squared norm within $T$ steps under nonlinear gradient-difference unlearning "
    r"(majority of $R$ runs) exactly when it does under the linearised recursion with the same "
    r"batches, on at least 95% of the near-boundary cells "
    r"($2\gamma T/\log G\in[1/2,2]$) of SNR × α × $B_r$ × 3 seeds.",
    Kind.AGREEMENT, Notion.NONLINEAR, "SPEC §8 (premise, same event) [C → measured]",
    _check_c11,
))
