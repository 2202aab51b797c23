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
from numerics.apps.cnn.data import FORGET_RULES
from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.apps.cnn.model import ACTIVATIONS
from numerics.core.device import DEVICES, DTYPES
from numerics.core.inputs import InputError
from numerics.core.serialise import jsonable
from numerics.sweep import run_sweep
from numerics.sweep.options import add_sweep_arguments, sweep_options
from theory.sampling import sampling_help

#: Columns of the human-readable table.
TABLE_COLUMNS: tuple[str, ...] = (
    "snr", "train_acc", "test_acc", "sigma_joint", "sigma_r", "sigma_f", "sigma_rf",
    "cos_same_label", "cos_opposite_label", "lambda_min_A_rel", "rho", "out_of_span_forget",
    "forget_loss_growth", "forget_acc_after", "retain_acc_after", "escaped",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``cnn`` parser."""
    d = ExperimentConfig()
    p = sub.add_parser(
        "cnn", help="two-layer CNN on signal-plus-noise data: coherence vs SNR and unlearning",
        description="Train the CNN of SPEC §5 at each SNR, compute per-sample curvature, "
                    "coherence and the linearised unlearning operator, and run real "
                    "gradient-difference unlearning.  Step sizes are in units of "
                    "2/lambda_max(mean retain Hessian).")
    p.add_argument("--snr", type=float, nargs="+", required=True, metavar="S",
                   help="signal-to-noise ratios ||mu|| / (sigma_p sqrt(d))")
    p.add_argument("--n", type=int, default=d.n, help=f"training samples (default {d.n})")
    p.add_argument("--d", type=int, default=d.d, help=f"patch dimension (default {d.d})")
    p.add_argument("--m", type=int, default=d.m, help=f"filters per class (default {d.m})")
    p.add_argument("--n-forget", type=int, default=d.n_forget, metavar="NF",
                   help=f"forget-set size (default {d.n_forget})")
    p.add_argument("--seed", type=int, default=d.seed, metavar="K")
    p.add_argument("--seeds", type=int, nargs="+", metavar="K",
                   help="several seeds (a grid axis; default: --seed)")
    p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)}")
    p.add_argument("--dtype", default="auto",
                   help=f"one of {', '.join(DTYPES)} (float32: GPU only)")
    p.add_argument("--n-test", type=int, default=d.n_test)
    p.add_argument("--sigma-p", type=float, default=d.sigma_p)
    p.add_argument("--sigma0", type=float, default=d.sigma0, help="init scale")
    p.add_argument("--activation", default=d.activation, choices=ACTIVATIONS)
    p.add_argument("--q", type=float, default=d.q, help="power of relu_q")
    p.add_argument("--flip-prob", type=float, default=d.flip_prob, help="label-flip noise")
    p.add_argument("--lr", type=float, default=d.lr, help="training learning rate")
    p.add_argument("--loss-tol", type=float, default=d.loss_tol, help="training-loss tolerance")
    p.add_argument("--max-steps", type=int, default=d.max_steps, help="training step cap")
    p.add_argument("--forget-rule", default=d.forget_rule, choices=FORGET_RULES)
    p.add_argument("--alpha", type=float, nargs="+", default=[d.alpha], metavar="A",
                   help=f"mixing weight(s) (a grid axis; default {d.alpha})")
    p.add_argument("--batch-retain", type=int, nargs="+", default=[d.batch_retain],
                   metavar="BR", help=f"retain batch size(s) (a grid axis; default "
                                      f"{d.batch_retain})")
    p.add_argument("--batch-forget", type=int, default=d.batch_forget, metavar="BF")
    p.add_argument("--sampling", default=d.sampling, help=sampling_help())
    p.add_argument("--eta-rel", type=float, default=d.eta_rel,
                   help="unlearning step in units of 2/lambda_max(H_r)")
    p.add_argument("--steps", type=int, default=d.steps, help="nonlinear unlearning steps K")
    p.add_argument("--horizon", type=int, default=d.horizon, help="linear rule horizon T")
    p.add_argument("--repeats", type=int, default=d.repeats, help="linear rule repetitions R")
    p.add_argument("--shuffle-labels", action="store_true",
                   help="negative control: permute the training labels")
    p.add_argument("--eta-star", action="store_true",
                   help="also report the retain-only threshold eta*_ms (slower)")
    p.add_argument("--no-linear-rule", action="store_true", help="skip the companion rule")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one record per cell")
    add_sweep_arguments(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The :class:`ExperimentConfig` the options describe (validated)."""
    cfg = ExperimentConfig(
        n=args.n, n_test=args.n_test, d=args.d, m=args.m, sigma_p=args.sigma_p,
        sigma0=args.sigma0, activation=args.activation, q=args.q, flip_prob=args.flip_prob,
        lr=args.lr, loss_tol=args.loss_tol, max_steps=args.max_steps, n_forget=args.n_forget,
        forget_rule=args.forget_rule, alpha=args.alpha[0], batch_retain=args.batch_retain[0],
        batch_forget=args.batch_forget, sampling=args.sampling, eta_rel=args.eta_rel,
        steps=args.steps, horizon=args.horizon, repeats=args.repeats, seed=args.seed,
        shuffle_labels=args.shuffle_labels, with_eta_star=args.eta_star,
        with_linear_rule=not args.no_linear_rule, device=args.device, dtype=args.dtype,
        threads=args.threads,
    )
    for a in args.alpha:
        for b in args.batch_retain:
            replace(cfg, alpha=a, batch_retain=b).validated()
    return cfg.validated()


def run(args: argparse.Namespace) -> int:
    """Print one record per cell; exit 1 when a cell failed."""
    cfg = config_from_args(args)
    for s in args.snr:
        if not (s == s and s >= 0 and s != float("inf")):
            raise InputError(f"SNR must be finite and >= 0, got {s}")
    seeds = args.seeds or [args.seed]
    configs = cnn_configs(args.snr, seeds, cfg, alpha=args.alpha,
                          batch_retain=args.batch_retain)
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
    varying = [k for k, v in (("seed", seeds), ("alpha", args.alpha),
                              ("batch_retain", args.batch_retain)) if len(v) > 1]
    columns = (*varying, *TABLE_COLUMNS)
    head = [c.replace("_label", "").replace("forget_", "f_") for c in columns]
    rows = [[_fmt(r.get(c)) for c in columns] for r in records]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    ok = next((r for r, c in zip(records, result.cells, strict=True) if c.ok), {})
    print(f"# device={ok.get('device')} dtype={ok.get('dtype')} n={cfg.n} d={cfg.d} "
          f"m={cfg.m} n_forget={cfg.n_forget} alpha={','.join(f'{a:g}' for a in args.alpha)} "
          f"B_r={','.join(str(b) for b in args.batch_retain)} B_f={cfg.batch_forget} "
          f"eta_rel={cfg.eta_rel} K={cfg.steps} seed={','.join(str(k) for k in seeds)}")
    print(f"# {summary}")
    return 1 if result.failed else 0


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
