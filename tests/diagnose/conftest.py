import itertools

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one thread (the shared ``one_thread`` fixture)."""
    return


#: An entry module: a linear least-squares model with d parameters, nr retain and nf forget
#: samples (seeded), on the Gauss-Newton route, 20 unlearning steps.
_LINEAR_ENTRY = """
import torch
from numerics.apps.examples import synthetic as s

def entry():
    g = torch.Generator().manual_seed(0)
    d, nr, nf = {d}, {nr}, {nf}
    X = torch.randn(nr + nf, d, generator=g, dtype=torch.float64)
    m = s.Linear(d, 0)
    y = X @ m.w.detach() + 0.3 * torch.randn(nr + nf, generator=g, dtype=torch.float64)
    return {{"model": m, "loss": s.loss, "retain": (X[:nr], y[:nr]),
            "forget": (X[nr:], y[nr:]), "seed": 0,
            "options": {{"eta_rel": 0.5, "unlearn_steps": 20, "route": "ggn"}}}}
"""

#: Runs argv[2:] in a grandchild and writes its exit status and own ru_maxrss (KiB) to argv[1].
#: Linux carries the pre-exec high-water mark of the forking process into the exec'd one, so the
#: command is forked from this small launcher, never directly from the (large) test process.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable] + sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


@pytest.fixture
def diagnose_peak(tmp_path):
    """``run(sizes, args, timeout)``: ``diagnose --entry`` of the linear entry with
    ``sizes = (d, nr, nf)`` and the extra CLI ``args``, in a grandchild; returns its exit status,
    its stderr and its own peak resident bytes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def run(sizes: tuple[int, int, int], args: list[str], timeout: int) -> tuple[int, str, int]:
        d, nr, nf = sizes
        (tmp_path / "peakentry.py").write_text(_LINEAR_ENTRY.format(d=d, nr=nr, nf=nf))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(tmp_path)]),
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        res = tmp_path / "rusage.txt"
        proc = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-c", _LAUNCHER, str(res), "-m", "numerics.cli", "diagnose",
             "--entry", "peakentry:entry", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
            timeout=timeout, check=False)
        rc, kib = (int(v) for v in res.read_text(encoding="utf-8").split())
        return rc, proc.stderr, kib * 1024

    return run


def _affine_moments(Hr, Hf, gr, gf, alpha, br, bf, eta, T):
    """Exact E[z z^T] of the augmented recursion by enumerating every WOR batch pair (float64)."""
    d = Hr.shape[1]
    pairs = [(np.array(a), np.array(b)) for a in itertools.combinations(range(len(Hr)), br)
             for b in itertools.combinations(range(len(Hf)), bf)]
    Ms = []
    for a, b in pairs:
        A = (1 - alpha) * Hr[a].mean(0) - alpha * Hf[b].mean(0)
        g = (1 - alpha) * gr[a].mean(0) - alpha * gf[b].mean(0)
        M = np.eye(d + 1)
        M[:d, :d] -= eta * A
        M[:d, d] = -eta * g
        Ms.append(M)
    N = np.zeros((d + 1, d + 1))
    N[d, d] = 1.0
    mean, second = [np.zeros(d)], [0.0]
    for _ in range(T):
        N = sum(M @ N @ M.T for M in Ms) / len(Ms)
        mean.append(N[:d, d].copy())
        second.append(float(np.trace(N[:d, :d])))
    return np.array(mean), np.array(second)


@pytest.fixture
def affine_moments():
    """``(Hr, Hf, gr, gf, alpha, br, bf, eta, T) -> (mean, second)``: the exact mean and
    E|delta_t|^2 of the forced recursion from delta_0 = 0, every WOR batch pair enumerated."""
    return _affine_moments
