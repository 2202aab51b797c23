"""``unlearnstab cnn``: train the two-layer CNN at several SNRs, measure, linearise, unlearn.

One record per SNR (SPEC §5.7): accuracies, coherence (σ_joint, σ_r, σ_f, σ_rf), cosines,
λ_min(A|_V)/λ_max(H̄_r), ρ(T), the out-of-span fraction, the finite-horizon linear rule and the
nonlinear unlearning outcome.  One seed fixes the data, initialisation and batches at every SNR
(common random numbers).
"""

from __future__ import annotations

import argparse
import json
import sys

from numerics.cnn.data import FORGET_RULES
from numerics.cnn.experiment import ExperimentConfig, run_snr
from numerics.cnn.model import ACTIVATIONS
from numerics.commands._common import jsonable
from numerics.device import DEVICES, DTYPES
from numerics.inputs import InputError

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
    p.add_argument("--alpha", type=float, default=d.alpha)
    p.add_argument("--batch-retain", type=int, default=d.batch_retain, metavar="BR")
    p.add_argument("--batch-forget", type=int, default=d.batch_forget, metavar="BF")
    p.add_argument("--sampling", default=d.sampling, help="wor (default), bernoulli or wr")
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
    p.add_argument("--json", action="store_true", help="print a JSON list, one record per SNR")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The :class:`ExperimentConfig` the options describe (validated)."""
    cfg = ExperimentConfig(
        n=args.n, n_test=args.n_test, d=args.d, m=args.m, sigma_p=args.sigma_p,
        sigma0=args.sigma0, activation=args.activation, q=args.q, flip_prob=args.flip_prob,
        lr=args.lr, loss_tol=args.loss_tol, max_steps=args.max_steps, n_forget=args.n_forget,
        forget_rule=args.forget_rule, alpha=args.alpha, batch_retain=args.batch_retain,
        batch_forget=args.batch_forget, sampling=args.sampling, eta_rel=args.eta_rel,
        steps=args.steps, horizon=args.horizon, repeats=args.repeats, seed=args.seed,
        shuffle_labels=args.shuffle_labels, with_eta_star=args.eta_star,
        with_linear_rule=not args.no_linear_rule, device=args.device, dtype=args.dtype,
        threads=args.threads,
    )
    return cfg.validated()


def run(args: argparse.Namespace) -> int:
    """Print one record per SNR; exit 0."""
    cfg = config_from_args(args)
    for s in args.snr:
        if not (s == s and s >= 0 and s != float("inf")):
            raise InputError(f"SNR must be finite and >= 0, got {s}")
    records = [run_snr(s, cfg) for s in args.snr]
    if args.json:
        json.dump(jsonable(records), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    head = [c.replace("_label", "").replace("forget_", "f_") for c in TABLE_COLUMNS]
    rows = [[_fmt(r.get(c)) for c in TABLE_COLUMNS] for r in records]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print(f"# device={records[0]['device']} dtype={records[0]['dtype']} n={cfg.n} d={cfg.d} "
          f"m={cfg.m} n_forget={cfg.n_forget} alpha={cfg.alpha} B_r={cfg.batch_retain} "
          f"B_f={cfg.batch_forget} eta_rel={cfg.eta_rel} K={cfg.steps} seed={cfg.seed}")
    return 0


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
