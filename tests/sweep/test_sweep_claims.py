"""Concurrent runs on one store share the work through claims (SQLite): a cell claimed by one
run is not computed by the other, and a claim held by a dead process is taken over."""

import subprocess
import sys
import threading
import time

from numerics.sweep import run_sweep
from numerics.sweep.cells import cell_path, make_cells
from numerics.sweep.store import Store

CALLS: list[tuple[int, float]] = []


def slow_cell(config):
    CALLS.append((config["i"], time.monotonic()))
    time.sleep(0.02)
    return {"x": 2 * config["i"]}


def _keys(configs):
    return [s.key for s in make_cells(cell_path(slow_cell), configs)]


def test_two_runs_share_the_cells(tmp_path):
    configs = [{"i": i} for i in range(40)]
    results = {}

    def go(name):
        results[name] = run_sweep(slow_cell, configs, store=tmp_path / "s")

    threads = [threading.Thread(target=go, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)  # generous: on a loaded machine the 40 slow cells take minutes
    assert not any(t.is_alive() for t in threads), "a run did not finish within 600 s"
    assert set(results) == {"a", "b"}, f"a run raised instead of returning: {sorted(results)}"
    a, b = results["a"], results["b"]
    assert a.computed + b.computed == 40, (a.computed, b.computed)  # both computed 40 before
    assert a.computed > 0 and b.computed > 0, "the two runs did not share the work"
    for r in (a, b):
        assert [c.record["x"] for c in r.cells] == [2 * i for i in range(40)]
        assert r.computed + r.reused == 40


def test_claimed_cells_wait_for_their_claimer(tmp_path):
    configs = [{"i": i} for i in range(6)]
    keys = _keys(configs)
    with Store(tmp_path / "s") as st:
        held = st.claim(keys[:2], "another-run")  # this process is alive: a live claim
    assert held.mine == keys[:2]
    CALLS.clear()
    out = {}
    t = threading.Thread(target=lambda: out.update(r=run_sweep(slow_cell, configs,
                                                               store=tmp_path / "s")))
    t.start()
    time.sleep(1.0)
    assert {i for i, _ in CALLS} == {2, 3, 4, 5}, "a claimed cell was computed"
    released = time.monotonic()
    with Store(tmp_path / "s") as st:
        st.release(keys[:2], "another-run")
    t.join(timeout=60)
    assert out["r"].computed == 6 and all(c.ok for c in out["r"].cells)
    assert all(when >= released for i, when in CALLS if i < 2)


def test_claim_of_a_dead_process_is_taken_over(tmp_path, monkeypatch):
    configs = [{"i": i} for i in range(4)]
    keys = _keys(configs)
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    import numerics.sweep.store as store_mod

    with Store(tmp_path / "s") as st:
        monkeypatch.setattr(store_mod.os, "getpid", lambda: dead)
        assert st.claim(keys, "crashed-run").mine == keys
        monkeypatch.undo()
        assert st.claim(keys, "someone").mine == keys  # the dead claims are taken over
        st.release(keys, "someone")
    with Store(tmp_path / "s") as st:
        monkeypatch.setattr(store_mod.os, "getpid", lambda: dead)
        st.claim(keys, "crashed-run")
        monkeypatch.undo()
    r = run_sweep(slow_cell, configs, store=tmp_path / "s")
    assert r.computed == 4 and [c.record["x"] for c in r.cells] == [0, 2, 4, 6]
