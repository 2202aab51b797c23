"""C7-C9 on their quick configuration, the monotone trends, and the negative controls."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from numerics.apps.cnn.experiment import ExperimentConfig, run_snr
from numerics.verify.claims.base import registry
from numerics.verify.claims.cnn import summarise, sweep
from theory.cnn import trends


@pytest.fixture(scope="module")
def table():
    return summarise(sweep("quick"))


@pytest.mark.parametrize("key", ["sigma_joint", "sigma_r", "sigma_rf", "cos_same_label",
                                 "lambda_min_A_rel", "rho", "out_of_span_forget",
                                 "forget_loss_growth", "forget_acc_after"])
def test_monotone_trends_have_the_predicted_direction(table, key):
    direction = trends()[key]
    rho = spearmanr(table["snr"], table[key]).statistic
    assert direction * rho >= 0.8, (key, rho, table[key])


def test_ends_of_the_sweep(table):
    n = ExperimentConfig().n
    assert table["sigma_joint"][0] < 1.5 and table["sigma_joint"][-1] > n / 4
    assert max(table["cos_opposite_label"]) < 0.02
    assert max(table["lambda_min_A_rel"]) < 0  # lambda_min(A|V) < 0 everywhere (SPEC §5.5)
    assert table["forget_acc_after"][0] < 0.5 and table["forget_acc_after"][-1] > 0.9
    assert all(t == 1.0 for t in table["train_acc"])


@pytest.mark.parametrize("cid", ["C7", "C8", "C9"])
def test_claims_pass_quick(cid):
    result = registry()[cid].run("quick")
    assert result.passed, (result.error, result.evidence.get("conditions"))


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
