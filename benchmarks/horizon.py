"""Benchmark: the finite-horizon predictions of a 50 x 50 σ-family frontier against rho(T).

σ-family (identical lists, n = 100, alpha = 0.1, WOR, eta = 0.5) on a 50 x 50 (σ, B) grid, one
thread.  Measured in one run:

* ``rho``: one ρ(T(η)) of the exact operator per cell (the baseline), on a seeded sample of
  ``--cells`` cells, projected to the grid;
* ``escape grid``: the predicted escape probability of one run of the companion rule (in
  probability at horizon T = 1000, G = 1000, ``--samples`` starts per cell) on the **whole grid**
  in one call (:func:`numerics.apps.frontier.sigma_family_escape_grid`: closed-form laws, one
  first-passage programme per chunk of cells);
* ``escape (operator)``: the same prediction per cell through the operator
  (:func:`numerics.core.horizon.escape_probability`), and ``escape (full programme)``, the
  previous exact route (``method="exact reference"``: every step, the deepest floor), on the
  sample;
* ``ms growth``: E|δ_t|²/|δ_0|² for t = 0..1000 from Krylov powers of T (mean-square), on the
  sample.

It prints seconds per cell, the ratio to ``rho`` and the (projected) time of the 2,500 cells, and
the largest difference between the grid route and the full programme on the sample (the grid
route's stated error is ``K * theory.horizon.DEFAULT_TOL`` for K axes).

Second grid, **near-critical** (``--near``): σ-family n = 100, α = 0, Bernoulli, η = 1 on the same
50 x 50 (σ, B) grid (417 cells strictly between 1 % and 99 %, where every such axis runs most of
its T steps).  Measured in one run, CPU seconds of this process (one thread) and wall seconds:

* the grid route at the default tolerance (``K * DEFAULT_TOL`` per cell) and with the map-level
  accuracy option (``--accuracy``, a bound on each cell's error against the full programme), both
  on the whole grid;
* the full programme (``method="exact reference"`` through the same problems: every step, the
  deepest floor) on a seeded sample of ``--near-cells`` cells, projected to the grid (the full
  run takes minutes);
* the largest difference of either route from the full programme on the sample, and of the
  accuracy route from the default route on every cell (itself within ``K * DEFAULT_TOL`` of the
  full programme).

    python benchmarks/horizon.py [--cells 40] [--samples 2000] [--near] [--near-cells 24]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from numerics.apps.frontier import (
    EscapeSpec,
    sigma_family_escape_grid,
    sigma_family_escape_problem,
    sigma_family_grid,
    sigma_family_operator,
)
from numerics.core.horizon import escape_probabilities, escape_probability, ms_growth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=40, help="sampled cells for the per-cell routes")
    ap.add_argument("--samples", type=int, default=2000, help="sampled starts per cell")
    ap.add_argument("--near", action="store_true", help="also time the near-critical grid")
    ap.add_argument("--near-cells", type=int, default=24,
                    help="sampled cells for the full programme on the near-critical grid")
    ap.add_argument("--accuracy", type=float, default=1e-4,
                    help="map-level accuracy of the near-critical grid's fast route")
    args = ap.parse_args()
    if args.near:
        near_critical(args)
        return
    n, eta, alpha, G, T = 100, 0.5, 0.1, 1000.0, 1000
    sigmas = np.linspace(2, 100, 50).round().astype(int)
    batches = np.linspace(1, 99, 50).round().astype(int)
    configs = sigma_family_grid(n, sigmas, batches, eta, alpha, "trajectory", "wor", 0)
    pick = np.random.default_rng(0).choice(len(configs), size=min(args.cells, len(configs)),
                                           replace=False)
    spec = EscapeSpec(G, T, args.samples)
    times = dict.fromkeys(("rho", "operator", "reference", "ms"), 0.0)
    worst = 0.0
    with threadpool_limits(1):
        t = time.perf_counter()
        grid = sigma_family_escape_grid(configs, spec)
        t_grid = time.perf_counter() - t
        for k in pick:
            cfg = configs[int(k)]
            op = sigma_family_operator(cfg)
            for name, run in (
                ("rho", lambda op=op: op.rho(eta)),
                ("operator", lambda op=op: escape_probability(op, eta, G, T, samples=args.samples)),
                ("reference", lambda op=op: escape_probability(op, eta, G, T, samples=args.samples,
                                                               method="exact reference")),
                ("ms", lambda op=op: ms_growth(op, eta, T)),
            ):
                t = time.perf_counter()
                out = run()
                times[name] += time.perf_counter() - t
                if name == "reference":
                    worst = max(worst, abs(out.value - grid[int(k)].value))
    m, N = len(pick), len(configs)
    rho = times["rho"] / m
    print(f"σ-family n={n}, alpha={alpha}, WOR, eta={eta}, G={G:g}, T={T}, {args.samples} starts; "
          f"1 thread; per-cell routes on {m} of {N} cells")
    print(f"{'quantity':<34} {'s / cell':>10} {'ratio to rho':>13} {'50x50 grid s':>13}")
    rows = (("rho(T) (baseline, projected)", rho, "projected"),
            ("escape grid (whole grid, measured)", t_grid / N, "measured"),
            ("escape (operator, per cell)", times["operator"] / m, "projected"),
            ("escape (full programme)", times["reference"] / m, "projected"),
            ("ms growth, 1000 steps", times["ms"] / m, "projected"))
    for name, per, _ in rows:
        print(f"{name:<34} {per:>10.5f} {per / rho:>13.3f} {per * N:>13.1f}")
    print(f"grid route vs full programme on the sampled cells: max |difference| = {worst:.1e}")
    print(f"speed-up of the grid route over the full programme: "
          f"{times['reference'] / m / (t_grid / N):.0f}x")


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def near_critical(args) -> None:
    """The near-critical grid: fast routes on the whole grid, full programme on a sample."""
    n, eta, alpha, G, T = 100, 1.0, 0.0, 1000.0, 1000
    sigmas = np.linspace(2, 100, 50).round().astype(int)
    batches = np.linspace(1, 99, 50).round().astype(int)
    configs = sigma_family_grid(n, sigmas, batches, eta, alpha, "trajectory", "bernoulli", 0)
    spec = EscapeSpec(G, T, args.samples)
    fast = EscapeSpec(G, T, args.samples, accuracy=args.accuracy)
    pick = np.random.default_rng(0).choice(len(configs), size=min(args.near_cells, len(configs)),
                                           replace=False)
    with threadpool_limits(1):
        exact, cpu_exact, wall_exact = _timed(lambda: sigma_family_escape_grid(configs, spec))
        quick, cpu_fast, wall_fast = _timed(lambda: sigma_family_escape_grid(configs, fast))
        problems = [sigma_family_escape_problem(configs[int(k)], spec) for k in pick]
        ref, cpu_ref, wall_ref = _timed(lambda: escape_probabilities(problems, T, reference=True))
    v_exact = np.array([e.value for e in exact])
    v_fast = np.array([e.value for e in quick])
    v_ref = np.array([e.value for e in ref])
    N, m = len(configs), len(pick)
    near = int(np.sum((v_exact > 0.01) & (v_exact < 0.99)))
    print(f"near-critical σ-family n={n}, alpha={alpha}, Bernoulli, eta={eta}, G={G:g}, T={T}, "
          f"{args.samples} starts; 1 thread; {near} of {N} cells strictly between 1 % and 99 %")
    print(f"{'route':<46} {'CPU s':>8} {'wall s':>8} {'ratio (CPU)':>12}")
    proj = cpu_ref / m * N
    rows = ((f"full programme ({m} sampled cells, projected)", proj, wall_ref / m * N),
            ("grid route, default tolerance (whole grid)", cpu_exact, wall_exact),
            (f"grid route, accuracy {args.accuracy:g} (whole grid)", cpu_fast, wall_fast))
    for name, cpu, wall in rows:
        print(f"{name:<46} {cpu:>8.1f} {wall:>8.1f} {proj / cpu:>11.1f}x")
    print(f"on the {m} sampled cells, max |route - full programme|: default "
          f"{np.max(np.abs(v_exact[pick] - v_ref)):.1e}, accuracy route "
          f"{np.max(np.abs(v_fast[pick] - v_ref)):.1e} (bound {args.accuracy:g})")
    print(f"on all {N} cells, max |accuracy route - default route| = "
          f"{np.max(np.abs(v_fast - v_exact)):.1e}")


if __name__ == "__main__":
    main()
