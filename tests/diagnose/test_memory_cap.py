"""``diagnose --memory-budget-gb`` caps the whole process: measured by the child's peak RSS."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from numerics.apps.diagnose.memory import MARGIN_BYTES, resident_bytes, working_budget
from numerics.core.inputs import InputError

ROOT = Path(__file__).resolve().parents[2]

#: A dense-fitting linear model: 8 n P^2 = 0.24 GiB of exact Hessians (P = 400, n = 200); before
#: the cap, a 0.5 GiB budget peaked at 1.18 GiB resident (the factors were the only thing counted).
#: Under the cap the dense Hessians no longer fit and the Gauss-Newton factors are computed; that
#: route is named, since at P = 400 ``--route auto`` now takes the matrix-free route.
ENTRY = textwrap.dedent("""
    import torch
    from numerics.apps.examples import synthetic as s

    def entry():
        g = torch.Generator().manual_seed(0)
        d, nr, nf = 400, 150, 50
        X = torch.randn(nr + nf, d, generator=g, dtype=torch.float64)
        m = s.Linear(d, 0)
        y = X @ m.w.detach() + 0.3 * torch.randn(nr + nf, generator=g, dtype=torch.float64)
        return {"model": m, "loss": s.loss, "retain": (X[:nr], y[:nr]),
                "forget": (X[nr:], y[nr:]), "seed": 0,
                "options": {"eta_rel": 0.5, "unlearn_steps": 20, "route": "ggn"}}
""")


#: Runs argv[2:] in a grandchild and writes its exit status and own ru_maxrss (KiB) to argv[1].
#: Linux carries the pre-exec high-water mark of the forking process into the exec'd one, so the
#: command is forked from this small launcher, never directly from the (large) test process.
LAUNCHER = textwrap.dedent("""
    import os, sys
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable] + sys.argv[2:])
    _, status, usage = os.wait4(pid, 0)
    with open(sys.argv[1], "w") as fh:
        fh.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
""")


def _diagnose(tmp_path: Path, budget_gb: float) -> tuple[int, str, int]:
    """Run the CLI in a grandchild: exit status, stderr and its own peak resident bytes."""
    (tmp_path / "capentry.py").write_text(ENTRY)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    res = tmp_path / "rusage.txt"
    proc = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-c", LAUNCHER, str(res), "-m", "numerics.cli", "diagnose",
         "--entry", "capentry:entry", "--no-progress", "--quiet", "--no-deletion",
         "--no-prescribe", "--threads", "1", "--memory-budget-gb", str(budget_gb),
         "--out", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, timeout=300,
        check=False)
    rc, kib = (int(v) for v in res.read_text(encoding="utf-8").split())
    return rc, proc.stderr, kib * 1024


def test_budget_is_a_process_cap(tmp_path):
    budget_gb = 0.5
    rc, err, peak = _diagnose(tmp_path, budget_gb)
    assert rc == 0, err
    assert 0 < peak < budget_gb * 2**30, f"peak {peak / 2**30:.3f} GiB over {budget_gb} GiB"


def test_impossible_budget_refused_with_one_line(tmp_path):
    rc, err, _ = _diagnose(tmp_path, 0.05)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "already holds" in lines[0] and "0.05 GiB" in lines[0]
    assert "Traceback" not in err


def test_working_budget_subtracts_resident_set():
    held = resident_bytes()
    assert held > 0
    left = working_budget(held / 2**30 + 1.0)
    # The resident set can only have grown between the two reads: at most 1 GiB - margin is left.
    assert 0 < left <= 2**30 - MARGIN_BYTES
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="memory budget"):
            working_budget(bad)
