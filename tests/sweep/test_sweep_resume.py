"""A sweep killed with SIGKILL keeps every finished cell exactly once and resumes the rest."""

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from numerics.sweep import Store, make_cells, run_sweep
from numerics.sweep.demo import TOY_CELL as TOY
from numerics.sweep.demo import toy_configs
from numerics.sweep.store import DB_NAME

COUNT = 40
SCRIPT = f"""
from numerics.sweep import run_sweep
from numerics.sweep.demo import toy_configs
import sys
if __name__ == "__main__":
    kw = dict(executor="processes", workers=2) if sys.argv[2] == "processes" else dict()
    run_sweep({TOY!r}, toy_configs({COUNT}, sleep=0.04), sys.argv[1], **kw)
"""


def _stored_keys(db):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return [k for (k,) in con.execute("SELECT key FROM cells")]
        finally:
            con.close()
    except sqlite3.Error:
        return []  # not created yet


def _children(pid):
    psutil = pytest.importorskip("psutil")
    return psutil.Process(pid).children(recursive=True)


def _assert_exit(children, timeout=10):
    import psutil

    gone, alive = psutil.wait_procs(children, timeout=timeout)
    assert not alive, f"orphaned workers: {alive}"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("executor", ["inprocess", "processes"])
def test_sigkill_then_resume(tmp_path, executor, sweep_env):
    store = tmp_path / "store"
    env = sweep_env
    script = tmp_path / "sweep_script.py"  # a file: spawned pool workers re-import the main
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(store), executor], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children = []
    try:
        deadline = time.monotonic() + 60
        while len(_stored_keys(store / DB_NAME)) < 8:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the sweep stored nothing within 60 s"
            time.sleep(0.02)
        children = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _assert_exit(children)  # pool workers do not outlive the sweep
    cfgs = toy_configs(COUNT, sleep=0.04)
    expected_keys = [s.key for s in make_cells(TOY, cfgs)]
    done = _stored_keys(store / DB_NAME)
    assert 8 <= len(done) < COUNT
    assert len(set(done)) == len(done) and set(done) <= set(expected_keys)
    with Store(store) as st:  # opens cleanly: no torn write, every row passes its checks
        assert st.counts() == {"ok": len(done), "failed": 0}
        before = {k: c.record_json for k, c in st.lookup(done).items()}

    resumed = run_sweep(TOY, cfgs, store)
    assert (resumed.reused, resumed.computed) == (len(done), COUNT - len(done))
    assert all(c.reused == (c.key in before) for c in resumed.cells)
    assert resumed.records == run_sweep(TOY, cfgs).records
    with Store(store) as st:
        rows = list(st)
    assert sorted(r.key for r in rows) == sorted(expected_keys)  # each cell exactly once
    assert all(before[r.key] == r.record_json for r in rows if r.key in before)
