"""``diagnose`` spread over a Dask cluster gives the in-process report.

The per-sample curvature chunks and the prescriptions' grid run as sweep cells on the loopback
cluster of ``conftest.py``; the store written along the way shows which process computed each
cell, so a run that silently stayed in this process fails.  Exact equality is asserted where the
spread computation is the same arithmetic on the same bits (every curvature chunk, and the grid
when the active dimension is at most DENSE_MAX_DIM, where the operator is dense); the grid's
Lanczos solves above that start from another vector on a worker than in process, and are compared
at the identity tolerance of the claims policy.
"""

import json
import os

import numpy as np
import pytest
import torch

from numerics.apps.diagnose import DiagnoseOptions, diagnose
from numerics.apps.examples.synthetic import make_entry
from numerics.cli import main
from numerics.core.operator import DENSE_MAX_DIM
from numerics.sweep import Store
from numerics.verify.claims.policy import Kind, tolerance

pytest.importorskip("distributed")

#: Report keys that hold wall times, memory or free text rather than results.
NOT_RESULTS = ("timings", "peak_memory_gb", "notes")
QUIET = {"unlearn_steps": 0, "deletion": False, "progress": False}


def _results(report):
    d = report.as_dict(include_arrays=True)
    return {k: v for k, v in d.items() if k not in NOT_RESULTS}


def _stored(path):
    """Cells of the store at ``path``: cell function of each and the pid that computed it."""
    with Store(path) as st:
        cells = list(st)
    fns = [json.loads(c.config_json)["fn"].rsplit(":", 1)[1] for c in cells]
    pids = {int(c.worker.rsplit(":", 1)[1]) for c in cells}
    return fns, pids, all(c.ok for c in cells)


def test_dense_route_on_a_cluster_equals_the_in_process_report_bit_for_bit(dask_cluster,
                                                                           tmp_path):
    cluster, _ = dask_cluster
    e = make_entry("memorised")
    flat = {**e["options"], **QUIET, "route": "dense"}
    here = diagnose(e["model"], e["loss"], e["retain"], e["forget"],
                    DiagnoseOptions.from_flat(flat))
    spread = diagnose(e["model"], e["loss"], e["retain"], e["forget"],
                      DiagnoseOptions.from_flat({**flat, "scheduler": cluster.scheduler_address,
                                                 "store": str(tmp_path)}))
    assert here.curvature_route == "dense" and here.active_dim <= DENSE_MAX_DIM
    assert _results(spread) == _results(here)  # floats compared exactly, arrays as lists
    assert np.array_equal(spread.witness, here.witness)
    fns, pids, ok = _stored(tmp_path)
    assert ok and os.getpid() not in pids  # every cell ran on a worker
    assert {"dense_chunk", "eta_star_at", "rho_at"} <= set(fns)
    assert any("ran on dask at" in n for n in spread.notes)


def _softmax_entry(seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 16, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen)
    model = torch.nn.Linear(16, 3).double()
    with torch.no_grad():
        model.weight.copy_(0.3 * torch.randn(3, 16, generator=gen, dtype=torch.float64))
    return model, torch.nn.CrossEntropyLoss(reduction="none"), (x[:32], y[:32]), (x[32:], y[32:])


def test_gauss_newton_route_above_the_dense_operator_size(dask_cluster, tmp_path):
    cluster, _ = dask_cluster
    model, loss, retain, forget = _softmax_entry()
    flat = {**QUIET, "route": "ggn", "alpha": 0.05, "eta_rel": 0.5, "grid_size": 4,
            "steps_grid": 0}
    here = diagnose(model, loss, retain, forget, DiagnoseOptions.from_flat(flat))
    spread = diagnose(model, loss, retain, forget,
                      DiagnoseOptions.from_flat({**flat, "scheduler": cluster.scheduler_address,
                                                 "store": str(tmp_path)}))
    assert here.curvature_route == "ggn" and here.active_dim > DENSE_MAX_DIM
    # the curvature chunks are the same arithmetic: everything at the user's point is exact
    for key in ("lambda_min_A", "lambda_max_A", "eta_star_ms", "rho", "alpha_c", "sigma_r",
                "sigma_f", "sigma_rf", "sigma_joint", "verdict", "active_dim"):
        assert getattr(spread, key) == getattr(here, key), key
    assert np.array_equal(spread.witness, here.witness)
    assert np.array_equal(spread.coherence_matrix, here.coherence_matrix)
    # the grid's Lanczos solves (converged to LANCZOS_TOL = 1e-9) start from another vector on a
    # worker: agreement at the identity tolerance (measured: 1.1e-15)
    a = np.array([np.nan if v is None else v for v in here.region["eta_star"]], dtype=float)
    b = np.array([np.nan if v is None else v for v in spread.region["eta_star"]], dtype=float)
    assert a.size == 4 and np.isfinite(a).all() and np.isfinite(b).all()
    assert np.max(np.abs(b - a) / np.abs(a)) <= tolerance(Kind.IDENTITY).value
    fns, pids, ok = _stored(tmp_path)
    assert ok and os.getpid() not in pids
    assert {"ggn_chunk", "eta_star_at"} <= set(fns)


@pytest.mark.parametrize("flags, words", [
    (["--scheduler", "not-an-address"], "is not an address like tcp://host:8786"),
    (["--executor", "processes", "--scheduler", "tcp://127.0.0.1:9"], "needs --executor dask"),
    (["--workers", "2"], "--workers sizes the process pool"),
])
def test_bad_execution_flags_exit_2_with_one_line(flags, words, capsys):
    rc = main(["diagnose", "--entry", "numerics.apps.examples.synthetic:entry_memorised",
               "--quiet", "--no-deletion", "--unlearn-steps", "0", *flags])
    err = capsys.readouterr().err
    assert rc == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1


def test_subspace_route_projections_on_a_cluster_are_bit_for_bit(dask_cluster, tmp_path):
    cluster, _ = dask_cluster
    model, loss, retain, forget = _softmax_entry(seed=1)
    flat = {**QUIET, "route": "subspace", "alpha": 0.05, "eta_rel": 0.5, "prescribe": False,
            "steps_grid": 0}
    here = diagnose(model, loss, retain, forget, DiagnoseOptions.from_flat(flat))
    spread = diagnose(model, loss, retain, forget,
                      DiagnoseOptions.from_flat({**flat, "scheduler": cluster.scheduler_address,
                                                 "store": str(tmp_path)}))
    assert here.curvature_route == "matrix-free" and here.subspace_dim >= 4
    assert _results(spread) == _results(here)
    assert np.array_equal(spread.witness, here.witness)
    fns, pids, ok = _stored(tmp_path)
    assert ok and os.getpid() not in pids and "project_chunk" in fns


def test_unreachable_scheduler_fails_within_seconds_with_one_line(capsys):
    """A closed local port is reported at once (Dask alone retries for its 30 s timeout)."""
    import socket
    import time

    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port that was free a moment ago and has no listener now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    rc = main(["diagnose", "--entry", "numerics.apps.examples.synthetic:entry_memorised",
               "--quiet", "--no-deletion", "--unlearn-steps", "0", "--executor", "dask",
               "--scheduler", f"tcp://127.0.0.1:{port}"])
    took = time.perf_counter() - start
    err = capsys.readouterr().err
    assert rc == 2 and f"cannot reach the Dask scheduler tcp://127.0.0.1:{port}" in err, err
    assert len(err.strip().splitlines()) == 1
    assert took < 10.0, took
