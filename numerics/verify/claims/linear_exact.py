r"""Claims on general (non-commuting) families: C1 (exact criterion), C3 (batches), C5 (bounds).

Each check draws seeded random PSD families of mixed rank (:mod:`numerics.core.instances`) and compares
the theory (the closed-form operator and its generalised eigenproblem) with an independent
computation (Monte-Carlo batches, bisection on :math:`\rho`, the sufficient conditions).
"""

from __future__ import annotations

import numpy as np

from numerics.core.bounds import sufficient_bounds
from numerics.core.inputs import UnlearningConfig
from numerics.core.instances import random_instance
from numerics.core.operator import SecondMomentOperator
from numerics.core.simulate import ms_growth_rate, one_step_second_moment
from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, register
from numerics.verify.claims.policy import Kind, Notion, measure
from theory.sampling import exchangeable_names, skipped_schemes

#: The schemes the exchangeable second-moment operator takes; the others, with the reason why,
#: are listed in the evidence as skipped.
SAMPLINGS = exchangeable_names()
SKIPPED = skipped_schemes()


def _stable_instances(seed: int, count: int, **kw) -> list[SecondMomentOperator]:
    r"""``count`` random operators whose mean is stable (:math:`A\\succ0` on :math:`V`)."""
    rng = np.random.default_rng(seed)
    out: list[SecondMomentOperator] = []
    i = 0
    while len(out) < count:
        op = random_instance(rng, sampling=SAMPLINGS[i % len(SAMPLINGS)], **kw).operator()
        i += 1
        if not op.mean_escape().escapes_at_every_eta:
            out.append(op)
    return out


# ----------------------------------------------------------------------------------------- C1
def _c1_one_step(scale: str) -> CheckOutcome:
    draws = {"quick": 50_000, "default": 400_000, "large": 2_000_000}[scale]
    ops = _stable_instances(101, 3, d=4, n_retain=7, n_forget=3)
    exacts, mcs, ses, rel = [], [], [], []
    rng = np.random.default_rng(7)
    for k, op in enumerate(ops):
        G = rng.standard_normal((op.dim, op.dim))
        M = G @ G.T
        eta = 1.1 * op.eta_star_ms()
        mc, se = one_step_second_moment(op, M, eta, draws, seed=k)
        exact = op.apply(M, eta)
        se = np.maximum(se, 1e-12 * np.abs(exact).max())  # zero-variance entries: round-off
        exacts.append(exact.ravel())
        mcs.append(mc.ravel())
        ses.append(se.ravel())
        rel.append(np.abs(mc - exact).max() / np.abs(exact).max())
    relmax = float(np.max(rel))
    return CheckOutcome(
        [Comparison("entries of T(M) vs Monte-Carlo batches", np.concatenate(exacts),
                    np.concatenate(mcs), np.concatenate(ses))],
        {"max_relative_error": relmax, "draws": draws,
         "spec_pass_rule_relative_error_below_1pct": relmax < 0.01,
         "instances": len(ops), "samplings": list(SAMPLINGS), "samplings_skipped": SKIPPED},
        display=("T(M) formula", "Monte-Carlo batches"))


def _c1_threshold(scale: str) -> CheckOutcome:
    count = {"quick": 6, "default": 26, "large": 100}[scale]
    ops = _stable_instances(202, count, d=4, n_retain=6, n_forget=3)
    etas = np.array([op.eta_star_ms() for op in ops])
    rho = np.array([op.rho(eta) for op, eta in zip(ops, etas, strict=True)])
    ratio = np.array([op.eta_star_bisect() for op in ops]) / etas
    rho_err = float(np.max(np.abs(rho - 1.0)))
    bisect_err = float(np.max(np.abs(ratio - 1.0)))
    return CheckOutcome(
        [Comparison("rho(T(eta*)) = 1", np.ones_like(rho), rho),
         Comparison("bisection / 1/mu_max = 1", np.ones_like(ratio), ratio)],
        {"max_abs_rho_minus_1": rho_err, "max_rel_gap_eigh_vs_bisection": bisect_err,
         "instances": count},
        display=(1.0, 1.0 + rho_err))


def _c1_growth(scale: str) -> CheckOutcome:
    n_traj = {"quick": 10_000, "default": 40_000, "large": 200_000}[scale]
    ops = _stable_instances(303, 3, d=3, n_retain=6, n_forget=3)
    exact, est_v, est_se, rows = [], [], [], []
    for k, op in enumerate(ops):
        for f in (0.8, 1.2):
            eta = f * op.eta_star_ms()
            est = ms_growth_rate(op, eta, steps=2, n_traj=n_traj, seed=k)
            rho = op.rho(eta)
            exact.append(rho)
            est_v.append(est.value)
            est_se.append(est.stderr)
            rows.append({"log_rho": float(np.log(rho)), "log_rho_mc": float(np.log(est.value)),
                         "se": est.stderr / est.value, "sampling": op.config.sampling})
    return CheckOutcome(
        [Comparison("rho(T) vs Monte-Carlo mean-square growth per step", exact, est_v, est_se)],
        {"cells": rows, "trajectories": n_traj},
        display=(rows[0]["log_rho"], rows[0]["log_rho_mc"]))


register(Claim(
    "C1.a", "one-step second moment equals the closed-form operator T",
    r"$\mathbb E[(I-\eta\hat A)M(I-\eta\hat A)]=\mathcal T(M)$ for WOR, Bernoulli and WR batches",
    Kind.STATISTICAL, Notion.MEAN_SQUARE, "SPEC §2.1 [D✓ C-MOM]", _c1_one_step))
register(Claim(
    "C1.b", "eta*_ms = 1/mu_max(Q, L) is exactly where rho(T) crosses 1",
    r"$\rho(\mathcal T(\eta^\star))=1$, $\eta^\star=1/\mu_{\max}(\mathcal Q,\mathcal L)$ equals bisection",
    Kind.TIGHT_THRESHOLD, Notion.MEAN_SQUARE, "SPEC §2.3(d) [D✓ C-ETA]", _c1_threshold))
register(Claim(
    "C1.c", "simulated mean-square growth rate equals log rho(T)",
    r"$\frac1t\log\mathbb E\|\delta_t\|^2=\log\rho(\mathcal T)$ (Monte-Carlo, within 4 SE)",
    Kind.STATISTICAL, Notion.MEAN_SQUARE, "SPEC §2.3(a) [D✓ C-SIM]", _c1_growth))


# ----------------------------------------------------------------------------------------- C3
def _c3(scale: str) -> CheckOutcome:
    count = {"quick": 5, "default": 15, "large": 60}[scale]
    rng = np.random.default_rng(404)
    along_br, along_bf = [], []
    for i in range(count):
        inst = random_instance(rng, d=3, n_retain=6, n_forget=4, alpha_max=0.25,
                               sampling=SAMPLINGS[i % len(SAMPLINGS)])
        grid = np.full((6, 4), np.nan)
        for br in range(1, 7):
            for bf in range(1, 5):
                cfg = UnlearningConfig(inst.config.alpha, br, bf, inst.config.sampling)
                op = SecondMomentOperator(inst.retain, inst.forget, cfg)
                grid[br - 1, bf - 1] = op.eta_star_ms()
        if not np.all(grid > 0):
            continue  # the mean escapes: eta* = 0 for every batch size, nothing to order
        along_br.append(grid.T)  # rows: B_r = 1..6 at fixed B_f
        along_bf.append(grid)  # rows: B_f = 1..4 at fixed B_r
    comps = [Comparison("eta* along B_r", 1.0, np.concatenate(along_br or [np.empty((0, 6))])),
             Comparison("eta* along B_f", 1.0, np.concatenate(along_bf or [np.empty((0, 4))]))]
    worst = float(np.max([measure(Kind.MONOTONE, c) for c in comps]))
    return CheckOutcome(comps, {"instances_checked": len(along_br),
                                "grid": "B_r 1..6 x B_f 1..4"},
                        display=("non-decreasing in B_r and B_f", f"max relative drop {worst:.2e}"))


register(Claim(
    "C3", "larger batches are more stable (harder to unlearn)",
    r"$\eta^\star_{ms}$ is non-decreasing in $B_r$ and in $B_f$",
    Kind.MONOTONE, Notion.MEAN_SQUARE, "SPEC §2.3(e) [S:MM for SGD; D✓]", _c3))


# ----------------------------------------------------------------------------------------- C5
def _c5(scale: str) -> CheckOutcome:
    count = {"quick": 20, "default": 60, "large": 2000}[scale]
    ops = _stable_instances(505, count, d=4, n_retain=6, n_forget=3)
    etas = np.array([op.eta_star_ms() for op in ops])
    bounds = [sufficient_bounds(op) for op in ops]
    lower = np.array([b.eta_conv for b in bounds])
    upper = np.array([b.eta_div for b in bounds])
    conv_a, div_a = lower / etas, upper / etas
    return CheckOutcome(
        [Comparison("eta_conv <= eta*_ms <= min_v eta_div(v)", [lower, upper], etas)],
        {"tightness_conv": [float(conv_a.min()), float(conv_a.max())],
         "tightness_div": [float(div_a.min()), float(div_a.max())], "instances": count},
        display=("eta_conv <= eta* <= min_v eta_div(v)",
                 f"conv/eta* in [{conv_a.min():.3f}, {conv_a.max():.3f}], "
                 f"div/eta* in [{div_a.min():.3f}, {div_a.max():.3f}]"))


register(Claim(
    "C5", "the sufficient conditions bracket the exact threshold",
    r"$\eta_{\rm conv}\le\eta^\star_{ms}\le\min_v\eta_{\rm div}(v)$",
    Kind.BRACKET, Notion.MEAN_SQUARE, "SPEC §3.4 [D✓ C-BND]", _c5))
