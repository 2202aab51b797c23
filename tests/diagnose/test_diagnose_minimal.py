"""diagnose: verdicts on synthetic families match the closed forms; bad input is a clear error."""

import pytest
import torch

from numerics.diagnose import diagnose, diagnose_curvature
from numerics.families import separate_sets
from numerics.inputs import InputError
from theory import families as fam

# Closed form (sympy-derived) vs the exact operator on the same (rotated) family: two float64
# computations of one threshold, agreeing to eigen-solver round-off.
RTOL = 1e-8


def _sets(sigma_f, alpha):
    r, f = separate_sets(10, 4, 5, sigma_f, 2.0, 1.5, rotation=3)
    return r, f


def test_aligned_forget_resists_below_closed_form_threshold():
    alpha = 0.1  # alpha_c = mu_r/(mu_r + mu_f) = 1/(1 + 1.5) = 0.4
    r, f = _sets(4, alpha)
    rep = diagnose_curvature(r, f, alpha=alpha, batch_retain=3, batch_forget=2).as_dict()
    cf = fam.separate_sets_eta_star("wor", 10, 4, 5, 4, 2.0, 1.5, 3, 2, alpha)
    assert not rep["escapes_at_every_eta"]
    assert rep["eta_star_ms"] == pytest.approx(cf, rel=RTOL)


def test_above_alpha_c_escapes_at_every_step_size():
    r, f = _sets(4, 0.6)
    rep = diagnose_curvature(r, f, alpha=0.6, batch_retain=3, batch_forget=2).as_dict()
    assert rep["escapes_at_every_eta"] and rep["eta_star_ms"] is None
    assert rep["lambda_min_A"] < 0


def test_private_forget_direction_escapes_for_small_alpha():
    r, f = _sets(3, 0.05)
    rep = diagnose_curvature(r, f, alpha=0.05, batch_retain=3, batch_forget=2).as_dict()
    assert rep["escapes_at_every_eta"]


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (n,), generator=g)


def test_model_without_trainable_parameters():
    m = _model()
    for p in m.parameters():
        p.requires_grad_(False)
    loss = torch.nn.CrossEntropyLoss(reduction="none")
    with pytest.raises(InputError):
        diagnose(m, loss, _data(8, 0), _data(3, 1))


def test_empty_forget_set():
    loss = torch.nn.CrossEntropyLoss(reduction="none")
    x, y = _data(8, 0)
    with pytest.raises(InputError):
        diagnose(_model(), loss, (x, y), (x[:0], y[:0]))


def test_loss_that_is_not_per_sample():
    loss = torch.nn.CrossEntropyLoss()  # reduction='mean'
    with pytest.raises(InputError):
        diagnose(_model(), loss, _data(8, 0), _data(3, 1))


def test_prescriptions_flip_the_verdict_in_the_exact_criterion():
    """Each alpha prescription, re-applied through the operator (independently), flips the verdict."""
    from numerics.inputs import UnlearningConfig, as_pool
    from numerics.operator import SecondMomentOperator

    r, f = _sets(4, 0.1)
    rep = diagnose_curvature(r, f, alpha=0.1, eta=1.0, batch_retain=3, batch_forget=2).as_dict()
    assert not rep["escapes"]
    alpha_rx = [p for p in rep["prescriptions"] if p["knob"] == "alpha" and p["goal"] == "escape"]
    assert alpha_rx
    for p in alpha_rx:
        op = SecondMomentOperator(as_pool(r, factors=True), as_pool(f, factors=True),
                                  UnlearningConfig(p["value"], 3, 2, "wor"))
        eta = p["check"]["at"]["eta"]
        escapes = op.mean_escape().escapes_at_every_eta or (eta is not None and op.rho(eta) > 1)
        assert escapes, p["text"]
