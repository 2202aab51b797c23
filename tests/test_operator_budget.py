"""Every matrix-free eigen-solve has a stated budget and a clear message when it is hit."""

import time

import numpy as np
import pytest

import numerics.core.operator as operator_mod
from numerics.cli import main
from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import BudgetError, SecondMomentOperator
from numerics.verify.claims.policy import Kind, tolerance


def _wide(r=300, seed=4):
    f = np.random.default_rng(seed).standard_normal((r, r, 1))
    return SecondMomentOperator(f, None, UnlearningConfig(0.0, 1, 1, "wor"))


def test_time_budget_stops_a_slow_solve(monkeypatch):
    op = _wide()
    monkeypatch.setattr(operator_mod, "LANCZOS_SECONDS", 0.5)
    start = time.perf_counter()
    with pytest.raises(BudgetError, match="time budget of 0.5 s"):
        op.rho(0.001, "lanczos")  # rho crowds at 1: minutes under ARPACK's own cap
    assert time.perf_counter() - start < 30


def test_cli_reports_the_budget_in_one_line(monkeypatch, tmp_path, capsys):
    f = np.random.default_rng(4).standard_normal((300, 300, 1))
    np.savez(tmp_path / "w.npz", retain=f)
    monkeypatch.setattr(operator_mod, "LANCZOS_SECONDS", 0.5)
    rc = main(["radius", "--hessians", str(tmp_path / "w.npz"), "--factors", "--eta", "0.001"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "time budget" in err, err


def test_small_solves_are_unchanged_by_the_budget():
    rng = np.random.default_rng(1)
    op = SecondMomentOperator(rng.standard_normal((30, 25, 1)), None,
                              UnlearningConfig(0.0, 3, 1, "wor"))
    dense = op.rho(0.05, "dense")
    assert abs(op.rho(0.05, "lanczos") - dense) <= tolerance(Kind.IDENTITY).value * dense
