"""``unlearnstab cnn``: records and clear errors."""

import json

import pytest

from numerics.apps.cnn.experiment import RECORD_KEYS
from numerics.cli import main

SMALL = ["--n", "12", "--d", "60", "--m", "4", "--n-forget", "2", "--batch-retain", "2",
         "--batch-forget", "1", "--steps", "20", "--horizon", "50", "--device", "cpu"]


def test_cnn_json_one_record_per_snr(capsys):
    assert main(["cnn", "--snr", "0.1", "1.0", *SMALL, "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["snr"] for r in records] == [0.1, 1.0]
    required = {"snr", "train_acc", "test_acc", "sigma_joint", "sigma_r", "sigma_f", "sigma_rf",
                "cos_same_label", "cos_opposite_label", "lambda_min_A_rel", "rho",
                "out_of_span_forget", "forget_loss_growth", "forget_acc_after",
                "retain_acc_after"}
    assert required <= set(records[0]) and set(RECORD_KEYS) <= set(records[0])
    assert records[1]["sigma_joint"] > records[0]["sigma_joint"]


def test_cnn_table(capsys):
    assert main(["cnn", "--snr", "0.5", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "sigma_joint" in out and "device=cpu" in out


@pytest.mark.parametrize(("args", "match"), [
    (["--snr", "-1"], "SNR"),
    (["--snr", "1", "--d", "1"], "d must be >= 2"),
    (["--snr", "1", "--m", "0"], "m must be"),
    (["--snr", "1", "--n", "10", "--n-forget", "10"], "n_forget"),
    (["--snr", "1", "--device", "tpu"], "unknown device"),
    (["--snr", "1", "--alpha", "1.5"], "alpha"),
])
def test_cnn_bad_input_is_one_clear_line(capsys, args, match):
    assert main(["cnn", *args]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
