"""Measure the CNN agreement tables of docs/cnn_notes.md and write them as JSON and markdown.

Run once (about 20 CPU-minutes on one core):
    PYTHONPATH=$PWD python docs/results/cnn_agreement.py
It writes docs/results/cnn_agreement.json (every record and the summaries),
docs/results/cnn_agreement.md (the tables the notes include) and the two frontier figures
(``--from-json`` recomputes the summaries, the markdown and the figures from the stored records
without measuring).  Sizes are chosen for a 2-core
machine shared with other jobs; the GPU configuration is C11's ``large`` scale.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from numerics.apps.cnn.cells import CNN_CELL, cnn_configs, restore_non_finite
from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.apps.cnn.frontier import calibrated_level
from numerics.core.serialise import jsonable
from numerics.sweep import run_sweep
from numerics.verify.claims.cnn_growth import agreement_table

OUT = Path(__file__).resolve().parent
#: Band of the homogeneous statistic K log rho / log G for "near the boundary" (forget-loss event).
BAND = 3.0

SQUARED = ExperimentConfig(loss="squared", lr=0.02, event="growth", horizon=200, growth=1000.0,
                           repeats=10)
SQUARED_GRID = dict(snrs=(0.4, 0.8, 1.2, 1.6), seeds=(0, 1, 2),
                    axes=dict(alpha=[0.01, 0.02, 0.035, 0.05, 0.1], batch_retain=[2, 4],
                              eps=[1e-6, 1e-3, 1e-2, 1e-1]))
LOGISTIC_GROWTH_GRID = dict(snrs=(0.2, 0.4, 0.8, 1.2, 1.6), seeds=(0, 1),
                            axes=dict(alpha=[0.02, 0.05, 0.1, 0.2], batch_retain=[1, 4],
                                      eps=[1e-6, 1e-2]))
LOGISTIC_GRID = dict(snrs=(0.2, 0.4, 0.8, 1.2, 1.6), seeds=(0, 1),
                     axes=dict(alpha=[0.02, 0.05, 0.1, 0.2], batch_retain=[1, 4]))
#: (training-loss tolerance, K) settings of the logistic comparison.
SETTINGS = ((0.05, 200), (0.01, 200), (0.002, 200), (0.05, 1000))


def _run(config: ExperimentConfig, grid: dict) -> list[dict]:
    configs = cnn_configs(grid["snrs"], grid["seeds"], config, **grid["axes"])
    res = run_sweep(CNN_CELL, configs, blas_threads=None, progress=False)
    if res.failed:
        print(f"{res.failed} failed cells: {res.failures[0].row['error']}", file=sys.stderr)
    return [restore_non_finite(r) for r, c in zip(res.records, res.cells, strict=True) if c.ok]


def _rate(pred: np.ndarray, obs: np.ndarray, mask: np.ndarray) -> dict:
    return {"rate": float(np.mean(pred[mask] == obs[mask])) if mask.any() else None,
            "agree": int(np.sum(pred[mask] == obs[mask])), "cells": int(mask.sum())}


def logistic_summary(records: list[dict], steps: int, growth: float) -> dict:
    """Agreement of predictors (a)-(d) with the nonlinear forget-loss event, all and near cells."""
    obs = np.array([bool(r["escaped"]) for r in records])
    log_rho = np.array([r["log_rho"] for r in records])
    stat = steps * log_rho / math.log(growth)
    near = (stat >= 1 / BAND) & (stat <= BAND)
    preds = {
        "a_homogeneous_mean_square": stat >= 1.0,
        "b_in_probability": np.array([r["predicted_in_probability"] >= 0.5 for r in records]),
        # a forced recursion that overflows (non-finite forget loss) has diverged: escape
        "c_affine_forcing": np.array([not r["affine_forget_loss_after"] < math.log(2.0)
                                      for r in records]),
        "d_frozen_activation_exact_loss": np.array([bool(r["frozen_escaped"]) for r in records]),
        "linear_rule_T1000": np.array([bool(r["linear_escapes"]) for r in records]),
    }
    level = calibrated_level(log_rho, obs.astype(float))
    return {
        "cells": len(records), "near_boundary_cells": int(near.sum()),
        "nonlinear_escapes": int(obs.sum()),
        "near_band": f"K log rho / log G in [1/{BAND:g}, {BAND:g}]",
        "predicted_level_log_rho": math.log(growth) / steps,
        "separating_level_log_rho": level,
        "separating_over_predicted": level / (math.log(growth) / steps),
        "separating_level_agreement": float(np.mean((log_rho >= level) == obs)),
        "predictors": {k: {"all": _rate(v, obs, np.ones_like(obs)), "near": _rate(v, obs, near)}
                       for k, v in preds.items()},
        "median_train_grad_norm": float(np.median([r["grad_norm"] for r in records])),
        "affine_non_finite_cells": int(sum(not math.isfinite(r["affine_forget_loss_after"])
                                           for r in records)),
    }


def forgetting_table(records: list[dict]) -> dict:
    """Squared loss, growth event: forget loss / accuracy after T steps against escape / resist."""
    out = {}
    for eps in sorted({r["eps"] for r in records}):
        rows = [r for r in records if r["eps"] == eps]
        for label, esc in (("escape", True), ("resist", False)):
            sel = [r for r in rows if (r["nonlinear_escape_fraction"] > 0.5) == esc]
            if not sel:
                continue
            loss = np.array([r["forget_loss_after"] for r in sel])
            acc = np.array([r["forget_acc_after"] for r in sel])
            out[f"{eps:g}/{label}"] = {
                "cells": len(sel),
                "forget_loss_at_least_uninformative": int(np.sum(loss >= 0.5)),
                "forget_acc_at_most_half": int(np.sum(acc <= 0.5)),
                "median_forget_loss": float(np.median(loss)),
                "mean_forget_acc": float(np.mean(acc)),
            }
    return out


def summarise(out: dict) -> None:
    """Fill ``out["summary"]`` from ``out["records"]`` and ``out["config"]``."""
    sq = out["records"]["squared"]
    out["summary"]["squared_agreement"] = agreement_table(sq)
    out["summary"]["squared_forgetting"] = forgetting_table(sq)
    out["summary"]["squared_max_grad_norm"] = float(max(r["grad_norm"] for r in sq))
    out["summary"]["logistic_growth_agreement"] = agreement_table(out["records"]["logistic_growth"])
    for tol, steps in SETTINGS:
        key = f"logistic_tol{tol:g}_K{steps}"
        out["summary"][key] = logistic_summary(out["records"][key], steps,
                                               out["config"][key]["growth"])


def main() -> None:
    start = time.perf_counter()
    out: dict = {"config": {}, "records": {}, "summary": {}}
    sq = _run(SQUARED, SQUARED_GRID)
    out["config"]["squared"] = {**asdict(SQUARED), "grid": SQUARED_GRID}
    out["records"]["squared"] = sq
    out["summary"]["squared_agreement"] = agreement_table(sq)
    out["summary"]["squared_forgetting"] = forgetting_table(sq)
    out["summary"]["squared_max_grad_norm"] = float(max(r["grad_norm"] for r in sq))
    print(f"squared: {len(sq)} cells, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    lg_cfg = replace(SQUARED, loss="logistic", lr=0.1)
    lg = _run(lg_cfg, LOGISTIC_GROWTH_GRID)
    out["config"]["logistic_growth"] = {**asdict(lg_cfg), "grid": LOGISTIC_GROWTH_GRID}
    out["records"]["logistic_growth"] = lg
    out["summary"]["logistic_growth_agreement"] = agreement_table(lg)
    print(f"logistic growth: {len(lg)} cells, {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    for tol, steps in SETTINGS:
        cfg = ExperimentConfig(loss_tol=tol, steps=steps, with_predictors=True,
                               max_steps=200_000)
        recs = _run(cfg, LOGISTIC_GRID)
        key = f"logistic_tol{tol:g}_K{steps}"
        out["config"][key] = {**asdict(cfg), "grid": LOGISTIC_GRID}
        out["records"][key] = recs
        out["summary"][key] = logistic_summary(recs, steps, cfg.growth)
        print(f"{key}: {len(recs)} cells, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    out["seconds"] = time.perf_counter() - start
    (OUT / "cnn_agreement.json").write_text(json.dumps(jsonable(out), indent=1) + "\n")
    (OUT / "cnn_agreement.md").write_text(render(out["summary"]))


def _pct(entry: dict) -> str:
    if entry["rate"] is None:
        return "– (0 cells)"
    return f"{entry['rate']:.0%} ({entry['agree']}/{entry['cells']})"


def render(summary: dict) -> str:
    """The markdown tables included by docs/cnn_notes.md."""
    lines = ["<!-- generated by docs/results/cnn_agreement.py; do not edit -->", ""]
    for key, title in (("squared_agreement", "Squared loss, growth event"),
                       ("logistic_growth_agreement", "Logistic loss, growth event")):
        lines += [f"**{title}** (nonlinear majority vs each prediction; all cells / "
                  "near-boundary cells, 2γT/log G in [1/2, 2])", "",
                  "| ε | cells | near | NL escapes | linear, same batches | in probability | "
                  "mean-square (G,T) | T log ρ ≥ log G | per-run agreement |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for eps, e in summary[key].items():
            cols = []
            for name in ("linear_same_batches", "in_probability", "mean_square_GT",
                         "asymptotic_T_log_rho"):
                nb = e[name]["near_boundary"]
                cols.append(f"{e[name]['all']:.0%} / " + ("–" if nb is None else f"{nb:.0%}"))
            lines.append(f"| {eps} | {e['cells']} | {e['near_boundary_cells']} | "
                         f"{e['nonlinear_escapes']} | " + " | ".join(cols)
                         + f" | {e['run_agreement']:.1%} |")
        lines.append("")
    lines += ["**Squared loss: does escape mean forgetting?** (forget loss and accuracy after T "
              "steps; uninformative loss 1/2)", "",
              "| ε / outcome | cells | forget loss ≥ 1/2 | forget acc ≤ 1/2 | median forget loss "
              "| mean forget acc |", "|---|---|---|---|---|---|"]
    for k, e in summary["squared_forgetting"].items():
        lines.append(f"| {k} | {e['cells']} | {e['forget_loss_at_least_uninformative']} | "
                     f"{e['forget_acc_at_most_half']} | {e['median_forget_loss']:.3g} | "
                     f"{e['mean_forget_acc']:.2f} |")
    lines += ["", "**Logistic loss, forget-loss event** (agreement with the nonlinear outcome; "
              "all cells / near-boundary cells, K log ρ / log G in [1/3, 3])", "",
              "| training tol, K | cells | near | NL escapes | (a) homogeneous ms | "
              "(b) in probability | (c) affine + forcing | (d) frozen activations | "
              "linear rule T=1000 | separating log ρ (× predicted) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for key, s in summary.items():
        if not key.startswith("logistic_tol"):
            continue
        p = s["predictors"]
        cols = [f"{_pct(p[k]['all'])} / {_pct(p[k]['near'])}" for k in (
            "a_homogeneous_mean_square", "b_in_probability", "c_affine_forcing",
            "d_frozen_activation_exact_loss", "linear_rule_T1000")]
        tol, steps = key.removeprefix("logistic_tol").split("_K")
        lines.append(f"| {tol}, {steps} | {s['cells']} | {s['near_boundary_cells']} | "
                     f"{s['nonlinear_escapes']} | " + " | ".join(cols) +
                     f" | {s['separating_level_log_rho']:.3g} "
                     f"(× {s['separating_over_predicted']:.2g}) |")
    return "\n".join(lines) + "\n"


def _grid_mean(records: list[dict], key: str, snrs: list, alphas: list) -> np.ndarray:
    out = np.full((len(alphas), len(snrs)), np.nan)
    for i, a in enumerate(alphas):
        for j, snr in enumerate(snrs):
            vals = [float(r[key]) for r in records if r["alpha"] == a and r["snr"] == snr]
            out[i, j] = np.mean(vals) if vals else np.nan
    return out


def plot(data: dict) -> None:
    """Observed outcome maps (SNR × α, seed means) with the predicted boundary drawn on them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sq = [r for r in data["records"]["squared"] if r["eps"] == 1e-6 and r["batch_retain"] == 2]
    lg = [r for r in data["records"]["logistic_tol0.05_K200"] if r["batch_retain"] == 4]
    lg_cfg = data["config"]["logistic_tol0.05_K200"]
    lg_level = math.log(lg_cfg["growth"]) / lg_cfg["steps"]
    panels = [
        (sq, "nonlinear_escape_fraction",
         [("2γT/log G = 1 (almost-sure)", lambda r: 2 * r["gamma"] * r["horizon"]
           / math.log(r["growth"]), "k", "-"),
          ("T log ρ = log G (mean-square)", lambda r: r["horizon"] * r["log_rho"]
           / math.log(r["growth"]), "w", "--")],
         "squared loss, growth event, ε = 1e-6, B_r = 2: fraction of runs with "
         "‖δ_T‖² ≥ G‖δ_0‖²", "cnn_frontier_squared.png"),
        (lg, "escaped",
         [("K log ρ = log G (homogeneous mean-square)", lambda r: r["log_rho"] / lg_level, "k",
           "-"),
          ("frozen activations: forget loss = log 2", lambda r: r["frozen_forget_loss_after"]
           / math.log(2.0), "w", "--")],
         "logistic loss, forget-loss event, tol 0.05, K = 200, B_r = 4: fraction of seeds "
         "with L_f ≥ log 2", "cnn_frontier_logistic.png"),
    ]
    for records, key, lines, title, name in panels:
        snrs = sorted({r["snr"] for r in records})
        alphas = sorted({r["alpha"] for r in records})
        grid = _grid_mean(records, key, snrs, alphas)
        fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="RdBu_r", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax, shrink=0.85, label="observed (nonlinear)")
        for label, stat, color, style in lines:
            field = np.full(grid.shape, np.nan)
            for i, a in enumerate(alphas):
                for j, snr in enumerate(snrs):
                    vals = [stat(r) for r in records if r["alpha"] == a and r["snr"] == snr]
                    field[i, j] = np.exp(np.mean(np.log(np.maximum(vals, 1e-300))))
            if np.nanmin(field) < 1 < np.nanmax(field):
                ax.contour(np.arange(len(snrs)), np.arange(len(alphas)), np.log(field),
                           levels=[0.0], colors=color, linestyles=style, linewidths=2)
            ax.plot([], [], color=color, linestyle=style, label=label)
        ax.set_xticks(range(len(snrs)), [f"{v:g}" for v in snrs])
        ax.set_yticks(range(len(alphas)), [f"{v:g}" for v in alphas])
        ax.set_xlabel("SNR")
        ax.set_ylabel("α")
        ax.legend(fontsize=7, loc="upper right", facecolor="0.7")
        ax.set_title(title, fontsize=8)
        fig.savefig(OUT / name, dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    if "--from-json" in sys.argv:
        stored = json.loads((OUT / "cnn_agreement.json").read_text())
        summarise(stored)
        (OUT / "cnn_agreement.json").write_text(json.dumps(jsonable(stored), indent=1) + "\n")
        (OUT / "cnn_agreement.md").write_text(render(stored["summary"]))
        plot(stored)
    else:
        main()
        plot(json.loads((OUT / "cnn_agreement.json").read_text()))
