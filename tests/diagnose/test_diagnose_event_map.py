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


def test_levels_nest_up_to_the_first_with_enough_points():
    assert em.levels(6) == (3, 5, 9) and em.levels(3) == (3,) and em.levels(2) == (2,)
    assert em.levels(0) == ()


@pytest.mark.parametrize(("per_step", "expect"), [
    (1e-5, 9),   # cheap: every level of a size-6 request (3, 5, 9)
    (1.0, None),  # 9 cells x 60 steps x 1 s = 540 s > twice the budget: skipped
])
def test_refinement_follows_the_budget(tiny_steps, per_step, expect):
    model, enumerated = tiny_steps
    emap, note = em.refined_map(model, em.MapRequest((0.01, 0.2), K, 6, per_step, 60.0))
    if expect is None:
        assert emap is None and "skipped" in note
        return
    assert note is None and len(emap["alpha"]) == len(emap["eta"]) == expect
    # the finest level holds every coarser level's cells, each the enumerated first passage
    for i in (0, 4, 8):
        for j in (0, 2, 8):
            assert emap["steps"][i][j] == enumerated(emap["alpha"][i], emap["eta"][j])


def test_a_tight_budget_stops_the_refinement_with_a_note(tiny_steps, monkeypatch):
    model, _ = tiny_steps
    ticks = iter(range(1000))
    monkeypatch.setattr(em.time, "perf_counter", lambda: float(next(ticks)) * 10.0)
    emap, note = em.refined_map(model, em.MapRequest((0.01, 0.2), K, 6, 1e-5, 60.0))
    # each level "takes" 10 s: 9 cells at 10/9 s a cell leave 50 s, 16 new cells need 17.8 s;
    # then 25 cells at 0.8 s leave 40 s and the 56 new cells of 9 x 9 need 44.8 s: it stops at 5
    assert len(emap["alpha"]) == 5 and "stopped at 5x5" in note


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
    assert "steps_map" not in rep.region  # the mean-square map is not computed beside it
    assert emap["eta"][0] <= rep.eta <= emap["eta"][-1]
    assert emap["user_steps"] == rep.steps_to_escape_predicted
    steps = np.array([[np.nan if v is None else v for v in row] for row in emap["steps"]])
    assert np.isfinite(steps).any() and np.nanmin(steps) >= 0 and np.nanmax(steps) <= 200
    assert "event_map_s" in rep.timings
    assert (tmp_path / "diagnose.png").stat().st_size > 0


def test_over_budget_the_map_is_skipped_and_the_mean_square_map_drawn(tmp_path):
    rep = _report(out=str(tmp_path), map_budget=1e-9)
    assert "event_map" not in rep.region and "steps_map" in rep.region
    assert rep.region["steps_map"]["eta"] == pytest.approx(
        np.geomspace(*rep.region["map_span"], len(rep.region["steps_map"]["eta"])))
    assert any("map of predicted steps to the run's event was skipped" in n for n in rep.notes)
    assert (tmp_path / "diagnose.png").stat().st_size > 0
