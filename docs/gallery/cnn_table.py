"""Print the CNN measured table (SPEC §5.6 style) with leading-order predictions, as markdown.

Usage: PYTHONPATH=$PWD python docs/gallery/cnn_table.py [quick|default]
"""

import sys

import numpy as np
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from numerics.verify.claims.cnn import SWEEPS, summarise, sweep, theory_table

scale = sys.argv[1] if len(sys.argv) > 1 else "quick"
spec = SWEEPS[scale]
with threadpool_limits(1):
    import torch

    torch.set_num_threads(1)
    recs = sweep(scale)
t = summarise(recs)
th = theory_table(t, spec.config)
n = spec.config.n
cols = [("SNR", "snr"), ("n SNR²", None), ("test acc", "test_acc"), ("σ_joint", "sigma_joint"),
        ("σ_r", "sigma_r"), ("σ_rf", "sigma_rf"), ("cos same", "cos_same_label"),
        ("cos opp", "cos_opposite_label"), ("λ_min(A)/λ_max(H̄_r)", "lambda_min_A_rel"),
        ("ρ(𝒯)", "rho"), ("out-of-span", "out_of_span_forget"),
        ("linear rule escapes", "linear_escape_fraction"),
        ("NL log(L_f after/before)", "forget_loss_growth"), ("NL forget acc", "forget_acc_after"),
        ("NL retain acc", "retain_acc_after"), ("NL escaped", "escaped")]
print(f"seeds: {len(spec.seeds)}, config: {spec.config}\n")
print("| " + " | ".join(c for c, _ in cols) + " |")
print("|" + "---|" * len(cols))
for i, s in enumerate(t["snr"]):
    row = []
    for _, k in cols:
        v = n * s * s if k is None else t[k][i]
        row.append(f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}")
    print("| " + " | ".join(row) + " |")
print("\nLeading-order predictions (theory/cnn.py, with the measured kappa and omega):\n")
keys = ["sigma_joint", "sigma_r", "sigma_rf", "cos_same_label", "cos_opposite_label",
        "lambda_min_A_rel", "rho", "out_of_span_forget"]
print("| SNR | κ | ω | " + " | ".join(f"{k} pred (meas/pred)" for k in keys) + " |")
print("|" + "---|" * (len(keys) + 3))
for i, s in enumerate(t["snr"]):
    cells = [f"{th[k][i]:.3g} ({t[k][i] / th[k][i]:.2f})" for k in keys]
    print(f"| {s:g} | {t['kappa'][i]:.2f} | {t['omega'][i]:.2f} | " + " | ".join(cells) + " |")

print("\nSpearman with SNR:", {k: round(float(spearmanr(t["snr"], t[k]).statistic), 3)
                             for k in keys + ["forget_loss_growth", "forget_acc_after"]})
print("min/max lambda_min rel:", np.min(t["lambda_min_A_rel"]), np.max(t["lambda_min_A_rel"]))

# What the table shows (claims C7/C8 at this scale): one row per SNR level, every prediction a
# finite positive number where it is a coherence, coherence rising and the linear growth falling
# with SNR.
assert len(t["snr"]) == len(spec.snrs) and list(t["snr"]) == sorted(t["snr"])
for k in ("sigma_joint", "sigma_r", "sigma_rf"):
    assert all(np.isfinite(v) and v > 0 for v in th[k]), k
assert spearmanr(t["snr"], t["sigma_joint"]).statistic >= 0.9, "coherence rises with SNR"
assert spearmanr(t["snr"], t["rho"]).statistic <= -0.8, "the linear growth falls with SNR"
