"""Benchmark: ``diagnose`` at growing size, exact route vs subspace route vs a PyHessian baseline.

On a 10-class cross-entropy MLP ``d -> h -> 10`` (float64, CPU) trained briefly on seeded Gaussian
data labelled by a random teacher, for each parameter count P, measured in one run, each method
in its own process (so that ``ru_maxrss`` is that method's peak memory):

* ``exact``    -- ``diagnose --route ggn`` (Gauss-Newton factors, operator on the active subspace;
                  skipped with its estimate when the n P C factors exceed the budget);
* ``subspace`` -- ``diagnose --route subspace`` (matrix-free, Lanczos subspace grown to 1 %);
* ``subspace-ggn`` -- ``diagnose --route subspace-ggn``, the same on Gauss-Newton-vector products
                  (what ``--route auto`` takes for a cross-entropy model above 150 parameters);
* ``baseline`` -- PyHessian-style: top eigenvalue of the mean retain Hessian by power iteration
                  on Hessian-vector products and its trace by Hutchinson, written with torch.func.

No prescriptions, no unlearning run, no deletion check.  Each method runs once untimed on the
first 16 samples of each set first (imports and torch.func's first-call set-up are timed in
neither).  Prints seconds (wall and CPU: on a
shared machine their ratio shows the load), the peak resident memory of each child
(``ru_maxrss`` from ``wait4``), for the subspace route the passes over the data of each phase and
the sizes it tried, the ratios subspace/baseline, exact/baseline and
exact/subspace, and a Markdown table of the run.

``--d-in`` sets the input dimension ``d`` (default 32, so that the hidden layer carries P: at
P = 10^6 it is 23 256 wide); ``--d-in 1024`` is an MLP on flattened 32 x 32 images, whose first
layer carries P (hidden 967 at P = 10^6).  The model is trained on at most TRAIN_MAX samples.

Usage:  PYTHONPATH=$PWD python benchmarks/diagnose_scale.py                # P = 10^3, 10^4, n = 1000
        PYTHONPATH=$PWD python benchmarks/diagnose_scale.py --large        # adds P = 10^5
        PYTHONPATH=$PWD python benchmarks/diagnose_scale.py --P 1000000 --n 10000 --d-in 1024 \\
            --methods baseline subspace-ggn subspace --budget-gb 8          # the largest case
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

#: Power-iteration steps and Hutchinson probes of the baseline.
POWER_STEPS, PROBES = 20, 20
N_FORGET, D_IN, CLASSES = 50, 32, 10
#: Largest number of samples the model is trained on (its first ones; the sets are not cut).
TRAIN_MAX = 2000
#: Samples of each set in the untimed warm-up run of every method.
WARMUP = 16
#: The methods, in the order they run for each size.
ROUTES: dict[str, str | None] = {"baseline": None, "subspace": "subspace",
                                 "subspace-ggn": "subspace-ggn", "exact": "ggn"}
METHODS: tuple[str, ...] = tuple(ROUTES)


def _model_and_data(P: int, n: int, seed: int = 0, d_in: int = D_IN):
    import torch

    hidden = max(1, round((P - CLASSES) / (d_in + 1 + CLASSES)))
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n + N_FORGET, d_in, generator=gen, dtype=torch.float64)
    teacher = torch.randn(d_in, CLASSES, generator=gen, dtype=torch.float64)
    y = (X @ teacher).argmax(dim=1)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.Tanh(),
                                torch.nn.Linear(hidden, CLASSES)).to(torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X[:TRAIN_MAX]), y[:TRAIN_MAX]).backward()
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


def one(method: str, P: int, n: int, budget_gb: float, d_in: int = D_IN) -> dict:
    """One method on one size, in this process."""
    import torch

    torch.set_num_threads(1)
    model, loss, retain, forget = _model_and_data(P, n, d_in=d_in)
    P_true = sum(p.numel() for p in model.parameters())
    out: dict = {"method": method, "P": P_true, "n": n, "d_in": d_in}
    need = 8 * (n + N_FORGET) * P_true * CLASSES / 2**30
    if method == "exact" and need > budget_gb:
        out["skipped"] = f"GGN factors need {need:.1f} GiB > budget {budget_gb} GiB"
        return out
    # Each method first runs once on WARMUP samples, untimed: module imports and torch.func's
    # first-call set-up are once-per-process costs of neither computation (cold, they add
    # about 0.3 s to each at P = 10^3, as much as the baseline's own work there).
    def run(data: tuple, held_out: tuple) -> dict:
        if method == "baseline":
            return _baseline(model, loss, data)
        from numerics.apps.diagnose import DiagnoseOptions, diagnose

        rep = diagnose(model, loss, data, held_out, DiagnoseOptions.of(
            route=ROUTES[method], alpha=0.05, eta_rel=0.5,
            unlearn_steps=0, deletion=False, prescribe=False, steps_grid=0, progress=False,
            memory_budget_gb=budget_gb))
        got = dict(verdict=rep.verdict_code, lambda_min_A=rep.lambda_min_A, rho=rep.rho,
                   eta_star_ms=rep.eta_star_ms, subspace_dim=rep.subspace_dim,
                   active_dim=rep.active_dim, timings=rep.timings)
        if "products" in rep.curvature:
            got["products"] = rep.curvature["products"]
            got["subspace_k"] = [h["k"] for h in rep.curvature["subspace_history"]]
        return got

    run(tuple(t[:WARMUP] for t in retain), tuple(t[:WARMUP] for t in forget))
    start, cpu0 = time.perf_counter(), _cpu_seconds()
    out.update(run(retain, forget))
    out["seconds"] = time.perf_counter() - start
    out["cpu_seconds"] = _cpu_seconds() - cpu0
    out["peak_gb_inside"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def _cpu_seconds() -> float:
    """CPU time of this process so far (user + system; beside the wall time it shows the load)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _child(cmd: list[str]) -> tuple[dict, float]:
    """Run one measurement in a child process; its JSON line and its own peak RSS (GiB).

    The peak is the child's ``ru_maxrss`` as returned by ``wait4`` (this launcher imports no
    torch, so the high-water mark a child could inherit is small).
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode().strip().splitlines()[-1:]
    lines = out.strip().splitlines()
    if proc.returncode == 0 and lines:
        res = json.loads(lines[-1])
    else:
        res = {"error": tail or [f"exit status {proc.returncode}"]}
    return res, usage.ru_maxrss / 2**20


def _ratios(res: dict[str, dict]) -> list[str]:
    """Time ratios of each method that finished to the baseline, and of exact to subspace."""
    sec = {m: r["seconds"] for m, r in res.items() if "seconds" in r}
    pairs = [(m, "baseline") for m in METHODS if m != "baseline"] + [("exact", "subspace")]
    return [f"{a}/{b} {sec[a] / sec[b]:.1f}x" for a, b in pairs if a in sec and b in sec]


def main() -> None:
    """Each (P, method) in a fresh process; one line per method and one of ratios per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--P", type=int, nargs="+", default=None,
                        help="parameter counts (default 1000 10000; with --large 1000 to 100000)")
    parser.add_argument("--n", type=int, default=1000, help="retain samples")
    parser.add_argument("--d-in", type=int, default=D_IN, help="input dimension of the MLP")
    parser.add_argument("--large", action="store_true",
                        help="P = 1000, 10000, 100000 (minutes to tens of minutes)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--exact-max-P", type=int, default=1000,
                        help="run the exact route only up to this P (its operator works on an "
                             "active dimension of about min(P, 9n))")
    parser.add_argument("--budget-gb", type=float, default=4.0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per child")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "P"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.n, args.budget_gb,
                             args.d_in)))
        return
    sizes = args.P or ([1000, 10000, 100000] if args.large else [1000, 10000])
    print(f"threads=1 load={os.getloadavg()[0]:.2f} n_retain={args.n} n_forget={N_FORGET} "
          f"d_in={args.d_in}", flush=True)
    rows = []
    for P in sizes:
        res: dict[str, dict] = {}
        for method in args.methods:
            if method == "exact" and P > args.exact_max_P:
                res[method] = {"skipped": f"P > --exact-max-P {args.exact_max_P}"}
            else:
                cmd = ["timeout", str(args.timeout), sys.executable, __file__, "--one", method,
                       str(P), "--n", str(args.n), "--budget-gb", str(args.budget_gb),
                       "--d-in", str(args.d_in)]
                res[method], peak = _child(cmd)
                res[method]["peak_gb"] = peak
            print(f"  P~{P} {method}: {json.dumps(res[method])}", flush=True)
        real = next((r["P"] for r in res.values() if "P" in r), P)
        print(f"P={real} n={args.n}: " + (", ".join(_ratios(res)) or "no ratio"), flush=True)
        rows.append((real, res))
    print(_table(rows, args.n, args.methods), flush=True)


def _table(rows: list[tuple[int, dict]], n: int, methods: list[str]) -> str:
    """Markdown table: wall and CPU seconds and peak GiB of each method, ratios to the baseline."""
    others = [m for m in methods if m != "baseline"]
    head = ("| P | n | " + " | ".join(methods) + " | "
            + " | ".join(f"{m}/baseline (wall, CPU)" for m in others) + " |")
    lines = [head, "|" + "---|" * (2 + len(methods) + len(others))]
    for P, res in rows:
        cells = []
        for m in methods:
            r = res.get(m, {})
            if "seconds" in r:
                extra = f", k = {r['subspace_dim']}" if m.startswith("subspace") else ""
                cells.append(f"{r['seconds']:.2f} s, {r['cpu_seconds']:.2f} s CPU, "
                             f"{r['peak_gb']:.2f} GiB{extra}")
            else:
                cells.append(str(r.get("skipped") or r.get("error") or "not run"))
        base = res.get("baseline", {})
        for m in others:
            r = res.get(m, {})
            if "seconds" in r and "seconds" in base:
                cells.append(f"{r['seconds'] / base['seconds']:.1f}x, "
                             f"{r['cpu_seconds'] / base['cpu_seconds']:.1f}x")
            else:
                cells.append("-")
        lines.append(f"| {P} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
