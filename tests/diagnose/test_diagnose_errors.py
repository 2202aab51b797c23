"""Bad input: each case is a clear InputError (API) and one stderr line with exit 2 (CLI)."""

import textwrap

import pytest
import torch

from numerics.apps.diagnose import DiagnoseOptions, diagnose
from numerics.apps.diagnose.route import choose_route
from numerics.cli import main
from numerics.core.inputs import InputError


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                               torch.nn.Linear(4, 2)).double()


def _sets():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(10, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (10,), generator=g)
    return (X[:7], y[:7]), (X[7:], y[7:])


def ce(o, t):
    return torch.nn.functional.cross_entropy(o, t, reduction="none")


def _run(model=None, loss=ce, retain=None, forget=None, **kw):
    r, f = _sets()
    kw.setdefault("progress", False)
    kw.setdefault("unlearn_steps", 0)
    kw.setdefault("prescribe", False)
    return diagnose(model or _model(), loss, retain or r, forget or f, DiagnoseOptions.of(**kw))


def test_ok_baseline_and_datasets():
    rep = _run()
    assert rep.curvature_route == "dense"
    r, f = _sets()
    ds = _run(retain=torch.utils.data.TensorDataset(*r), forget=torch.utils.data.TensorDataset(*f))
    assert ds.lambda_min_A == pytest.approx(rep.lambda_min_A, rel=1e-12)
    assert ds.sigma_joint == pytest.approx(rep.sigma_joint, rel=1e-12)


def test_no_trainable_parameters():
    m = _model()
    for p in m.parameters():
        p.requires_grad_(False)
    with pytest.raises(InputError, match="no parameters with requires_grad=True"):
        _run(model=m)


def test_scalar_loss():
    with pytest.raises(InputError, match="returned a scalar.*reduction='none'"):
        _run(loss=lambda o, t: ce(o, t).mean())


def test_loss_not_per_sample_shape():
    def mse(o, t):
        return (o - torch.nn.functional.one_hot(t, 2).to(o)) ** 2  # (n, 2): not reduced
    with pytest.raises(InputError, match=r"returned shape \(3, 2\) for 3 samples"):
        _run(loss=mse)


def test_loss_coupling_samples():
    with pytest.raises(InputError, match="couples samples"):
        _run(loss=lambda o, t: ce(o, t) - ce(o, t).mean())


def test_empty_and_overlapping_sets():
    r, f = _sets()
    with pytest.raises(InputError, match="forget set is empty"):
        _run(forget=(f[0][:0], f[1][:0]))
    with pytest.raises(InputError, match="share 1 sample"):
        _run(forget=(torch.cat([f[0], r[0][2:3]]), torch.cat([f[1], r[1][2:3]])))
    with pytest.raises(InputError, match="3 inputs but 2 targets"):
        _run(forget=(f[0], f[1][:2]))


def test_non_finite_loss():
    def bad(o, t):
        out = ce(o, t)
        return out / (t != 1).to(out)  # inf where the label is 1
    r, _ = _sets()
    with pytest.raises(InputError, match="NaN or inf at the trained weights"):
        _run(loss=bad)
    with pytest.raises(InputError, match="NaN or inf"):
        _run(retain=(r[0] * float("nan"), r[1]))


def test_too_large_without_max_samples():
    # P = 26 parameters x C = 2 outputs: 8 n P C = 4160 B of Gauss-Newton factors for n = 10.
    with pytest.raises(InputError, match="--max-samples"):
        choose_route("auto", 26, 10, 2, 107.0)
    assert choose_route("auto", 26, 4, 2, 2147.0) == "ggn"
    with pytest.raises(InputError, match="already holds"):
        _run(memory_budget_gb=1e-7)
    rep = _run(max_samples=2, batch_retain=2, batch_forget=2)
    assert any("subsample" in n for n in rep.notes)
    assert rep.config["n_retain"] == 2


def test_loss_that_cannot_be_vectorised():
    def item_loss(o, t):
        return ce(o, t) * float(o.sum().item() > -1e9)
    with pytest.raises(InputError, match="could not vectorise"):
        _run(loss=item_loss)


def test_bad_configuration():
    with pytest.raises(InputError, match="alpha must lie in"):
        _run(alpha=2.0)
    with pytest.raises(InputError, match="larger than its set"):
        _run(batch_forget=5)
    with pytest.raises(InputError, match="either eta or eta_rel"):
        _run(eta=0.1, eta_rel=0.5)


ENTRY = """
import torch
def ce(o, t):
    return torch.nn.functional.cross_entropy(o, t, reduction="none")
def _m():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2)).double()
def _x(n):
    g = torch.Generator().manual_seed(n)
    return torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (n,), generator=g)
def good():
    return {"model": _m(), "loss": ce, "retain": _x(6), "forget": _x(2)}
def frozen():
    m = _m()
    for p in m.parameters():
        p.requires_grad_(False)
    return {"model": m, "loss": ce, "retain": _x(6), "forget": _x(2)}
def scalar():
    return {"model": _m(), "loss": lambda o, t: ce(o, t).sum(), "retain": _x(6), "forget": _x(2)}
def missing():
    return {"model": _m(), "loss": ce, "retain": _x(6)}
def notadict():
    return [1, 2]
def boom():
    raise RuntimeError("kaput")
"""


@pytest.fixture
def entry_file(tmp_path):
    p = tmp_path / "user_entry.py"
    p.write_text(textwrap.dedent(ENTRY))
    return p


@pytest.mark.parametrize(("func", "msg"), [
    ("frozen", "no parameters with requires_grad=True"),
    ("scalar", "returned a scalar"),
    ("missing", "without forget"),
    ("notadict", "must return a dict"),
    ("boom", "failed: RuntimeError: kaput"),
    ("nope", "has no function 'nope'"),
])
def test_cli_errors_are_one_line(entry_file, capsys, func, msg):
    rc = main(["diagnose", "--entry", f"{entry_file}:{func}", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_bad_entry_spec(capsys):
    assert main(["diagnose", "--entry", "no_colon_here"]) == 2
    assert "module:function" in capsys.readouterr().err
    assert main(["diagnose", "--entry", "surely_not_a_module_xyz:f"]) == 2
    assert "cannot import module" in capsys.readouterr().err
