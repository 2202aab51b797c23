"""Benchmark: cost of the finite-horizon predictions per cell, against one rho(T) evaluation.

σ-family (identical lists, n = 100, alpha = 0.1, WOR, eta = 0.5) on a 50 x 50 (σ, B) grid:
for a seeded sample of cells (``--cells``; ``--cells 2500`` runs the whole grid) it times

* ``rho``: one ρ(T(η)) of the exact operator (the baseline, measured in the same run);
* ``escape``: the first-passage escape probability of one run of the companion rule
  (in probability at horizon T = 1000, G = 1000) from the exact multiplier law;
* ``ms growth``: E|δ_t|²/|δ_0|² for t = 0..1000 from Krylov powers of T (mean-square);

and prints the per-cell times, their ratios to ``rho`` and the projected time of the full grid.

    python benchmarks/horizon.py [--cells 50] [--samples 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from numerics.apps.frontier import sigma_family_operator
from numerics.core.horizon import escape_probability, ms_growth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=50)
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    n, eta, alpha = 100, 0.5, 0.1
    sigmas = np.linspace(2, 100, 50).round().astype(int)
    batches = np.linspace(1, 99, 50).round().astype(int)
    grid = [(int(s), int(b)) for s in sigmas for b in batches]
    rng = np.random.default_rng(0)
    pick = rng.choice(len(grid), size=min(args.cells, len(grid)), replace=False)
    t_rho = t_esc = t_ms = 0.0
    with threadpool_limits(1):
        for k in pick:
            s, b = grid[k]
            op = sigma_family_operator(dict(n=n, sigma=s, batch=b, alpha=alpha, sampling="wor"))
            t = time.perf_counter()
            op.rho(eta)
            t_rho += time.perf_counter() - t
            t = time.perf_counter()
            escape_probability(op, eta, 1000.0, 1000, samples=args.samples)
            t_esc += time.perf_counter() - t
            t = time.perf_counter()
            ms_growth(op, eta, 1000)
            t_ms += time.perf_counter() - t
    m = len(pick)
    print(f"σ-family n={n}, alpha={alpha}, WOR, eta={eta}: {m} of {len(grid)} cells, 1 thread")
    print(f"{'quantity':<28} {'s / cell':>10} {'ratio to rho':>13} {'50x50 grid s':>13}")
    for name, tot in (("rho(T) (baseline)", t_rho), ("escape probability (exact)", t_esc),
                      ("ms growth, 1000 steps", t_ms)):
        print(f"{name:<28} {tot / m:>10.4f} {tot / t_rho:>13.2f} {tot / m * len(grid):>13.1f}")


if __name__ == "__main__":
    main()
