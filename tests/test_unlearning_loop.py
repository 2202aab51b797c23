"""The shared gradient-difference loop against the linear recursion computed in numpy."""

import numpy as np
import pytest
import torch

from numerics.core.inputs import InputError, UnlearningConfig
from numerics.curvature.unlearning import (
    GradientDifferenceOptions,
    gradient_difference_loop,
    step_weights,
)
from numerics.verify.claims.policy import Kind, tolerance


def _quadratic_case(seed: int = 0):
    rng = np.random.default_rng(seed)
    d, n_r, n_f = 4, 6, 3
    G = rng.standard_normal((n_r + n_f, d, d))
    H = G @ G.transpose(0, 2, 1) / d  # l_i(theta) = theta^T H_i theta / 2
    return H, n_r, n_f


@pytest.mark.parametrize("sampling", ["wor", "bernoulli", "wr"])
def test_loop_is_the_linear_recursion_for_quadratic_losses(sampling):
    r"""For :math:`\ell_i=\frac12\theta^\top H_i\theta` the loop is :math:`\theta_{t+1}=(I-\eta\hat A_t)\theta_t`.

    Reference: the products of :math:`I-\eta\hat A_t` in numpy float64, with :math:`\hat A_t`
    assembled from the weights and the dense :math:`H_i` (no torch, no gradient).
    """
    H, n_r, n_f = _quadratic_case()
    opts = GradientDifferenceOptions(0.3, UnlearningConfig(0.2, 3, 2, sampling), steps=25,
                                     seed=4).validated(n_r, n_f)
    wr, wf = step_weights(opts, n_r, n_f)
    W = np.concatenate([wr, wf], axis=1)
    Ht = torch.as_tensor(H)
    Wt = torch.as_tensor(W)

    def gradient(t, theta):
        return torch.einsum("n,nab,b->a", Wt[t], Ht, theta)

    seen = []
    theta0 = torch.ones(4, dtype=torch.float64)
    out = gradient_difference_loop(theta0, gradient, opts, lambda t, th: seen.append(t))
    ref = np.ones(4)
    for t in range(25):
        ref = ref - 0.3 * np.einsum("n,nab->ab", W[t], H) @ ref
    tol = tolerance(Kind.IDENTITY).value
    np.testing.assert_allclose(out.theta.numpy(), ref, rtol=tol, atol=tol * np.abs(ref).max())
    assert out.steps_taken == 25 and not out.diverged and seen == list(range(1, 26))
    # the weights are (1 - alpha) x retain batches and -alpha x forget batches
    np.testing.assert_allclose(wr.sum(axis=1).mean(), 0.8, rtol=0.2)
    assert (wf <= 0).all() and (wr >= 0).all()


def test_loop_stops_at_the_first_non_finite_step():
    H, n_r, n_f = _quadratic_case(1)
    opts = GradientDifferenceOptions(1e200, UnlearningConfig(0.5, 2, 1), steps=50,
                                     stop_when_nonfinite=True).validated(n_r, n_f)

    def gradient(t, theta):
        return torch.as_tensor(H[0]) @ theta * 1e200

    out = gradient_difference_loop(torch.ones(4, dtype=torch.float64), gradient, opts)
    assert out.diverged and out.steps_taken < 50 and bool(torch.isfinite(out.theta).all())


def test_bad_options_are_refused():
    with pytest.raises(InputError, match="steps"):
        GradientDifferenceOptions(0.1, UnlearningConfig(), steps=0).validated(3, 2)
    with pytest.raises(InputError, match="eta"):
        GradientDifferenceOptions(-1.0, UnlearningConfig()).validated(3, 2)


def test_diagnose_does_not_import_the_cnn_application():
    """The two applications share the loop through the curvature layer, not through each other."""
    import ast
    from pathlib import Path

    import numerics.apps.diagnose as pkg

    files = sorted(Path(pkg.__file__).parent.glob("*.py"))
    assert files  # examined something
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("numerics.apps.cnn") for n in names), (path, names)
