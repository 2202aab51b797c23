r"""Claims C7–C9: the two-layer CNN on signal-plus-noise data (SPEC §5, §6).

* **C7** lower SNR gives weaker cross-sample alignment and lower coherence;
* **C8** lower SNR makes unlearning easier, high-SNR models resist;
* **C9** noise--noise alignment is weak (:math:`\sqrt{\log n/d}`) and the noise Gram spectrum
  fills the Marchenko--Pastur interval.

C7 and C8 share one sweep over an SNR grid and several seeds with common random numbers (a seed
fixes data, initialisation, split and batches at every SNR); per-SNR values are seed means and
the Spearman correlations are taken over the SNR levels.  The sweep is cached, so running both
claims costs one sweep.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from numerics.apps.cnn.data import DataConfig, make_data
from numerics.apps.cnn.experiment import ExperimentConfig, run_sweep
from numerics.core.device import thread_limit
from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, register
from numerics.verify.claims.policy import Kind, Notion, Tolerance
from theory import cnn as th

__all__ = ["SweepSpec", "SWEEPS", "sweep", "summarise", "theory_table", "noise_concentration"]


@dataclass(frozen=True)
class SweepSpec:
    """An SNR grid, seeds and the experiment configuration (one per scale)."""

    snrs: tuple[float, ...]
    seeds: tuple[int, ...]
    config: ExperimentConfig
    activations: tuple[str, ...] = ("relu",)


_SNRS_CPU = (0.02, 0.1, 0.2, 0.4, 0.8, 1.2, 1.6)
#: Sweep configurations: ``quick``/``default`` are the SPEC §5.6 configuration (n=24, d=300,
#: m=8, n_f=4, α=0.1, B_r=4, B_f=2, η = 0.5·2/λ_max(H̄_r), K=200); ``large`` is SPEC §6's GPU one.
SWEEPS: dict[str, SweepSpec] = {
    "quick": SweepSpec(_SNRS_CPU, tuple(range(6)), ExperimentConfig()),
    "default": SweepSpec(_SNRS_CPU, tuple(range(10)), ExperimentConfig()),
    "large": SweepSpec(
        (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.2, 1.6), tuple(range(20)),
        ExperimentConfig(n=500, n_test=1000, d=5000, m=64, n_forget=50, batch_retain=32,
                         batch_forget=8, steps=2000, horizon=2000, device="auto", threads=None),
        activations=("relu", "relu_q"),
    ),
}


def sweep(scale: str, activation: str = "relu") -> tuple[dict[str, Any], ...]:
    """All records of the scale's sweep (cached: C7 and C8 share it)."""
    return _sweep(str(scale), str(activation))


@cache
def _sweep(scale: str, activation: str) -> tuple[dict[str, Any], ...]:
    spec = SWEEPS[scale]
    cfg = replace(spec.config, activation=activation)
    return tuple(run_sweep(spec.snrs, spec.seeds, cfg))


_KEYS = ("sigma_joint", "sigma_r", "sigma_f", "sigma_rf", "cos_same_label", "cos_opposite_label",
         "lambda_min_A_rel", "rho", "out_of_span_forget", "forget_loss_growth",
         "forget_acc_after", "retain_acc_after", "linear_escape_fraction", "escaped", "test_acc",
         "train_acc", "kappa", "omega")


def summarise(records: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[str, Any]:
    """Seed means per SNR level: ``{"snr": [...], key: [...]}`` (sorted by SNR)."""
    snrs = sorted({r["snr"] for r in records})
    out: dict[str, Any] = {"snr": snrs}
    for k in _KEYS:
        out[k] = [float(np.mean([float(r[k]) for r in records if r["snr"] == s])) for s in snrs]
    return out


def _spearman(x: list[float], y: list[float]) -> float:
    rho = spearmanr(x, y).statistic
    return float(rho) if np.isfinite(rho) else 0.0


def theory_table(table: dict[str, Any], cfg: ExperimentConfig) -> dict[str, list[float]]:
    """Leading-order predictions at each SNR with the measured kappa and omega (theory.cnn).

    Parameters
    ----------
    table:
        Seed means per SNR (:func:`summarise`), with the measured ``kappa`` and ``omega``.
    cfg:
        The experiment's configuration (n, n_forget, d, alpha, eta_rel, B_f).

    Returns
    -------
    dict[str, list[float]]
        Per record key, one prediction per SNR level.
    """
    out: dict[str, list[float]] = {}
    for i, s in enumerate(table["snr"]):
        pred = th.predictions(s, cfg, kappa_value=table["kappa"][i],
                              omega_value=table["omega"][i])
        for k, v in pred.items():
            out.setdefault(k, []).append(v)
    return out


def _departures(table: dict[str, Any], theory: dict[str, list[float]]) -> dict[str, list[float]]:
    """Measured / predicted ratio per SNR level for every predicted quantity."""
    return {k: [float(m / p) if p != 0 else float("nan") for m, p in zip(table[k], v,
                                                                         strict=True)]
            for k, v in theory.items()}


# --------------------------------------------------------------------------------------- C7
C7_LOW_MAX = 1.5  #: "σ → ~1": σ_joint at the lowest SNR at most this.
C7_HIGH_FRACTION = 0.5  #: "toward n/2": σ_joint at the highest SNR at least this fraction of n/2.
C7_OPPOSITE_MAX = 0.02  #: opposite-label mean |cos| below this at every SNR.


def _check_c7(scale: str) -> CheckOutcome:
    spec = SWEEPS[scale]
    cfg = spec.config
    evidence: dict[str, Any] = {"config": asdict(cfg), "seeds": list(spec.seeds)}
    comparisons: list[Comparison] = []
    all_conditions: dict[str, bool] = {}
    for act in spec.activations:
        with thread_limit(cfg.threads):
            table = summarise(sweep(scale, act))
        sp_sigma = _spearman(table["snr"], table["sigma_joint"])
        sp_cos = _spearman(table["snr"], table["cos_same_label"])
        low = table["sigma_joint"][0]
        high = table["sigma_joint"][-1]
        cos_opp = max(table["cos_opposite_label"])
        conditions = {
            f"sigma_joint at lowest SNR ({table['snr'][0]:g}, n SNR^2 = "
            f"{cfg.n * table['snr'][0] ** 2:.3g}) <= {C7_LOW_MAX}": low <= C7_LOW_MAX,
            f"sigma_joint at highest SNR ({table['snr'][-1]:g}) >= {C7_HIGH_FRACTION} n/2 = "
            f"{C7_HIGH_FRACTION * cfg.n / 2:g}": high >= C7_HIGH_FRACTION * cfg.n / 2,
            f"max opposite-label |cos| < {C7_OPPOSITE_MAX}": cos_opp < C7_OPPOSITE_MAX,
        }
        theory = theory_table(table, cfg)
        evidence[act] = {
            "table": table, "spearman_sigma_joint": sp_sigma, "spearman_cos_same": sp_cos,
            "spearman_sigma_r": _spearman(table["snr"], table["sigma_r"]),
            "spearman_sigma_rf": _spearman(table["snr"], table["sigma_rf"]),
            "conditions": conditions, "theory": theory,
            "measured_over_predicted": _departures(table, theory),
            "sigma_limits_predicted": [str(e) for e in th.sigma_limits()],
        }
        comparisons.append(Comparison(f"{act}: Spearman(SNR, sigma_joint) > 0", 1.0, sp_sigma))
        all_conditions.update({f"{act}: {k}": v for k, v in conditions.items()})
    evidence["error_meaning"] = ("Spearman(SNR, sigma_joint) over the SNR levels (seed means), "
                                 "replaced by -1 if a side condition fails; worst activation")
    scores = [float(c.observed) for c in comparisons]
    worst = float(np.min(scores)) if all(all_conditions.values()) else -1.0
    return CheckOutcome(comparisons, evidence, all_conditions, display=(1.0, worst))


register(Claim(
    "C7", "Lower SNR gives weaker alignment and lower coherence (CNN)",
    r"Over an SNR grid (seed means, common random numbers) Spearman(SNR, $\sigma_{\rm joint}$) "
    r"$\ge0.9$; $\sigma_{\rm joint}\lesssim1.5$ at $n\,\mathrm{SNR}^2\ll1$ and "
    r"$\ge n/4$ at $n\,\mathrm{SNR}^2\gg1$ (limit $n/2$); opposite-label $|\cos|<0.02$.",
    Kind.RANK_CORRELATION, Notion.ALGEBRAIC, "[S:P]; [D✓ qualitatively] SPEC §5.5, §6 C7",
    _check_c7,
    Tolerance(0.9, "minimum Spearman(SNR, sigma_joint) with the side conditions met",
              "SPEC §6 C7 states the pass rule as Spearman >= 0.9"),
))


# --------------------------------------------------------------------------------------- C8
C8_LOW_ACC_MAX = 0.5  #: forget accuracy after unlearning at the lowest SNR at most this ("low").
C8_HIGH_ACC_MIN = 0.9  #: ... and at the highest SNR at least this ("≈ 1").


def _check_c8(scale: str) -> CheckOutcome:
    spec = SWEEPS[scale]
    cfg = spec.config
    with thread_limit(cfg.threads):
        table = summarise(sweep(scale, "relu"))
    sp_rho = _spearman(table["snr"], table["rho"])
    sp_growth = _spearman(table["snr"], table["forget_loss_growth"])
    conditions = {
        f"forget acc after at lowest SNR <= {C8_LOW_ACC_MAX}":
            table["forget_acc_after"][0] <= C8_LOW_ACC_MAX,
        f"forget acc after at highest SNR >= {C8_HIGH_ACC_MIN}":
            table["forget_acc_after"][-1] >= C8_HIGH_ACC_MIN,
    }
    theory = theory_table(table, cfg)
    evidence = {
        "config": asdict(cfg), "seeds": list(spec.seeds), "table": table,
        "spearman_rho": sp_rho, "spearman_forget_loss_growth": sp_growth,
        "spearman_out_of_span": _spearman(table["snr"], table["out_of_span_forget"]),
        "spearman_lambda_min_rel": _spearman(table["snr"], table["lambda_min_A_rel"]),
        "spearman_forget_acc_after": _spearman(table["snr"], table["forget_acc_after"]),
        "lambda_min_negative_everywhere": bool(max(table["lambda_min_A_rel"]) < 0),
        "linear_rule_escape_fraction": table["linear_escape_fraction"],
        "nonlinear_escape_fraction": table["escaped"],
        "conditions": conditions, "theory": theory,
        "measured_over_predicted": _departures(table, theory),
        "error_meaning": "min(-Spearman(SNR, rho), -Spearman(SNR, forget-loss growth)), "
                         "replaced by -1 if a side condition fails",
    }
    return CheckOutcome(
        [Comparison("Spearman(SNR, rho(T)) < 0", -1.0, sp_rho),
         Comparison("Spearman(SNR, forget-loss growth) < 0", -1.0, sp_growth)],
        evidence, conditions, display=(-1.0, max(sp_rho, sp_growth)))


register(Claim(
    "C8", "Lower SNR makes unlearning easier; high-SNR models resist (CNN)",
    r"Spearman(SNR, $\rho(\mathcal T)$) $\le-0.8$ and Spearman(SNR, forget-loss growth) "
    r"$\le-0.8$ over the SNR grid; forget accuracy after nonlinear unlearning $\le0.5$ at the "
    r"lowest SNR and $\ge0.9$ at the highest.",
    Kind.RANK_CORRELATION, Notion.NONLINEAR, "[S:P]; [D✓ qualitatively] SPEC §5.5, §6 C8",
    _check_c8,
))


# --------------------------------------------------------------------------------------- C9
@dataclass(frozen=True)
class NoiseSpec:
    """Noise-concentration experiment: n, the d grid, seeds."""

    n: int
    ds: tuple[int, ...]
    seeds: tuple[int, ...]


NOISE: dict[str, NoiseSpec] = {
    "quick": NoiseSpec(50, (100, 200, 500, 1000, 2000, 5000, 10_000), tuple(range(10))),
    "default": NoiseSpec(50, (100, 200, 500, 1000, 2000, 5000, 10_000), tuple(range(20))),
    "large": NoiseSpec(50, (100, 1000, 10_000, 100_000, 1_000_000), tuple(range(20))),
}
C9_SLOPE_TOL = 0.1  #: |slope + 1/2| allowed.
C9_EDGE_TOL = 0.05  #: relative error allowed on each MP edge (d >= 10 n).


def noise_concentration(n: int, d: int, seed: int) -> tuple[float, float, float]:
    r"""``(max_ratio, lambda_min, lambda_max)`` for the noise patches of one draw.

    :math:`\max_{i\ne k}|\langle\xi_i,\xi_k\rangle|/\|\xi_i\|^2` and the extreme eigenvalues of
    :math:`\Xi\Xi^\top/(\sigma_p^2d)`, from the package's own generator.
    """
    data = make_data(DataConfig(n_train=n, n_test=1, d=d, snr=1.0, seed=seed))
    xi = data.xi_train.numpy()
    gram = xi @ xi.T
    ratio = np.abs(gram) / np.diag(gram)[:, None]
    np.fill_diagonal(ratio, 0.0)
    ev = np.linalg.eigvalsh(gram / d)
    return float(ratio.max()), float(ev[0]), float(ev[-1])


def _check_c9(scale: str) -> CheckOutcome:
    spec = NOISE[scale]
    rows = []
    for d in spec.ds:
        with thread_limit(1):  # small dense problems: one thread is fastest on a shared CPU
            vals = np.array([noise_concentration(spec.n, d, s) for s in spec.seeds])
        lo, hi = th.mp_edges(spec.n, d)
        rows.append({
            "d": d, "log_mean_ratio": float(np.mean(np.log(vals[:, 0]))),
            "mean_ratio": float(np.exp(np.mean(np.log(vals[:, 0])))),
            "predicted_ratio": th.callable_of("max_noise_ratio")(spec.n, d),
            "lambda_min": float(vals[:, 1].mean()), "lambda_max": float(vals[:, 2].mean()),
            "mp_low": lo, "mp_high": hi,
        })
    logd = np.log([r["d"] for r in rows])
    slope = float(np.polyfit(logd, [r["log_mean_ratio"] for r in rows], 1)[0])
    edge_rows = [r for r in rows if r["d"] >= 10 * spec.n]
    edge_ratio = np.array([[r["lambda_min"] / r["mp_low"], r["lambda_max"] / r["mp_high"]]
                           for r in edge_rows]).reshape(-1)
    max_edge = float(np.max(np.abs(edge_ratio - 1.0))) if edge_ratio.size else float("nan")
    evidence = {
        "n": spec.n, "seeds": len(spec.seeds), "rows": rows, "slope": slope,
        "max_relative_edge_error_d_ge_10n": max_edge,
        "ratio_measured_over_leading_order": [r["mean_ratio"] / r["predicted_ratio"]
                                              for r in rows],
        "error_meaning": "max(|slope + 0.5| / 0.1, max relative MP-edge error / 0.05); "
                         "pass when <= 1",
        "edges": "effective MP edges (d'/d)(1 ± sqrt(n/d'))^2 with d' = d - 1 (noise in mu-perp)",
    }
    return CheckOutcome(
        [Comparison("log-log slope of the max noise ratio in d", -0.5, slope, C9_SLOPE_TOL),
         Comparison("extreme eigenvalue / Marchenko-Pastur edge, d >= 10 n",
                    np.ones_like(edge_ratio), edge_ratio, C9_EDGE_TOL)],
        evidence, display=(-0.5, slope))


register(Claim(
    "C9", "Noise-noise alignment is weak, sqrt(log n / d); MP spectrum (CNN data)",
    r"$\max_{i\ne k}|\langle\xi_i,\xi_k\rangle|/\|\xi_i\|^2$ has log-log slope $-1/2\pm0.1$ in "
    r"$d$, and the extreme eigenvalues of $\Xi\Xi^\top/(\sigma_p^2d)$ (seed means) are within 5% "
    r"of the Marchenko--Pastur edges for $d\ge10n$.  Signal alignment is 1 by construction.",
    Kind.STATISTICAL, Notion.ALGEBRAIC, "[S:CAO/KOU]; [D] SPEC §5.4, §6 C9", _check_c9,
    Tolerance(1.0, "max of |slope + 1/2| / 0.1 and max relative edge error / 0.05",
              "SPEC §6 C9 states the pass rule as slope -0.5 ± 0.1 and edges within 5%"),
))

