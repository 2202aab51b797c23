"""Frontier maps: shapes, the finite-horizon prediction rule, calibration, the figure."""

import math

import numpy as np
import pytest

from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.apps.cnn.frontier import calibrated_level, frontier_map, plot_frontier
from numerics.core.inputs import InputError

SMALL = ExperimentConfig(n=12, n_test=20, d=80, m=4, n_forget=2, batch_retain=2, batch_forget=1,
                         steps=40, horizon=100, repeats=4)


@pytest.fixture(scope="module")
def fmap():
    return frontier_map("snr", [0.1, 1.5], "alpha", [0.02, 0.3], SMALL)


def test_frontier_map_contents(fmap, tmp_path):
    assert fmap.log_rho.shape == (2, 2) and fmap.nonlinear_escape.shape == (2, 2)
    assert np.all(fmap.lambda_min_rel < 0)  # asymptotically every cell escapes
    # the prediction is exactly the finite-horizon growth rule
    assert np.array_equal(fmap.predicted_linear, 100 * fmap.log_rho >= math.log(1000))
    assert np.array_equal(fmap.predicted_nonlinear, 40 * fmap.log_rho >= math.log(1000))
    assert 0.0 <= fmap.agreement_linear <= 1.0 and 0.0 <= fmap.agreement_nonlinear <= 1.0
    # at high SNR the rate comes from the ascent: more ascent, faster growth.  (At low SNR the
    # retain-batch noise, weighted (1 - alpha)^2, dominates and the order can reverse.)
    assert fmap.log_rho[1, 1] > fmap.log_rho[0, 1]
    path = tmp_path / "map.png"
    plot_frontier(fmap, str(path))
    assert path.stat().st_size > 10_000
    assert fmap.as_dict()["x_name"] == "snr"


def test_frontier_without_snr_axis_needs_snr():
    with pytest.raises(InputError, match="snr"):
        frontier_map("alpha", [0.1], "batch_retain", [2], SMALL)
    with pytest.raises(InputError, match="axis"):
        frontier_map("alpha", [0.1], "eta", [2], SMALL)
    with pytest.raises(InputError, match="differ"):
        frontier_map("alpha", [0.1], "alpha", [2], SMALL)


def test_calibrated_level_separates():
    x = np.array([0.1, 0.2, 0.5, 0.9])
    assert 0.2 < calibrated_level(x, np.array([0, 0, 1, 1])) < 0.5
    assert calibrated_level(x, np.ones(4)) < 0.1
