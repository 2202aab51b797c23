"""A CNN whose "resists" verdict overstated the safe step size, and what tells the user.

The case (numerics.apps.examples.cnn_digits): Conv2d(1, 2, 3) -> ReLU -> Linear on 8x8 digits
(P = 750), cross-entropy, alpha = 0, the Gauss-Newton route, eta = 40 = 0.96 eta*_ms on a seeded
subsample of 30 retain samples.  The Gauss-Newton verdict is "resists"; the real run is wrecked
(forget loss above log 10, retain accuracy to chance) within 40 steps.  What tells the user:
the trust radius (the run left the region where the curvature at w* describes it before the
event; the report says the verdict is a local statement only), and the exact route, whose
verdict is "escapes at every step size" (the Gauss-Newton matrix omits negative curvature).
Everything is checked against an independent computation: the run replayed with plain autograd
on the module, dense float64 Hessians of the analysed subsample, and the dense recursion of the
linearised run.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch.func import functional_call, hessian

from numerics.apps.diagnose.data import as_dataset, subsample
from numerics.apps.diagnose.unlearn import batch_weight_rows, snapshot_steps
from numerics.apps.examples import cnn_digits
from numerics.apps.examples.trust_cells import TrustStudy, linear_run
from numerics.core.inputs import UnlearningConfig
from numerics.verify.claims.policy import Kind, Tolerance, tolerance

#: The departures come from a Lanczos solve stopped at relative residual 1e-4 (TrustOptions.tol).
LANCZOS = tolerance(Kind.IDENTITY, Tolerance(1e-3, "max relative error",
                                             "Lanczos stopped at relative residual 1e-4"))
#: The verdict's lambda_min comes from an eigen-solve on the active subspace (float64).
EIGEN = tolerance(Kind.IDENTITY, Tolerance(1e-6, "absolute error relative to lambda_max",
                                           "iterative eigen-solve on the active subspace"))
ETA = 40.0
K = 40
SUB = 30
OPTIONS = {"unlearn_steps": K, "max_samples": SUB, "seed": 0}


@pytest.fixture(scope="module")
def case():
    pytest.importorskip("sklearn")
    study = cnn_digits.study(routes=(), **OPTIONS)
    rep = study.diagnose(eta=ETA)
    return study, rep


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in model.named_parameters()}


def _flatten(params: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.reshape(-1) for p in params.values()])


def _unflatten(theta: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, i = {}, 0
    for n, p in like.items():
        out[n] = theta[i:i + p.numel()].reshape(p.shape)
        i += p.numel()
    return out


def _mean_hessian(model: torch.nn.Module, theta: torch.Tensor, X: torch.Tensor,
                  y: torch.Tensor) -> torch.Tensor:
    """Dense float64 Hessian of the mean cross-entropy over (X, y) at theta."""
    like = _params(model)

    def mean_loss(th: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, _unflatten(th, like), (X,))
        return torch.nn.functional.cross_entropy(out, y)

    return hessian(mean_loss)(theta)


def _replay(study: TrustStudy) -> tuple[torch.Tensor, dict[int, torch.Tensor], list[float],
                                         np.ndarray]:
    """The run replayed with autograd on a copy of the module: theta*, kept points, forget losses."""
    e = study.entry
    (Xr, yr), (Xf, yf) = e["retain"], e["forget"]
    X, y = torch.cat([Xr, Xf]), torch.cat([yr, yf])
    model = copy.deepcopy(e["model"])
    cfg = UnlearningConfig(0.0, cnn_digits.OPTIONS["batch_retain"],
                           cnn_digits.OPTIONS["batch_forget"])
    rows = np.stack(list(batch_weight_rows(np.random.default_rng(0), cfg, len(yr), len(yf), K)))
    theta0 = _flatten(_params(model)).clone()
    kept, forget_losses = {}, []
    for t, w in enumerate(torch.as_tensor(rows), 1):
        model.zero_grad()
        (w * torch.nn.functional.cross_entropy(model(X), y, reduction="none")).sum().backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= ETA * p.grad
            forget_losses.append(float(torch.nn.functional.cross_entropy(model(Xf), yf)))
        if t in snapshot_steps(K):
            kept[t] = _flatten(_params(model)).clone()
    return theta0, kept, forget_losses, rows


def test_gauss_newton_resists_where_the_run_is_wrecked(case):
    study, rep = case
    u = rep.unlearning
    assert rep.curvature_route.startswith("ggn") and rep.config["alpha"] == 0.0
    assert rep.verdict_code == "resists_below" and 0.85 < rep.eta / rep.eta_star_ms < 1.0
    # the report's run is wrecked: forget loss past log C and the retain set at chance
    assert u["outcome"] == "collapse" and u["steps_to_escape_observed"] is not None
    assert u["retain_acc_after"] <= u["chance_retain_accuracy"] + 0.05
    # an independent replay (autograd on the module, same batches) reaches the event in K steps
    theta0, kept, losses, rows = _replay(study)
    assert np.all(np.isfinite(losses[:u["steps_to_escape_observed"]]))
    assert max(losses) >= math.log(10)
    # ... while the exact linearised run with the same batches stays near w* (it "resists")
    e = study.entry
    lin = linear_run(e["model"], e["loss"], (e["retain"], e["forget"]), rows, ETA)
    assert np.all(np.isfinite(lin)) and u["parameter_distance"] > 100.0 * lin.max()


def test_linear_run_matches_the_dense_recursion(case):
    """linear_run's Hessian-vector products against dense Hessians of the first batches."""
    study, _ = case
    e = study.entry
    (Xr, yr), (Xf, yf) = e["retain"], e["forget"]
    X, y = torch.cat([Xr, Xf]), torch.cat([yr, yf])
    model = e["model"]
    like = _params(model)
    theta0 = _flatten(like)
    cfg = UnlearningConfig(0.0, 16, 4)
    rows = np.stack(list(batch_weight_rows(np.random.default_rng(3), cfg, len(yr), len(yf), 4)))

    def weighted(th: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, _unflatten(th, like), (X,))
        return (w * torch.nn.functional.cross_entropy(out, y, reduction="none")).sum()

    delta, dense = torch.zeros_like(theta0), []
    for w in torch.as_tensor(rows):
        g = torch.func.grad(weighted)(theta0, w)
        H = hessian(weighted)(theta0, w)
        delta = delta - ETA * (g + H @ delta)
        dense.append(float(delta.norm()))
    ex = linear_run(model, e["loss"], (e["retain"], e["forget"]), rows, ETA)
    assert np.max(np.abs(ex - np.array(dense)) / np.array(dense)) <= 1e-8


def test_trust_radius_says_the_run_left_the_linearisation_before_the_event(case):
    study, rep = case
    tr, u = rep.trust, rep.unlearning
    f = tr["trust_fraction"]
    left = tr["left_at_step"]
    assert left is not None and left < u["steps_to_escape_observed"]
    assert "local statement only" in tr["text"]
    assert any("local statement only" in n for n in rep.notes)
    assert tr["events"]["observed_beyond_trust"] is True
    assert tr["events"]["observed_distance"] > tr["trust_radius"]
    # the departures, recomputed from dense Hessians of the analysed subsample at replayed points
    e = study.entry
    r_set = as_dataset(e["retain"], "retain")
    r_sub, _ = subsample(r_set, SUB, np.random.default_rng(0))
    theta0, kept, _, _ = _replay(study)
    A_star = _mean_hessian(e["model"], theta0, r_sub.inputs, r_sub.targets)
    norm_star = float(torch.linalg.matrix_norm(A_star, 2))
    assert math.isclose(tr["curvature_norm_at_start"], norm_star, rel_tol=LANCZOS.value)
    checked = 0
    for p in tr["path"]:
        if p["step"] > left:  # past the exit the run is thrown far out; replays separate
            break
        th = kept[p["step"]]
        assert math.isclose(p["distance"], float((th - theta0).norm()), rel_tol=1e-6), p
        A = _mean_hessian(e["model"], th, r_sub.inputs, r_sub.targets)
        dense = float(torch.linalg.matrix_norm(A - A_star, 2)) / norm_star
        assert abs(p["departure"] - dense) <= LANCZOS.value * max(dense, 1e-3), (p, dense)
        assert (dense >= f) == (p["step"] == left), (p, dense)
        checked += 1
    assert checked >= 2


def test_exact_route_escapes_at_every_step_size(case):
    """The exact route sees the negative curvature the Gauss-Newton matrix omits."""
    study, _ = case
    exact = study.diagnose(eta=None, unlearn_steps=0, route="dense")
    assert exact.verdict_code == "escapes_at_every_eta"
    e = study.entry
    r_sub, _ = subsample(as_dataset(e["retain"], "retain"), SUB, np.random.default_rng(0))
    H = _mean_hessian(e["model"], _flatten(_params(e["model"])), r_sub.inputs, r_sub.targets)
    ev = torch.linalg.eigvalsh(H)
    lam_min, lam_max = float(ev[0]), float(ev[-1])
    assert lam_min < 0.0
    assert abs(exact.lambda_min_A - lam_min) <= EIGEN.value * lam_max, (exact.lambda_min_A,
                                                                        lam_min)


def test_predicted_event_flag_reads_the_trust_radius(case):
    """The report's flag beside steps_to_escape_predicted is the comparison of the two numbers."""
    _, rep = case
    ev, tr = rep.trust["events"], rep.trust
    assert rep.predicted_event_beyond_trust is ev["predicted_beyond_trust"]
    d = ev["predicted_distance"]
    assert (d is None) == (rep.steps_to_escape_predicted is None)
    if d is not None:
        r = tr["trust_radius"]
        expected = (True if r is not None and d > r
                    else False if d <= tr["distance_checked"] else None)
        assert ev["predicted_beyond_trust"] is expected
    assert rep.as_dict()["predicted_event_beyond_trust"] is rep.predicted_event_beyond_trust
