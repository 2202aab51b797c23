"""The phase figure's map of predicted steps to the run's own event (apps/diagnose/event_map.py)."""

from __future__ import annotations

import numpy as np
import pytest

from numerics.apps.diagnose import diagnose
from numerics.apps.diagnose import event_map as em
from numerics.apps.diagnose.options import DiagnoseOptions
from numerics.apps.examples.outliers import half_squares, problem

K = 60  # the tiny instance's horizon (conftest TINY_K)


def test_every_cell_is_the_enumerated_first_passage_of_the_forced_recursion(tiny_steps):
    # Independent route per cell: every WOR batch pair enumerated, exact augmented second moments,
    # the quadratic model's loss at the rms displacement, first step at the level.
    model, enumerated = tiny_steps
    alphas, etas = (0.0, 0.3, 0.6), (0.01, 0.05, 0.2)
    out = em.event_map(model, em.EventGrid(alphas, etas, K))
    assert out["horizon"] == K and "forget loss" in out["event"]
    hits = 0
    for i, a in enumerate(alphas):
        for j, e in enumerate(etas):
            want = enumerated(a, e)
            assert out["steps"][i][j] == want, (a, e)
            hits += want is not None
    assert 0 < hits < len(alphas) * len(etas)  # both events occur on this grid


@pytest.mark.parametrize(("per_step", "size", "expect"), [
    (1e-4, 6, 6),     # 36 cells x 200 steps x 0.1 ms = 0.7 s: the requested grid
    (1.5e-2, 6, 4),   # 3 s a cell: 4 x 4 = 48 s fits 60 s, 5 x 5 = 75 s does not
    (0.2, 6, 0),      # 40 s a cell: even 3 x 3 exceeds 60 s, skipped
])
def test_the_grid_is_the_largest_whose_worst_case_fits_the_budget(per_step, size, expect):
    g, note = em.plan_grid(size, 200, per_step, 60.0)
    assert g == expect
    assert (note is None) == (expect == size)
    if g:
        assert g * g * 200 * per_step <= 60.0
        if g < size:
            assert (g + 1) ** 2 * 200 * per_step > 60.0


def _report(**extra):
    model, r, f = problem()
    opts = DiagnoseOptions.of(alpha=0.6, eta=0.002, batch_retain=36, batch_forget=4, seed=0,
                              unlearn_steps=200, prescribe=False, progress=False, deletion=False,
                              **extra)
    return diagnose(model, half_squares, r, f, opts)


def test_diagnose_maps_the_run_event_and_the_user_eta_lies_inside(tmp_path):
    rep = _report(steps_grid=5, out=str(tmp_path))
    emap = rep.region["event_map"]
    assert emap["horizon"] == 200 and len(emap["alpha"]) == len(emap["eta"]) == 5
    assert emap["eta"][0] <= rep.eta <= emap["eta"][-1]
    assert emap["user_steps"] == rep.steps_to_escape_predicted
    steps = np.array([[np.nan if v is None else v for v in row] for row in emap["steps"]])
    assert np.isfinite(steps).any() and np.nanmin(steps) >= 0 and np.nanmax(steps) <= 200
    assert "event_map_s" in rep.timings
    assert (tmp_path / "diagnose.png").stat().st_size > 0


def test_over_budget_the_map_is_skipped_with_a_note(monkeypatch, tmp_path):
    monkeypatch.setattr(em, "BUDGET_S", 1e-9)
    rep = _report(out=str(tmp_path))
    assert "event_map" not in rep.region and "steps_map" in rep.region
    assert any("map of predicted steps to the run's event was skipped" in n for n in rep.notes)
    assert (tmp_path / "diagnose.png").stat().st_size > 0
