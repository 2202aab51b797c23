"""``unlearnstab frontier``: a stability map over a grid of cells, run by the sweep engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from numerics.apps.frontier import (
    NOTIONS,
    SIGMA_CELL,
    plot_sigma_frontier,
    sigma_family_grid,
)
from numerics.cli._common import check_figure_path, emit
from numerics.core.serialise import jsonable
from numerics.sweep import SweepResult, run_sweep
from numerics.sweep.options import add_sweep_arguments, parse_values, sweep_options
from theory.sampling import sampling_help

FAMILIES = ("sigma",)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``frontier`` parser."""
    p = sub.add_parser(
        "frontier", help="stability map over a (sigma, batch) grid, resumable and parallel",
        description="Evaluate the sigma-family (SPEC 4.2-4.3) on every (sigma, batch) cell: "
                    "mean-square and almost-sure thresholds, and with --notion trajectory the "
                    "companion rule.  Cells run through the sweep engine: --store keeps every "
                    "finished cell, a rerun computes only the missing ones, and the heatmap is "
                    "written next to the store.")
    p.add_argument("--family", choices=FAMILIES, default="sigma", help="synthetic family")
    p.add_argument("--n", type=int, required=True, help="number of samples")
    p.add_argument("--sigma", required=True, metavar="A:B:STEP",
                   help="coherence values: A:B:STEP, A:B or a comma list")
    p.add_argument("--batch", required=True, metavar="A:B:STEP", help="batch sizes, likewise")
    p.add_argument("--eta", type=float, required=True, help="step size")
    p.add_argument("--alpha", type=float, default=0.0,
                   help="mixing weight (> 0: retain list = forget list, SPEC 4.3)")
    p.add_argument("--notion", choices=list(NOTIONS), default="ms",
                   help="what the heatmap observes: ms (default), as or trajectory")
    p.add_argument("--sampling", default="wor", help=sampling_help())
    p.add_argument("--c", type=float, default=2.0, help="curvature scale: lambda_max(mean H)")
    p.add_argument("--seed", type=int, default=0, help="seed of the trajectory rule")
    p.add_argument("--horizon", type=int, default=1000, help="trajectory rule: steps")
    p.add_argument("--repetitions", type=int, default=10, help="trajectory rule: runs")
    p.add_argument("--exact-operator", action="store_true",
                   help="also compute rho(T(eta)) of the exact operator in every cell")
    p.add_argument("--plot", metavar="PATH", help="heatmap path (default: in the store directory)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_sweep_arguments(p)
    p.set_defaults(func=run)


def heatmap_name(args: argparse.Namespace) -> str:
    """File name of the heatmap of this map."""
    return (f"frontier-{args.family}-{args.notion}-n{args.n}-eta{args.eta:g}-"
            f"alpha{args.alpha:g}-{args.sampling}.png")


def configs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The cell configurations of the requested map."""
    extra: dict[str, Any] = {"c": args.c}
    if args.exact_operator:
        extra["exact_operator"] = True
    if args.notion == "trajectory":
        extra.update(horizon=args.horizon, repetitions=args.repetitions)
    return sigma_family_grid(args.n, parse_values(args.sigma, "--sigma"),
                             parse_values(args.batch, "--batch"), args.eta, args.alpha,
                             args.notion, args.sampling, args.seed, **extra)


def char_map(result: SweepResult, notion: str) -> list[str]:
    """Rows of ``x`` (escapes), ``.`` (resists), ``?`` (unknown), ``!`` (failed): batch by sigma."""
    key = {"ms": "ms_stable", "as": "as_stable", "trajectory": "traj_escapes"}[notion]
    sigmas = sorted({c.config["sigma"] for c in result.cells})
    batches = sorted({c.config["batch"] for c in result.cells})
    mark = {}
    for c in result.cells:
        if not c.ok:
            ch = "!"
        else:
            v = c.record.get(key)
            escapes = None if v is None else (bool(v) if notion == "trajectory" else not v)
            ch = "?" if escapes is None else ("x" if escapes else ".")
        mark[(c.config["batch"], c.config["sigma"])] = ch
    return [f"B={b:<5d} " + "".join(mark.get((b, s), " ") for s in sigmas) for b in batches]


def run(args: argparse.Namespace) -> int:
    """Run the map; exit 1 when a cell failed."""
    cells = configs(args)
    if args.plot:
        check_figure_path(args.plot, "--plot")
    opts = sweep_options(args, progress=None if not args.json else not args.quiet)
    result = run_sweep(SIGMA_CELL, cells, args.store, opts,
                       desc=f"frontier {args.family}/{args.notion}")
    plot = args.plot or (str(Path(args.store) / heatmap_name(args)) if args.store else None)
    ok_records = [c.record for c in result.cells if c.ok]
    if plot and ok_records:
        title = (f"{args.family}-family n={args.n} eta={args.eta:g} alpha={args.alpha:g} "
                 f"({args.sampling}); observed: {NOTIONS[args.notion]}")
        plot_sigma_frontier(ok_records, args.notion, plot, title)
    out = {"family": args.family, "notion": args.notion, "n": args.n, "eta": args.eta,
           "alpha": args.alpha, "sampling": args.sampling, "cells": len(result.cells),
           "computed": result.computed, "reused": result.reused, "failed": result.failed,
           "seconds": result.seconds, "executor": result.executor, "store": result.store,
           "heatmap": plot if ok_records else None,
           "records": [dict(c.row, status="ok" if c.ok else "failed") for c in result.cells]}
    if args.json:
        emit(jsonable(out), True)
    else:
        print(f"frontier {args.family}/{args.notion}: {len(result.cells)} cells, computed "
              f"{result.computed}, reused {result.reused}, failed {result.failed} "
              f"({result.seconds:.1f} s, {result.executor})")
        print("rows: batch; columns: sigma " + " ".join(
            str(s) for s in sorted({c.config['sigma'] for c in result.cells})))
        print("x escapes, . resists, ? unknown, ! failed")
        for line in char_map(result, args.notion):
            print(line)
        if out["heatmap"]:
            print(f"heatmap: {out['heatmap']}")
        print(f"store: {result.store}")
        for c in result.failures[:5]:
            print(f"failed {c.config}: {c.row['error']}", file=sys.stderr)
    return 1 if result.failed else 0


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = """\
unlearnstab frontier --n 20 --sigma 1:20:5 --batch 1:20:5 --eta 0.5 --store maps/ --quiet
unlearnstab frontier --n 20 --sigma 1:20:5 --batch 1:20:5 --eta 0.5 --store maps/ \\
    --notion trajectory --horizon 200 --repetitions 3 --quiet
"""
#: Shared notes explaining this command's choices.
NOTES = ('sampling', 'notions')
