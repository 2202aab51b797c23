"""The stationarity measure against per-sample gradients computed one sample at a time.

Reference: ``torch.autograd.grad`` of each sample's loss separately (independent of the vmapped
route).  Up to ``NORM_SAMPLES`` samples every norm is used and both numbers agree to round-off;
above it the mean per-sample norm is a seeded subsample estimate, checked against the exact mean
within the policy's statistical tolerance in its reported standard error, while the mean
gradient stays exact.
"""

import numpy as np
import pytest
import torch

from numerics.apps.diagnose import stationary
from numerics.apps.diagnose.data import FlatModel, as_dataset
from numerics.verify.claims.policy import Kind, tolerance


def _case(n: int):
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(n, 5, generator=gen, dtype=torch.float64)
    y = (X[:, 0] + 0.3 * torch.randn(n, generator=gen, dtype=torch.float64) > 0).long()
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Tanh(),
                                torch.nn.Linear(6, 2)).to(torch.float64)

    def loss(out, t):
        return torch.nn.functional.cross_entropy(out, t, reduction="none")

    sets = (as_dataset((X[: n - 40], y[: n - 40]), "retain"), as_dataset((X[n - 40:], y[n - 40:]),
                                                                         "forget"))
    return model, loss, X, y, sets


def _reference(model, loss, X, y):
    grads = []
    for i in range(X.shape[0]):  # the independent reference: one autograd call per sample
        li = loss(model(X[i:i + 1]), y[i:i + 1]).sum()
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(li,
                                                                            model.parameters())]))
    G = torch.stack(grads)
    return float(G.mean(0).norm()), G.norm(dim=1).numpy()


@pytest.mark.parametrize("n", [300, stationary.NORM_SAMPLES + 700])
def test_stationarity_against_per_sample_autograd(n):
    model, loss, X, y, sets = _case(n)
    st = stationary.stationarity(FlatModel(model), loss, sets, seed=3)
    mean_ref, norms = _reference(model, loss, X, y)
    rel = tolerance(Kind.IDENTITY).value
    assert abs(st["mean_gradient_norm"] - mean_ref) <= rel * mean_ref
    if n <= stationary.NORM_SAMPLES:
        assert st["norm_samples"] == n and st["mean_sample_gradient_norm_stderr"] == 0.0
        assert abs(st["mean_sample_gradient_norm"] - norms.mean()) <= rel * norms.mean()
    else:
        se = st["mean_sample_gradient_norm_stderr"]
        assert st["norm_samples"] == stationary.NORM_SAMPLES and np.isfinite(se) and se > 0
        assert abs(st["mean_sample_gradient_norm"] - norms.mean()) <= \
            tolerance(Kind.STATISTICAL).value * se
        # the standard error is of the right size: the population spread with the correction
        m = stationary.NORM_SAMPLES
        expect = norms.std(ddof=1) / np.sqrt(m) * np.sqrt(1 - m / n)
        assert 0.8 * expect <= se <= 1.25 * expect
    assert st["relative"] == pytest.approx(st["mean_gradient_norm"]
                                           / st["mean_sample_gradient_norm"], rel=1e-15)
