r"""One CNN experiment per SNR: train, measure curvature and coherence, linearise, unlearn.

For a configuration and an SNR (SPEC §5.7):

1. draw the data (:mod:`numerics.apps.cnn.data`) and train :math:`W^\star` by full-batch GD;
2. rank-one curvature factors :math:`u_i=\sqrt{\ell''_i}g_i` (exact for ReLU, GGN for
   ReLU\ :sup:`q`);
3. coherence σ_joint, σ_r, σ_f, σ_rf by the Gram route, mean :math:`|\cos|` of same-label and
   opposite-label pairs;
4. reduce to the active subspace (dimension :math:`\le n`) and compute
   :math:`\lambda_{\min}(A|_V)/\lambda_{\max}(\bar H_r)`, :math:`\rho(\mathcal T(\eta))` with
   :math:`\eta=\eta_{\rm rel}\cdot2/\lambda_{\max}(\bar H_r)`, the out-of-span fraction of forget
   curvature, and (optionally) the retain-only threshold :math:`\eta^\star_{ms}`;
5. the finite-horizon linear rule (companion rule on :math:`V`) and the nonlinear unlearning run
   with the same :math:`\eta,\alpha,B_r,B_f`.

The linearised *finite-horizon* prediction is :math:`T\log\rho(\mathcal T)\ge\log G`: the
mean-square growth reaches the factor :math:`G` within :math:`T` steps (see
:mod:`numerics.apps.cnn.frontier`).

With ``event="growth"`` step 5 is replaced by the same-event comparison of
:mod:`numerics.apps.cnn.growth` (start :math:`W^\star+\varepsilon\|W^\star\|v`, common batches,
:math:`\|\delta_t\|^2\ge G\|\delta_0\|^2` within :math:`T` steps on both sides).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from numerics.apps.cnn.data import FORGET_RULES, DataConfig, forget_split, make_data
from numerics.apps.cnn.growth import EVENTS, GrowthSpec, growth_record
from numerics.apps.cnn.model import (
    ACTIVATIONS,
    LOSSES,
    CNNConfig,
    activation_counts,
    memorization_scores,
    rank_one_factors,
)
from numerics.apps.cnn.predictors import predictor_record
from numerics.apps.cnn.train import TrainConfig, train_gd
from numerics.apps.cnn.unlearn import UnlearnConfig, unlearn
from numerics.core.device import DEVICES, DTYPES, resolve_device, resolve_dtype, thread_limit
from numerics.core.inputs import InputError, UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator
from numerics.core.options import option
from numerics.core.simulate import BatchDraws, trajectory_rule
from numerics.curvature.coherence import coherence, cosine_matrix
from numerics.curvature.hessians import out_of_span_fraction, reduce_to_active
from theory.sampling import sampling_help

__all__ = ["ExperimentConfig", "Prepared", "prepare", "analyse", "run_snr", "run_sweep",
           "RECORD_KEYS", "config_dict"]

#: Keys every record carries (the ``cnn`` command prints them).
RECORD_KEYS: tuple[str, ...] = (
    "snr", "n_snr2", "seed", "train_acc", "test_acc", "train_loss", "train_steps", "converged",
    "sigma_joint", "sigma_r", "sigma_f", "sigma_rf", "cos_same_label", "cos_opposite_label",
    "lambda_min_A_rel", "rho", "log_rho", "eta", "eta_rel", "active_dim", "out_of_span_forget",
    "linear_escape_fraction", "linear_escapes", "predicted_finite_horizon_escape",
    "forget_loss_before", "forget_loss_after", "forget_loss_growth", "forget_acc_before",
    "forget_acc_after", "retain_acc_after", "weight_distance", "escaped", "kappa", "omega",
    "alpha", "batch_retain", "batch_forget", "device", "dtype", "loss", "grad_norm", "stationary",
)


@dataclass(frozen=True)
class ExperimentConfig:
    r"""Every knob of one CNN experiment (defaults: the SPEC §5.6 configuration).

    ``eta_rel`` is the unlearning step in units of :math:`2/\lambda_{\max}(\bar H_r)`;
    ``steps`` is the nonlinear horizon :math:`K`; ``horizon``, ``repeats`` and ``growth`` are
    the linear rule's :math:`T`, :math:`R`, :math:`G`.  ``shuffle_labels`` permutes the training
    labels after drawing the data (a negative control: the signal patch no longer matches
    :math:`y`).  Each field is also the ``unlearnstab cnn`` flag of the same name
    (:func:`numerics.core.options.add_options`).  ``loss`` names the training loss
    (:mod:`numerics.apps.cnn.losses`); ``event`` is ``forget-loss`` (the nonlinear forget loss
    reaches :math:`\ell(0)` after ``steps``) or ``growth`` (:mod:`numerics.apps.cnn.growth`,
    with ``eps``, ``growth``, ``horizon`` and ``repeats``).  ``with_predictors`` adds the forget-loss predictors of
    :mod:`numerics.apps.cnn.predictors` (in probability, affine with forcing, frozen activations).
    """

    n: int = option(24, help="training samples")
    n_test: int = option(200, help="test samples")
    d: int = option(300, help="patch dimension")
    m: int = option(8, help="filters per class")
    sigma_p: float = option(1.0, help="noise scale of the noise patch")
    sigma0: float = option(0.01, help="init scale")
    activation: str = option("relu", choices=ACTIVATIONS, help="activation")
    q: float = option(3.0, help="power of relu_q")
    flip_prob: float = option(0.0, help="label-flip noise")
    lr: float = option(0.1, help="training learning rate")
    loss_tol: float = option(0.05, help="training-loss tolerance")
    max_steps: int = option(20_000, help="training step cap")
    n_forget: int = option(4, metavar="NF", help="forget-set size")
    forget_rule: str = option("random", choices=FORGET_RULES, help="which samples are forgotten")
    alpha: float = option(0.1, metavar="A", nargs="+",
                          help="mixing weight(s) (a grid axis)")
    batch_retain: int = option(4, metavar="BR", nargs="+",
                               help="retain batch size(s) (a grid axis)")
    batch_forget: int = option(2, metavar="BF", help="forget batch size")
    sampling: str = option("wor", help=sampling_help())
    eta_rel: float = option(0.5, help="unlearning step in units of 2/lambda_max(H_r)")
    steps: int = option(200, help="nonlinear unlearning steps K")
    horizon: int = option(1000, help="horizon T of the linear rule and of the growth event")
    repeats: int = option(10, help="runs R of the linear rule and of the growth event (majority)")
    growth: float = option(1000.0, metavar="G",
                           help="growth factor G of the linear rule and of the growth event")
    seed: int = option(0, metavar="K", help="seed of data, initialisation and batches")
    shuffle_labels: bool = option(False, help="negative control: permute the training labels")
    with_eta_star: bool = option(False, flag="--eta-star",
                                 help="also report the retain-only threshold eta*_ms (slower)")
    with_linear_rule: bool = option(True, flag="--no-linear-rule", help="skip the companion rule")
    device: str = option("cpu", help=f"one of {', '.join(DEVICES)}",
                         default_text="cpu; on the command line auto")
    dtype: str = option("auto", help=f"one of {', '.join(DTYPES)} (float32: GPU only)")
    threads: int | None = option(1, help="CPU threads")
    loss: str = option("logistic", choices=LOSSES,
                       help="training loss; squared is trained to a stationary point, "
                            "||grad L|| <= 1e-10 (1 + |L|)")
    event: str = option("forget-loss", choices=EVENTS,
                        help="forget-loss (the nonlinear forget loss reaches its uninformative "
                             "level after --steps) or growth (||delta_t||^2 >= G ||delta_0||^2 "
                             "within --horizon steps on the linear recursion and the nonlinear "
                             "run, same start and batches)")
    eps: float = option(1e-6, metavar="E", nargs="+",
                        help="growth event: perturbation size(s) relative to ||W*|| (a grid axis)")
    with_predictors: bool = option(False, help="forget-loss event: also the in-probability, "
                                               "affine and frozen-activation predictions")

    def validated(self) -> ExperimentConfig:
        """Checked copy: each sub-config validates its own fields."""
        DataConfig(self.n, self.n_test, self.d, 0.0, self.sigma_p, self.flip_prob,
                   self.seed).validated()
        CNNConfig(self.m, self.activation, self.q, self.loss).validated()
        if self.event not in EVENTS:
            raise InputError(f"unknown event {self.event!r}; expected one of {', '.join(EVENTS)}")
        if self.event == "growth":
            GrowthSpec(self.eps, self.growth, self.horizon, self.repeats, self.seed).validated()
        TrainConfig(self.lr, self.loss_tol, self.max_steps, self.sigma0, self.seed).validated()
        if isinstance(self.n_forget, bool) or int(self.n_forget) != self.n_forget or not (
                1 <= self.n_forget < self.n):
            raise InputError(f"n_forget must satisfy 1 <= n_forget < n = {self.n}, "
                             f"got {self.n_forget}")
        UnlearningConfig(self.alpha, self.batch_retain, self.batch_forget,
                         self.sampling).validated(self.n - self.n_forget, self.n_forget)
        if not (np.isfinite(self.eta_rel) and self.eta_rel > 0):
            raise InputError(f"eta_rel must be finite and > 0, got {self.eta_rel}")
        for name in ("steps", "horizon", "repeats"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.growth > 1:
            raise InputError(f"growth factor must be > 1, got {self.growth}")
        _check_unlearning_memory(int(self.steps), int(self.n))
        resolve_dtype(resolve_device(self.device), self.dtype)
        return self


def _check_unlearning_memory(steps: int, n: int) -> None:
    """Refuse before training when the nonlinear run's per-step arrays would not fit.

    :func:`numerics.apps.cnn.unlearn.unlearn` keeps the batch weights and the outputs of every
    step, :math:`(2n+5)(K+1)` float64 numbers.
    """
    from numerics.core.npz import GIB, available_bytes

    need = 8.0 * (2 * n + 5) * (steps + 1)
    have = available_bytes()
    if need > have / 2:
        fit = int(have / 2 / (8.0 * (2 * n + 5)))
        raise InputError(f"steps = {steps}: the nonlinear unlearning run keeps per-step outputs "
                         f"and batch weights, about {need / GIB:.3g} GiB for n = {n} samples, "
                         f"more than half the {have / GIB:.3g} GiB available (at most {fit} "
                         "steps fit)")


def _mean_abs_cos(cos: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean |cos| over pairs i != k with equal / opposite labels."""
    same = np.equal.outer(y, y)
    off = ~np.eye(len(y), dtype=bool)
    a = np.abs(cos)
    s, o = same & off, ~same
    return (float(a[s].mean()) if s.any() else 0.0, float(a[o].mean()) if o.any() else 0.0)


@dataclass(frozen=True)
class Prepared:
    r"""A trained model at one SNR with its curvature measured.

    Everything that does not depend on :math:`\alpha`, :math:`B_r`, :math:`B_f` or :math:`\eta`.

    Attributes
    ----------
    snr, config:
        The SNR and the configuration.
    data, trained:
        The data draw and the trained network.
    retain, forget:
        Index arrays of the split.
    reduced_retain, reduced_forget:
        Rank-one factors in an orthonormal basis of :math:`V` (``(n_s, r, 1)``, float64).
    lambda_max_retain:
        :math:`\lambda_{\max}(\bar H_r)`.
    summary:
        The :math:`\alpha`-independent part of the record (accuracies, coherence, cosines ...).
    basis:
        Orthonormal basis :math:`Q` of :math:`V` (``P x r``, on the device).
    """

    snr: float
    config: ExperimentConfig
    data: Any
    trained: Any
    retain: np.ndarray
    forget: np.ndarray
    reduced_retain: np.ndarray
    reduced_forget: np.ndarray
    lambda_max_retain: float
    summary: dict[str, Any]
    basis: Any = None


def prepare(snr: float, config: ExperimentConfig) -> Prepared:
    r"""Steps 1--3 of the module docstring plus the active-subspace reduction."""
    cfg = config.validated()
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(device, cfg.dtype)
    data = make_data(DataConfig(cfg.n, cfg.n_test, cfg.d, snr, cfg.sigma_p, cfg.flip_prob,
                                cfg.seed), device=device, dtype=dtype)
    if cfg.shuffle_labels:
        perm = torch.as_tensor(np.random.default_rng(cfg.seed + 7919).permutation(cfg.n),
                               device=device)
        data = replace(data, y_train=data.y_train[perm])
    cnn = CNNConfig(cfg.m, cfg.activation, cfg.q, cfg.loss)
    trained = train_gd(data, cnn, TrainConfig(cfg.lr, cfg.loss_tol, cfg.max_steps, cfg.sigma0,
                                              cfg.seed))
    X, y, W = data.x_train, data.y_train, trained.W
    with torch.no_grad():
        U = rank_one_factors(W, X, y, cnn)  # (n, P) on the device
    scores = memorization_scores(W, X, y, cnn) if cfg.forget_rule == "memorized" else None
    retain, forget = forget_split(cfg.n, cfg.n_forget, cfg.forget_rule, seed=cfg.seed,
                                  scores=scores, flipped=data.flipped)
    cos_same, cos_opp = _mean_abs_cos(cosine_matrix(U), y.cpu().numpy())
    coh = coherence(U[retain], U[forget])
    red = reduce_to_active(U[retain], U[forget], keep_basis=True)
    Zr, Zf = red.factors
    lam_max_r = float(np.linalg.eigvalsh(np.einsum("nak,nbk->ab", Zr, Zr) / Zr.shape[0])[-1])
    if not lam_max_r > 0:
        raise InputError("the retain curvature is zero at the trained model: nothing to linearise")
    phi, _ = out_of_span_fraction(Zr, Zf)
    counts = activation_counts(W, X)
    diag_s, diag_n = np.diag(counts["signal"]), np.diag(counts["noise"])
    off = ~np.eye(cfg.n, dtype=bool)
    denom = np.sqrt(np.outer(diag_n, diag_n))
    overlap = np.divide(counts["noise"], denom, out=np.zeros_like(denom), where=denom > 0)
    summary = {
        "snr": float(snr), "n_snr2": cfg.n * float(snr) ** 2, "seed": cfg.seed,
        "train_acc": trained.train_acc, "test_acc": trained.test_acc,
        "train_loss": trained.final_loss, "train_steps": trained.steps,
        "converged": trained.converged,
        "sigma_joint": coh.sigma_joint, "sigma_r": coh.sigma_r, "sigma_f": coh.sigma_f,
        "sigma_rf": coh.sigma_rf, "cos_same_label": cos_same, "cos_opposite_label": cos_opp,
        "active_dim": red.rank, "out_of_span_forget": phi,
        "kappa": float(diag_s.mean() / max(diag_n.mean(), 1e-300)),
        "omega": float(overlap[off].mean()),
        "device": str(device), "dtype": str(dtype).removeprefix("torch."),
        "loss": cfg.loss, "grad_norm": trained.grad_norm, "stationary": trained.stationary,
    }
    return Prepared(float(snr), cfg, data, trained, retain, forget, Zr, Zf, lam_max_r, summary,
                    red.basis)


#: The CNN experiments' batch stream for the linear rule: 100 steps drawn at once, both sets
#: always drawn (kept so that recorded escape fractions stay reproducible).
CNN_DRAWS = BatchDraws(chunk=100, draw_inert=True)


def linear_rule_operator(retain: np.ndarray, forget: np.ndarray | None,
                         config: UnlearningConfig) -> SecondMomentOperator:
    r"""The operator of the linearised recursion on factors already reduced to a basis of :math:`V`.

    Built without a second reduction (``reduce=False``), so that
    :func:`~numerics.core.simulate.trajectory_rule` starts its runs in that basis,
    :math:`\delta_0\sim U(0,1)^r` (in the ambient :math:`\mathbb R^P` the static
    :math:`V^\perp` part would dominate :math:`\|\delta_0\|` and hide any growth).

    Parameters
    ----------
    retain, forget:
        Reduced factors ``(n, r, k)`` (``forget`` may be ``None``).
    config:
        :math:`\alpha`, batch sizes and sampling.

    Returns
    -------
    SecondMomentOperator
    """
    fp = as_pool(forget, "forget", factors=True) if forget is not None else None
    return SecondMomentOperator(as_pool(retain, "retain", factors=True), fp, config,
                                reduce=False)


def analyse(prep: Prepared, config: ExperimentConfig | None = None) -> dict[str, Any]:
    r"""Steps 4--5 for the unlearning knobs of ``config`` (default: the prepared one)."""
    cfg = (config or prep.config).validated()
    Zr, Zf, lam_max_r = prep.reduced_retain, prep.reduced_forget, prep.lambda_max_retain
    ucfg = UnlearningConfig(cfg.alpha, cfg.batch_retain, cfg.batch_forget, cfg.sampling)
    op = SecondMomentOperator(Zr, Zf, ucfg)
    eta = cfg.eta_rel * 2.0 / lam_max_r
    esc = op.mean_escape()
    if cfg.event == "growth":
        record = dict(prep.summary)
        record.update({"alpha": cfg.alpha, "batch_retain": cfg.batch_retain,
                       "batch_forget": cfg.batch_forget, "eta": eta, "eta_rel": cfg.eta_rel,
                       "lambda_min_A_rel": esc.lambda_min / lam_max_r,
                       "horizon": cfg.horizon, "growth": cfg.growth, "repeats": cfg.repeats})
        spec = GrowthSpec(cfg.eps, cfg.growth, cfg.horizon, cfg.repeats, cfg.seed)
        record.update(growth_record(prep, op, eta, spec, ucfg))
        return record
    rho = op.rho(eta)
    log_rho = math.log(rho) if rho > 0 else -math.inf
    record: dict[str, Any] = dict(prep.summary)
    record.update({
        "alpha": cfg.alpha, "batch_retain": cfg.batch_retain, "batch_forget": cfg.batch_forget,
        "lambda_min_A_rel": esc.lambda_min / lam_max_r, "rho": rho, "log_rho": log_rho,
        "eta": eta, "eta_rel": cfg.eta_rel,
        "predicted_finite_horizon_escape": bool(cfg.steps * log_rho >= math.log(cfg.growth)),
    })
    if cfg.with_eta_star:
        op_r = SecondMomentOperator(Zr, None, UnlearningConfig(0.0, cfg.batch_retain, 1,
                                                               cfg.sampling))
        record["eta_star_retain_rel"] = op_r.eta_star_ms() * lam_max_r / 2.0
        record["eta_star_ms"] = None if esc.escapes_at_every_eta else op.eta_star_ms()
    if cfg.with_linear_rule:
        lin = trajectory_rule(linear_rule_operator(Zr, Zf, ucfg), eta, cfg.horizon, cfg.growth,
                              cfg.repeats, cfg.seed, draws=CNN_DRAWS)
        record["linear_escape_fraction"] = lin.fraction
        record["linear_escapes"] = lin.escapes
    else:
        record["linear_escape_fraction"] = None
        record["linear_escapes"] = None
    cnn = CNNConfig(cfg.m, cfg.activation, cfg.q, cfg.loss)
    un = UnlearnConfig(eta, cfg.alpha, cfg.batch_retain, cfg.batch_forget, cfg.steps,
                       cfg.sampling, cfg.seed)
    res = unlearn(prep.trained.W, prep.data.x_train, prep.data.y_train, prep.retain, prep.forget,
                  cnn, un)
    if cfg.with_predictors:
        record.update(predictor_record(prep, op, eta, un, cfg.growth))
    record.update({
        "forget_loss_before": float(res.forget_loss[0]),
        "forget_loss_after": float(res.forget_loss[-1]),
        "forget_loss_growth": res.forget_loss_growth,
        "forget_acc_before": float(res.forget_acc[0]),
        "forget_acc_after": float(res.forget_acc[-1]),
        "retain_acc_after": float(res.retain_acc[-1]),
        "weight_distance": float(res.distance[-1]),
        "escaped": res.escaped,
    })
    return record


def run_snr(snr: float, config: ExperimentConfig) -> dict[str, Any]:
    r"""Run the full pipeline at one SNR (see the module docstring); returns one flat record."""
    with thread_limit(config.threads if resolve_device(config.device).type == "cpu" else None):
        return analyse(prepare(snr, config))


def run_sweep(snrs: list[float] | tuple[float, ...], seeds: list[int] | tuple[int, ...],
              config: ExperimentConfig, **sweep: Any) -> list[dict[str, Any]]:
    r"""Records for every (seed, SNR); one seed fixes data, init and batches at every SNR (CRN).

    The cells run through the sweep engine (:func:`numerics.sweep.run_sweep`; in process with an
    in-memory store unless ``sweep`` names a store or an executor).

    Raises
    ------
    numerics.sweep.CellFailed
        When a cell raised (after every other cell ran).
    """
    from numerics.apps.cnn.cells import CNN_CELL, cnn_configs, restore_non_finite
    from numerics.sweep import CellFailed
    from numerics.sweep import run_sweep as run_cells

    sweep.setdefault("blas_threads", None)  # the cell sets its own threads (config.threads)
    result = run_cells(CNN_CELL, cnn_configs(snrs, seeds, config.validated()), **sweep)
    if result.failed:
        raise CellFailed(result.failures)
    return [restore_non_finite(r) for r in result.records]


def config_dict(config: ExperimentConfig) -> dict[str, Any]:
    """The configuration as a plain dictionary (recorded with every result)."""
    return asdict(config)
