"""Sweep engine throughput: in process vs a 2-worker local Dask cluster, and the store's overhead.

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/sweep.py            # about 2 minutes on 2 cores
    PYTHONPATH=$PWD python benchmarks/sweep.py --quick    # smaller grids
    PYTHONPATH=$PWD python benchmarks/sweep.py --json     # one JSON object

Workloads:

* ``sigma ms`` / ``sigma trajectory``: the sigma-family map of ``unlearnstab frontier`` (n=100,
  10 x 10 cells, alpha=0.1) with ``--notion ms`` (closed forms: cheap cells, so the per-cell cost
  of the executor shows) and ``--notion trajectory`` (the companion rule simulated in each cell);
* ``cnn grid``: SNR x alpha x B x seeds, each cell trains a small two-layer ReLU CNN on
  signal-plus-noise data (SPEC 5.1-5.2) by full-batch GD and then runs nonlinear
  gradient-difference unlearning with minibatches.  It stands in for the cells of
  ``unlearnstab cnn`` and has the same shape of cost (a torch training run per cell);
* ``store``: a trivial cell, to time what the engine and the SQLite store add per cell.

The mean time of one cell inside a worker tells contention from engine overhead: when it grows
with the number of workers, the cores were shared (with each other or with other work).  Rates
are measured after warm-up (imports done in this process and in every worker), so they
compare steady throughput; the cluster's start-up time is reported separately.  Both executors
must return identical records, which is checked.  A benchmark, not a test: numbers depend on the
machine and its load (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks.sweep` importable for workers
    sys.path.insert(0, str(ROOT))

from numerics.frontier import SIGMA_CELL, sigma_family_grid  # noqa: E402
from numerics.sweep import Dask, make_cells, run_sweep  # noqa: E402
from numerics.sweep.cells import execute_cell  # noqa: E402
from numerics.sweep.store import Store  # noqa: E402

CNN_CELL = "benchmarks.sweep:cnn_cell"
NOOP_CELL = "benchmarks.sweep:noop_cell"


def noop_cell(config):
    """The cheapest cell: returns its configuration."""
    return dict(config)


def cnn_cell(config):
    """Train a two-layer ReLU CNN on signal-plus-noise data, then unlearn a forget set.

    Configuration: ``snr``, ``alpha``, ``batch`` (retain batch; forget batch is half of it),
    ``seed``, and optionally ``n`` (24), ``d`` (100), ``m`` (8), ``n_forget`` (4),
    ``train_steps`` (300), ``unlearn_steps`` (100).  Returns training accuracy and the forget and
    retain loss and accuracy before and after unlearning.
    """
    import torch

    torch.set_num_threads(1)  # same arithmetic on every executor
    n, d, m = int(config.get("n", 24)), int(config.get("d", 100)), int(config.get("m", 8))
    n_f = int(config.get("n_forget", 4))
    gen = torch.Generator().manual_seed(int(config["seed"]))
    dt = torch.float64
    mu = torch.zeros(d, dtype=dt)
    mu[0] = float(config["snr"]) * d ** 0.5  # sigma_p = 1, so SNR = |mu| / sqrt(d)
    y = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).to(dt)
    xi = torch.randn(n, d, generator=gen, dtype=dt)
    xi[:, 0] = 0.0  # noise orthogonal to the signal
    patches = torch.stack([y[:, None] * mu, xi], dim=1)  # (n, 2, d)
    W = 0.01 * torch.randn(2, m, d, generator=gen, dtype=dt)  # filters of F_{+1}, F_{-1}
    sign = torch.tensor([1.0, -1.0], dtype=dt)

    def out(W, X):
        act = torch.relu(torch.einsum("jrd,npd->njrp", W, X)).sum(dim=(2, 3)) / m
        return act @ sign

    def loss(W, X, Y):
        return torch.nn.functional.softplus(-Y * out(W, X)).mean()

    W.requires_grad_(True)
    for _ in range(int(config.get("train_steps", 300))):
        L = loss(W, patches, y)
        (g,) = torch.autograd.grad(L, W)
        with torch.no_grad():
            W -= 0.1 * g
        if L.item() < 0.05:
            break
    forget, retain = torch.arange(n_f), torch.arange(n_f, n)

    def metrics(W):
        with torch.no_grad():
            res = {}
            for name, idx in (("forget", forget), ("retain", retain)):
                X, Y = patches[idx], y[idx]
                res[f"{name}_loss"] = float(loss(W, X, Y))
                res[f"{name}_acc"] = float((torch.sign(out(W, X)) == Y).to(dt).mean())
            return res

    before = metrics(W)
    alpha, b_r = float(config["alpha"]), int(config["batch"])
    b_f = max(1, b_r // 2)
    for _ in range(int(config.get("unlearn_steps", 100))):
        br = retain[torch.randperm(retain.numel(), generator=gen)[:b_r]]
        bf = forget[torch.randperm(n_f, generator=gen)[:b_f]]
        L = (1 - alpha) * loss(W, patches[br], y[br]) - alpha * loss(W, patches[bf], y[bf])
        (g,) = torch.autograd.grad(L, W)
        with torch.no_grad():
            W -= 0.5 * g
    after = metrics(W)
    rec = dict(config)
    rec.update({f"{k}_before": v for k, v in before.items()})
    rec.update({f"{k}_after": v for k, v in after.items()})
    rec["forgets"] = after["forget_acc"] <= 0.5
    return rec


def cnn_grid(quick):
    snrs = [0.05, 0.4, 1.6] if not quick else [0.05, 1.6]
    out = []
    for snr in snrs:
        for alpha in (0.1, 0.3):
            for batch in (4, 8):
                for seed in range(2 if not quick else 1):
                    out.append({"snr": snr, "alpha": alpha, "batch": batch, "seed": seed})
    return out


def frontier_grid(quick, notion):
    step = 11 if not quick else 20
    values = list(range(1, 101, step))
    return sigma_family_grid(100, values, values, eta=0.5, alpha=0.1, notion=notion)


def _rate(cell, configs, executor, chunk_size=1):
    """Cells per second, wall seconds, records, and the mean time of one cell inside a worker."""
    start = time.perf_counter()
    res = run_sweep(cell, configs, executor=executor, chunk_size=chunk_size)
    sec = time.perf_counter() - start
    assert res.failed == 0, res.failures[0].error
    per_cell = sum(c.seconds for c in res.cells) / len(res.cells)
    return len(configs) / sec, sec, res.records, per_cell


def store_overhead(count):
    """Seconds per cell added by the engine (memory store) and by the SQLite store."""
    configs = [{"seed": s} for s in range(count)]
    start = time.perf_counter()
    for c in configs:
        noop_cell(c)
    direct = (time.perf_counter() - start) / count
    run_sweep(NOOP_CELL, configs[:10])  # warm-up
    start = time.perf_counter()
    run_sweep(NOOP_CELL, configs)
    memory = (time.perf_counter() - start) / count
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_sweep(NOOP_CELL, configs, tmp)
        sqlite = (time.perf_counter() - start) / count
        start = time.perf_counter()
        res = run_sweep(NOOP_CELL, configs, tmp)
        reuse = (time.perf_counter() - start) / count
        assert res.reused == count
        with Store(tmp) as st:
            size = (Path(tmp) / "cells.sqlite").stat().st_size / len(st)
    return {"cells": count, "direct_call_s": direct, "engine_memory_store_s": memory,
            "engine_sqlite_store_s": sqlite, "store_write_overhead_s": sqlite - memory,
            "reuse_lookup_s": reuse, "bytes_per_cell": size}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    report = {"load_average_before": os.getloadavg(), "cpus": os.cpu_count(), "workloads": {}}
    work = {"sigma ms": (SIGMA_CELL, frontier_grid(args.quick, "ms"), 1),
            "sigma ms chunk=5": (SIGMA_CELL, frontier_grid(args.quick, "ms"), 5),
            "sigma trajectory": (SIGMA_CELL, frontier_grid(args.quick, "trajectory"), 1),
            "cnn grid": (CNN_CELL, cnn_grid(args.quick), 1)}
    for cell, configs, _ in work.values():  # warm this process (imports, first calls)
        run_sweep(cell, configs[:1])
    start = time.perf_counter()
    dask = Dask(workers=2)
    startup = time.perf_counter() - start
    try:
        for name, (cell, configs, chunk) in work.items():
            dask.client.run(execute_cell, cell, "warm-up", make_cells(cell, configs[:1])[0].config)
            r_in, s_in, rec_in, c_in = _rate(cell, configs, "inprocess")
            r_dk, s_dk, rec_dk, c_dk = _rate(cell, configs, dask, chunk)
            assert rec_in == rec_dk, f"{name}: records differ between executors"
            report["workloads"][name] = {
                "cells": len(configs), "inprocess_cells_per_s": r_in, "inprocess_s": s_in,
                "dask2_cells_per_s": r_dk, "dask2_s": s_dk, "ratio_dask2_over_inprocess":
                r_dk / r_in, "records_identical": True, "inprocess_mean_cell_s": c_in,
                "dask2_mean_cell_s": c_dk, "chunk_size": chunk}
        trivial = [{"seed": s, "bench": "dask"} for s in range(500)]
        run_sweep(NOOP_CELL, trivial[:20], executor=dask)
        for chunk in (1, 10):
            start = time.perf_counter()
            run_sweep(NOOP_CELL, [dict(c, chunk=chunk) for c in trivial], executor=dask,
                      chunk_size=chunk)
            report[f"dask2_trivial_cell_s_chunk{chunk}"] = (time.perf_counter() - start) / 500
    finally:
        dask.close()
    report["dask2_cluster_startup_s"] = startup
    report["store"] = store_overhead(300 if args.quick else 2000)
    report["load_average_after"] = os.getloadavg()
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    print(f"cpus: {report['cpus']}, load average before/after: "
          f"{report['load_average_before'][0]:.2f} / {report['load_average_after'][0]:.2f}")
    print(f"{'workload':<20}{'cells':>6}{'in-process c/s':>16}{'dask x2 c/s':>13}{'ratio':>8}"
          f"{'s/cell in-process':>19}{'s/cell in a worker':>20}")
    for name, w in report["workloads"].items():
        print(f"{name:<20}{w['cells']:>6}{w['inprocess_cells_per_s']:>16.2f}"
              f"{w['dask2_cells_per_s']:>13.2f}{w['ratio_dask2_over_inprocess']:>8.2f}"
              f"{w['inprocess_mean_cell_s']:>19.3f}{w['dask2_mean_cell_s']:>20.3f}")
    print(f"dask x2 LocalCluster start-up: {startup:.1f} s (not in the rates); wall time per "
          f"trivial cell on dask x2: {report['dask2_trivial_cell_s_chunk1'] * 1e3:.1f} ms "
          f"(chunk 1), {report['dask2_trivial_cell_s_chunk10'] * 1e3:.1f} ms (chunk 10)")
    st = report["store"]
    print(f"per cell ({st['cells']} trivial cells): direct call {st['direct_call_s'] * 1e6:.1f} us, "
          f"engine + memory store {st['engine_memory_store_s'] * 1e6:.0f} us, "
          f"engine + SQLite store {st['engine_sqlite_store_s'] * 1e6:.0f} us "
          f"(store write overhead {st['store_write_overhead_s'] * 1e6:.0f} us), "
          f"reuse lookup {st['reuse_lookup_s'] * 1e6:.0f} us, {st['bytes_per_cell']:.0f} B/cell")


if __name__ == "__main__":
    main()
