"""
Low SNR forgets, high SNR resists (two-layer CNN)
=================================================

The two-layer ReLU CNN trained on signal-plus-noise data, over a grid of signal-to-noise ratios
(seed means, common random numbers across SNR).  Left: the measured coherence
:math:`\\sigma_{\\rm joint}` rises from about 1 (memorisation: curvature directions are private
noise directions) towards :math:`n/2` (signal-dominated), beside the leading-order law of
:mod:`theory.cnn`.  Middle: the linearised unlearning dynamics — the mean-square growth
:math:`\\rho(\\mathcal T)` falls towards 1 as the forget curvature moves into the retain span.
Right: real (nonlinear) gradient-difference unlearning — at low SNR the forget loss explodes and
forget accuracy collapses (the model *forgets*); at high SNR it does not (the model *resists*).
It is the sweep of claims C7 and C8, so the documentation build runs it once.

Claims: C7, C8
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import spearmanr

from numerics.verify.claims import cnn as cc
from theory import cnn as th

SCALE = os.environ.get("UNLEARNSTAB_DOCS_SCALE", "quick")
cfg = cc.SWEEPS[SCALE].config
table = cc.summarise(cc.sweep(SCALE))
snr = np.array(table["snr"])
pred = [th.predictions(s, cfg, kappa_value=k, omega_value=o)
        for s, k, o in zip(snr, table["kappa"], table["omega"], strict=True)]

fig, axes = plt.subplots(1, 3, figsize=(11, 4.3))
ax = axes[0]
ax.semilogx(snr, table["sigma_joint"], "o-", label="measured")
ax.semilogx(snr, [p["sigma_joint"] for p in pred], "k--", label="leading-order law")
ax.axhline(cfg.n / 2, color="0.6", lw=0.8)
ax.set_title(r"coherence $\sigma_{\rm joint}$ (limit $n/2$)")
ax.legend()
ax = axes[1]
ax.semilogx(snr, table["rho"], "o-C3")
ax.axhline(1.0, color="0.6", lw=0.8)
ax.set_title(r"mean-square growth $\rho(\mathcal{T})$")
ax = axes[2]
ax.semilogx(snr, table["forget_acc_after"], "o-C2", label="forget accuracy after")
ax.semilogx(snr, table["retain_acc_after"], "s--C0", label="retain accuracy after")
ax.set_ylim(-0.05, 1.05)
ax.set_title("nonlinear unlearning")
ax.legend()
for ax in axes:
    ax.set_xlabel("SNR")
fig.suptitle(f"CNN n={cfg.n}, d={cfg.d}, m={cfg.m}, n_f={cfg.n_forget}, alpha={cfg.alpha}, "
             f"B_r={cfg.batch_retain}, B_f={cfg.batch_forget} ({len(cc.SWEEPS[SCALE].seeds)} "
             "seeds)")
fig.tight_layout()

# %%
# What the figure shows, asserted

assert spearmanr(snr, table["sigma_joint"]).statistic >= 0.9, "coherence rises with SNR"
assert table["sigma_joint"][0] < 1.5 <= table["sigma_joint"][-1]
assert spearmanr(snr, table["rho"]).statistic <= -0.8, "the linear growth falls with SNR"
assert table["forget_acc_after"][0] <= 0.5, "low SNR: the model forgets"
assert table["forget_acc_after"][-1] >= 0.9, "high SNR: the model resists"
