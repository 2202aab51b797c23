"""Every case of the fuzz case list, and hypothesis properties over arrays, npz files, option
values and entry-point returns.

A refused input gets exit status 2 and one line on stderr naming the problem (the API: the
project's ``InputError``, or a ``TypeError`` naming the argument), never a traceback; an accepted
one gets an answer checked against an independent route (batch enumeration) and a verdict that
agrees with its own fields (``cases.verdict_problems``).  The quick profile runs by default; the
long one with ``pytest -m fuzz``.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numerics.cli import main
from numerics.core.inputs import InputError
from numerics.verify.claims.policy import Kind, tolerance

HERE = Path(__file__).parent


def load(name: str):
    """A module of this directory by path (the tests are not a package)."""
    key = f"unlearnstab_fuzz_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


cases = load("cases")
inputs = load("inputs")
oracle = load("oracle")

ROOT = Path(__file__).resolve().parents[2]
QUICK = settings(max_examples=cases.PROPERTIES["option values"][1], derandomize=True,
                 deadline=None, database=None, suppress_health_check=list(HealthCheck))
LONG = settings(max_examples=cases.PROPERTIES["option values"][2], deadline=None,
                database=None, suppress_health_check=list(HealthCheck))
IDENTITY = tolerance(Kind.IDENTITY).value
TIGHT = tolerance(Kind.TIGHT_THRESHOLD).value


# ------------------------------------------------------------------------------------ runners
def expand(argv, tmp: Path) -> list[str]:
    """Replace ``{file:NAME}`` by the built input and ``{tmp}`` by the scratch directory."""
    def sub(arg: str) -> str:
        arg = re.sub(r"\{file:(\w+)\}", lambda m: str(inputs.build(m.group(1), tmp)), arg)
        return arg.replace("{tmp}", str(tmp))
    return [sub(a) for a in argv]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``main(argv)`` in process: exit status, stdout, stderr (argparse's exits included)."""
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return rc, out, err


def assert_refused(rc: int, err: str, fragment: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert rc == 2, f"exit status {rc}, stderr: {err!r}"
    assert len(lines) == 1, f"stderr has {len(lines)} lines: {err!r}"
    assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in {lines[0]!r}"


def reports(obj):
    """Every dict with a ``verdict`` inside a JSON output."""
    if isinstance(obj, dict):
        if "verdict" in obj:
            yield obj
        for v in obj.values():
            yield from reports(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from reports(v)


def check_verdicts(obj) -> int:
    found = 0
    for rec in reports(obj):
        found += 1
        problems = cases.verdict_problems(rec)
        assert not problems, problems
    return found


# ----------------------------------------------------------------- independent answer checks
def _good_arrays(tmp: Path):
    data = np.load(inputs.build("good", tmp))
    return data["retain"], data["forget"]


def _check_radius_good(rec, tmp):
    hr, hf = _good_arrays(tmp)
    want = oracle.enumerated_rho(hr, hf, 0.1, 3, 2, 0.3)
    assert abs(rec["rho"] - want) <= IDENTITY * want


def _check_threshold_good(rec, tmp):
    hr, hf = _good_arrays(tmp)
    es = rec["eta_star_ms"]
    assert abs(oracle.enumerated_rho(hr, hf, 0.1, 3, 2, es) - 1.0) <= TIGHT
    assert oracle.enumerated_rho(hr, hf, 0.1, 3, 2, 0.99 * es) < 1.0
    assert oracle.enumerated_rho(hr, hf, 0.1, 3, 2, 1.01 * es) > 1.0


def _check_escapes_every(rec, tmp):
    data = np.load(inputs.build("strong_forget", tmp))
    for eta in (1e-4, 1e-2, 0.1):  # escapes at every step size: rho > 1 at each
        assert oracle.enumerated_rho(data["retain"], data["forget"], 0.5, 1, 1, eta) > 1.0
    assert rec["escapes_at_every_eta"] is True


def _check_neutral(rec, tmp):
    data = np.load(inputs.build("neutral", tmp))
    for eta in (1e-3, 0.1, 0.4):  # never below 1, nothing grows beyond round-off
        rho = oracle.enumerated_rho(data["retain"], data["forget"], 0.0, 1, 1, eta)
        assert abs(rho - 1.0) <= IDENTITY
    if rec.get("rho") is not None:
        assert abs(rec["rho"] - 1.0) <= IDENTITY


def _check_untrained_noted(rec, tmp):
    # an untrained MLP: the per-sample gradients do not cancel, and the report must say so
    assert any("not a stationary point" in n for n in rec["notes"]), rec["notes"]


def _check_least_squares(rec, tmp):
    # least squares solved exactly: w* is the minimum, no stationarity note
    assert not any("stationary" in n for n in rec["notes"]), rec["notes"]
    assert rec["curvature"]["stationarity"]["relative"] < 1e-8


CHECKS = {"diagnose-good": _check_untrained_noted, "diagnose-linear-resists": _check_least_squares,
          "diagnose-linear-escapes": _check_least_squares,
          "radius-good": _check_radius_good, "threshold-good": _check_threshold_good,
          "radius-escapes-every": _check_escapes_every, "radius-neutral": _check_neutral,
          "threshold-neutral": _check_neutral}


def _params():
    for c in cases.CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.pending)] if c.pending else []
        if c.slow:
            marks.append(pytest.mark.slow)
        yield pytest.param(c, id=c.id, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_case(case, tmp_path, capsys):
    if case.argv is not None:
        rc, out, err = run_cli(expand(case.argv, tmp_path), capsys)
        if case.expect == "refused":
            assert_refused(rc, err, case.message)
            return
        assert rc == 0 and "Traceback" not in err, err
        rec = json.loads(out)
        assert check_verdicts(rec) >= 1, "an accepted case must print a verdict to check"
        if case.id in CHECKS:
            CHECKS[case.id](rec, tmp_path)
        return
    if case.expect == "refused":
        with pytest.raises((InputError, TypeError)) as info:
            case.api(tmp_path)
        if info.type is TypeError:  # a TypeError must name the argument, not come from numpy
            assert case.message.lower() in str(info.value).lower(), str(info.value)
        assert case.message.lower() in str(info.value).lower(), str(info.value)
        return
    result = case.api(tmp_path)
    rec = result.as_dict() if hasattr(result, "as_dict") else result
    check_verdicts(rec)


def test_case_list_is_meaningful():
    ids = [c.id for c in cases.CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert {c.expect for c in cases.CASES} == {"refused", "accepted"}
    for c in cases.CASES:
        assert (c.argv is None) != (c.api is None), c.id
        if c.expect == "refused" and c.argv and c.argv[0] != "diagnose":
            assert c.message, f"{c.id}: a refusal names its message fragment"


# ------------------------------------------------------------ the verdict checker can fail
def test_verdict_checker_catches_contradictions():
    good = {"verdict": "resists at eta = 0.1 (mean-square stable below eta* = 0.5)",
            "eta": 0.1, "rho": 0.9, "eta_star_ms": 0.5, "escapes_at_every_eta": False}
    assert cases.verdict_problems(good) == []
    bad = [dict(good, rho=1.2), dict(good, eta=0.7), dict(good, eta_star_ms=0.0),
           dict(good, escapes_at_every_eta=True), dict(good, eta_star_ms=0.4),
           dict(good, verdict="escapes at eta = 0.1 (mean-square unstable above eta* = 0.5)")]
    for rec in bad:
        assert cases.verdict_problems(rec), rec


# ------------------------------------------------------------------- through a real process
SUBPROCESS = ("radius-npz-zero_bytes", "radius-eta-text", "diagnose-entry-missing",
              "radius-npz-truncated")


@pytest.mark.parametrize("cid", SUBPROCESS)
def test_no_traceback_reaches_the_user(cid, tmp_path):
    case = next(c for c in cases.CASES if c.id == cid)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "numerics.cli", *expand(case.argv, tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert_refused(proc.returncode, proc.stderr, case.message)


# -------------------------------------------------------------------- hypothesis properties
finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.sampled_from([0.0, -0.0, 1e-300, 1e154, 1e308, -1.0, 0.3]))
option_text = st.one_of(finite_or_not.map(repr), st.integers(-10, 10).map(str),
                        st.sampled_from(["", "abc", "1e", "0x10", "nan", "-inf"]))


def _options_property(tmp: Path, capsys, eta: str, alpha: str, br: str, bf: str) -> None:
    argv = ["radius", "--hessians", str(inputs.build("good", tmp)), "--eta", eta,
            "--alpha", alpha, "--batch-retain", br, "--batch-forget", bf, "--json"]
    rc, out, err = run_cli(argv, capsys)
    assert "Traceback" not in err
    assert rc in (0, 2), (argv, rc, err)
    if rc == 2:
        assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
        return
    rec = json.loads(out)
    check_verdicts(rec)
    hr, hf = _good_arrays(tmp)
    want = oracle.enumerated_rho(hr, hf, float(alpha), int(br), int(bf), float(eta))
    assert abs(rec["rho"] - want) <= IDENTITY * max(want, 1.0), (argv, rec["rho"], want)


@pytest.mark.filterwarnings("ignore")
@QUICK
@given(eta=option_text, alpha=option_text, br=option_text, bf=option_text)
def test_option_values_quick(tmp_path, capsys, eta, alpha, br, bf):
    _options_property(tmp_path, capsys, eta, alpha, br, bf)


@pytest.mark.fuzz
@pytest.mark.filterwarnings("ignore")
@LONG
@given(eta=option_text, alpha=option_text, br=option_text, bf=option_text)
def test_option_values_long(tmp_path, capsys, eta, alpha, br, bf):
    _options_property(tmp_path, capsys, eta, alpha, br, bf)


small = st.integers(1, 4)
values = st.one_of(st.floats(-3, 3), st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e200]))


@st.composite
def arrays(draw):
    """Random arrays: wrong ranks, zero sizes, non-finite, asymmetric, PSD or not."""
    kind = draw(st.sampled_from(["psd", "factors", "random", "shape", "empty"]))
    n, d, k = draw(small), draw(small), draw(small)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "psd":
        f = rng.standard_normal((n, d, k))
        return np.einsum("nik,njk->nij", f, f)
    if kind == "factors":
        return rng.standard_normal((n, d, k))
    if kind == "empty":
        return np.zeros(draw(st.sampled_from([(0, 2, 2), (2, 0, 2), (2, 2, 0), (0,)])))
    if kind == "shape":
        return rng.standard_normal(tuple(draw(st.lists(small, min_size=0, max_size=5))))
    a = rng.standard_normal((n, d, d))
    a.flat[draw(st.integers(0, a.size - 1))] = draw(values)
    return a


def _array_property(tmp: Path, capsys, retain, forget, keys) -> None:
    path = tmp / "h.npz"
    payload = {keys[0]: retain}
    if forget is not None:
        payload[keys[1]] = forget
    np.savez(path, **payload)
    argv = ["threshold", "--hessians", str(path), "--alpha", "0.1", "--json"]
    rc, out, err = run_cli(argv, capsys)
    assert "Traceback" not in err
    assert rc in (0, 2), (rc, err)
    if rc == 2:
        assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
        return
    check_verdicts(json.loads(out))


npz_keys = st.sampled_from([("retain", "forget"), ("retain", "Forget"), ("Retain", "forget"),
                            ("retain", "retain_2")])


@pytest.mark.filterwarnings("ignore")
@QUICK
@given(retain=arrays(), forget=st.one_of(st.none(), arrays()), keys=npz_keys)
def test_npz_arrays_quick(tmp_path, capsys, retain, forget, keys):
    _array_property(tmp_path, capsys, retain, forget, keys)


@pytest.mark.fuzz
@pytest.mark.filterwarnings("ignore")
@LONG
@given(retain=arrays(), forget=st.one_of(st.none(), arrays()), keys=npz_keys)
def test_npz_arrays_long(tmp_path, capsys, retain, forget, keys):
    _array_property(tmp_path, capsys, retain, forget, keys)


ENTRY_VALUES = st.sampled_from([None, 0, "text", 1.5, [], {}, -1])
ENTRY_KEYS = st.sampled_from(["model", "loss", "retain", "forget", "seed", "options", "test"])


def _entry_property(tmp: Path, capsys, drop, key, value) -> None:
    src = inputs.build("entry", tmp).read_text()
    path = tmp / "entry_fuzz.py"
    path.write_text(src + "\n\ndef mutated():\n    out = good()\n"
                    + "".join(f"    out.pop({k!r}, None)\n" for k in drop)
                    + f"    out[{key!r}] = {value!r}\n    return out\n")
    argv = ["diagnose", "--entry", f"{path}:mutated", "--no-progress", "--no-deletion",
            "--no-prescribe", "--unlearn-steps", "0", "--eta-rel", "0.5", "--json"]
    rc, out, err = run_cli(argv, capsys)
    assert "Traceback" not in err
    assert rc in (0, 2), (rc, err)
    if rc == 2:
        assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
        return
    check_verdicts(json.loads(out))


@pytest.mark.filterwarnings("ignore")
@QUICK
@given(drop=st.lists(ENTRY_KEYS, max_size=2), key=ENTRY_KEYS, value=ENTRY_VALUES)
def test_entry_returns_quick(tmp_path, capsys, drop, key, value):
    _entry_property(tmp_path, capsys, drop, key, value)


@pytest.mark.fuzz
@pytest.mark.filterwarnings("ignore")
@settings(LONG, max_examples=cases.PROPERTIES["entry returns"][2])
@given(drop=st.lists(ENTRY_KEYS, max_size=2), key=ENTRY_KEYS, value=ENTRY_VALUES)
def test_entry_returns_long(tmp_path, capsys, drop, key, value):
    _entry_property(tmp_path, capsys, drop, key, value)
