"""Benchmark: rho(T) dense Kronecker vs matrix-free Lanczos, eta* over a 50x50 frontier grid, and
the pool congruence F_i -> Q^T F_i (one BLAS product vs the einsum it replaced).

Prints times and the ratio measured in the same run.  The dense path forms an r^2 x r^2 matrix
(8 r^4 bytes); it is skipped where that exceeds --dense-budget-gb, and the skip is printed.

    python benchmarks/operator.py [--dims 8 32 128 256] [--n 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from numerics.core.inputs import HessianPool, UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def rho_section(dims, n, budget_gb):
    print(f"rho(T) at eta = 0.9 eta*_ms, n = {n} rank-one retain + {n // 8} forget samples, WOR")
    print(f"{'d':>5} {'r':>5} {'dense s':>10} {'lanczos s':>10} {'ratio':>8} {'|diff|/rho':>11}")
    rng = np.random.default_rng(0)
    for d in dims:
        U = rng.standard_normal((n, d, 1)) / np.sqrt(d)
        Uf = 0.3 * rng.standard_normal((n // 8, d, 1)) / np.sqrt(d)
        op = SecondMomentOperator(U, Uf, UnlearningConfig(0.05, 16, 4, "wor"))
        if op.mean_escape().escapes_at_every_eta:
            eta = 0.5 / op.eig_A()[0][-1]
        else:
            eta = 0.9 * op.eta_star_ms("lanczos")
        t_l, rho_l = timed(lambda op=op, eta=eta: op.rho(eta, "lanczos"), 2)
        r = op.dim
        dense_gb = 8 * r**4 / 1e9
        if dense_gb * 3 > budget_gb:
            print(f"{d:>5} {r:>5} {'skipped':>10} {t_l:>10.4f} {'-':>8} {'-':>11}"
                  f"   (dense needs ~{3 * dense_gb:.1f} GB > budget {budget_gb} GB)")
            continue
        t_d, rho_d = timed(lambda op=op, eta=eta: op.rho(eta, "dense"), 1)
        print(f"{d:>5} {r:>5} {t_d:>10.4f} {t_l:>10.4f} {t_d / t_l:>8.1f} "
              f"{abs(rho_d - rho_l) / rho_d:>11.2e}")


def grid_section(size):
    try:
        from theory.families import sigma_family_eta_star_grid
    except ImportError:
        print("eta* grid: theory.families not available")
        return
    n = 100
    sig = np.linspace(1, n, size).round().astype(int)
    bat = np.linspace(1, n, size).round().astype(int)
    S, Bm = np.meshgrid(sig, bat, indexing="ij")
    t_c, eta_c = timed(lambda: sigma_family_eta_star_grid("wor", S, n, Bm), 3)
    print(f"\neta*_ms over a {size}x{size} (sigma x B) grid, sigma-family n={n}, WOR")
    print(f"  closed form (vectorised): {t_c:.4f} s")
    from numerics.core.families import sigma_family

    sample = [(int(S[i, j]), int(Bm[i, j])) for i, j in
              np.random.default_rng(1).integers(0, size, (20, 2))]

    def operator_cells():
        out = []
        for s, b in sample:
            pool = as_pool(sigma_family(n, s), "sigma-family", factors=True)  # d = 1 at s = n
            op = SecondMomentOperator(pool, None, UnlearningConfig(0.0, b, 1, "wor"))
            out.append(op.eta_star_ms())
        return out

    t_o, eta_o = timed(operator_cells, 1)
    per = t_o / len(sample)
    print(f"  exact operator: {per:.4f} s per cell -> {per * size * size:.1f} s for the grid "
          f"(ratio {per * size * size / t_c:.0f}x)")
    ref = [eta_c[np.argwhere((S == s) & (Bm == b))[0][0], np.argwhere((S == s) & (Bm == b))[0][1]]
           for s, b in sample]
    print(f"  max relative difference on the {len(sample)} sampled cells: "
          f"{np.max(np.abs(np.array(ref) - eta_o) / np.array(eta_o)):.2e}")


def projection_section(n: int, d: int, r: int, k: int) -> None:
    r"""Projection of ``n`` factors ``d x k`` onto ``r`` orthonormal columns; baseline: einsum."""
    rng = np.random.default_rng(2)
    pool = HessianPool(rng.standard_normal((n, d, k)))
    Q = np.linalg.qr(rng.standard_normal((d, r)))[0]
    t_e, ref = timed(lambda: np.einsum("dr,ndk->nrk", Q, pool.factors), 3)
    t_b, got = timed(lambda: pool.project(Q).factors, 3)
    print(f"\npool projection n={n} d={d} -> r={r}, k={k}: einsum {t_e:.4f} s, "
          f"BLAS {t_b:.4f} s (ratio {t_e / t_b:.1f}x), max |diff| {np.abs(ref - got).max():.1e}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dims", type=int, nargs="+", default=[8, 32, 128, 256])
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--grid", type=int, default=50)
    p.add_argument("--dense-budget-gb", type=float, default=4.0)
    a = p.parse_args()
    with threadpool_limits(a.threads):
        rho_section(a.dims, a.n, a.dense_budget_gb)
        grid_section(a.grid)
        projection_section(200, 334, 226, 10)


if __name__ == "__main__":
    main()
