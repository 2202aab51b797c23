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
    """``run(sizes, args, timeout, entry)``: ``diagnose --entry`` of the entry module text
    ``entry`` (default the linear one; formatted with ``d``, ``nr``, ``nf``) with
    ``sizes = (d, nr, nf)`` and the extra CLI ``args``, in a grandchild; returns its exit status,
    its stderr and its own peak resident bytes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def run(sizes: tuple[int, int, int], args: list[str], timeout: int,
            entry: str = _LINEAR_ENTRY) -> tuple[int, str, int]:
        d, nr, nf = sizes
        (tmp_path / "peakentry.py").write_text(entry.format(d=d, nr=nr, nf=nf))
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


#: The tiny forced instance of the finite-horizon tests: its horizon and forget-loss gap.
TINY_K, TINY_GAP = 60, 0.05


def _tiny_instance():
    """Rank-one factors and gradients of 4 retain and 2 forget samples in d = 3 (seeded)."""
    rng = np.random.default_rng(5)
    d, nr, nf = 3, 4, 2
    Fr, Ff = rng.standard_normal((nr, d, 1)), rng.standard_normal((nf, d, 1))
    gr, gf = 0.2 * rng.standard_normal((nr, d)), 0.2 * rng.standard_normal((nf, d))
    return Fr, Ff, gr, gf


@pytest.fixture
def tiny_steps():
    """``(model, enumerated)`` on the tiny instance with batches (2, 1): the
    :class:`~numerics.apps.diagnose.within.StepsModel` under test and ``enumerated(alpha, eta)``,
    the first t <= TINY_K at which the enumerated rms displacement (every WOR batch pair, exact
    augmented second moments) reaches the quadratic model's radius (``None``: not within)."""
    from numerics.apps.diagnose.criterion import Criterion
    from numerics.apps.diagnose.forecast import LossLevel
    from numerics.apps.diagnose.within import StepsModel
    from numerics.core.forcing import Forcing
    from numerics.core.pools import make_pool

    Fr, Ff, gr, gf = _tiny_instance()
    crit = Criterion(make_pool(Fr, None, "retain"), make_pool(Ff, None, "forget"), "wor")
    model = StepsModel(crit, Forcing(gr, gf), LossLevel(1.0, 1.0 + TINY_GAP), (2, 1))
    Hr = np.einsum("nak,nbk->nab", Fr, Fr)
    Hf = np.einsum("nak,nbk->nab", Ff, Ff)

    def enumerated(alpha: float, eta: float) -> int | None:
        mean, second = _affine_moments(Hr, Hf, gr, gf, alpha, 2, 1, eta, TINY_K)
        u = mean / np.maximum(np.linalg.norm(mean, axis=1), 1e-300)[:, None]
        rms = np.sqrt(second)
        loss = (rms * (u @ gf.mean(0))
                + 0.5 * rms**2 * np.einsum("ti,ij,tj->t", u, Hf.mean(0), u))
        hit = np.flatnonzero(loss[1:] >= TINY_GAP)
        return int(hit[0]) + 1 if hit.size else None

    return model, enumerated


#: Relative agreement the issue asks of the subspace route against an exact route (5 %).
ROUTE_REL = 0.05


def _route_run(entry: dict, route: str, **over):
    """``diagnose`` of an entry on ``route``: no run, deletion, prescriptions, map or bars
    (``over`` may ask for them, e.g. ``unlearn_steps``)."""
    from numerics.apps.diagnose import diagnose
    from numerics.apps.diagnose.options import DiagnoseOptions

    opts = dict(entry["options"])
    opts.update(route=route, unlearn_steps=0, deletion=False, prescribe=False, progress=False,
                steps_grid=0)
    opts.update(over)
    return diagnose(entry["model"], entry["loss"], entry["retain"], entry["forget"],
                    DiagnoseOptions.from_flat(opts))


def _route_close(a, b) -> bool:
    """Both ``None``, or within :data:`ROUTE_REL` of each other (relative, no absolute slack)."""
    import math

    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=ROUTE_REL, abs_tol=0.0)


@pytest.fixture
def route_run():
    """``run(entry, route, **options)``: the entry's report on one curvature route (analysis only)."""
    return _route_run


@pytest.fixture
def route_close():
    """``close(a, b)``: two reported numbers agree within 5 % (both ``None`` also agrees)."""
    return _route_close
