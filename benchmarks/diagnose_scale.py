"""Benchmark: ``diagnose`` at growing size, exact route vs subspace route vs a PyHessian baseline.

On a 10-class cross-entropy MLP ``d -> h -> 10`` (float64, CPU) trained briefly on seeded Gaussian
data labelled by a random teacher, for each parameter count P, measured in one run, each method
in its own process (so that ``ru_maxrss`` is that method's peak memory):

* ``exact``    -- ``diagnose --route ggn`` (Gauss-Newton factors, operator on the active subspace;
                  skipped with its estimate when the n P C factors exceed the budget);
* ``subspace`` -- ``diagnose --route subspace`` (matrix-free, Lanczos subspace grown to 1 %);
* ``baseline`` -- PyHessian-style: top eigenvalue of the mean retain Hessian by power iteration
                  on Hessian-vector products and its trace by Hutchinson, written with torch.func.

No prescriptions, no unlearning run, no deletion check.  Prints seconds, peak GiB, and the
ratios subspace/baseline and exact/subspace.

Usage:  PYTHONPATH=$PWD python benchmarks/diagnose_scale.py [--P 1000 10000] [--n 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

#: Power-iteration steps and Hutchinson probes of the baseline.
POWER_STEPS, PROBES = 20, 20
N_FORGET, D_IN, CLASSES = 50, 32, 10


def _model_and_data(P: int, n: int, seed: int = 0):
    import torch

    hidden = max(1, round((P - CLASSES) / (D_IN + 1 + CLASSES)))
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n + N_FORGET, D_IN, generator=gen, dtype=torch.float64)
    teacher = torch.randn(D_IN, CLASSES, generator=gen, dtype=torch.float64)
    y = (X @ teacher).argmax(dim=1)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(D_IN, hidden), torch.nn.Tanh(),
                                torch.nn.Linear(hidden, CLASSES)).to(torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        opt.step()

    def loss(out, t):
        return torch.nn.functional.cross_entropy(out, t, reduction="none")

    return model, loss, (X[:n], y[:n]), (X[n:], y[n:])


def _baseline(model, loss, retain) -> dict:
    import torch
    from torch.func import functional_call, grad, jvp

    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    X, y = retain

    def mean_loss(th):
        parts, i = {}, 0
        for k, s in zip(names, shapes, strict=True):
            m = s.numel()
            parts[k] = th[i:i + m].reshape(s)
            i += m
        return loss(functional_call(model, parts, (X,)), y).mean()

    g = grad(mean_loss)

    def hvp(v):
        return jvp(g, (theta,), (v,))[1]

    gen = torch.Generator().manual_seed(0)
    v = torch.randn(theta.shape, generator=gen, dtype=torch.float64)
    lam = 0.0
    for _ in range(POWER_STEPS):
        w = hvp(v / v.norm())
        lam = float(w @ (v / v.norm()))
        v = w
    tr = 0.0
    for _ in range(PROBES):
        z = torch.randint(0, 2, theta.shape, generator=gen).to(torch.float64) * 2 - 1
        tr += float(z @ hvp(z)) / PROBES
    return {"top_eigenvalue": lam, "trace": tr}


def one(method: str, P: int, n: int, budget_gb: float) -> dict:
    """One method on one size, in this process."""
    import torch

    torch.set_num_threads(1)
    model, loss, retain, forget = _model_and_data(P, n)
    P_true = sum(p.numel() for p in model.parameters())
    out: dict = {"method": method, "P": P_true, "n": n}
    start = time.perf_counter()
    if method == "baseline":
        out.update(_baseline(model, loss, retain))
    else:
        need = 8 * (n + N_FORGET) * P_true * CLASSES / 2**30
        if method == "exact" and need > budget_gb:
            out["skipped"] = f"GGN factors need {need:.1f} GiB > budget {budget_gb} GiB"
            return out
        from numerics.apps.diagnose import DiagnoseOptions, diagnose

        rep = diagnose(model, loss, retain, forget, DiagnoseOptions.of(
            route="ggn" if method == "exact" else "subspace", alpha=0.05, eta_rel=0.5,
            unlearn_steps=0, deletion=False, prescribe=False, steps_grid=0, progress=False,
            memory_budget_gb=budget_gb))
        out.update(verdict=rep.verdict_code, lambda_min_A=rep.lambda_min_A, rho=rep.rho,
                   eta_star_ms=rep.eta_star_ms, subspace_dim=rep.subspace_dim,
                   active_dim=rep.active_dim)
    out["seconds"] = time.perf_counter() - start
    out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def main() -> None:
    """Each (P, method) in a fresh process; one line per size with the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--P", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--n", type=int, default=1000, help="retain samples")
    parser.add_argument("--budget-gb", type=float, default=4.0)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "P"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.n, args.budget_gb)))
        return
    print(f"threads=1 load={os.getloadavg()[0]:.2f} n_retain={args.n} n_forget={N_FORGET}",
          flush=True)
    for P in args.P:
        res = {}
        for method in ("baseline", "subspace", "exact"):
            cmd = [sys.executable, __file__, "--one", method, str(P), "--n", str(args.n),
                   "--budget-gb", str(args.budget_gb)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            lines = proc.stdout.strip().splitlines()
            res[method] = json.loads(lines[-1]) if proc.returncode == 0 and lines else {
                "error": proc.stderr.strip().splitlines()[-1:]}
            print(f"  P~{P} {method}: {json.dumps(res[method])}", flush=True)
        b, s, e = res["baseline"], res["subspace"], res["exact"]
        ratios = []
        if "seconds" in b and "seconds" in s:
            ratios.append(f"subspace/baseline {s['seconds'] / b['seconds']:.1f}x")
        if "seconds" in e and "seconds" in s:
            ratios.append(f"exact/subspace {e['seconds'] / s['seconds']:.2f}x")
        print(f"P={s.get('P', P)}: " + ", ".join(ratios), flush=True)


if __name__ == "__main__":
    main()
