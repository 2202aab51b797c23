"""Trends of the CNN sweep that no claim checks, and the negative controls.

C7 and C8 (sigma_joint, rho, forget-loss growth and their side conditions) run in
tests/claims/test_registry.py; here the other symbolic trend directions of :func:`theory.cnn.trends`
are compared with the measured quick sweep, with the policy's rank-correlation tolerance.
"""

import numpy as np
import pytest
from scipy.stats import spearmanr

from numerics.apps.cnn.experiment import ExperimentConfig, run_snr
from numerics.verify.claims.cnn import summarise, sweep
from numerics.verify.claims.policy import Kind, tolerance
from theory.cnn import trends


@pytest.fixture(scope="module")
def table():
    return summarise(sweep("quick"))


@pytest.mark.parametrize("key", ["sigma_r", "sigma_rf", "cos_same_label", "lambda_min_A_rel",
                                 "out_of_span_forget", "forget_acc_after"])
def test_monotone_trends_have_the_predicted_direction(table, key):
    direction = trends()[key]
    rho = spearmanr(table["snr"], table[key]).statistic
    assert direction * rho >= tolerance(Kind.RANK_CORRELATION).value, (key, rho, table[key])


def test_ascent_direction_and_interpolation_over_the_sweep(table):
    # SPEC §5.5: lambda_min(A|V) < 0 at every SNR (the ascent always has a direction to escape);
    # C8 only reports it.  The trained models interpolate their training set.
    assert max(table["lambda_min_A_rel"]) < 0
    assert all(t == 1.0 for t in table["train_acc"])


def test_negative_control_shuffled_labels_destroy_signal_alignment():
    cfg = ExperimentConfig(n=24, d=300, with_linear_rule=False, steps=5)
    true = [run_snr(1.6, ExperimentConfig(**{**cfg.__dict__, "seed": k})) for k in range(3)]
    shuf = [run_snr(1.6, ExperimentConfig(**{**cfg.__dict__, "seed": k, "shuffle_labels": True}))
            for k in range(3)]

    def gap(recs):
        return np.mean([r["cos_same_label"] - r["cos_opposite_label"] for r in recs])

    assert gap(true) > 0.5
    assert abs(gap(shuf)) < 0.1


def test_negative_control_zero_snr_gives_sigma_near_one():
    recs = [run_snr(0.0, ExperimentConfig(seed=k, with_linear_rule=False, steps=5))
            for k in range(3)]
    sig = np.mean([r["sigma_joint"] for r in recs])
    assert 1.0 <= sig < 1.3
    assert np.mean([r["cos_same_label"] for r in recs]) < 0.05
