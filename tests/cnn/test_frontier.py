"""Frontier maps: shapes, the finite-horizon prediction rule, calibration, the figure."""

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


#: The predicted boundary of the linear rule: T log rho = log G with T = 100, G = 1000, i.e.
#: log rho = ln(1000) / 100 = 6.9078 / 100.
LINEAR_BOUNDARY = 0.069078


def test_frontier_map_contents(fmap, tmp_path):
    assert fmap.log_rho.shape == (2, 2) and fmap.nonlinear_escape.shape == (2, 2)
    assert np.all(fmap.lambda_min_rel < 0)  # asymptotically every cell escapes
    # the finite-horizon prediction against the simulated linear recursion (the companion rule,
    # an independent route) on the cells whose rate is clearly off the predicted boundary
    # (T log rho at least 1 away from log G: a factor e in growth)
    far = np.abs(fmap.log_rho - LINEAR_BOUNDARY) * 100 > 1.0
    assert far.sum() >= 3, fmap.log_rho
    assert np.array_equal(fmap.predicted_linear[far], fmap.linear_escape[far] > 0.5)
    # a shorter horizon (K = 40 < T = 100) never predicts an escape the longer one does not
    assert not np.any(fmap.predicted_nonlinear & ~fmap.predicted_linear)
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
