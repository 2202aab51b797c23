"""``unlearnstab diagnose``: does gradient-difference unlearning escape for my model and forget set.

``--entry module:function`` names a function with no arguments that returns a dict with
``model`` (a ``torch.nn.Module`` at its trained weights), ``loss`` (per-sample, like a torch loss
with ``reduction='none'``), ``retain`` and ``forget`` (``(inputs, targets)`` pairs or torch
Datasets) and optionally ``test``, ``train`` (``train(inputs, targets, seed) -> model``, for the
deletion check), ``seed`` (the seed the original was trained with), ``output_map`` (applied to
outputs before the deletion check's function distance, e.g. a softmax) and ``options`` (defaults
for the options below; the command line wins).
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from numerics.apps.diagnose.api import diagnose, write_outputs
from numerics.apps.diagnose.data import load_entry
from numerics.apps.diagnose.route import DEFAULT_BUDGET_GB, ROUTES
from numerics.cli._common import emit
from numerics.core.device import DEVICES
from numerics.core.inputs import InputError
from numerics.core.serialise import jsonable

#: Options an entry's ``options`` dict may set (the keyword arguments of ``diagnose``).
OPTION_NAMES: tuple[str, ...] = tuple(
    p for p in inspect.signature(diagnose).parameters
    if p not in ("model", "loss", "retain", "forget", "test", "train", "out", "progress",
                 "output_map")
)

#: Keys printed in the human-readable summary.
SUMMARY_KEYS: tuple[str, ...] = (
    "verdict", "rho", "eta_star_ms", "escapes_at_every_eta", "lambda_min_A", "alpha_c",
    "sigma_r", "sigma_f", "sigma_rf", "sigma_joint", "curvature_route", "active_dim",
    "out_of_span_forget",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``diagnose`` parser."""
    p = sub.add_parser(
        "diagnose", help="verdict and prescriptions for your model and forget set",
        description="Compute per-sample curvature of your trained model, the coherences and the "
                    "exact mean-square criterion of gradient-difference unlearning; say whether "
                    "it escapes the trained minimum or is pulled back, what to change to flip "
                    "that, and (with a train function) how it compares with retraining without "
                    "the forget set.")
    p.add_argument("--entry", required=True, metavar="MODULE:FUNCTION",
                   help="function with no arguments returning {model, loss, retain, forget, "
                        "[test, train, seed, options]} (also path/to/file.py:function)")
    p.add_argument("--eta", type=float, default=None, help="step size of the unlearning")
    p.add_argument("--eta-rel", type=float, default=None,
                   help="step size in units of 2/lambda_max(mean retain Hessian)")
    p.add_argument("--alpha", type=float, default=None, help="weight of the forget ascent "
                   "in [0, 1] (default 0.1)")
    p.add_argument("--batch-retain", type=int, default=None, metavar="BR",
                   help="retain batch size (default min(32, n_r))")
    p.add_argument("--batch-forget", type=int, default=None, metavar="BF",
                   help="forget batch size (default min(32, n_f))")
    p.add_argument("--sampling", default=None, help="wor (default), bernoulli or wr")
    p.add_argument("--device", default=None, help=f"one of {', '.join(DEVICES)} (default cpu)")
    p.add_argument("--max-samples", type=int, default=None, metavar="N",
                   help="analyse a seeded subsample of at most N samples of each set")
    p.add_argument("--route", default=None, choices=ROUTES,
                   help="curvature route (default auto: dense exact Hessians when they fit)")
    p.add_argument("--memory-budget-gb", type=float, default=None,
                   help=f"memory for per-sample curvature (default {DEFAULT_BUDGET_GB})")
    p.add_argument("--seed", type=int, default=None, help="seed of subsamples and batches")
    p.add_argument("--unlearn-steps", type=int, default=None, metavar="K",
                   help="steps of the actual unlearning run (default 200; 0 skips it)")
    p.add_argument("--init-noise", type=float, default=None,
                   help="relative perturbation of the unlearning start (default 0)")
    p.add_argument("--grid", type=int, default=None, dest="grid_size",
                   help="alpha grid size for the figure and the alpha prescriptions (default 8)")
    p.add_argument("--no-deletion", action="store_true", help="skip the deletion check")
    p.add_argument("--no-prescribe", action="store_true", help="skip the prescriptions")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default 1)")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write DIR/report.json, DIR/diagnose.png and DIR/witness.npy")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace, entry_options: dict[str, Any] | None) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for key, value in (entry_options or {}).items():
        if key not in OPTION_NAMES:
            raise InputError(f"entry option {key!r} is not a diagnose option; known: "
                             f"{', '.join(OPTION_NAMES)}")
        opts[key] = value
    cli = {
        "eta": args.eta, "eta_rel": args.eta_rel, "alpha": args.alpha,
        "batch_retain": args.batch_retain, "batch_forget": args.batch_forget,
        "sampling": args.sampling, "device": args.device, "max_samples": args.max_samples,
        "route": args.route, "memory_budget_gb": args.memory_budget_gb, "seed": args.seed,
        "unlearn_steps": args.unlearn_steps, "init_noise": args.init_noise,
        "grid_size": args.grid_size, "threads": args.threads,
    }
    for key, value in cli.items():
        if value is not None:
            opts[key] = value
    if args.eta is not None or args.eta_rel is not None:  # the command line's step size wins
        opts["eta"], opts["eta_rel"] = args.eta, args.eta_rel
    if args.no_deletion:
        opts["deletion"] = False
    if args.no_prescribe:
        opts["prescribe"] = False
    return opts


def run(args: argparse.Namespace) -> int:
    """Print the report (and write the files under ``--out``); exit 0."""
    entry = load_entry(args.entry)
    opts = _options(args, dict(entry.options) if entry.options else None)
    opts.setdefault("train_seed", entry.seed)
    report = diagnose(entry.model, entry.loss, entry.retain, entry.forget, test=entry.test,
                      train=entry.train, output_map=entry.output_map,
                      progress=not args.no_progress, **opts)
    if args.out is not None:
        write_outputs(report, args.out)
    if args.json:
        emit(jsonable(report.as_dict()), True)
        return 0
    record = {k: report.as_dict()[k] for k in SUMMARY_KEYS}
    emit(record, False)
    print("prescriptions:")
    for p in report.prescriptions:
        flag = p["check"].get("flips")
        mark = "" if flag is None else ("  [re-checked: flips]" if flag else "  [re-check FAILED]")
        print(f"  - {p['text']}{mark}")
    if report.unlearning is not None:
        u = report.unlearning
        print(f"unlearning run: {u['steps_taken']} steps, forget loss {u['forget_loss_before']:.4g}"
              f" -> {u['forget_loss_after']:.4g} (uninformative level "
              f"{u['uninformative_forget_loss']:.4g}): {'escaped' if u['escaped'] else 'resisted'}")
    if report.deletion is not None:
        d = report.deletion
        fd = d["function_distance"]["original-retrained"]
        print(f"deletion standard: d_forget(original, retrained) = {fd['forget']:.4g}, "
              f"d_{d['reference_set']} = {fd[d['reference_set']]:.4g}: "
              f"{'already met' if d['already_met'] else 'not met'}")
        print(f"  {report.standards}")
    for note in report.notes:
        print(f"note: {note}")
    if args.out is not None:
        print(f"wrote {args.out}/report.json and {args.out}/diagnose.png")
    return 0
