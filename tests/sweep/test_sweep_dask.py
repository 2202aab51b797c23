"""Dask reliability on loopback: identical records, a worker killed mid-sweep, clear errors."""

import os
import signal
import sys

import pytest

from numerics import __version__
from numerics.cli import main
from numerics.core.inputs import InputError
from numerics.sweep import Dask, Store, run_sweep
from numerics.sweep.demo import TOY_CELL as TOY
from numerics.sweep.demo import toy_configs

pytest.importorskip("distributed")


def test_local_cluster_gives_the_in_process_records(dask_cluster, tmp_path):
    _, client = dask_cluster
    cfgs = toy_configs(12) + [{"seed": 77, "fail": True}]
    inproc = run_sweep(TOY, cfgs)
    res = run_sweep(TOY, cfgs, tmp_path, executor=Dask(client=client))
    assert res.records == inproc.records
    assert (res.computed, res.failed) == (13, 1)
    assert len({c.worker for c in res.cells if c.ok}) == 2  # both workers took cells
    with Store(tmp_path) as st:
        assert len(st) == 13


def test_chunks_of_cells_give_the_same_records(dask_cluster, tmp_path):
    _, client = dask_cluster
    cfgs = toy_configs(10) + [{"seed": 78, "fail": True}]
    res = run_sweep(TOY, cfgs, tmp_path, executor=Dask(client=client), chunk_size=4)
    assert res.records == run_sweep(TOY, cfgs).records and res.computed == 11


def test_existing_scheduler_by_address(dask_cluster, tmp_path):
    cluster, _ = dask_cluster
    cfgs = toy_configs(6)
    res = run_sweep(TOY, cfgs, tmp_path, executor="dask", scheduler=cluster.scheduler_address)
    assert res.records == run_sweep(TOY, cfgs).records
    assert res.executor.startswith("dask at tcp://127.0.0.1:")


def test_killing_a_worker_mid_sweep_loses_and_duplicates_nothing(dask_cluster, tmp_path):
    _, client = dask_cluster
    pids = client.run(os.getpid)  # worker address -> pid
    victim = next(iter(pids.values()))
    cfgs = toy_configs(30, sleep=0.1)
    seen, after_kill = [], []

    def kill_after_a_few(outcome):
        if after_kill or len(seen) == 4:
            if not after_kill:
                os.kill(victim, signal.SIGKILL)
            after_kill.append(int(outcome.worker.rsplit(":", 1)[1]))
        seen.append(outcome.key)

    res = run_sweep(TOY, cfgs, tmp_path, executor=Dask(client=client), on_cell=kill_after_a_few)
    assert len(after_kill) == 26  # killed with most of the sweep still to run
    assert after_kill.count(victim) <= 1  # at most the result already on its way
    assert res.failed == 0 and res.computed == 30
    assert len(seen) == len(set(seen)) == 30  # each cell delivered exactly once
    with Store(tmp_path) as st:
        keys = [c.key for c in st]
    assert sorted(keys) == sorted(c.key for c in res.cells)  # none lost, none duplicated
    expected = run_sweep(TOY, cfgs).records
    assert res.records == expected
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        Dask(scheduler="tcp://127.0.0.1:9", timeout=1)


def test_scheduler_without_workers_is_a_clear_error():
    distributed = pytest.importorskip("distributed")
    from numerics.sweep.executors import LOOPBACK_HTTP

    cluster = distributed.LocalCluster(n_workers=0, processes=True, host="127.0.0.1",
                                       dashboard_address=None, scheduler_kwargs=LOOPBACK_HTTP)
    try:
        ex = Dask(scheduler=cluster.scheduler_address, timeout=1)
        with pytest.raises(InputError, match="has no workers"):
            run_sweep(TOY, toy_configs(1), executor=ex)
        ex.close()
    finally:
        cluster.close()


def test_missing_dask_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(InputError, match=r"unlearnstab\[distributed\]"):
        run_sweep(TOY, toy_configs(1), executor="dask", workers=2)
    rc = main(["verify", "--claim", "C3", "--quick", "--dask-workers", "2", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "pip install 'unlearnstab[distributed]'" in err
    assert len(err.strip().splitlines()) == 1


def test_workers_run_without_malloc_trimming(dask_cluster):
    """Dask's default MALLOC_TRIM_THRESHOLD_ makes numpy cells several times slower."""
    from numerics.sweep.executors import _worker_check

    _, client = dask_cluster
    found = client.run(_worker_check, TOY)
    assert all(v == (__version__, False) for v in found.values()), found


def test_preflight_warns_about_malloc_trimming(monkeypatch, caplog):
    from numerics.sweep import executors

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    assert executors._worker_check(TOY)[1] is True

    class FakeClient:
        def nthreads(self):
            return {"tcp://127.0.0.1:1": 1}

        def run(self, fn, *args):
            return {"tcp://127.0.0.1:1": fn(*args)}

    ex = object.__new__(executors.Dask)
    ex.client = FakeClient()
    with caplog.at_level("WARNING"):
        ex._preflight(TOY)
    assert "MALLOC_TRIM_THRESHOLD_" in caplog.text
