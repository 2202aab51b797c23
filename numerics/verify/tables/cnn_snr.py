r"""Coherence and unlearning outcome against the signal-to-noise ratio (SPEC §5.6; claims C7, C8).

For each SNR of the two-layer ReLU CNN on signal-plus-noise data, seed means of: the coherence
axes (:math:`\sigma_{\rm joint}` measured and predicted by :mod:`theory.cnn`, :math:`\sigma_r`,
:math:`\sigma_{rf}`), same- and opposite-label cosines, the mean-escape curvature
:math:`\lambda_{\min}(A)/\lambda_{\max}(\bar H_r)`, the mean-square growth :math:`\rho(\mathcal T)`,
the out-of-span fraction of forget curvature, and the outcome of real (nonlinear)
gradient-difference unlearning.  The sweep is the one claims C7 and C8 run (common random
numbers: a seed fixes data, initialisation, split and batches at every SNR), so building this
table next to ``unlearnstab verify`` costs one sweep.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from numerics.verify.tables.base import BuildContext, Column, Table, TableSpec, register_table

_CONFIG_KEYS = ("n", "d", "m", "sigma_p", "sigma0", "activation", "n_forget", "alpha",
                "batch_retain", "batch_forget", "sampling", "eta_rel", "steps", "lr",
                "loss_tol")


def _records(ctx: BuildContext) -> tuple[list[dict[str, Any]], list[int]]:
    from numerics.apps.cnn.experiment import run_sweep
    from numerics.verify.claims import cnn as cc

    spec = cc.SWEEPS[ctx.scale]
    if ctx.seed is None and ctx.in_memory:  # the sweep C7 and C8 already ran (cached)
        return list(cc.sweep(ctx.scale)), list(spec.seeds)
    seeds = list(spec.seeds) if ctx.seed is None else [ctx.seed + k
                                                        for k in range(len(spec.seeds))]
    return run_sweep(spec.snrs, seeds, spec.config, **ctx.sweep_kwargs()), seeds


def build(ctx: BuildContext) -> Table:
    """Seed means per SNR level, with the leading-order σ prediction beside the measurement."""
    from numerics.verify.claims import cnn as cc
    from theory import cnn as th

    cfg = cc.SWEEPS[ctx.scale].config
    records, seeds = _records(ctx)
    means = cc.summarise(records)
    rows = []
    for i, s in enumerate(means["snr"]):
        pred = th.predictions(s, cfg, kappa_value=means["kappa"][i],
                              omega_value=means["omega"][i])
        row = {"snr": s, "n_snr2": cfg.n * s**2, "sigma_pred": pred["sigma_joint"]}
        for key in ("sigma_joint", "sigma_r", "sigma_rf", "cos_same_label", "cos_opposite_label",
                    "lambda_min_A_rel", "rho", "out_of_span_forget", "forget_loss_growth",
                    "forget_acc_after", "retain_acc_after", "escaped"):
            row[key] = means[key][i]
        rows.append(row)
    return Table(
        "cnn_snr", "Coherence and unlearning outcome against the signal-to-noise ratio",
        [Column("snr", "SNR", r"\mathrm{SNR}", "g"),
         Column("n_snr2", "n SNR^2", r"n\,\mathrm{SNR}^2", ".3g"),
         Column("sigma_joint", "sigma_joint", r"\sigma_{\rm joint}", ".2f"),
         Column("sigma_pred", "sigma_joint predicted", r"\sigma_{\rm joint}^{\rm pred}", ".2f"),
         Column("sigma_r", "sigma_r", r"\sigma_r", ".2f"),
         Column("sigma_rf", "sigma_rf", r"\sigma_{rf}", ".2f"),
         Column("cos_same_label", "cos same label", r"|\cos|_{\rm same}", ".3f"),
         Column("cos_opposite_label", "cos opposite label", r"|\cos|_{\rm opp}", ".3f"),
         Column("lambda_min_A_rel", "lambda_min(A)/lambda_max(Hr)",
                r"\lambda_{\min}(A)/\lambda_{\max}(\bar H_r)", ".3f"),
         Column("rho", "rho(T)", r"\rho(\mathcal T)", ".3f"),
         Column("out_of_span_forget", "out-of-span fraction", r"\phi_{\rm out}", ".2f"),
         Column("forget_loss_growth", "NL log(L_f after/before)", r"\log\frac{L_f'}{L_f}",
                "+.1f"),
         Column("forget_acc_after", "NL forget acc", fmt=".2f"),
         Column("retain_acc_after", "NL retain acc", fmt=".2f"),
         Column("escaped", "NL escaped (fraction of seeds)", fmt=".2f")],
        rows, "mean-square (rho of T, lambda_min of A) and nonlinear escape (NL columns)",
        {**{k: v for k, v in asdict(cfg).items() if k in _CONFIG_KEYS},
         "eta": "eta_rel * 2 / lambda_max(Hbar_r)", "snr grid": list(means["snr"]),
         "seeds per SNR": len(seeds), "scale": ctx.scale},
        seeds, "SPEC §5.5-5.6 [D, ✓ qualitatively]", ("C7", "C8"),
        "Seed means per SNR (common random numbers across SNR); the prediction uses the measured "
        "activation ratio kappa and shared-filter fraction omega",
    )


register_table(TableSpec("cnn_snr", "coherence and unlearning outcome against SNR",
                         ("C7", "C8"), build, ("numerics.apps.cnn", "theory.cnn",
                                               "numerics.verify.claims.cnn"), "§5.6"))
