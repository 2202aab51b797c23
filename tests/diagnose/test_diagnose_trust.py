"""The trust radius of the linearisation: a "resists" verdict that the real run overturns.

The case (numerics.apps.examples.softmax_digits): softmax regression on digits at a confident,
stationary point, alpha = 0, eta = 63 = 0.94 eta*_ms.  The mean-square verdict is "resists", the
real run escapes (forget loss above log 10).  Everything the report says about it is checked
against an independent computation: the run replayed with the analytic softmax gradient, the
exact affine (linearised, forced) recursion with analytic per-sample Hessians, and the curvature
departure from dense float64 Hessians at the replayed points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from numerics.apps.diagnose import DiagnoseOptions, diagnose
from numerics.apps.diagnose.trust import CurvatureDeparture, TrustOptions, trust_region
from numerics.apps.diagnose.unlearn import batch_weight_rows, snapshot_steps
from numerics.apps.examples.softmax_digits import OPTIONS, make_entry
from numerics.apps.examples.trust_cells import linear_run
from numerics.core.inputs import InputError, UnlearningConfig
from numerics.verify.claims.policy import Kind, Tolerance, tolerance

#: The departures come from a Lanczos solve stopped at relative residual 1e-4 (TrustOptions.tol).
LANCZOS = tolerance(Kind.IDENTITY, Tolerance(1e-3, "max relative error",
                                             "Lanczos stopped at relative residual 1e-4"))
EXACT = tolerance(Kind.IDENTITY)


def _extended(X: torch.Tensor) -> torch.Tensor:
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], dim=1)


def _probs(theta: torch.Tensor, X: torch.Tensor, C: int) -> torch.Tensor:
    d = X.shape[1]
    W, b = theta[: C * d].reshape(C, d), theta[C * d:]
    return torch.softmax(X @ W.T + b, dim=1)


def _flat_order(C: int, d: int) -> np.ndarray:
    """Position in theta = [W.ravel(), b] of the (class, extended input) index c*(d+1)+j."""
    idx = np.empty(C * (d + 1), dtype=np.int64)
    for c in range(C):
        idx[c * (d + 1): c * (d + 1) + d] = c * d + np.arange(d)
        idx[c * (d + 1) + d] = C * d + c
    return idx


def _hessians(theta: torch.Tensor, X: torch.Tensor, C: int) -> torch.Tensor:
    r"""Analytic per-sample Hessians :math:`(\mathrm{diag}\,p-pp^\top)\otimes\tilde x\tilde x^\top`."""
    p = _probs(theta, X, C)
    lam = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    xe = _extended(X)
    H = torch.einsum("nab,ni,nj->naibj", lam, xe, xe).reshape(len(X), C * xe.shape[1], -1)
    perm = torch.as_tensor(np.argsort(_flat_order(C, X.shape[1])))
    return H[:, perm][:, :, perm]  # rows/columns in theta's order


def _gradients(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, C: int) -> torch.Tensor:
    p = _probs(theta, X, C)
    r = p - torch.nn.functional.one_hot(y, C).to(p)
    return torch.cat([(r[:, :, None] * X[:, None, :]).reshape(len(X), -1), r], dim=1)


@pytest.fixture(scope="module")
def case():
    entry = make_entry()
    opts = DiagnoseOptions.from_flat({**OPTIONS, "prescribe": False, "steps_grid": 0,
                                      "progress": False})
    rep = diagnose(entry["model"], entry["loss"], entry["retain"], entry["forget"], opts)
    return entry, rep


def test_old_verdict_resists_where_the_run_escapes(case):
    _, rep = case
    u = rep.unlearning
    assert rep.verdict_code == "resists_below" and rep.eta < rep.eta_star_ms
    assert rep.eta == OPTIONS["eta"] and 0.9 < rep.eta / rep.eta_star_ms < 0.97
    # the real run reaches the event the verdict denies: forget loss above log C
    assert u["steps_to_escape_observed"] is not None
    assert max(p["forget_loss"] for p in u["trajectory"]) >= math.log(10)


def test_trust_radius_flags_the_run_and_matches_dense_hessians(case):
    entry, rep = case
    tr = rep.trust
    f = tr["trust_fraction"]
    assert f == 0.5 and rep.trust_radius == tr["trust_radius"]
    assert tr["left_at_step"] is not None and tr["left_at_step"] <= tr["horizon"] == 400
    assert "local statement only" in tr["text"]
    assert any("local statement only" in n for n in rep.notes)
    assert [p["step"] for p in tr["path"]] == snapshot_steps(400)

    # independent replay of the run: same batches, analytic softmax gradient
    (Xr, yr), (Xf, yf) = entry["retain"], entry["forget"]
    X, y = torch.cat([Xr, Xf]), torch.cat([yr, yf])
    model = entry["model"]
    C = model.weight.shape[0]
    theta0 = torch.cat([model.weight.detach().reshape(-1), model.bias.detach()])
    cfg = UnlearningConfig(OPTIONS["alpha"], OPTIONS["batch_retain"], OPTIONS["batch_forget"])
    rows = np.stack(list(batch_weight_rows(np.random.default_rng(0), cfg, len(yr), len(yf),
                                           400)))
    A_star = _hessians(theta0, Xr, C).mean(0)  # alpha = 0: A = mean retain Hessian
    norm_star = float(torch.linalg.matrix_norm(A_star, 2))
    assert math.isclose(tr["curvature_norm_at_start"], norm_star, rel_tol=LANCZOS.value)
    theta, kept = theta0.clone(), {}
    for t, w in enumerate(torch.as_tensor(rows), 1):
        theta = theta - rep.eta * (w @ _gradients(theta, X, y, C))
        if t in snapshot_steps(400):
            kept[t] = theta.clone()
    left = tr["left_at_step"]
    checked = 0
    for p in tr["path"]:
        if p["step"] > left:  # past the exit the run is chaotic: round-off separates the replays
            break
        th = kept[p["step"]]
        dist = float((th - theta0).norm())
        assert math.isclose(p["distance"], dist, rel_tol=1e-6), p
        A = _hessians(th, Xr, C).mean(0)
        dense = float(torch.linalg.matrix_norm(A - A_star, 2)) / norm_star
        assert abs(p["departure"] - dense) <= LANCZOS.value * max(dense, 1e-3), (p, dense)
        assert (dense >= f) == (p["step"] == left), (p, dense)  # inside before, out at the exit
        checked += 1
    assert checked >= 1
    assert tr["trust_radius"] <= tr["distance_at_left"]

    # the exact linearised run (forcing included, same batches) stays bounded (resists); the
    # real run goes more than ten times farther
    H0, G0 = _hessians(theta0, X, C), _gradients(theta0, X, y, C)
    delta, lin = torch.zeros_like(theta0), []
    for w in torch.as_tensor(rows):
        delta = delta - rep.eta * (w @ G0 + torch.einsum("n,npq,q->p", w, H0, delta))
        lin.append(float(delta.norm()))
    ex = linear_run(model, entry["loss"], (entry["retain"], entry["forget"]), rows, rep.eta)
    assert np.max(np.abs(ex - np.array(lin)) / np.maximum(np.array(lin), 1e-300)) <= 1e-8
    assert rep.unlearning["parameter_distance"] > 10.0 * max(lin)


def test_trust_radius_inputs():
    with pytest.raises(InputError, match="trust_fraction"):
        TrustOptions(fraction=0.0).validated()
    with pytest.raises(InputError, match="trust_fraction"):
        TrustOptions(fraction=float("nan")).validated()
    with pytest.raises(InputError, match="at least one step"):
        trust_region(_Stub(), {}, 10)


class _Stub(CurvatureDeparture):
    """A departure that is never evaluated (no snapshots)."""

    def __init__(self) -> None:  # noqa: D107 -- nothing to set up
        self.options = TrustOptions()
        self.theta_star = torch.zeros(2, dtype=torch.float64)
        self.norm_star = 1.0


def test_event_against_the_trust_radius():
    """beyond: past a measured exit; within: measured inside that far; else unknown (None)."""
    from numerics.apps.diagnose.trust import beyond_trust, event_distances

    left = {"trust_radius": 0.5, "distance_checked": 0.2}
    stayed = {"trust_radius": None, "distance_checked": 0.8}
    assert beyond_trust(left, 0.6) is True
    assert beyond_trust(left, 0.1) is False
    assert beyond_trust(left, 0.3) is None  # between the checked displacement and the exit
    assert beyond_trust(stayed, 0.7) is False
    assert beyond_trust(stayed, 0.9) is None  # the run never went that far
    assert beyond_trust(left, None) is None and beyond_trust(left, float("nan")) is None
    run = {"steps_to_escape_observed": 20,
           "trajectory": [{"step": 10, "distance": 0.1}, {"step": 20, "distance": 0.7}]}
    ev = event_distances(left, 0.05, run)
    assert ev == {"predicted_distance": 0.05, "predicted_beyond_trust": False,
                  "observed_distance": 0.7, "observed_beyond_trust": True}
    ev = event_distances(left, None, {"steps_to_escape_observed": None, "trajectory": []})
    assert ev["observed_distance"] is None and ev["observed_beyond_trust"] is None


def test_event_text_only_when_the_predicted_event_is_beyond():
    from numerics.apps.diagnose.trust import event_text

    trust = {"trust_radius": 0.04, "events": {"predicted_beyond_trust": True,
                                              "predicted_distance": 1.5}}
    text = event_text(trust, 15)
    assert "steps_to_escape_predicted = 15" in text and "beyond the trust radius" in text
    assert "1.5" in text and "0.04" in text
    for flag in (False, None):
        assert event_text({**trust, "events": {"predicted_beyond_trust": flag}}, 15) is None
