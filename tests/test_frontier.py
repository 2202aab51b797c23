"""Frontier maps: tidy records, closed-form cells agree with the operator, the heatmap renders."""

import pytest

from numerics.apps.frontier import evaluate, grid, plot_frontier, sigma_family_cell, to_matrix


def test_grid_is_cartesian_and_ordered():
    cells = grid({"n": 10}, sigma=[1, 2], batch=[3, 4, 5])
    assert len(cells) == 6 and cells[0] == {"n": 10, "sigma": 1, "batch": 3}
    assert cells[-1] == {"n": 10, "sigma": 2, "batch": 5}


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_cells_match_exact_operator(alpha):
    cells = grid({"n": 12, "eta": 0.5, "alpha": alpha, "sampling": "wor", "exact_operator": True},
                 sigma=[1, 4, 12], batch=[1, 3, 6])
    recs = evaluate(cells, sigma_family_cell)
    for r in recs:
        # closed-form mean-square verdict == operator verdict (away from exact ties)
        if abs(r["eta_star_ms"] - 0.5) > 1e-9:
            assert r["ms_stable"] == (r["rho"] < 1.0), r
        assert r["eta_star_ms"] <= r["eta_star_as"] * (1 + 1e-12)


def test_heatmap_and_pivot(tmp_path):
    cells = grid({"n": 20, "eta": 0.5, "sampling": "wor", "notion": "trajectory", "seed": 0,
                  "repetitions": 3, "horizon": 200}, sigma=[1, 5, 20], batch=[2, 10])
    recs = evaluate(cells, sigma_family_cell)
    xs, ys, Z = to_matrix(recs, "sigma", "batch", "traj_escapes")
    assert xs.tolist() == [1, 5, 20] and ys.tolist() == [2, 10]
    # every record sits at its own (sigma, batch) cell of the pivot
    for r in recs:
        assert Z[ys.tolist().index(r["batch"]), xs.tolist().index(r["sigma"])] == r["traj_escapes"]
    path = tmp_path / "map.png"
    plot_frontier(recs, "sigma", "batch", "traj_escapes",
                  predicted=[("ms_stable", "mean-square"), ("as_stable", "almost-sure")],
                  title="sigma-family", path=str(path))
    assert path.stat().st_size > 1000
