"""The command line: JSON keys, exit codes, one-line errors (never a traceback)."""

import json

import numpy as np
import pytest

from numerics.cli import main


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    F = rng.standard_normal((8, 4, 2))
    H = np.einsum("nik,njk->nij", F, F)
    Ff = 0.2 * rng.standard_normal((3, 4, 1))
    path = tmp_path / "h.npz"
    np.savez(path, retain=H, forget=np.einsum("nik,njk->nij", Ff, Ff))
    return path


def test_threshold_json(npz, capsys):
    rc = main(["threshold", "--hessians", str(npz), "--alpha", "0.1", "--batch-retain", "3",
               "--batch-forget", "2", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    for key in ("rho", "eta_star_ms", "eta_star_as", "escapes_at_every_eta", "lambda_min_A"):
        assert key in out
    assert out["rho"] is None and out["eta_star_ms"] > 0


def test_radius_json_matches_threshold(npz, capsys):
    main(["threshold", "--hessians", str(npz), "--alpha", "0.1", "--batch-retain", "3",
          "--batch-forget", "2", "--json"])
    eta = json.loads(capsys.readouterr().out)["eta_star_ms"]
    main(["radius", "--hessians", str(npz), "--eta", str(eta), "--alpha", "0.1",
          "--batch-retain", "3", "--batch-forget", "2", "--json"])
    assert json.loads(capsys.readouterr().out)["rho"] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("extra", "msg"), [
    (["--alpha", "1.5"], "alpha must lie in [0, 1]"),
    (["--batch-retain", "99"], "larger than its set"),
    (["--sampling", "poisson"], "unknown sampling model"),
    (["--eta", "-1"], "eta must be finite and > 0"),
])
def test_bad_input_is_one_line(npz, capsys, extra, msg):
    args = ["radius", "--hessians", str(npz), "--eta", "0.1", "--alpha", "0.1", *extra]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_file(capsys, tmp_path):
    assert main(["threshold", "--hessians", str(tmp_path / "nope.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_nan_hessian_file(capsys, tmp_path):
    H = np.zeros((2, 3, 3))
    H[0, 0, 0] = np.nan
    np.savez(tmp_path / "bad.npz", retain=H)
    assert main(["threshold", "--hessians", str(tmp_path / "bad.npz")]) == 2
    assert "NaN" in capsys.readouterr().err


def test_verify_selects_by_prefix_and_exits_zero(capsys):
    rc = main(["verify", "--claim", "C1", "--quick", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and {r["claim_id"] for r in out} == {"C1.a", "C1.b", "C1.c"}


def test_verify_unknown_claim(capsys):
    assert main(["verify", "--claim", "C99"]) == 2
    assert "unknown claim id C99" in capsys.readouterr().err


@pytest.mark.parametrize("factors", [False, True])
def test_one_dimensional_file_is_read_as_stated(tmp_path, capsys, factors):
    """A (n, 1, 1) array is Hessians unless --factors (then h = f^2): eta*_ms = 2 / mean h."""
    values = np.array([1.0, 2.0, 3.0])[:, None, None]
    path = tmp_path / "one.npz"
    np.savez(path, retain=values)
    args = ["threshold", "--hessians", str(path), "--batch-retain", "3", "--json"]
    assert main(args + (["--factors"] if factors else [])) == 0
    out = json.loads(capsys.readouterr().out)
    # full batch without replacement: deterministic w <- (1 - eta hbar) w, stable iff eta < 2/hbar
    hbar = float(np.mean(values**2 if factors else values))
    from numerics.verify.claims.policy import Kind, tolerance

    assert out["eta_star_ms"] == pytest.approx(2.0 / hbar,
                                               rel=tolerance(Kind.TIGHT_THRESHOLD).value)
