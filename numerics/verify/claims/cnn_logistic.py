r"""Claim C13: on the logistic CNN, which prediction of the nonlinear forget-loss event is best.

With the logistic loss on separable data there is no minimiser (SPEC §8): at :math:`W^\star` the
per-sample gradients are as large as the curvature terms, so the homogeneous linearisation
:math:`\delta_{t+1}=(I-\eta\hat A_t)\delta_t` drops a forcing term and cannot see the loss
saturate.  The four predictions of :mod:`numerics.apps.cnn.predictors` are scored against the
nonlinear outcome on one grid (SNR × α × :math:`B_r` × seeds, training tolerance 0.05, K = 200).
The claim: the frozen-activation model with the exact loss (d) agrees with the nonlinear outcome
on at least :data:`C13_RATE` of the cells *and* beats the homogeneous mean-square prediction (a)
by at least :data:`C13_MARGIN`; the rates of every predictor on all and near-boundary cells are
reported as evidence.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import numpy as np

from numerics.apps.cnn.cells import CNN_CELL, cnn_configs, restore_non_finite
from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.sweep import CellFailed, run_sweep
from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, register
from numerics.verify.claims.policy import Kind, Notion, Tolerance

__all__ = ["LogisticGrid", "LOGISTIC_GRIDS", "predictor_rates", "C13_RATE", "C13_MARGIN"]

#: Pass rule (from docs/results/cnn_agreement.json, training tolerance 0.05, K = 200).
C13_RATE = 0.85
C13_MARGIN = 0.20
#: K log rho / log G within a factor BAND of 1: near the homogeneous boundary.
BAND = 3.0


@dataclass(frozen=True)
class LogisticGrid:
    """SNR × α × B_r × seeds of the logistic comparison, and the configuration."""

    snrs: tuple[float, ...]
    alphas: tuple[float, ...]
    batch_retain: tuple[int, ...]
    seeds: tuple[int, ...]
    config: ExperimentConfig


_CFG = ExperimentConfig(with_predictors=True)
LOGISTIC_GRIDS: dict[str, LogisticGrid] = {
    "quick": LogisticGrid((0.2, 0.4, 0.8, 1.2, 1.6), (0.02, 0.1), (1, 4), (0, 1), _CFG),
    "default": LogisticGrid((0.2, 0.4, 0.8, 1.2, 1.6), (0.02, 0.05, 0.1, 0.2), (1, 4), (0, 1),
                            _CFG),
    "large": LogisticGrid((0.1, 0.2, 0.4, 0.6, 0.8, 1.2, 1.6), (0.02, 0.05, 0.1, 0.2), (8, 32),
                          tuple(range(5)),
                          ExperimentConfig(n=500, n_test=1000, d=5000, m=64, n_forget=50,
                                           batch_forget=8, steps=2000, horizon=2000,
                                           device="auto", threads=None, with_predictors=True)),
}


@cache
def _sweep(grid: LogisticGrid) -> tuple[dict[str, Any], ...]:
    configs = cnn_configs(grid.snrs, grid.seeds, grid.config, alpha=list(grid.alphas),
                          batch_retain=list(grid.batch_retain))
    result = run_sweep(CNN_CELL, configs, blas_threads=None, progress=False)
    if result.failed:
        raise CellFailed(result.failures)
    return tuple(restore_non_finite(r) for r in result.records)


def predictor_rates(records: list[dict[str, Any]] | tuple[dict[str, Any], ...], steps: int,
                    growth: float) -> dict[str, Any]:
    """Per predictor: signed predictions and the agreement on all and near-boundary cells."""
    obs = np.array([bool(r["escaped"]) for r in records])
    stat = steps * np.array([r["log_rho"] for r in records]) / math.log(growth)
    near = (stat >= 1 / BAND) & (stat <= BAND)
    preds = {
        "a homogeneous mean-square (K log rho >= log G)": stat >= 1.0,
        "b in probability (escape probability >= 1/2)":
            np.array([r["predicted_in_probability"] >= 0.5 for r in records]),
        "c affine with forcing (first-order margins)":
            np.array([bool(r["predicted_affine_escape"]) for r in records]),
        "d frozen activations, exact loss":
            np.array([bool(r["frozen_escaped"]) for r in records]),
    }
    rates = {k: {"all": float(np.mean(v == obs)), "near": float(np.mean(v[near] == obs[near]))
                 if near.any() else None, "cells": int(obs.size), "near_cells": int(near.sum())}
             for k, v in preds.items()}
    return {"observed": obs, "predictions": preds, "rates": rates, "near": near}


def _check_c13(scale: str) -> CheckOutcome:
    grid = LOGISTIC_GRIDS[scale]
    cfg = grid.config
    out = predictor_rates(_sweep(grid), cfg.steps, cfg.growth)
    obs = out["observed"].astype(float) - 0.5
    preds = {k: v.astype(float) - 0.5 for k, v in out["predictions"].items()}
    best = max(out["rates"], key=lambda k: out["rates"][k]["all"])
    frozen, homogeneous = (out["rates"][k]["all"] for k in (
        "d frozen activations, exact loss", "a homogeneous mean-square (K log rho >= log G)"))
    conditions = {
        f"frozen-activation rate exceeds the homogeneous one by >= {C13_MARGIN:g}":
            frozen - homogeneous >= C13_MARGIN,
        "both outcomes occur on the grid": 0 < int(out["observed"].sum()) < obs.size,
    }
    evidence = {
        "config": asdict(cfg),
        "grid": {"snr": list(grid.snrs), "alpha": list(grid.alphas),
                 "batch_retain": list(grid.batch_retain), "seeds": list(grid.seeds)},
        "rates": out["rates"], "best_predictor": best,
        "near_band": f"K log rho / log G in [1/{BAND:g}, {BAND:g}]",
        "event": "nonlinear forget loss after K steps >= log 2",
    }
    return CheckOutcome(
        [Comparison("frozen activations with the exact loss vs the nonlinear forget-loss event",
                    preds["d frozen activations, exact loss"], obs)],
        evidence, conditions)


register(Claim(
    "C13", "Logistic CNN: loss saturation, not ReLU switching, decides the forget-loss event",
    r"On the logistic CNN (training loss 0.05, $K=200$) the network with its activation pattern "
    r"frozen at $W^\star$ and the exact logistic loss predicts the nonlinear forget-loss event "
    r"($L_f(W_K)\ge\log2$, same batches) on at least 85% of the cells of SNR × α × $B_r$ × "
    r"seeds, and at least 20 points more often than the homogeneous mean-square rule "
    r"$K\log\rho\ge\log G$.",
    Kind.AGREEMENT, Notion.NONLINEAR, "SPEC §8 (premise) [measured]", _check_c13,
    Tolerance(C13_RATE, "minimum fraction of cells where the frozen-activation prediction agrees",
              "set from docs/results/cnn_agreement.json: on 80 cells in each of four settings "
              "(training tolerance 0.05/0.01/0.002 with K = 200, 0.05 with K = 1000) the "
              "frozen-activation model agreed on 91-95 % and the homogeneous mean-square rule "
              "on 41-55 %; 85 % and a 20-point lead leave room for the quick grid's 40 cells "
              "(measured 90 % vs 50 %) and fail if ReLU switching decided the outcome"),
))
