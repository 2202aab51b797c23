"""``--route auto``: the route follows the size and the loss, and the report says why.

The Gauss-Newton variant of the subspace route is checked against the materialised Gauss-Newton
route (per-sample factors J_i^T R_i from full Jacobians, no Lanczos): the same verdict and
lambda_min(A), rho(T(eta)), eta*_ms within the subspace route's stated 5 %.
"""

import pytest
import torch

from numerics.apps.diagnose.data import FlatModel, as_dataset
from numerics.apps.diagnose.route_choice import (
    SUBSPACE_MIN_P,
    RouteRequest,
    loss_kind,
    select_route,
)
from numerics.apps.examples import digits
from numerics.core.inputs import InputError

#: The subspace route's stated acceptance (as in test_diagnose_subspace_route).
REL = 0.05
GIB = 2.0**30


def _never() -> str:
    raise AssertionError("the loss kind was read although the choice does not depend on it")


def test_select_route_by_size_and_loss():
    small = RouteRequest("auto", 100, 50, 10, GIB)
    ch = select_route(small, _never)
    assert ch.route == "dense" and "P = 100" in ch.reason and ch.curvature_kind == "hessian"
    big = RouteRequest("auto", SUBSPACE_MIN_P + 1, 50, 10, GIB)
    assert select_route(big, lambda: "cross-entropy").route == "subspace-ggn"
    assert select_route(big, lambda: "cross-entropy").curvature_kind == "gauss-newton"
    assert select_route(big, lambda: "quadratic").route == "subspace"
    ch = select_route(big, lambda: "not-convex")
    assert ch.route == "subspace" and "not convex" in ch.reason and ch.loss_kind == "not-convex"
    # small P, dense Hessians over the budget, factors within it: materialised Gauss-Newton
    assert select_route(RouteRequest("auto", 100, 10**4, 2, 0.1 * GIB), _never).route == "ggn"
    # nothing per sample fits: the matrix-free route instead of a refusal
    huge = RouteRequest("auto", 100, 10**6, 10, 0.01 * GIB)
    assert select_route(huge, lambda: "quadratic").route == "subspace"
    assert select_route(RouteRequest("dense", 10**6, 10, 1, GIB), _never).reason.startswith(
        "requested")
    with pytest.raises(InputError, match="unknown curvature route"):
        select_route(RouteRequest("magic", 10, 10, 1, GIB), _never)


def _flat_and_data(n_out: int) -> tuple[FlatModel, object]:
    gen = torch.Generator().manual_seed(1)
    model = torch.nn.Linear(4, n_out).to(torch.float64)
    X = torch.randn(10, 4, generator=gen, dtype=torch.float64)
    return FlatModel(model), X


def test_loss_kind_from_output_curvature():
    flat, X = _flat_and_data(3)
    y = torch.arange(10) % 3

    def ce(o, t):
        return torch.nn.functional.cross_entropy(o, t, reduction="none")

    def mse(o, t):  # t: one-hot float targets
        return 0.5 * (o - t).square().sum(dim=1)

    def wavy(o, t):  # cos of the output: negative output curvature where cos > 0
        return torch.cos(o - t).sum(dim=1)

    onehot = torch.nn.functional.one_hot(y, 3).to(torch.float64)
    assert loss_kind(flat, ce, as_dataset((X, y), "retain")) == "cross-entropy"
    assert loss_kind(flat, mse, as_dataset((X, onehot), "retain")) == "quadratic"
    assert loss_kind(flat, wavy, as_dataset((X, onehot), "retain")) == "not-convex"

    def one_hot_inside(o, t):  # not vectorisable: the project's one-line error, no traceback
        return mse(o, torch.nn.functional.one_hot(t, 3).to(o))

    with pytest.raises(InputError, match="could not vectorise"):
        loss_kind(flat, one_hot_inside, as_dataset((X, y), "retain"))


@pytest.mark.slow
def test_auto_takes_matrix_free_gauss_newton_for_cross_entropy_above_threshold(route_run, route_close):
    """P = 226 > threshold, cross-entropy: matrix-free GGN, equal to the materialised GGN."""
    e = digits.make_entry("random", n_train=60, hidden=8, steps=300, n_forget=6)
    P = sum(p.numel() for p in e["model"].parameters())
    assert P > SUBSPACE_MIN_P
    auto = route_run(e, "auto")
    d = auto.as_dict()
    assert d["curvature_route"] == "matrix-free-ggn"
    assert f"P = {P} > {SUBSPACE_MIN_P}" in d["route_reason"]
    assert "cross-entropy" in d["route_reason"] and auto.curvature["requested"] == "auto"
    assert auto.curvature["curvature_kind"] == "gauss-newton" and not auto.curvature["exact"]
    ref = route_run(e, "ggn")  # materialised Gauss-Newton factors: no Lanczos, no subspace
    assert ref.curvature_route == "ggn"
    assert auto.verdict_code == ref.verdict_code
    scale = abs(ref.lambda_max_A)
    assert abs(auto.lambda_min_A - ref.lambda_min_A) <= REL * max(abs(ref.lambda_min_A),
                                                                  1e-6 * scale)
    assert route_close(auto.rho, ref.rho)
    assert route_close(auto.eta_star_ms, ref.eta_star_ms)


@pytest.mark.slow
def test_auto_takes_matrix_free_hessian_for_mse_and_dense_when_small(route_run):
    big = digits.make_entry("class", n_train=60, hidden=8, steps=300, loss="mse")
    rep = route_run(big, "auto")
    assert rep.curvature_route == "matrix-free" and "quadratic loss" in rep.route_reason
    small = digits.make_entry("class", n_train=60, hidden=4, steps=300, loss="mse")
    rep = route_run(small, "auto")
    assert rep.curvature_route == "dense" and rep.curvature["exact"]
    assert "dense exact route" in rep.as_dict()["route_reason"]
