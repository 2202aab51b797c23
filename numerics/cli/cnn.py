"""``unlearnstab cnn``: train the two-layer CNN at several SNRs, measure, linearise, unlearn.

One record per cell of the grid seeds × SNR × α × B_r (SPEC §5.7): accuracies, coherence
(σ_joint, σ_r, σ_f, σ_rf), cosines, λ_min(A|_V)/λ_max(H̄_r), ρ(T), the out-of-span fraction, the
finite-horizon linear rule and the nonlinear unlearning outcome.  One seed fixes the data,
initialisation and batches at every SNR (common random numbers).  The cells run through the
sweep engine (``--store``, ``--executor``, ``--dask-workers``, ``--scheduler``...).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from numerics.apps.cnn.cells import CNN_CELL, cnn_configs
from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.core.inputs import InputError
from numerics.core.options import add_options, given_flags
from numerics.core.serialise import jsonable
from numerics.sweep import run_sweep
from numerics.sweep.options import add_sweep_arguments, sweep_options

#: Columns of the human-readable table.
TABLE_COLUMNS: tuple[str, ...] = (
    "snr", "train_acc", "test_acc", "sigma_joint", "sigma_r", "sigma_f", "sigma_rf",
    "cos_same_label", "cos_opposite_label", "lambda_min_A_rel", "rho", "out_of_span_forget",
    "forget_loss_growth", "forget_acc_after", "retain_acc_after", "escaped",
)
#: Columns of the table with ``--event growth``.
GROWTH_TABLE_COLUMNS: tuple[str, ...] = (
    "snr", "eps", "grad_norm", "gamma", "log_rho", "predicted_escape_probability",
    "linear_escape_fraction", "nonlinear_escape_fraction", "near_boundary", "forget_loss_after",
    "forget_acc_after",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``cnn`` parser."""
    p = sub.add_parser(
        "cnn", help="two-layer CNN on signal-plus-noise data: coherence vs SNR and unlearning",
        description="Train the CNN of SPEC §5 at each SNR, compute per-sample curvature, "
                    "coherence and the linearised unlearning operator, and run real "
                    "gradient-difference unlearning.  Step sizes are in units of "
                    "2/lambda_max(mean retain Hessian).")
    p.add_argument("--snr", type=float, nargs="+", required=True, metavar="S",
                   help="signal-to-noise ratios ||mu|| / (sigma_p sqrt(d))")
    p.add_argument("--seeds", type=int, nargs="+", metavar="K",
                   help="several seeds (a grid axis; default: --seed)")
    add_options(p, ExperimentConfig)  # one flag per configuration field, help from the field
    p.add_argument("--json", action="store_true", help="print a JSON list, one record per cell")
    add_sweep_arguments(p)
    p.set_defaults(func=run)


#: The command line's default device (the library's is ``cpu``): the GPU when there is one.
CLI_DEVICE = "auto"


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The :class:`ExperimentConfig` the options describe (validated, every grid point too).

    Parameters
    ----------
    args:
        The parsed command line; ``--alpha``, ``--batch-retain`` and ``--eps`` may list several
        values (grid axes): the configuration takes the first.

    Returns
    -------
    ExperimentConfig
        The validated configuration.
    """
    given = given_flags(args, ExperimentConfig)
    alphas, batches = _axis(args, "alpha"), _axis(args, "batch_retain")
    eps = _axis(args, "eps")
    given.update(alpha=alphas[0], batch_retain=batches[0], eps=eps[0])
    cfg = replace(ExperimentConfig(device=CLI_DEVICE), **given)
    for a in alphas:
        for b in batches:
            for e in eps:
                replace(cfg, alpha=a, batch_retain=b, eps=e).validated()
    return cfg.validated()


def _axis(args: argparse.Namespace, name: str) -> list:
    """The values of a grid-axis flag (the configuration default when not given)."""
    values = getattr(args, name)
    return list(values) if values else [getattr(ExperimentConfig(), name)]


def run(args: argparse.Namespace) -> int:
    """Print one record per cell; exit 1 when a cell failed."""
    cfg = config_from_args(args)
    for s in args.snr:
        if not (s == s and s >= 0 and s != float("inf")):
            raise InputError(f"SNR must be finite and >= 0, got {s}")
    seeds = args.seeds or [cfg.seed]
    alphas, batches = _axis(args, "alpha"), _axis(args, "batch_retain")
    axes = {"alpha": alphas, "batch_retain": batches}
    if cfg.event == "growth":
        axes["eps"] = _axis(args, "eps")
    configs = cnn_configs(args.snr, seeds, cfg, **axes)
    result = run_sweep(CNN_CELL, configs, args.store,
                       sweep_options(args, progress=not (args.quiet or args.json)),
                       desc="cnn", blas_threads=None)
    records = result.records
    summary = (f"cnn: {len(result.cells)} cells, computed {result.computed}, reused "
               f"{result.reused}, failed {result.failed} ({result.seconds:.1f} s, "
               f"{result.executor}; store: {result.store})")
    for c in result.failures[:5]:
        print(f"failed cell snr={c.config.get('snr')} seed={c.config.get('seed')} "
              f"alpha={c.config.get('alpha')} batch_retain={c.config.get('batch_retain')}: "
              f"{c.row['error']}", file=sys.stderr)
    if args.json:
        json.dump(jsonable(records), sys.stdout, indent=2)
        sys.stdout.write("\n")
        if not args.quiet:
            print(summary, file=sys.stderr)
        return 1 if result.failed else 0
    varying = [k for k, v in (("seed", seeds), ("alpha", alphas),
                              ("batch_retain", batches)) if len(v) > 1]
    columns = (*varying, *(GROWTH_TABLE_COLUMNS if cfg.event == "growth" else TABLE_COLUMNS))
    head = [c.replace("_label", "").replace("forget_", "f_") for c in columns]
    rows = [[_fmt(r.get(c)) for c in columns] for r in records]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    ok = next((r for r, c in zip(records, result.cells, strict=True) if c.ok), {})
    print(f"# device={ok.get('device')} dtype={ok.get('dtype')} n={cfg.n} d={cfg.d} "
          f"m={cfg.m} n_forget={cfg.n_forget} alpha={','.join(f'{a:g}' for a in alphas)} "
          f"B_r={','.join(str(b) for b in batches)} B_f={cfg.batch_forget} "
          f"eta_rel={cfg.eta_rel} K={cfg.steps} seed={','.join(str(k) for k in seeds)}")
    print(f"# {summary}")
    return 1 if result.failed else 0


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = """\
unlearnstab cnn --snr 0.5 --n 24 --d 16 --m 4 --n-forget 4 --steps 20 --horizon 50 --repeats 2 --quiet
"""
#: Shared notes explaining this command's choices.
NOTES = ('sampling', 'notions')
