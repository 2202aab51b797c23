"""Benchmark: coherence of per-sample CNN Hessians by three routes, measured in one run.

Routes (all on the CPU, all for the per-sample logistic-loss Hessians of the two-layer ReLU CNN
of SPEC §5, whose exact Hessians are rank one):

* gram  -- this package: analytic rank-one factors u_i = sqrt(l''_i) g_i, the n x n Gram matrix
           U U^T (BLAS syrk, float64), S = |G|, sigma from its top eigenvalue.
           Time O(n P + n^2 P), memory O(n P + n^2).
* a     -- the route of the authors' public code (nn_training.compute_coherence): every
           per-sample P x P Hessian built row by row with autograd (P backward passes per
           sample), the largest eigenvalue of each, and S_ij = sqrt(tr(H_i @ H_j)) with a dense
           P x P product per pair.  float32, like that code.  Time O(n P t_bwd + n^2 P^3),
           memory O(n P^2).
* b     -- torch.func dense per-sample Hessians (vmap(hessian)), float64, then the trace kernel
           as one GEMM over the flattened Hessians.  Time O(n P^2 (...)), memory O(n P^2).

A route is skipped at sizes where its estimated time (routes a: from a calibration of one
Hessian row, one eigvalsh and one pair product) or its memory (n P^2 floats) exceeds the stated
budget; the skip and the estimate are printed.  Each measurement runs in a fresh subprocess so
that its peak resident memory (ru_maxrss minus the RSS before the route) is its own.

Usage:  PYTHONPATH=$PWD python benchmarks/coherence.py [--quick] [--budget-s 400] [--budget-gb 6]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time

#: Threads for every route (same for all, so ratios compare like with like).  One thread by
#: default: on a shared 2-core machine, 2-thread BLAS/OpenMP timings are dominated by contention
#: (we measured 10-60x slow-downs of small GEMMs under load); ``--threads`` overrides.
THREADS = int(os.environ.get("BENCH_THREADS", "1"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _shape(P: int) -> tuple[int, int]:
    """(m, d) with P = 2 m d."""
    return {1000: (5, 100), 8000: (10, 400)}.get(P, (max(P // 200, 1), 100))


def _limit_threads() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(THREADS)
    threadpool_limits(THREADS)


def _setup(n: int, P: int, dtype):
    import torch

    _limit_threads()

    from numerics.apps.cnn.data import DataConfig, make_data
    from numerics.apps.cnn.model import CNNConfig, init_weights

    m, d = _shape(P)
    data = make_data(DataConfig(n_train=n, n_test=1, d=d, snr=0.5, seed=0), dtype=dtype)
    cfg = CNNConfig(m=m)
    W = init_weights(d, cfg, sigma0=d**-0.5, seed=0, dtype=dtype)
    return torch, data.x_train, data.y_train, W, cfg


def _gram_route(n: int, P: int, repeats: int = 9) -> dict:
    """Generic Gram route (factors, then syrk) and the CNN's structured Gram; medians."""
    import numpy as np

    from numerics.apps.cnn.model import rank_one_factors, rank_one_gram
    from numerics.curvature.coherence import coherence_from_gram, dexter_sigma

    torch, X, y, W, cfg = _setup(n, P, __import__("torch").float64)
    before = _rss_mb()  # before the warm-up: the warm-up allocates what the route needs
    with torch.no_grad():
        dexter_sigma(rank_one_factors(W, X, y, cfg))  # warm-up
        coherence_from_gram(rank_one_gram(W, X, y, cfg))
        t_fac, t_coh, t_struct = [], [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            U = rank_one_factors(W, X, y, cfg)
            t1 = time.perf_counter()
            sigma = dexter_sigma(U)
            t2 = time.perf_counter()
            del U
            t_fac.append(t1 - t0)
            t_coh.append(t2 - t1)
        peak = max(_peak_mb() - before, 0.0)
        for _ in range(repeats):
            t0 = time.perf_counter()
            sigma_s = coherence_from_gram(rank_one_gram(W, X, y, cfg)).sigma_r
            t_struct.append(time.perf_counter() - t0)
    total = np.add(t_fac, t_coh)
    return {"seconds": float(np.median(total)), "seconds_min": float(np.min(total)),
            "seconds_factors": float(np.median(t_fac)),
            "seconds_gram_sigma": float(np.median(t_coh)),
            "seconds_structured": float(np.median(t_struct)),
            "peak_mb": peak, "model_mb": (n * P + n * n) * 8 / 2**20, "sigma": sigma,
            "sigma_structured": sigma_s}


def _cnn_loss(torch, W, X, y, cfg, i):
    from numerics.apps.cnn.model import forward

    return torch.nn.functional.softplus(-y[i] * forward(W, X[i:i + 1], cfg)[0])


def _hessian_rows(torch, W, X, y, cfg, i, rows=None):
    """The authors' construction: one backward pass per Hessian row."""
    Wg = W.clone().requires_grad_(True)
    g = torch.autograd.grad(_cnn_loss(torch, Wg, X, y, cfg, i), Wg, create_graph=True)[0]
    g = g.reshape(-1)
    P = g.numel()
    rows = P if rows is None else rows
    H = torch.zeros((rows, P), dtype=W.dtype)
    for p in range(rows):
        H[p] = torch.autograd.grad(g[p], Wg, retain_graph=True)[0].reshape(-1)
    return H


def _calibrate_a(n: int, P: int) -> dict:
    torch, X, y, W, cfg = _setup(2, P, __import__("torch").float32)
    k = min(P, 200)
    t0 = time.perf_counter()
    _hessian_rows(torch, W, X, y, cfg, 0, rows=k)
    t_row = (time.perf_counter() - t0) / k
    A = torch.randn(P, P)
    A = A + A.T
    t0 = time.perf_counter()
    torch.linalg.eigvalsh(A)
    t_eig = time.perf_counter() - t0
    t0 = time.perf_counter()
    torch.trace(A @ A)
    t_mm = time.perf_counter() - t0
    est = n * P * t_row + n * t_eig + n * (n + 1) / 2 * t_mm
    return {"t_row": t_row, "t_eig": t_eig, "t_pair": t_mm, "estimate_s": est}


def _route_a(n: int, P: int) -> dict:
    import numpy as np

    torch, X, y, W, cfg = _setup(n, P, __import__("torch").float32)
    before = _rss_mb()
    t0 = time.perf_counter()
    hess, lam = [], 0.0
    for i in range(n):
        H = _hessian_rows(torch, W, X, y, cfg, i)
        H = 0.5 * (H + H.T)
        hess.append(H)
        lam = max(lam, float(torch.linalg.eigvalsh(H).max()))
    S = torch.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            S[i, j] = S[j, i] = torch.sqrt(torch.clamp(torch.trace(hess[i] @ hess[j]), min=0))
    sigma = float(torch.linalg.eigvalsh(S.double()).max()) / lam
    return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb() - before, "sigma": sigma,
            "S_sample": np.asarray(S[:4, :4].double()).tolist()}


def _route_b(n: int, P: int) -> dict:
    from numerics.apps.cnn.model import logistic_loss_fn, model_fn
    from numerics.curvature.coherence import coherence_dense
    from numerics.curvature.hessians import per_sample_hessians

    torch, X, y, W, cfg = _setup(n, P, __import__("torch").float64)
    m, d = _shape(P)
    before = _rss_mb()
    t0 = time.perf_counter()
    H = per_sample_hessians(model_fn(cfg, m, d), logistic_loss_fn, W.reshape(-1), X, y,
                            chunk_size=8)
    sigma = coherence_dense(H).sigma_r
    return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb() - before, "sigma": sigma}


def _child(fn_name: str, n: int, P: int, q: mp.Queue) -> None:
    try:
        q.put(globals()[fn_name](n, P))
    except Exception as exc:  # noqa: BLE001 -- report any failure, do not hang the parent
        q.put({"error": repr(exc)})


def measure(fn_name: str, n: int, P: int) -> dict:
    """Run one measurement in a fresh spawned process (own peak memory)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn_name, n, P, q))
    proc.start()
    out = q.get()
    proc.join()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="n in {32, 64}, P = 1000 only")
    ap.add_argument("--budget-s", type=float, default=900.0, help="time budget per route/size")
    ap.add_argument("--budget-gb", type=float, default=6.0, help="memory budget per route/size")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--routes", default="gram,a,b", help="comma list of routes to run")
    args = ap.parse_args(argv)
    routes = set(args.routes.split(","))
    ns = (32, 64) if args.quick else (32, 64, 128, 256)
    Ps = (1000,) if args.quick else (1000, 8000)
    results = []
    print(f"# torch {__import__('torch').__version__}, threads={THREADS}; "
          f"budgets: {args.budget_s:g} s and {args.budget_gb:g} GB "
          "per route and size", flush=True)
    cal0 = None
    for P in Ps:
        if "a" not in routes:
            cal = {"t_row": 0.0, "t_eig": 0.0, "t_pair": 0.0}
            how = "route a not requested"
        elif cal0 is None:
            cal = cal0 = measure("_calibrate_a", 1, P)
            how = "measured"
        else:  # extrapolate: a backward pass is O(P), eigvalsh and a P x P product are O(P^3)
            r = P / Ps[0]
            cal = {"t_row": cal0["t_row"] * r, "t_eig": cal0["t_eig"] * r**3,
                   "t_pair": cal0["t_pair"] * r**3}
            how = f"extrapolated from P={Ps[0]}"
        print(f"# route a calibration at P={P} ({how}): {cal['t_row'] * 1e3:.3f} ms/row, "
              f"eigvalsh {cal['t_eig']:.3f} s, pair product {cal['t_pair']:.4f} s", flush=True)
        for n in ns:
            row = {"n": n, "P": P, "gram": measure("_gram_route", n, P)}
            est_a = _calibrate_scale(cal, n, P)
            mem_a = n * P * P * 4 / 2**30
            if "a" not in routes:
                row["a"] = {"skipped": "not requested"}
            elif est_a > args.budget_s or mem_a > args.budget_gb:
                row["a"] = {"skipped": f"estimated {est_a:.0f} s, {mem_a:.1f} GB "
                                       f"(budget {args.budget_s:g} s, {args.budget_gb:g} GB)"}
            else:
                row["a"] = measure("_route_a", n, P)
                row["a"]["estimate_s"] = est_a
            mem_b = 1.5 * n * P * P * 8 / 2**30
            if "b" not in routes:
                row["b"] = {"skipped": "not requested"}
            elif mem_b > args.budget_gb:
                row["b"] = {"skipped": f"needs about {mem_b:.1f} GB for n P^2 float64 Hessians "
                                       f"(budget {args.budget_gb:g} GB)"}
            else:
                row["b"] = measure("_route_b", n, P)
            results.append(row)
            _print_row(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


def _calibrate_scale(cal: dict, n: int, P: int) -> float:
    return n * P * cal["t_row"] + n * cal["t_eig"] + n * (n + 1) / 2 * cal["t_pair"]


def _print_row(row: dict) -> None:
    g = row["gram"]
    parts = [f"n={row['n']:4d} P={row['P']:5d} | gram {g['seconds'] * 1e3:8.2f} ms "
             f"(factors {g['seconds_factors'] * 1e3:.2f} + gram/sigma "
             f"{g['seconds_gram_sigma'] * 1e3:.2f}; min {g['seconds_min'] * 1e3:.2f}) "
             f"peak {g['peak_mb']:6.1f} MB (nP+n^2 floats: {g['model_mb']:.1f} MB) "
             f"sigma={g['sigma']:.6f} | structured gram "
             f"{g['seconds_structured'] * 1e3:.2f} ms |diff|="
             f"{abs(g['sigma_structured'] - g['sigma']):.1e}"]
    for key in ("a", "b"):
        r = row[key]
        if "skipped" in r:
            parts.append(f"route {key}: skipped ({r['skipped']})")
        elif "error" in r:
            parts.append(f"route {key}: error {r['error']}")
        else:
            parts.append(f"route {key} {r['seconds']:9.2f} s peak {r['peak_mb']:8.1f} MB "
                         f"sigma={r['sigma']:.6f} |diff|={abs(r['sigma'] - g['sigma']):.2e} "
                         f"ratio {r['seconds'] / g['seconds']:,.0f}x")
    print("\n    ".join(parts), flush=True)


if __name__ == "__main__":
    sys.exit(main())
