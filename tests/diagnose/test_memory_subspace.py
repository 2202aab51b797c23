"""``--memory-budget-gb`` holds on the matrix-free subspace route: the child's peak RSS is measured.

Before the plan (:mod:`numerics.apps.diagnose.subspace_memory`) the route sized only its chunks
by the budget: the shared Krylov arrays (three ``P x m`` arrays, ``m`` up to ``6 k``) and their
temporaries were not counted, and ``benchmarks/diagnose_scale.py --P 1000000 --n 1000
--methods subspace --budget-gb 8`` swung to about 8.3 GB resident.
"""

import json

import pytest

from numerics.apps.diagnose.subspace_memory import SubspaceSizes, plan_subspace
from numerics.core.inputs import InputError
from numerics.curvature.subspace import SubspaceOptions

#: A ``32 -> h -> 10`` tanh MLP (cross-entropy, seeded, briefly trained) on the Hessian subspace
#: route: ``h`` hidden units, ``nr`` retain and ``nf`` forget samples.
_MLP_ENTRY = """
import torch

def entry():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    h, nr, nf = {d}, {nr}, {nf}
    X = torch.randn(nr + nf, 32, generator=g, dtype=torch.float64)
    y = (X @ torch.randn(32, 10, generator=g, dtype=torch.float64)).argmax(dim=1)
    m = torch.nn.Sequential(torch.nn.Linear(32, h), torch.nn.Tanh(),
                            torch.nn.Linear(h, 10)).to(torch.float64)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(X), y).backward()
        opt.step()

    def loss(out, t):
        return torch.nn.functional.cross_entropy(out, t, reduction="none")

    return {{"model": m, "loss": loss, "retain": (X[:nr], y[:nr]), "forget": (X[nr:], y[nr:]),
            "seed": 0, "options": {{"route": "subspace", "alpha": 0.05, "eta_rel": 0.5,
                                   "unlearn_steps": 0}}}}
"""
_ARGS = ["--no-progress", "--quiet", "--no-deletion", "--no-prescribe", "--threads", "1"]


def test_subspace_route_peak_stays_under_a_tight_budget(tmp_path, diagnose_peak):
    # h = 1000: P = 43,010 (one P-vector is 0.33 MiB), 200 + 50 samples.  Before the plan this
    # run peaked at 0.68 GiB resident (k = 16, Krylov basis 59, per-sample gradients of 256
    # samples in the stationarity check); 0.65 GiB leaves its phases about 0.18 GiB.
    budget_gb = 0.65
    out = tmp_path / "out"
    rc, err, peak = diagnose_peak((1000, 200, 50), [*_ARGS, "--memory-budget-gb", str(budget_gb),
                                                    "--out", str(out)], 600, entry=_MLP_ENTRY)
    assert rc == 0, err
    assert 0 < peak < budget_gb * 2**30, f"peak {peak / 2**30:.3f} GiB over {budget_gb} GiB"
    cur = json.loads((out / "report.json").read_text(encoding="utf-8"))["curvature"]
    assert cur["route"] == "matrix-free"
    plan = cur["subspace_memory_plan"]
    # the budget binds: the growth stops short of the requested k_max = 256, or the basis is capped
    assert plan["k_max"] < SubspaceOptions().k_max or plan["krylov_dim_cap"] > 0, plan
    assert cur["subspace_dim"] <= plan["k_max"]
    assert 0 < plan["estimate_gib"] <= plan["left_gib"]


def test_subspace_route_refuses_a_budget_its_smallest_space_exceeds(tmp_path, diagnose_peak):
    # h = 23,000: P = 989,010; the smallest Krylov space (k = 8, 24 columns, their products and
    # the projection) needs about 1.5 GiB, more than 1.2 GiB leaves after the resident set.
    budget_gb = 1.2
    rc, err, peak = diagnose_peak((23000, 60, 10), [*_ARGS, "--memory-budget-gb",
                                                    str(budget_gb)], 300, entry=_MLP_ENTRY)
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "matrix-free subspace route at P = 989010" in lines[0], lines[0]
    assert "smallest Krylov space (k = 8" in lines[0] and "1.2 GiB budget" in lines[0], lines[0]
    assert peak < budget_gb * 2**30  # refused before the Krylov arrays were allocated


def test_plan_keeps_defaults_caps_the_basis_or_refuses():
    sizes = SubspaceSizes(n_params=100_000, samples=500, alpha=0.1, chunk_bytes=2**24)
    opts = SubspaceOptions()
    roomy = plan_subspace(sizes, opts, 2.0**40, 1e3)
    assert roomy.options == opts and roomy.dim_cap == 0
    col = 8.0 * sizes.n_params
    # room for k = 32 with the smallest basis (3 k = 96) but not its default one (6 k = 192)
    left = 1.25 * col * (4 * 120 + 6 * 32) + sizes.chunk_bytes + 4 * 8.0 * 500 * 32**2
    tight = plan_subspace(sizes, opts, left, 1.0)
    assert tight.k_max == 32 and tight.options.k_max == 32
    assert 96 <= tight.dim_cap <= 120 and tight.options.krylov_dim_cap == tight.dim_cap
    assert tight.estimate <= left
    with pytest.raises(InputError, match=r"smallest Krylov space \(k = 8, basis of 24"):
        plan_subspace(sizes, opts, 0.5 * 1.25 * col * (4 * 24 + 6 * 8), 1.0)
