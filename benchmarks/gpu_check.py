"""GPU check: the Gram route for a CNN with P >= 10^6 parameters and n >= 1024 samples.

When CUDA is present this script
1. trains the two-layer ReLU CNN (n = 1024, d = 4096, m = 128, so P = 2 m d = 1,048,576) for a
   few hundred full-batch GD steps on the GPU (float64);
2. times, on the GPU, the rank-one factors u_i = sqrt(l''_i) g_i (n x P), the Gram route
   (U U^T and sigma), the CNN's structured Gram (O(n^2 (m + d))) and the active-subspace QR,
   in float64 and in float32 (TF32 off);
3. checks them against the CPU float64 path on a subsample of samples (Gram entries and sigma);
4. optionally (--pipeline) runs one full `unlearnstab cnn` record of the `large` claim
   configuration on the GPU.
Without CUDA it prints "no CUDA device" and exits 0.

Usage: PYTHONPATH=$PWD python benchmarks/gpu_check.py [--n 1024 --d 4096 --m 128 --sub 64]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed(fn, repeats: int = 3):
    """Median wall time of fn() on the device (synchronised), and its last result."""
    out, times = None, []
    for _ in range(repeats):
        _sync()
        t0 = time.perf_counter()
        out = fn()
        _sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--d", type=int, default=4096)
    ap.add_argument("--m", type=int, default=128)
    ap.add_argument("--snr", type=float, default=0.1)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--sub", type=int, default=64, help="samples checked against the CPU")
    ap.add_argument("--pipeline", action="store_true", help="also run one large cnn record")
    ap.add_argument("--smoke-cpu", action="store_true",
                    help=argparse.SUPPRESS)  # run the same code on the CPU (float64 only)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available() and not args.smoke_cpu:
        print("no CUDA device")
        return 0

    from numerics.apps.cnn.data import DataConfig, make_data
    from numerics.apps.cnn.model import CNNConfig, rank_one_factors, rank_one_gram
    from numerics.apps.cnn.train import TrainConfig, train_gd
    from numerics.core.device import resolve_device, resolve_dtype
    from numerics.curvature.coherence import coherence_from_gram, dexter_sigma, factor_gram
    from numerics.curvature.hessians import reduce_to_active

    dev = resolve_device("cpu" if args.smoke_cpu else "cuda")
    P = 2 * args.m * args.d
    name = "CPU (smoke test)" if args.smoke_cpu else torch.cuda.get_device_name(dev)
    print(f"device: {name}; torch {torch.__version__}")
    print(f"CNN: n={args.n} d={args.d} m={args.m} P={P:,} SNR={args.snr}")
    cfg = CNNConfig(m=args.m)
    data = make_data(DataConfig(n_train=args.n, n_test=256, d=args.d, snr=args.snr, seed=0),
                     device=dev, dtype=torch.float64)
    t0 = time.perf_counter()
    tr = train_gd(data, cfg, TrainConfig(lr=0.1, loss_tol=0.05, max_steps=args.train_steps,
                                         sigma0=0.01, seed=0))
    _sync()
    print(f"training: {tr.steps} GD steps in {time.perf_counter() - t0:.2f} s, loss "
          f"{tr.final_loss:.4f}, train acc {tr.train_acc:.3f}, test acc {tr.test_acc:.3f}")

    results = {}
    for name in ("float64",) if args.smoke_cpu else ("float64", "float32"):
        dtype = resolve_dtype(dev, name)
        W, X, y = (t.to(dtype) for t in (tr.W, data.x_train, data.y_train))
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        with torch.no_grad():
            t_fac, U = _timed(lambda W=W, X=X, y=y: rank_one_factors(W, X, y, cfg))
            t_gram, G = _timed(lambda U=U: factor_gram(U)[:, 0, :, 0])
            t_sigma, sigma = _timed(lambda U=U: dexter_sigma(U))
            t_struct, Gs = _timed(lambda W=W, X=X, y=y: rank_one_gram(W, X, y, cfg))
            t_qr, red = _timed(lambda U=U: reduce_to_active(U), repeats=1)
        peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else 0.0
        sig_s = coherence_from_gram(Gs).sigma_r
        results[name] = (G, sigma)
        print(f"[{name}] factors {t_fac * 1e3:8.1f} ms | Gram U U^T {t_gram * 1e3:8.1f} ms | "
              f"factors+Gram+sigma {(t_fac + t_sigma) * 1e3:8.1f} ms | structured Gram "
              f"{t_struct * 1e3:7.1f} ms | active-subspace QR {t_qr:6.2f} s (rank {red.rank}) | "
              f"peak GPU memory {peak:.1f} GiB")
        print(f"[{name}] sigma = {sigma:.10g} (structured {sig_s:.10g})")
        del U, G, Gs, red
        if dev.type == "cuda":
            torch.cuda.empty_cache()

    # CPU float64 reference on a subsample
    idx = torch.arange(min(args.sub, args.n))
    Wc, Xc, yc = tr.W.cpu(), data.x_train[idx].cpu(), data.y_train[idx].cpu()
    t0 = time.perf_counter()
    Uc = rank_one_factors(Wc, Xc, yc, cfg)
    Gc = Uc @ Uc.T
    sig_c = dexter_sigma(Uc)
    t_cpu = time.perf_counter() - t0
    scale = float(Gc.abs().max())
    for name, (G, _) in results.items():
        sub = torch.as_tensor(G)[: len(idx), : len(idx)]
        err = float((sub - Gc).abs().max()) / scale
        sig_sub = coherence_from_gram(sub).sigma_r
        tol = 1e-10 if name == "float64" else 1e-4
        status = "OK" if err <= tol and abs(sig_sub / sig_c - 1) <= tol else "MISMATCH"
        print(f"[check {name} vs CPU float64, {len(idx)} samples] max rel Gram error {err:.2e}, "
              f"sigma {sig_sub:.10g} vs {sig_c:.10g} -> {status} (tol {tol:g})")
    print(f"CPU float64 on the subsample: {t_cpu:.2f} s")

    if args.pipeline:
        from numerics.apps.cnn.experiment import run_snr
        from numerics.verify.claims.cnn import SWEEPS

        cfg_large = SWEEPS["large"].config
        if args.smoke_cpu:
            from dataclasses import replace

            cfg_large = replace(cfg_large, n=40, d=200, m=4, n_forget=4, batch_retain=4,
                                batch_forget=2, steps=20, horizon=50, device="cpu")
        t0 = time.perf_counter()
        rec = run_snr(0.4, cfg_large)
        print(f"pipeline (large config, SNR 0.4) in {time.perf_counter() - t0:.1f} s: "
              + ", ".join(f"{k}={rec[k]:.4g}" for k in ("sigma_joint", "rho", "lambda_min_A_rel",
                                                        "forget_acc_after", "retain_acc_after")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
