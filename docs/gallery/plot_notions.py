"""
Mean-square vs almost-sure vs nonlinear escape
==============================================

One configuration of plain SGD on the σ-family (:math:`n=20` samples, :math:`\\sigma=5` of them
sharing one axis, batches of :math:`B=4` drawn without replacement), three step sizes:

* below :math:`\\eta^\\star_{ms}`: every notion says *resists*;
* between :math:`\\eta^\\star_{ms}` and :math:`\\eta^\\star_{as}`: the **mean-square** growth
  :math:`\\mathbb E\\|\\delta_t\\|^2` (exact, iterating the second-moment operator) explodes, yet the
  **typical** linear trajectory (median over runs; the almost-sure notion) and the **nonlinear** run
  both return to :math:`w^\\star` — rare batch sequences dominate the mean;
* above :math:`\\eta^\\star_{as}`: the typical trajectory grows too, and the nonlinear runs leave
  the basin of :math:`w^\\star`.

The nonlinear loss is :math:`\\ell_i(w)=\\phi(u_i^\\top w)` with the double well
:math:`\\phi(z)=z^2/2-z^4/4`: its Hessian at :math:`w^\\star=0` is exactly the family's
:math:`u_iu_i^\\top`, and a run has *escaped* once some :math:`|u_i^\\top w|` passes the barrier
(:math:`1.5>1`).  Linear and nonlinear runs use the same batches.

Claims: C10
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from numerics.core.commuting import exact_eta_star_as
from numerics.core.families import sigma_family
from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import SecondMomentOperator
from numerics.core.simulate import sample_weights

SCALE = os.environ.get("UNLEARNSTAB_DOCS_SCALE", "quick")
N, SIGMA, BATCH, C = 20, 5, 4, 2.0
STEPS, RUNS = (300, 200) if SCALE == "quick" else (1000, 2000)
SEED = 0

F = sigma_family(N, SIGMA, C)
op = SecondMomentOperator(F, None, UnlearningConfig(0.0, BATCH, 1, "wor"))
eta_ms, eta_as = op.eta_star_ms(), exact_eta_star_as(op)
U = F[..., 0]  # rank-one factors u_i (n x d)
print(f"eta*_ms = {eta_ms:.4f}, eta*_as = {eta_as:.4f}, ratio {eta_as / eta_ms:.3f}")

# %%
# Simulate: exact mean square, median linear trajectory, nonlinear runs (common random batches)


def simulate(eta: float, seed: int = SEED) -> dict[str, np.ndarray]:
    """Curves over t: E|delta|^2 (exact), median |delta|^2 (linear), median |w|^2 (nonlinear)."""
    rng = np.random.default_rng(seed)
    start = rng.standard_normal((RUNS, U.shape[1]))
    start *= 1e-3 / np.linalg.norm(start, axis=1, keepdims=True)
    lin, nl = start.copy(), start.copy()
    escaped = np.zeros(RUNS, dtype=bool)
    M = np.eye(op.dim) * 1e-6 / op.dim  # E[delta delta^T] of the same isotropic start
    ms, med_lin, med_nl = [np.trace(M)], [1e-6], [1e-6]
    for _ in range(STEPS):
        w = sample_weights(rng, "wor", N, BATCH, RUNS)
        lin = lin - eta * (w * (lin @ U.T)) @ U
        z = nl @ U.T
        step = eta * (w * (z - z**3)) @ U
        nl = np.where(escaped[:, None], nl, nl - step)
        escaped |= np.abs(nl @ U.T).max(axis=1) > 1.5
        M = op.apply(M, eta)
        ms.append(np.trace(M))
        med_lin.append(np.median(np.sum(lin**2, axis=1)))
        med_nl.append(np.median(np.where(escaped, np.inf, np.sum(nl**2, axis=1))))
    return {"ms": np.array(ms), "lin": np.array(med_lin), "nl": np.array(med_nl),
            "escaped": escaped}


etas = {"below eta*_ms": 0.9 * eta_ms, "between": float(np.sqrt(eta_ms * eta_as)),
        "above eta*_as": 1.1 * eta_as}
runs = {k: simulate(v) for k, v in etas.items()}

# %%
# The figure: one panel per step size

fig, axes = plt.subplots(1, 3, figsize=(11, 4.6), sharey=True)
for ax, (label, eta) in zip(axes, etas.items(), strict=True):
    r = runs[label]
    t = np.arange(STEPS + 1)
    ax.semilogy(t, r["ms"], "C3-", label=r"mean-square: $\mathbb{E}\|\delta_t\|^2$ (exact)")
    ax.semilogy(t, np.maximum(r["lin"], 1e-300), "C0-",
                label=r"almost-sure: median $\|\delta_t\|^2$ (linear)")
    nl = np.where(np.isinf(r["nl"]), np.nan, r["nl"])
    ax.semilogy(t, nl, "k--", label=r"nonlinear: median $\|w_t-w^\star\|^2$")
    ax.axhline(1e-6, color="0.7", lw=0.8)
    ax.set_ylim(1e-40, 1e40)
    ax.set_title(f"{label}: η = {eta:.3f}\nnonlinear escaped: {r['escaped'].mean():.0%}")
    ax.set_xlabel("step t")
axes[0].set_ylabel("squared distance from w*")
axes[0].legend(fontsize=10, loc="lower left")
fig.suptitle(f"sigma-family n={N}, sigma={SIGMA}, B={BATCH} (WOR): "
             f"η*_ms = {eta_ms:.3f} < η*_as = {eta_as:.3f}")
fig.tight_layout()

# %%
# What the figure shows, asserted

assert eta_ms < eta_as, "the mean-square threshold lies below the almost-sure one"
below, gap, above = (runs[k] for k in etas)
assert below["ms"][-1] < below["ms"][0] and below["lin"][-1] < below["lin"][0]
assert not below["escaped"].any(), "below eta*_ms no nonlinear run escapes"
assert gap["ms"][-1] > 1e3 * gap["ms"][0], "between the thresholds the mean square explodes"
assert gap["lin"][-1] < 1e-3 * gap["lin"][0], "... while the typical linear run converges"
assert gap["escaped"].mean() < 0.5, "... and most nonlinear runs stay in the basin"
assert above["lin"][-1] > 1e3 * above["lin"][0], "above eta*_as the typical run grows"
assert above["escaped"].mean() > 0.5, "... and most nonlinear runs leave the basin"
