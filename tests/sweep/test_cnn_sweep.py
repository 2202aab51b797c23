"""``unlearnstab cnn`` grids (seeds × SNR × α × B_r) run through the sweep engine."""

import json

import pytest

from numerics.cli import main

SMALL = ["--n", "12", "--d", "60", "--m", "4", "--n-forget", "2", "--batch-forget", "1",
         "--steps", "20", "--horizon", "50", "--repeats", "3", "--device", "cpu"]


def _json(capsys, *args):
    rc = main(["cnn", *SMALL, *args, "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return json.loads(captured.out), captured.err


def test_grid_order_store_and_reuse(tmp_path, capsys):
    grid = ["--snr", "0.1", "1.0", "--alpha", "0.05", "0.3", "--batch-retain", "2",
            "--seeds", "0", "1", "--store", str(tmp_path)]
    records, err = _json(capsys, *grid)
    assert [(r["seed"], r["snr"], r["alpha"]) for r in records] == [
        (s, snr, a) for s in (0, 1) for snr in (0.1, 1.0) for a in (0.05, 0.3)]
    assert "8 cells, computed 8, reused 0, failed 0" in err
    again, err = _json(capsys, *grid)
    assert again == records and "computed 0, reused 8" in err
    assert main(["cnn", *SMALL, *grid[:-2], "--quiet"]) == 0  # table with the varying axes
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["seed", "alpha"] and "# cnn: 8 cells" in out


def test_dask_scheduler_gives_the_in_process_records(dask_cluster, tmp_path, capsys):
    pytest.importorskip("distributed")
    cluster, _ = dask_cluster
    cells = ["--snr", "0.1", "1.0", "--alpha", "0.2", "--quiet"]
    ref, _ = _json(capsys, *cells)
    out, _ = _json(capsys, *cells, "--store", str(tmp_path), "--scheduler",
                   cluster.scheduler_address)
    assert out == ref


def test_bad_grid_value_is_one_line(capsys):
    assert main(["cnn", *SMALL, "--snr", "0.5", "--alpha", "0.1", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "alpha" in err and len(err.strip().splitlines()) == 1
