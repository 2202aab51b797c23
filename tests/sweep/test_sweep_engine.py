"""The engine: reuse, failures, retries, versions, process pool, progress and evaluate()."""

import pytest

from numerics.apps.frontier import evaluate, grid
from numerics.core.inputs import InputError
from numerics.sweep import CellFailed, Store, run_sweep
from numerics.sweep.demo import TOY_CELL as TOY
from numerics.sweep.demo import toy_cell, toy_configs

FLAKY = {"broken": True}


def flaky_cell(config):
    """Fails while FLAKY['broken'] (stands for a bug fixed between two runs)."""
    if FLAKY["broken"] and config["seed"] % 3 == 0:
        raise RuntimeError("transient")
    return dict(config, value=config["seed"] ** 2)


def test_records_in_sweep_order_and_identical_to_direct_calls():
    cfgs = toy_configs(7)
    res = run_sweep(TOY, cfgs)
    assert (res.computed, res.reused, res.failed) == (7, 0, 0)
    direct = [toy_cell(c) for c in cfgs]
    assert [r["rho"] for r in res.records] == [d["rho"] for d in direct]
    assert [r["seed"] for r in res.records] == list(range(7))


def test_rerun_computes_only_missing_cells(tmp_path):
    first = run_sweep(TOY, toy_configs(4), tmp_path)
    again = run_sweep(TOY, toy_configs(10), tmp_path)
    assert (again.computed, again.reused) == (6, 4)
    assert again.records[:4] == first.records
    full = run_sweep(TOY, toy_configs(10), tmp_path)
    assert (full.computed, full.reused) == (0, 10) and full.records == again.records
    with Store(tmp_path) as st:
        assert len(st) == 10


def test_failed_cell_does_not_stop_the_sweep_and_retry_runs_only_failed(tmp_path):
    FLAKY["broken"] = True
    cfgs = [{"seed": s} for s in range(9)]
    res = run_sweep(flaky_cell, cfgs, tmp_path)
    assert (res.computed, res.failed) == (9, 3)
    assert [c.config["seed"] for c in res.failures] == [0, 3, 6]
    assert res.records[0]["error"] == "RuntimeError: transient"
    assert res.records[1]["value"] == 1
    plain = run_sweep(flaky_cell, cfgs, tmp_path)  # failures are reported, not recomputed
    assert (plain.computed, plain.reused, plain.failed) == (0, 9, 3)
    FLAKY["broken"] = False
    fixed = run_sweep(flaky_cell, cfgs, tmp_path, retry_failed=True)
    assert (fixed.computed, fixed.reused, fixed.failed) == (3, 6, 0)
    assert [r["value"] for r in fixed.records] == [s * s for s in range(9)]
    with Store(tmp_path) as st:
        assert st.counts() == {"ok": 9, "failed": 0}


def test_a_new_version_recomputes(tmp_path):
    run_sweep(TOY, toy_configs(3), tmp_path, version="0.1.0")
    res = run_sweep(TOY, toy_configs(3), tmp_path, version="0.2.0")
    assert (res.computed, res.reused) == (3, 0)
    with Store(tmp_path) as st:
        assert len(st) == 6


def test_process_pool_gives_identical_records(tmp_path):
    cfgs = toy_configs(6) + [{"seed": 50, "fail": True}]
    inproc = run_sweep(TOY, cfgs)
    pool = run_sweep(TOY, cfgs, tmp_path, executor="processes", workers=2)
    assert pool.records == inproc.records
    assert pool.failed == 1 and pool.executor == "processes (2 workers)"
    workers = {c.worker for c in pool.cells if c.ok}
    assert all(w.rsplit(":", 1)[1].isdigit() for w in workers)


def test_chunked_process_pool_gives_identical_records(tmp_path):
    cfgs = toy_configs(7) + [{"seed": 50, "fail": True}]
    pool = run_sweep(TOY, cfgs, tmp_path, executor="processes", workers=2, chunk_size=3)
    assert pool.records == run_sweep(TOY, cfgs).records and pool.failed == 1
    with Store(tmp_path) as st:
        assert len(st) == 8


def test_local_function_needs_the_in_process_executor():
    with pytest.raises(InputError, match="importable"):
        run_sweep(lambda c: c, [{"seed": 0}], executor="processes", workers=1)


@pytest.mark.parametrize(("kw", "msg"), [
    ({"executor": "threads"}, "unknown executor"),
    ({"executor": "processes", "scheduler": "tcp://127.0.0.1:1"}, "needs the dask executor"),
    ({"executor": "processes", "workers": 0}, "must be >= 1"),
    ({"chunk_size": 0}, "chunk_size must be >= 1"),
])
def test_bad_executor_options(kw, msg):
    with pytest.raises(InputError, match=msg):
        run_sweep(TOY, toy_configs(1), **kw)


def test_progress_bar_reports_counts(tmp_path, capsys):
    run_sweep(TOY, toy_configs(2), tmp_path)
    run_sweep(TOY, toy_configs(5) + [{"seed": 9, "fail": True}], tmp_path, progress=True,
              desc="toy")
    err = capsys.readouterr().err
    assert "toy" in err and "computed=4 reused=2 failed=1" in err and "cell/s" in err


def test_on_cell_sees_every_computed_cell():
    seen = []
    run_sweep(TOY, toy_configs(4), on_cell=seen.append)
    assert sorted(o.config["seed"] for o in seen) == [0, 1, 2, 3]
    assert not any(o.reused for o in seen)


def test_frontier_evaluate_is_the_engine():
    cells = grid({"d": 4}, seed=[0, 1], eta=[0.1, 0.5])
    assert evaluate(cells, toy_cell) == run_sweep(TOY, cells).records
    with pytest.raises(CellFailed, match="1 cell"):
        evaluate(cells + [{"seed": 5, "fail": True}], toy_cell)
