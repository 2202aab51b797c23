"""Sweep engine throughput: in process vs a 2-worker local Dask cluster, and the store's overhead.

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/sweep.py            # about 2 minutes on 2 cores
    PYTHONPATH=$PWD python benchmarks/sweep.py --quick    # smaller grids
    PYTHONPATH=$PWD python benchmarks/sweep.py --json     # one JSON object

Workloads:

* ``sigma ms`` / ``sigma trajectory``: the sigma-family map of ``unlearnstab frontier`` (n=100,
  10 x 10 cells, alpha=0.1) with ``--notion ms`` (closed forms: cheap cells, so the per-cell cost
  of the executor shows) and ``--notion trajectory`` (the companion rule simulated in each cell);
* ``cnn grid``: the cells of ``unlearnstab cnn`` on SNR x alpha x B_r x seeds (3 x 2 x 2 x 2,
  SPEC 5.6 configuration): each cell trains the two-layer CNN (once per SNR and seed in each
  process), linearises it and runs 200 steps of nonlinear gradient-difference unlearning;
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

from numerics.apps.cnn.cells import CNN_CELL, cnn_configs  # noqa: E402
from numerics.apps.cnn.experiment import ExperimentConfig  # noqa: E402
from numerics.apps.frontier import SIGMA_CELL, sigma_family_grid  # noqa: E402
from numerics.sweep import Dask, make_cells, run_sweep  # noqa: E402
from numerics.sweep.cells import execute_cell  # noqa: E402
from numerics.sweep.store import Store  # noqa: E402

NOOP_CELL = "benchmarks.sweep:noop_cell"


def noop_cell(config):
    """The cheapest cell: returns its configuration."""
    return dict(config)


def cnn_grid(quick):
    """SNR x alpha x B_r x seeds of ``unlearnstab cnn`` (SPEC 5.6 configuration, K=200)."""
    snrs = [0.1, 0.4, 1.6] if not quick else [0.1, 1.6]
    seeds = [0, 1] if not quick else [0]
    return cnn_configs(snrs, seeds, ExperimentConfig(), alpha=[0.1, 0.3], batch_retain=[2, 4])


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
