"""Benchmark: the two curvature routes of ``unlearnstab diagnose``, measured in one run.

On the digits MLP of :mod:`numerics.apps.examples.digits` (n = 200 training samples, float64) at a
few hidden widths, time the curvature step of each route

* dense -- exact per-sample Hessians, ``vmap(hessian)`` of torch.func, then the signed factors
           and the trace-kernel coherence.  Memory O(n P^2);
* ggn   -- Gauss-Newton factors J_i^T R_i (per-sample Jacobians and output curvatures), the
           measured GGN residual on a subsample and the Gram coherence.  Memory O(n P C);

and the whole ``diagnose`` call on each route (curvature, second-moment operator on the active
subspace, eta*_ms, rho, lambda_min with its witness, alpha_c and the prescriptions; no unlearning
run, no deletion check).  Prints the ratios dense / ggn measured in the same run, and the two
routes' lambda_min(A) and verdicts side by side (they differ by the omitted GGN term, whose
measured size is printed too).
A dense route whose Hessians exceed --budget-gb is skipped with its estimate.

Usage:  PYTHONPATH=$PWD python benchmarks/diagnose.py [--quick] [--budget-gb 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

#: Threads for every route (the same for both, so the ratio compares like with like).
THREADS = int(os.environ.get("BENCH_THREADS", "1"))


def _limit_threads() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(THREADS)
    threadpool_limits(THREADS)


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], out


def measure(hidden: int, budget_gb: float, repeats: int) -> dict:
    """Both routes on the digits model with ``hidden`` units (random forget set)."""
    import numpy as np

    from numerics.apps.diagnose import DiagnoseOptions, diagnose
    from numerics.apps.diagnose.data import FlatModel, as_dataset
    from numerics.apps.diagnose.route import _bytes_dense, compute_curvature
    from numerics.apps.examples import digits

    e = digits.make_entry("random", hidden=hidden)
    flat = FlatModel(e["model"])
    retain, forget = as_dataset(e["retain"], "retain"), as_dataset(e["forget"], "forget")
    n, P = retain.n + forget.n, flat.P
    out: dict = {"hidden": hidden, "P": P, "n": n}
    opts = dict(e["options"], unlearn_steps=0, deletion=False, progress=False, threads=THREADS,
                memory_budget_gb=budget_gb)

    def run(route: str) -> tuple[float, float, object, object]:
        """Median seconds of the curvature step and of the whole diagnose, and their results."""
        t_curv, curv = _median_time(lambda: compute_curvature(
            flat, e["loss"], retain, forget, route=route, progress=False, budget_gb=budget_gb),
            repeats)
        t_diag, rep = _median_time(lambda: diagnose(  # seconds to minutes: one repeat
            e["model"], e["loss"], e["retain"], e["forget"],
            DiagnoseOptions.of(**{**opts, "route": route})), 1)
        return t_curv, t_diag, curv, rep

    t_ggn, full_ggn, ggn, rep_ggn = run("ggn")
    out.update(ggn_curvature_s=t_ggn, ggn_diagnose_s=full_ggn,
               ggn_residual_median=ggn.info["ggn_residual"].get("relative_median", float("nan")),
               ggn_lambda_min_A=rep_ggn.lambda_min_A, ggn_verdict=rep_ggn.verdict_code)
    need = _bytes_dense(n, P) / 2**30
    if need > budget_gb:
        out["dense_skipped"] = f"needs ~{need:.2f} GiB of Hessians > budget {budget_gb} GiB"
        return out
    t_dense, full_dense, _, rep_dense = run("dense")
    out.update(dense_curvature_s=t_dense, dense_diagnose_s=full_dense,
               ratio_curvature_dense_over_ggn=t_dense / t_ggn,
               ratio_diagnose_dense_over_ggn=full_dense / full_ggn,
               dense_lambda_min_A=rep_dense.lambda_min_A, dense_verdict=rep_dense.verdict_code,
               lambda_min_A_rel_diff=float(abs(rep_dense.lambda_min_A - rep_ggn.lambda_min_A)
                                           / max(abs(rep_dense.lambda_min_A), np.finfo(float).tiny)))
    return out


def main() -> None:
    """Run the grid and print one line per width (or one JSON object)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="widths 4 and 8, one repeat (default: 4, 8, 12; curvature median of 3)")
    parser.add_argument("--budget-gb", type=float, default=2.0,
                        help="skip the dense route above this many GiB of Hessians")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    _limit_threads()
    widths = (4, 8) if args.quick else (4, 8, 12)
    repeats = 1 if args.quick else 3
    report = {"threads": THREADS, "load_average": os.getloadavg(), "rows": []}
    if not args.json:
        print(f"threads={THREADS} load={report['load_average'][0]:.2f}", flush=True)
    for h in widths:  # each width is printed as soon as it is measured
        r = measure(h, args.budget_gb, repeats)
        report["rows"].append(r)
        if not args.json:
            print(_line(r), flush=True)
    if args.json:
        print(json.dumps(report, indent=2))


def _line(r: dict) -> str:
    head = (f"hidden={r['hidden']:>3} P={r['P']:>5} n={r['n']}: curvature ggn "
            f"{r['ggn_curvature_s']:.2f} s (GGN residual median {r['ggn_residual_median']:.3g})")
    if "dense_skipped" in r:
        return f"{head}; dense skipped ({r['dense_skipped']})"
    return (f"{head}, dense {r['dense_curvature_s']:.2f} s: ratio dense/ggn "
            f"{r['ratio_curvature_dense_over_ggn']:.1f}x; whole diagnose (no run, no deletion) "
            f"ggn {r['ggn_diagnose_s']:.2f} s, dense {r['dense_diagnose_s']:.2f} s "
            f"({r['ratio_diagnose_dense_over_ggn']:.1f}x); lambda_min(A) ggn "
            f"{r['ggn_lambda_min_A']:.4g} vs dense {r['dense_lambda_min_A']:.4g} "
            f"(rel. diff {r['lambda_min_A_rel_diff']:.2g}); verdicts {r['ggn_verdict']} / "
            f"{r['dense_verdict']}")

if __name__ == "__main__":
    main()
