"""Progress on every phase of ``diagnose`` (and radius), timings that add up, Ctrl-C naming the phase."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from numerics.apps.diagnose import DiagnoseOptions, diagnose
from numerics.apps.examples.synthetic import make_entry
from numerics.cli.entry import main
from numerics.core import progress
from numerics.core.inputs import InputError
from numerics.core.progress import ENV, Interrupted, PhaseClock, PhaseSpec

ROOT = Path(__file__).resolve().parents[2]
ENTRY = "numerics.apps.examples.synthetic:entry_aligned"
#: The synthetic case that resists at its eta: the unlearning run takes every one of its steps.
FAST = ["--no-deletion", "--steps-grid", "0", "--grid", "2", "--json"]
#: Seconds the whole call may exceed the sum of its timed phases (and the wall clock around the
#: call its ``total_s``): interpreter work between phases (notes, configuration, restoring the
#: model), never a phase's computation; plus this fraction of the total under a loaded machine.
TIMING_SLACK_S = 0.05
TIMING_SLACK_REL = 0.02

#: Labels of the phases an aligned-case run with prescriptions, a run and retraining goes through.
PHASES = ("setup", "curvature (dense Hessians)", "active subspace",
          "second-moment operator", "prescriptions",
          "stationarity and minimum checks", "report", "unlearning run",
          "predicted steps to escape", "map of predicted steps to the run's event",
          "retraining without the forget set", "deletion check")


def _bars(err: str) -> list[str]:
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip()]


@pytest.fixture
def instant(monkeypatch):
    """Bars shown from the first moment and refreshed often (short phases show too)."""
    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
    monkeypatch.setattr(progress, "REFRESH_S", 0.01)
    monkeypatch.setenv(ENV, "1")


def test_every_phase_shows_progress_when_forced(instant, capsys):
    assert main(["diagnose", "--entry", ENTRY, "--unlearn-steps", "50", "--json"]) == 0
    lines = _bars(capsys.readouterr().err)
    for label in PHASES:
        assert any(ln.startswith(label) for ln in lines), f"no progress line for {label!r}"
    # bars with a count give the time left: the unlearning run's steps out of K
    run = [ln for ln in lines if ln.startswith("unlearning run")]
    assert any("/50 [" in ln and "<" in ln for ln in run), run[-3:]


def test_quiet_and_no_terminal_print_no_progress(monkeypatch, capsys):
    monkeypatch.setenv(ENV, "1")
    assert main(["diagnose", "--entry", ENTRY, "--unlearn-steps", "2000", "--quiet", *FAST]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.delenv(ENV)  # stderr is captured here, not a terminal: no bars unless forced
    assert main(["diagnose", "--entry", ENTRY, "--unlearn-steps", "2000", *FAST]) == 0
    assert capsys.readouterr().err == ""


def test_progress_variable_is_checked(monkeypatch):
    monkeypatch.setenv(ENV, "sometimes")
    with pytest.raises(InputError, match=ENV):
        progress.progress_enabled(True)
    assert progress.progress_enabled(False) is False  # --quiet wins whatever the variable says


def test_eigen_solve_reports_applications_against_its_budget(instant, capsys, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "H.npz"
    np.savez(path, retain=rng.normal(size=(200, 60, 1)), forget=rng.normal(size=(10, 60, 1)))
    assert main(["radius", "--hessians", str(path), "--factors", "--eta", "1e-4", "--alpha",
                 "0.01", "--method", "lanczos", "--json"]) == 0
    lines = [ln for ln in _bars(capsys.readouterr().err) if "operator applications" in ln]
    assert lines, "the eigen-solve reported nothing"
    counts = [int(ln.split("eigen-solve: ")[1].split()[0]) for ln in lines]
    assert max(counts) > 1 and "s of its 600 s budget" in lines[-1]


def _timed_diagnose(**flat):
    e = make_entry("aligned")
    opts = DiagnoseOptions.from_flat(dict(e["options"], progress=False, **flat))
    t0 = time.perf_counter()
    rep = diagnose(e["model"], e["loss"], e["retain"], e["forget"], opts, train=e["train"])
    return rep, time.perf_counter() - t0


def _check_sum(timings: dict[str, float], wall: float) -> None:
    slack = TIMING_SLACK_S + TIMING_SLACK_REL * wall
    parts = {k: v for k, v in timings.items() if k != "total_s"}
    assert all(v >= 0.0 for v in parts.values()), parts
    assert abs(sum(parts.values()) - timings["total_s"]) <= 1e-9 * wall + 1e-12
    assert timings["other_s"] <= slack, f"untimed work {timings['other_s']:.3f} s: {timings}"
    assert 0.0 < wall - timings["total_s"] <= slack, (wall, timings["total_s"])


def test_timings_account_for_the_wall_time(tmp_path):
    rep, wall = _timed_diagnose(unlearn_steps=300, out=str(tmp_path / "out"))
    timings = json.loads((tmp_path / "out" / "report.json").read_text())["timings"]
    assert timings == pytest.approx(rep.timings, rel=0, abs=0)
    for key in ("setup_s", "curvature_s", "operator_s", "prescribe_s", "unlearn_s",
                "forecast_s", "retrain_s", "deletion_s", "outputs_s", "other_s", "total_s"):
        assert key in timings, key
    _check_sum(timings, wall)


def test_timings_without_outputs_or_run():
    rep, wall = _timed_diagnose(unlearn_steps=0, deletion=False, prescribe=False)
    assert "unlearn_s" not in rep.timings and "outputs_s" not in rep.timings
    _check_sum(rep.timings, wall)


def test_interrupt_names_the_phase():
    clock = PhaseClock(False)
    with pytest.raises(Interrupted) as info, clock.phase(PhaseSpec("unlearn", "unlearning run")):
        raise KeyboardInterrupt
    assert info.value.phase == "unlearning run"
    assert clock.timings["unlearn_s"] >= 0.0


def test_ctrl_c_during_diagnose_exits_130_with_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **{ENV: "1"})
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "numerics.cli", "diagnose", "--entry", ENTRY,
         "--unlearn-steps", "100000000", *FAST],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    seen = b""
    deadline = time.monotonic() + 300
    while b"unlearning run" not in seen and time.monotonic() < deadline:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    assert b"unlearning run" in seen, seen[-500:]
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    rc = proc.wait(timeout=60)
    err = (seen + rest).decode()
    assert rc == 130, err[-500:]
    assert "Traceback" not in err
    assert _bars(err)[-1] == "unlearnstab diagnose: interrupted during unlearning run"
