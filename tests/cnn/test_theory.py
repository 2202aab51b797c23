"""theory.cnn: limits, trend directions, concentration scales, MP edges, callables."""

import math

import pytest
import sympy as sp

from theory import cnn as th


def test_sigma_limits_and_transition():
    low, high = th.sigma_limits()
    assert sp.simplify(low - (1 + (th.n - 1) * th.eps)) == 0
    assert sp.simplify(high - th.n / 2) == 0
    f = th.callable_of("sigma")
    assert f(0.0, 24, 1.0, 0.0) == pytest.approx(1.0)
    assert f(1e4, 24, 1.0, 0.0) == pytest.approx(12.0, rel=1e-6)
    # the rise starts at n SNR^2 = O(1): sigma - 1 = (n/2 - 1) r / (1 + r)
    assert f(math.sqrt(2 / 24), 24, 1.0, 0.0) == pytest.approx(2.0 / (1 + 2 / 24))


def test_trend_directions():
    t = th.trends()
    assert t["sigma_joint"] == 1 and t["sigma_rf"] == 1 and t["cos_same_label"] == 1
    assert t["rho"] == -1 and t["out_of_span_forget"] == -1 and t["lambda_min_A_rel"] == 1
    assert t["forget_loss_growth"] == -1 and t["forget_acc_after"] == 1


def test_mp_edges_and_noise_scales():
    lo, hi = th.mp_edges(50, 5000, effective=False)
    assert lo == pytest.approx((1 - 0.1) ** 2) and hi == pytest.approx((1 + 0.1) ** 2)
    lo2, hi2 = th.mp_edges(50, 5000)
    assert lo2 < lo and abs(hi2 - hi) < 1e-3
    slope = sp.diff(sp.log(th.MAX_NOISE_RATIO), th.d) * th.d
    assert sp.limit(slope, th.d, sp.oo) == sp.Rational(-1, 2)
    assert th.noise_eps(301) == pytest.approx(math.sqrt(2 / (math.pi * 300)))


def test_predictions_callable():
    p = th.predictions(0.8, th.CNNSetup(n=24, n_forget=4, d=300, alpha=0.1, eta_rel=0.5,
                                        batch_forget=2))
    assert set(p) >= {"sigma_joint", "rho", "lambda_min_A_rel", "out_of_span_forget"}
    assert p["rho"] > 1 and p["lambda_min_A_rel"] < 0 and 0 < p["out_of_span_forget"] < 1
