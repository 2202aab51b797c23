"""``unlearnstab frontier``: JSON records, the heatmap next to the store, reuse, executors."""

import json

import pytest

from numerics.apps.frontier import sigma_family_cell
from numerics.cli import main
from numerics.core.inputs import InputError
from numerics.sweep.options import parse_values

BASE = ["frontier", "--family", "sigma", "--n", "12", "--sigma", "1:12:3", "--batch", "1:12:4",
        "--eta", "0.5", "--alpha", "0.1", "--quiet"]


def _run(capsys, *extra):
    rc = main([*BASE, *extra, "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return json.loads(captured.out)


def test_json_records_counts_and_heatmap(tmp_path, capsys):
    out = _run(capsys, "--store", str(tmp_path))
    assert (out["cells"], out["computed"], out["reused"], out["failed"]) == (12, 12, 0, 0)
    rec = out["records"][0]
    assert (rec["sigma"], rec["batch"], rec["status"]) == (1, 1, "ok")
    for key in ("eta_star_ms", "ms_stable", "eta_star_as", "as_stable"):
        assert key in rec
    assert [(r["sigma"], r["batch"]) for r in out["records"]][:4] == [(1, 1), (1, 5), (1, 9),
                                                                      (4, 1)]
    heat = tmp_path / "frontier-sigma-ms-n12-eta0.5-alpha0.1-wor.png"
    assert out["heatmap"] == str(heat) and heat.stat().st_size > 0
    again = _run(capsys, "--store", str(tmp_path))
    assert (again["computed"], again["reused"]) == (0, 12)
    assert again["records"] == out["records"]


def test_exact_operator_adds_rho(capsys):
    out = _run(capsys, "--sigma", "1,12", "--batch", "4", "--exact-operator")
    for r in out["records"]:
        assert r["exact_operator"] is True and (r["rho"] < 1.0) == r["ms_stable"]


def test_sigma_equal_n_reads_the_factors():
    """At sigma = n every sample is identical: eta* = 2 / ((1 - 2 alpha) c) exactly."""
    rec = sigma_family_cell(dict(n=10, sigma=10, batch=3, eta=0.5, alpha=0.1, seed=0,
                                 exact_operator=True))
    assert rec["eta_star_ms"] == pytest.approx(1.25, rel=1e-12)
    assert rec["rho"] == pytest.approx((1 - 0.5 * 1.6) ** 2, rel=1e-9)  # operator on the factors


def test_trajectory_notion_is_reproducible(capsys):
    args = ["--notion", "trajectory", "--horizon", "200", "--repetitions", "4", "--seed", "3"]
    out = _run(capsys, *args)
    assert all("traj_escapes" in r for r in out["records"])
    assert _run(capsys, *args)["records"] == out["records"]


def test_text_output_draws_the_map(tmp_path, capsys):
    assert main([*BASE, "--store", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "computed 12, reused 0, failed 0" in text and "B=1" in text and "heatmap:" in text


def test_existing_dask_scheduler_matches_in_process(dask_cluster, tmp_path, capsys):
    cluster, _ = dask_cluster
    ref = _run(capsys)
    out = _run(capsys, "--store", str(tmp_path), "--scheduler", cluster.scheduler_address)
    assert out["records"] == ref["records"] and out["computed"] == 12
    assert out["executor"] == f"dask at {cluster.scheduler_address} (2 workers)"


def test_own_local_dask_cluster(capsys):
    pytest.importorskip("distributed")
    small = ["--sigma", "1,12", "--batch", "4"]
    ref = _run(capsys, *small)
    out = _run(capsys, *small, "--dask-workers", "1")
    assert out["records"] == ref["records"] and out["computed"] == 2
    assert out["executor"].startswith("dask at tcp://127.0.0.1:")


@pytest.mark.parametrize(("extra", "msg"), [
    (["--sigma", "0:12:3"], "sigma values must lie in 1..n=12"),
    (["--batch", "1:x"], "--batch must be A:B:STEP"),
    (["--batch", "9:1:2"], "need A <= B"),
    (["--eta", "-1"], "eta must be finite and > 0"),
    (["--workers", "2"], "--workers sizes the process pool"),
    (["--executor", "processes", "--scheduler", "tcp://127.0.0.1:1"], "needs --executor dask"),
    (["--dask-workers", "0"], "--dask-workers must be >= 1"),
    (["--chunk-size", "0"], "--chunk-size must be >= 1"),
])
def test_bad_options_are_one_line(capsys, extra, msg):
    rc = main([*BASE, *extra])
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("text", "values"), [
    ("1:10:3", [1, 4, 7, 10]), ("1:9:3", [1, 4, 7]), ("2:4", [2, 3, 4]), ("5", [5]),
    ("3,1,3", [3, 1]),
])
def test_parse_values(text, values):
    assert parse_values(text, "--x") == values


def test_parse_values_empty():
    with pytest.raises(InputError, match="empty"):
        parse_values(",", "--x")
