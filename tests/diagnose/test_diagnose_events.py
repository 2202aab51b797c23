"""The unlearning run's events: log C for C-class cross-entropy, collapse, and when it escaped."""

from __future__ import annotations

import math

import torch

from numerics.apps.diagnose.data import FlatModel, as_dataset
from numerics.apps.diagnose.options import RunOptions
from numerics.apps.diagnose.unlearn import COLLAPSE_FRACTION, gradient_difference
from numerics.core.inputs import UnlearningConfig


def _softmax_regression(C: int = 10, d: int = 6, n: int = 60, seed: int = 0):
    """A linear softmax classifier on clustered data, trained to a moderate loss."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % C
    centres = 2.0 * torch.randn(C, d, generator=gen, dtype=torch.float64)
    X = centres[y] + 0.3 * torch.randn(n, d, generator=gen, dtype=torch.float64)
    model = torch.nn.Linear(d, C).double()
    opt = torch.optim.LBFGS(model.parameters(), max_iter=30)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():  # shrink the logits: a moderate loss, away from saturation
        for q in model.parameters():
            q.mul_(0.05)
    return model, X, y


def _loss(out, target):
    return torch.nn.functional.cross_entropy(out, target, reduction="none")


def test_uninformative_level_of_c_class_cross_entropy_is_log_c():
    model, X, y = _softmax_regression()
    flat = FlatModel(model)
    r, f = as_dataset((X[:50], y[:50]), "retain"), as_dataset((X[50:], y[50:]), "forget")
    run = gradient_difference(flat, _loss, r, f, UnlearningConfig(0.0, 8, 4), 0.01,
                              run=RunOptions(unlearn_steps=5))
    rec = run.record
    assert math.isclose(rec["uninformative_forget_loss"], math.log(10), rel_tol=1e-12)
    assert rec["uninformative_predictor"] == "uniform (zero logits)"
    assert rec["outcome"] == "resisted" and rec["steps_to_escape_observed"] is None
    assert rec["horizon"] == 5 and "log C" in rec["escape_event"]


def test_pure_ascent_that_destroys_the_retain_set_is_a_collapse_not_resisted():
    model, X, y = _softmax_regression(seed=1)
    flat = FlatModel(model)
    r, f = as_dataset((X[:50], y[:50]), "retain"), as_dataset((X[50:], y[50:]), "forget")
    # alpha = 1: ascent on the forget set only; a large step drives every logit to one class
    run = gradient_difference(flat, _loss, r, f, UnlearningConfig(1.0, 8, 10), 5.0,
                              run=RunOptions(unlearn_steps=200))
    rec = run.record
    chance = rec["chance_retain_accuracy"]
    assert chance == 0.1
    assert rec["retain_acc_before"] > 0.9
    destroyed = rec["retain_acc_after"] - chance <= COLLAPSE_FRACTION * (
        rec["retain_acc_before"] - chance)
    assert destroyed, rec["retain_acc_after"]
    assert rec["collapsed"] and rec["outcome"] in ("collapse", "diverged")
    assert rec["outcome"] != "resisted"
    if rec["escaped"] and not rec["diverged"]:
        first = rec["steps_to_escape_observed"]
        assert first is not None and 1 <= first <= rec["horizon"]
        before = [p for p in rec["trajectory"] if p["step"] < first]
        assert all(p["forget_loss"] < rec["uninformative_forget_loss"] for p in before)
