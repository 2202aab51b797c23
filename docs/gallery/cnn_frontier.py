"""Frontier maps of the CNN (SNR x alpha, SNR x B_r, alpha x B_r) -> docs/gallery/*.png + JSON.

Usage: PYTHONPATH=$PWD python docs/gallery/cnn_frontier.py [--seeds 3]
"""

import argparse
import json
from pathlib import Path

from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.apps.cnn.frontier import frontier_map, plot_frontier

HERE = Path(__file__).parent
SNRS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.2, 1.6]
ALPHAS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5]
BATCHES = [1, 2, 4, 8, 12, 20]

ap = argparse.ArgumentParser()
ap.add_argument("--seeds", type=int, default=3)
args = ap.parse_args()
seeds = tuple(range(args.seeds))
cfg = ExperimentConfig()  # SPEC §5.6: n=24, d=300, m=8, n_f=4, B_f=2, eta = 0.5 * 2/lambda_max
summary = {}
for name, (xn, xv, yn, yv, snr) in {
    "cnn_frontier_snr_alpha": ("snr", SNRS, "alpha", ALPHAS, None),
    "cnn_frontier_snr_batch": ("snr", SNRS, "batch_retain", BATCHES, None),
    "cnn_frontier_alpha_batch": ("alpha", ALPHAS, "batch_retain", BATCHES, 0.8),
}.items():
    fmap = frontier_map(xn, xv, yn, yv, cfg, seeds=seeds, snr=snr)
    plot_frontier(fmap, str(HERE / f"{name}.png"))
    summary[name] = {"agreement_linear": fmap.agreement_linear,
                     "agreement_nonlinear": fmap.agreement_nonlinear,
                     "calibrated_log_rho": fmap.calibrated_log_rho,
                     "max_lambda_min_rel": float(fmap.lambda_min_rel.max())}
    (HERE / f"{name}.json").write_text(json.dumps(fmap.as_dict(), indent=1))
    print(name, summary[name], flush=True)
    # what the maps show: the linearised finite-horizon prediction matches the simulated linear
    # rule on most cells (0.92-1.0 with 3 seeds), and the calibrated log rho is a growth rate
    assert fmap.agreement_linear >= 0.85, (name, fmap.agreement_linear)
    assert 0.0 < fmap.calibrated_log_rho < 1.0, (name, fmap.calibrated_log_rho)
