"""Fixtures of the sweep tests: a loopback Dask cluster."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def child_env():
    """Environment for subprocesses and spawned workers: this checkout first on the path."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return e


@pytest.fixture
def sweep_env():
    """:func:`child_env` as a fixture."""
    return child_env()


@pytest.fixture(scope="session")
def dask_cluster():
    """A 2-worker LocalCluster on 127.0.0.1 (processes, one thread each, no dashboard)."""
    distributed = pytest.importorskip("distributed")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = child_env()["PYTHONPATH"]  # spawned workers import this checkout
    import dask

    from numerics.sweep.executors import NUMERIC_WORKER_CONFIG

    with dask.config.set(NUMERIC_WORKER_CONFIG):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           scheduler_kwargs={"dashboard": False,
                                                             "dashboard_address": "127.0.0.1:0"})
    client = distributed.Client(cluster, timeout=30)
    client.wait_for_workers(2, timeout=60)
    yield cluster, client
    client.close()
    cluster.close()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old
