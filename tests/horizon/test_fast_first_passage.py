"""The fast first-passage route against the full programme it shortcuts (kept as the reference).

Independent routes: :func:`theory.horizon.survival_grid` (every step to T at the deepest floor,
the previous exact code path) and ``escape_probability(method="exact reference")`` on the exact
operator.  Tolerances come from the stated error of the shortcuts: each axis' escape probability
moves by at most ``DEFAULT_TOL`` (so a run over K axes by at most ``K * DEFAULT_TOL``, union bound),
plus float64 round-off of the programme (1e-12).
"""

from __future__ import annotations

import numpy as np
import pytest

from numerics.apps.frontier import (
    EscapeSpec,
    sigma_family_escape_grid,
    sigma_family_grid,
    sigma_family_operator,
)
from numerics.core.commuting import diagonal_axes, exact_eta_star_as
from numerics.core.horizon import escape_probability
from numerics.core.inputs import InputError, UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator
from theory import horizon as th
from theory import lyapunov as lya
from theory.families import AxisLaw

ROUND_OFF = 1e-12

#: Laws of every kind the shortcuts distinguish: near-critical (full programme), strongly
#: escaping, never escaping, a zero multiplier (walk sent to the floor), tiny up-steps.
LAWS = [
    (AxisLaw("wor", 0.3, 40.0, 1, 40, 5, 40.0, 1, 40, 5), 0.28),
    (AxisLaw("wor", 0.3, 40.0, 2, 40, 5, 40.0, 2, 40, 5), 0.28),
    (AxisLaw("bernoulli", 0.2, 10.0, 1, 20, 4, 10.0, 1, 20, 4), 0.2),
    (AxisLaw("wr", 0.1, 20.0, 3, 60, 3, 20.0, 3, 60, 3), 0.36),
    (AxisLaw("wor", 0.0, 10.0, 10, 100, 8, 0.0, 0, 1, 1), 0.66),
    (AxisLaw("wor", 0.1, 100.0, 2, 100, 1, 100.0, 2, 100, 1), 0.5),
    (AxisLaw("wor", 0.1, 2.0, 1, 100, 50, 2.0, 1, 100, 50), 0.5),
    (AxisLaw("wor", 0.1, 100.0, 2, 100, 13, 100.0, 2, 100, 13), 0.5),
    (AxisLaw("wor", 0.0, 2.0, 1, 2, 1, 0.0, 0, 1, 1), 1.0),  # J = 1 - eta*2*K: 0 or 1
]


def _laws(eta_scale: float = 1.0):
    xi, p = [], []
    for law, eta in LAWS:
        v, q = th.log_increment_law(*lya.axis_multiplier_law(law), eta * eta_scale)
        xi.append(v)
        p.append(q)
    S = max(v.size for v in xi)
    X, P = np.zeros((len(xi), S)), np.zeros((len(xi), S))
    for j, (v, q) in enumerate(zip(xi, p, strict=True)):
        X[j, : v.size], P[j, : v.size] = v, q
    return X, P


@pytest.mark.parametrize("T, scale", [(1000, 1.0), (300, 0.9), (150, 1.1)])
def test_fast_table_matches_full_programme_on_the_starts(T, scale):
    xi, p = _laws(scale)
    reach = np.tile([-14.0, -3.4], (xi.shape[0], 1))
    fast = th.first_passage_table(xi, p, T, reach)
    ref = th.survival_grid(xi, p, T)
    starts = np.linspace(-14.0, -3.4, 97)
    diffs, values = [], []
    for law in range(xi.shape[0]):
        a, b = fast.escape(starts, law), ref.escape(starts, law)
        diffs.append(np.max(np.abs(a - b)))
        values.append(b)
    values = np.concatenate(values)
    # the comparison examined laws that escape from some starts and not from others
    assert np.any((values > 0.01) & (values < 0.99))
    assert np.any(values < 1e-12) and np.any(values > 1 - 1e-6)
    assert np.max(diffs) <= th.DEFAULT_TOL + ROUND_OFF


def test_never_escapes_is_an_upper_bound_of_the_programme():
    # a loose tolerance makes the bound decide laws whose escape is small but not negligible
    xi, p = _laws()
    T = 400
    ref = th.survival_grid(xi, p, T)
    decided = 0
    for start in (-3.0, -6.0, -10.0, -20.0):
        for tol in (0.5, 1e-3, 1e-8):
            never = th.never_escapes(xi, p, T, start, tol=tol)
            for law in np.flatnonzero(never):
                got = ref.escape(np.linspace(start - 5.0, start, 11), int(law))
                assert np.max(got) <= 0.5 * tol + ROUND_OFF
                decided += int(np.max(got) > 1e-6)
    assert decided > 0  # some decision was not trivially true


def test_uniform_interpolation_equals_numpy_interp():
    xi, p = _laws()
    sg = th.survival_grid(xi, p, 200)
    s = np.concatenate([np.linspace(-90.0, 0.5, 2001), [-np.inf, -80.0, -0.02, 0.0]])
    for law in range(xi.shape[0]):
        u = sg.u[-1, law]
        want = 1.0 - np.where(s >= 0.0, 0.0, np.interp(s, sg.y, u, left=u[0], right=u[-1]))
        assert np.max(np.abs(sg.escape(s, law) - want)) <= ROUND_OFF
    assert np.isnan(sg.escape(np.array([np.nan]), 0)[0])


def _cells():
    cells = []
    for n, sigma, batch, alpha, sampling, eas_factor in [
        (40, 2, 5, 0.3, "wor", 0.85), (40, 2, 5, 0.3, "wor", 1.2), (30, 30, 4, 0.2, "wor", 0.9),
        (60, 5, 6, 0.2, "bernoulli", 1.0), (50, 7, 3, 0.1, "wr", 0.95), (100, 10, 8, 0.0, "wor", 1.0),
        (100, 50, 5, 0.1, "wor", 2.0), (100, 2, 81, 0.1, "wor", 0.6)]:
        eas = (lya.identical_lists_eta_star_as(sampling, sigma, n, batch, alpha) if alpha
               else lya.sigma_family_eta_star_as(sampling, sigma, n, batch))
        cells.append(dict(n=n, sigma=sigma, batch=batch, alpha=alpha, sampling=sampling, c=2.0,
                          eta=eas_factor * eas, seed=3))
    return cells


def test_sigma_grid_route_matches_the_operator_reference():
    cells = _cells()
    spec = EscapeSpec(1000.0, 1000, samples=400)
    fast = sigma_family_escape_grid(cells, spec, chunk=3)
    interior = 0
    for cell, est in zip(cells, fast, strict=True):
        op = sigma_family_operator(cell)
        ref = escape_probability(op, cell["eta"], 1000.0, 1000, samples=400, seed=3,
                                 method="exact reference")
        K = diagonal_axes(op).m_r.size
        assert abs(est.value - ref.value) <= K * th.DEFAULT_TOL + ROUND_OFF
        assert est.stderr == pytest.approx(ref.stderr, abs=1e-9)
        assert est.samples == 400 and est.notion == ref.notion
        interior += int(0.01 < ref.value < 0.99)
    assert interior >= 3


def test_operator_route_fast_matches_reference_on_a_separate_sets_family():
    # a commuting family that is not the sigma-family: retain and forget on different axes
    from numerics.core.families import separate_sets

    r, f = separate_sets(12, 10, 4, 10, 3.0, 2.0, rotation=5)
    op = SecondMomentOperator(as_pool(r, "retain"), as_pool(f, "forget"),
                              UnlearningConfig(0.15, 3, 2, "wor"))
    assert diagonal_axes(op) is not None
    K = diagonal_axes(op).m_r.size
    seen = []
    for eta in np.linspace(0.5, 1.5, 7) * exact_eta_star_as(op):
        a = escape_probability(op, eta, 100.0, 400, samples=300, seed=1)
        b = escape_probability(op, eta, 100.0, 400, samples=300, seed=1, method="exact reference")
        assert a.method == b.method == "exact multiplier law"
        assert abs(a.value - b.value) <= K * th.DEFAULT_TOL + ROUND_OFF
        seen.append(b.value)
    assert min(seen) < 0.5 < max(seen)


def test_grid_with_no_escaping_law_draws_no_starts_and_reads_zero():
    # sigma = n, small eta: the shared law's multipliers lie in (0, 1], nothing rises
    cells = sigma_family_grid(20, [20], [5], 0.05, 0.1, "trajectory", "wor", 0)
    (est,) = sigma_family_escape_grid(cells)
    op = sigma_family_operator(cells[0])
    ref = escape_probability(op, 0.05, 1000.0, 1000, samples=2000, method="exact reference")
    assert est.value == ref.value == 0.0


@pytest.mark.parametrize("spec, msg", [
    (EscapeSpec(growth=1.0), "growth factor"),
    (EscapeSpec(horizon=0), "horizon"),
    (EscapeSpec(samples=0), "samples"),
])
def test_grid_bad_input_is_one_line_input_error(spec, msg):
    cells = sigma_family_grid(20, [2], [5], 0.1, 0.1, "trajectory", "wor", 0)
    with pytest.raises(InputError, match=msg) as err:
        sigma_family_escape_grid(cells, spec)
    assert "\n" not in str(err.value)
