"""``frontier --notion trajectory --json``: every record carries the simulated and predicted escape."""

import json

import numpy as np

from numerics.cli import main


def test_trajectory_records_carry_predicted_escape_probability(capsys):
    args = ["frontier", "--family", "sigma", "--n", "40", "--sigma", "2,10", "--batch", "5,20",
            "--eta", "0.28", "--alpha", "0.3", "--notion", "trajectory", "--repetitions", "40",
            "--seed", "1", "--quiet", "--json"]
    assert main(args) == 0
    recs = json.loads(capsys.readouterr().out)["records"]
    assert len(recs) == 4
    for r in recs:
        p, f = r["predicted_escape_probability"], r["traj_escape_fraction"]
        assert 0.0 <= p <= 1.0 and "in probability at horizon T" in r["predicted_escape_notion"]
        # 40 runs: the simulated fraction lies within 4 binomial SEs (floored at one run)
        assert abs(f - p) <= 4 * np.sqrt(max(p * (1 - p), 1 / 40) / 40)
        assert 0.0 <= r["predicted_majority_escape_probability"] <= 1.0
    issue = next(r for r in recs if (r["sigma"], r["batch"]) == (2, 5))
    assert 0.3 < issue["predicted_escape_probability"] < 0.7  # 0.85 eta*_as: about half escape
