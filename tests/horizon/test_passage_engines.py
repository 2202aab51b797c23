"""The FFT engine of the first-passage programme against the banded sparse one and the reference.

Independent routes: the sparse engine applies the block-diagonal matrix of the previous code path
entry by entry; :func:`theory.horizon.survival_grid` is the full programme (every step, the
deepest floor, no shortcut).  Tolerances: the two engines differ by float64 round-off only
(1e-12 over a few hundred steps: each step is a product with a stochastic matrix, the FFT's
relative error is about 1e-16 log N); a shortcut moves an axis by at most its ``tol``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numerics.apps.frontier import EscapeSpec, sigma_family_escape_problem, sigma_family_grid
from numerics.core.horizon import escape_probabilities
from numerics.core.inputs import InputError
from theory import horizon as th
from theory import passage_steps as ps

ROUND_OFF = 1e-12


@st.composite
def walk_laws(draw, count: int = 3):
    """Random log-increment laws with a chosen drift: near-critical (|drift| small), with or
    without an atom at 0 (lazy steps) and a zero multiplier (a jump below the floor)."""
    xis, ps_ = [], []
    for _ in range(count):
        size = draw(st.integers(2, 40))
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        xi = rng.uniform(-draw(st.floats(0.05, 4.0)), draw(st.floats(0.02, 2.5)), size)
        p = rng.dirichlet(np.full(size, draw(st.floats(0.2, 5.0))))
        if draw(st.booleans()):
            xi[0] = 0.0  # lazy steps
        if draw(st.booleans()):
            xi[-1], p[-1] = -np.inf, 0.01  # a zero multiplier
            p[:-1] *= 0.99 / p[:-1].sum()
        live = np.isfinite(xi)
        moved = live & (xi != 0.0)
        target = draw(st.floats(-0.05, 0.03))  # drift: from subcritical to just supercritical
        if moved.any():
            xi[moved] += (target - xi[live] @ p[live]) / p[moved].sum()
        xis.append(xi)
        ps_.append(p)
    width = max(v.size for v in xis)
    X, P = np.zeros((count, width)), np.zeros((count, width))  # padded with p = 0
    for j, (v, q) in enumerate(zip(xis, ps_, strict=True)):
        X[j, :v.size], P[j, :v.size] = v, q
    return X, P


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(laws=walk_laws(), horizon=st.integers(20, 300), size=st.integers(40, 400),
       spacing=st.sampled_from([0.02, 0.04, 0.1]))
def test_fft_engine_equals_sparse_engine(laws, horizon, size, spacing):
    xi, p = laws
    kernels = [th._kernel(xi[j], p[j], spacing, size) for j in range(xi.shape[0])]
    sizes = np.full(len(kernels), size)
    full = 1e-300  # no early stop: every step to T
    fft = ps.iterate(kernels, sizes, horizon, full, engine="fft")
    sparse = ps.iterate(kernels, sizes, horizon, full, engine="sparse")
    for a, b in zip(fft, sparse, strict=True):
        assert a.shape == b.shape == (size,)
        assert np.all(np.isfinite(a))
        assert np.max(np.abs(a - b)) <= ROUND_OFF
    # the early stop of either engine stays within its tolerance of the full run
    tol = 1e-6
    for engine in ("fft", "sparse"):
        for a, b in zip(ps.iterate(kernels, sizes, horizon, tol, engine=engine), sparse,
                        strict=True):
            assert np.max(a - b) <= tol + ROUND_OFF and np.min(a - b) >= -ROUND_OFF


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(laws=walk_laws(count=4), horizon=st.integers(50, 400),
       tol=st.sampled_from([1e-9, 1e-6, 1e-4, 1e-3]))
def test_fast_table_within_tol_of_full_programme_on_random_laws(laws, horizon, tol):
    xi, p = laws
    reach = np.tile([-12.0, -2.0], (xi.shape[0], 1))
    tols = tol * np.array([1.0, 0.1, 1.0, 0.01])  # one tolerance per law
    fast = th.first_passage_table(xi, p, horizon, reach, floor=40.0, tol=tols)
    ref = th.survival_grid(xi, p, horizon, floor=40.0)
    starts = np.linspace(-12.0, -2.0, 41)
    for law in range(xi.shape[0]):
        got, want = fast.escape(starts, law), ref.escape(starts, law)
        assert np.all(np.isfinite(got))
        assert np.max(np.abs(got - want)) <= tols[law] + ROUND_OFF


def test_engines_take_their_own_paths():
    # a narrow kernel goes to the sparse engine, a wide one to the FFT engine
    narrow = (np.array([-1, 0, 1]), np.array([0.3, 0.4, 0.3]))
    wide = (np.arange(-60, 20), np.full(80, 1 / 80))
    assert not ps.prefers_fft(narrow, 400)
    assert ps.prefers_fft(wide, 400)
    with pytest.raises(ValueError, match="unknown engine"):
        ps.iterate([narrow], np.array([10]), 5, 1e-6, engine="dense")


def _near_critical_problems():
    # cells of the near-critical map (n = 100, Bernoulli, alpha = 0, eta = 1), a few of them
    configs = sigma_family_grid(100, [12, 30, 54, 100], [3, 9, 29, 51], 1.0, 0.0, "trajectory",
                                "bernoulli", 0)
    spec = EscapeSpec(1000.0, 1000, 300)
    return [sigma_family_escape_problem(c, spec) for c in configs]


@pytest.mark.parametrize("accuracy", [1e-3, 1e-5])
def test_map_accuracy_option_is_within_its_bound_of_the_reference(accuracy):
    problems = _near_critical_problems()
    ref = escape_probabilities(problems, 1000, reference=True)
    got = escape_probabilities(problems, 1000, accuracy=accuracy)
    values = np.array([r.value for r in ref])
    diffs = np.array([abs(a.value - b.value) for a, b in zip(got, ref, strict=True)])
    assert np.all(np.isfinite(diffs))
    assert np.max(diffs) <= accuracy + ROUND_OFF
    # the comparison examined cells strictly between 1 % and 99 %
    assert np.sum((values > 0.01) & (values < 0.99)) >= 3


@pytest.mark.parametrize("bad", [0.0, -1e-3, 1.0, float("nan")])
def test_accuracy_out_of_range_is_refused(bad):
    with pytest.raises(InputError, match="accuracy"):
        escape_probabilities(_near_critical_problems()[:1], 1000, accuracy=bad)
