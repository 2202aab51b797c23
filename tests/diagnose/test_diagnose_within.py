"""Prescriptions for escaping within / resisting for K steps (numerics.apps.diagnose.within)."""

from __future__ import annotations

import pytest

from numerics.apps.diagnose import diagnose
from numerics.apps.diagnose.options import DiagnoseOptions
from numerics.apps.diagnose.within import (
    ATOL,
    RTOL,
    WithinOptions,
    within_prescriptions,
)
from numerics.apps.examples.outliers import half_squares, problem
from numerics.core.inputs import InputError

K = 60  # the tiny instance's horizon (conftest TINY_K)


@pytest.mark.parametrize(("alpha", "eta"), [(0.3, 0.02), (0.3, 0.08), (0.3, 0.2), (0.0, 0.05)])
def test_prescribed_edges_match_the_enumerated_affine_recursion(alpha, eta, tiny_steps):
    # An independent route: every WOR batch pair enumerated, the exact augmented second moments,
    # and the quadratic model's loss at the rms displacement.  The prescribed value must reach the
    # goal and a value just outside the bisection's precision, on the user's side, must not.
    model, step = tiny_steps
    out = within_prescriptions(model, WithinOptions(alpha, eta, K))
    now = step(alpha, eta)
    assert out["steps_predicted"] == now
    escapes_now = now is not None
    checked = 0
    for p in out["prescriptions"]:
        assert p.goal == ("resist_for" if escapes_now else "escape_within")
        if p.value is None:  # "none": the far end of the search keeps the user's state
            end = p.check["searched_to"]
            far = (alpha, end) if p.knob == "eta" else (end, eta)
            assert (step(*far) is not None) == escapes_now, p.text
            continue
        v = float(p.value)
        if p.knob == "eta":
            inside, outside = (alpha, v), (alpha, v * (1 + 2 * RTOL) ** (-1 if v > eta else 1))
        else:
            inside, outside = (v, eta), (v + (-2 if v > alpha else 2) * ATOL, eta)
        assert (step(*inside) is None) == escapes_now, (p.knob, v)
        assert (step(*outside) is None) != escapes_now, (p.knob, v)
        assert p.check["at"]["steps_predicted"] == step(*inside)
        checked += 1
    assert checked >= 1


def test_within_must_be_a_positive_integer(tiny_steps):
    with pytest.raises(InputError, match="within"):
        within_prescriptions(tiny_steps[0], WithinOptions(0.3, 0.02, 0))
    with pytest.raises(InputError):
        DiagnoseOptions.of(within=0)


def _rediagnose(alpha: float, eta: float, steps: int, batches: tuple[int, int]):
    model, r, f = problem()
    opts = DiagnoseOptions.of(alpha=alpha, eta=eta, batch_retain=batches[0],
                              batch_forget=batches[1], seed=0, unlearn_steps=steps,
                              prescribe=False, progress=False, deletion=False)
    return diagnose(model, half_squares, r, f, opts)


@pytest.mark.parametrize(("eta", "batches"), [(0.002, (36, 4)), (0.001, (8, 2))])
def test_prescribed_point_rediagnosed_reaches_the_goal(eta, batches):
    # diagnose's own prescriptions, applied: a fresh diagnose at the prescribed (alpha, eta) with
    # a run of K steps predicts escape within K (escape_within) or none within K (resist_for).
    model, r, f = problem()
    steps = 200
    opts = DiagnoseOptions.of(alpha=0.6, eta=eta, batch_retain=batches[0],
                              batch_forget=batches[1], seed=0, unlearn_steps=steps,
                              progress=False, deletion=False, steps_grid=0)
    rep = diagnose(model, half_squares, r, f, opts)
    within = [p for p in rep.prescriptions if p["goal"] in ("escape_within", "resist_for")]
    assert {p["knob"] for p in within} == {"alpha", "eta"}
    escapes_now = rep.steps_to_escape_predicted is not None
    for p in within:
        assert p["goal"] == ("resist_for" if escapes_now else "escape_within")
        assert p["value"] is not None, p["text"]
        a, e = (p["value"], eta) if p["knob"] == "alpha" else (0.6, p["value"])
        again = _rediagnose(a, e, steps, batches)
        if p["goal"] == "escape_within":
            assert again.steps_to_escape_predicted is not None
            assert again.steps_to_escape_predicted <= steps
        else:
            assert again.steps_to_escape_predicted is None, again.steps_to_escape_predicted
