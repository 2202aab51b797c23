r"""Worked example on real data: scikit-learn's handwritten digits (bundled with the package).

A small ReLU MLP is trained full-batch (float64, fixed schedule) on a few hundred digits; a forget
set of one of four kinds is chosen; ``diagnose`` gives the verdict and prescriptions; the actual
gradient-difference unlearning is run; and the deletion check retrains without the forget set
(same seed and schedule).

Forget-set kinds:

``random``
    random training samples;
``class``
    every training sample of one digit;
``mislabeled``
    training samples whose label was flipped to a wrong digit *before* training (the model
    memorises them); the retain set is the clean rest;
``atypical``
    the training samples farthest from their class mean in input space;
``redundant``
    training samples with a near-twin of the same digit that stays in the retain set (closest
    same-class pairs, one of each pair forgotten; exact copies are excluded, since a sample may
    not be both kept and forgotten) -- the reviewer's "aligned" scenario on real data.

Inputs are the 8x8 images average-pooled to 4x4 by default (``pool=2``), which keeps the model
small (P = 334 with 12 hidden units): the active subspace of the curvature has dimension at most
P, and the exact second-moment operator is an :math:`r^2\times r^2` object.

Usage::

    unlearnstab diagnose --entry numerics.apps.examples.digits:entry_class --eta-rel 0.5
    python -m numerics.apps.examples.digits --table          # print the tables
    python -m numerics.apps.examples.digits --table --out docs/results/digits.md   # the docs' copy
    python -m numerics.apps.examples.digits --table --store digits-cells/ --executor processes

Each forget-set kind is one cell of the sweep engine (:func:`kind_cell`), so ``--store`` keeps the
finished kinds (an interrupted build resumes) and ``--executor`` runs kinds in parallel.

The docs include ``docs/results/digits.md`` as written by the last command (it takes about four
minutes on two CPU cores, too long for every docs build); the file records its configuration and
a test (:func:`recorded_configuration`) fails when the code's configuration no longer matches it.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from numerics.apps.examples._markdown import fmt as _fmt
from numerics.apps.examples._markdown import markdown_table
from numerics.core.inputs import InputError
from numerics.sweep.options import add_sweep_arguments, sweep_options

__all__ = ["DigitsConfig", "KINDS", "load", "make_model", "train", "make_entry", "entry",
           "entry_random", "entry_class", "entry_mislabeled", "entry_atypical",
           "entry_redundant", "run_kind", "kind_cell", "rows", "table", "recorded_configuration",
           "main"]

#: Forget-set kinds.
KINDS: tuple[str, ...] = ("random", "class", "mislabeled", "atypical", "redundant")


@dataclass(frozen=True)
class DigitsConfig:
    r"""Everything that defines one digits experiment.

    ``n_train`` training samples (balanced over the ten digits), ``n_test`` held-out ones;
    ``pool`` is the average-pooling factor of the 8x8 images; ``hidden`` the MLP width;
    ``loss`` ``ce`` (cross-entropy) or ``mse`` (half squared error to one-hot targets); training
    is ``steps`` full-batch Adam steps at ``lr`` from a ``seed``-ed initialisation.  ``n_forget``
    is the forget-set size (``class`` uses every sample of ``digit``).
    """

    n_train: int = 200
    n_test: int = 300
    pool: int = 2
    hidden: int = 12
    loss: str = "ce"
    steps: int = 1500
    lr: float = 0.01
    n_forget: int = 12
    digit: int = 3
    seed: int = 0

    def validated(self) -> DigitsConfig:
        """Checked copy."""
        if self.pool not in (1, 2, 4):
            raise InputError(f"pool must be 1, 2 or 4, got {self.pool}")
        if self.loss not in ("ce", "mse"):
            raise InputError(f"loss must be 'ce' or 'mse', got {self.loss!r}")
        if not 20 <= self.n_train <= 1200 or self.n_train % 10:
            raise InputError(f"n_train must be a multiple of 10 in [20, 1200], got {self.n_train}")
        if not 1 <= self.n_forget < self.n_train // 2:
            raise InputError(f"n_forget must be in [1, n_train/2), got {self.n_forget}")
        if not 0 <= self.digit <= 9:
            raise InputError(f"digit must be in 0..9, got {self.digit}")
        return self


def load(pool: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits as float64 features in [0, 1] (average-pooled by ``pool``) and labels."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    img = X.reshape(-1, 8 // pool, pool, 8 // pool, pool).mean(axis=(2, 4)) / 16.0
    return img.reshape(len(X), -1).astype(np.float64), y.astype(np.int64)


def make_model(n_in: int, hidden: int, seed: int) -> torch.nn.Module:
    """The MLP ``n_in -> hidden (ReLU) -> 10``, float64, initialised from ``seed``."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, 10)).to(torch.float64)
    torch.random.set_rng_state(gen_state)
    return model


#: diagnose options of the example (the entry's ``options``; the command line overrides them).
#: The Gauss-Newton route is chosen on purpose: cross-entropy on separable data has no minimum
#: at finite weights, so the trained network sits on a slope where the exact Hessian carries a
#: little negative curvature of unfinished training (about 1e-5 of the largest); the PSD
#: Gauss-Newton part isolates the curvature that unlearning adds.  The table reports the exact
#: route's verdict beside it.
OPTIONS: dict[str, Any] = {"alpha": 0.1, "eta_rel": 0.4, "batch_retain": 16, "batch_forget": 4,
                           "unlearn_steps": 400, "route": "ggn"}


def softmax(out: torch.Tensor) -> torch.Tensor:
    """Predicted class probabilities (the deletion check compares these, not logits)."""
    return torch.softmax(out, dim=-1)


def _loss_fn(kind: str):
    if kind == "ce":
        def ce(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.cross_entropy(out, t, reduction="none")

        return ce

    def mse(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((out - t) ** 2).sum(-1)

    return mse


def train(inputs: torch.Tensor, targets: torch.Tensor, seed: int, *, hidden: int = 12,
          steps: int = 1500, lr: float = 0.01, loss: str = "ce") -> torch.nn.Module:
    """Full-batch Adam for a fixed number of steps (the same schedule for every retraining)."""
    model = make_model(inputs.shape[1], hidden, seed)
    fn = _loss_fn(loss)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with _one_thread():
        for _ in range(int(steps)):
            opt.zero_grad()
            fn(model(inputs), targets).mean().backward()
            opt.step()
    return model


class _one_thread:
    """Tiny full-batch steps run fastest on one thread."""

    def __enter__(self) -> None:
        self.prev = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.prev)


def _redundant(X: np.ndarray, y: np.ndarray, count: int) -> np.ndarray:
    """One sample of each of the ``count`` closest distinct same-class pairs (greedy, disjoint)."""
    d = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=2)
    same = (y[:, None] == y[None, :]) & np.triu(np.ones_like(d, dtype=bool), k=1) & (d > 0)
    i, j = np.nonzero(same)
    order = np.argsort(d[i, j], kind="stable")
    used = np.zeros(len(y), dtype=bool)
    picked: list[int] = []
    for a, b in zip(i[order], j[order], strict=True):
        if not used[a] and not used[b]:
            used[a] = used[b] = True
            picked.append(int(b))
            if len(picked) == count:
                break
    return np.asarray(picked, dtype=np.int64)


def _split(cfg: DigitsConfig, kind: str) -> dict[str, Any]:
    X, y = load(cfg.pool)
    rng = np.random.default_rng(cfg.seed)
    per = cfg.n_train // 10
    train_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in range(10)])
    rest = np.setdiff1d(np.arange(len(y)), train_idx)
    test_idx = rng.permutation(rest)[: cfg.n_test]
    Xtr, ytr = X[train_idx], y[train_idx].copy()
    if kind == "random":
        forget = rng.choice(len(ytr), size=cfg.n_forget, replace=False)
    elif kind == "class":
        forget = np.flatnonzero(ytr == cfg.digit)
    elif kind == "mislabeled":
        forget = rng.choice(len(ytr), size=cfg.n_forget, replace=False)
        ytr[forget] = (ytr[forget] + 1 + rng.integers(0, 9, size=forget.size)) % 10
    elif kind == "atypical":
        centres = np.stack([Xtr[ytr == c].mean(axis=0) for c in range(10)])
        dist = np.linalg.norm(Xtr - centres[ytr], axis=1)
        forget = np.argsort(-dist, kind="stable")[: cfg.n_forget]
    elif kind == "redundant":
        forget = _redundant(Xtr, ytr, cfg.n_forget)
    else:
        raise InputError(f"unknown forget-set kind {kind!r}; expected one of {', '.join(KINDS)}")
    forget = np.sort(forget)
    retain = np.setdiff1d(np.arange(len(ytr)), forget)
    return {"X": Xtr, "y": ytr, "retain": retain, "forget": forget,
            "Xte": X[test_idx], "yte": y[test_idx]}


def make_entry(kind: str = "class", **overrides: Any) -> dict[str, Any]:
    """The entry dict (``model, loss, retain, forget, test, train, seed, options``) of one kind."""
    cfg = replace(DigitsConfig(), **overrides).validated()
    s = _split(cfg, kind)

    def targets(y: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(y)
        return torch.nn.functional.one_hot(t, 10).to(torch.float64) if cfg.loss == "mse" else t

    X = torch.as_tensor(s["X"])
    T = targets(s["y"])

    def train_fn(inputs: torch.Tensor, tgt: torch.Tensor, seed: int) -> torch.nn.Module:
        return train(inputs, tgt, seed, hidden=cfg.hidden, steps=cfg.steps, lr=cfg.lr,
                     loss=cfg.loss)

    model = train_fn(X, T, cfg.seed)
    r, f = torch.as_tensor(s["retain"]), torch.as_tensor(s["forget"])
    return {
        "model": model, "loss": _loss_fn(cfg.loss),
        "retain": (X[r], T[r]), "forget": (X[f], T[f]),
        "test": (torch.as_tensor(s["Xte"]), targets(s["yte"])),
        "train": train_fn, "seed": cfg.seed, "output_map": softmax,
        "options": dict(OPTIONS),
    }


def entry() -> dict[str, Any]:
    """Default entry: forget every training sample of one digit."""
    return make_entry("class")


def entry_random() -> dict[str, Any]:
    """Forget random training samples."""
    return make_entry("random")


def entry_class() -> dict[str, Any]:
    """Forget one digit."""
    return make_entry("class")


def entry_mislabeled() -> dict[str, Any]:
    """Forget mislabeled (memorised) samples."""
    return make_entry("mislabeled")


def entry_atypical() -> dict[str, Any]:
    """Forget the samples farthest from their class mean."""
    return make_entry("atypical")


def entry_redundant() -> dict[str, Any]:
    """Forget samples whose near-twin stays in the retain set."""
    return make_entry("redundant")


def run_kind(kind: str, *, diagnose_kw: dict[str, Any] | None = None, exact: bool = True,
             **overrides: Any) -> dict[str, Any]:
    """One table row for one forget-set kind.

    ``diagnose`` with the unlearning run and the deletion check, a run at the prescribed alpha,
    and (``exact``) the verdict of the exact dense route.
    """
    from numerics.apps.diagnose import DiagnoseOptions, diagnose
    from numerics.apps.diagnose.data import FlatModel, as_dataset
    from numerics.apps.diagnose.options import RunOptions
    from numerics.apps.diagnose.unlearn import gradient_difference
    from numerics.core.inputs import UnlearningConfig

    t0 = time.perf_counter()
    e = make_entry(kind, **overrides)
    kw = dict(e["options"])
    kw.update({"progress": False, "train_seed": e["seed"]})
    kw.update(diagnose_kw or {})
    rep = diagnose(e["model"], e["loss"], e["retain"], e["forget"], DiagnoseOptions.from_flat(kw),
                   test=e["test"], train=e["train"], output_map=e["output_map"])
    u, d = rep.unlearning or {}, rep.deletion or {}
    fd = d.get("function_distance", {})
    dis = d.get("disagreement", {})
    row = {
        "kind": kind, "n_forget": len(e["forget"][0]), "verdict": rep.verdict_code,
        "rho": rep.rho, "eta": rep.eta, "eta_star_ms": rep.eta_star_ms,
        "lambda_min_A": rep.lambda_min_A, "lambda_min_rel": rep.lambda_min_A
        / rep.region["lambda_max_retain_mean"], "alpha_c": rep.alpha_c,
        "sigma_r": rep.sigma_r, "sigma_f": rep.sigma_f, "sigma_rf": rep.sigma_rf,
        "sigma_joint": rep.sigma_joint, "out_of_span": rep.out_of_span_forget,
        "ms_steps_1000x": rep.witness_summary.get("ms_growth_steps_1000x"),
        "forget_loss_before": u.get("forget_loss_before"),
        "forget_loss_after": u.get("forget_loss_after"),
        "uninformative": u.get("uninformative_forget_loss"),
        "forget_acc_after": u.get("forget_acc_after"), "test_acc_before": u.get("test_acc_before"),
        "test_acc_after": u.get("test_acc_after"), "escaped": u.get("escaped"),
        "outcome": u.get("outcome"), "retain_acc_after": u.get("retain_acc_after"),
        "steps_predicted": rep.steps_to_escape_predicted,
        "steps_observed": rep.steps_to_escape_observed, "horizon": rep.horizon,
        "d_forget_orig_re": fd.get("original-retrained", {}).get("forget"),
        "d_test_orig_re": fd.get("original-retrained", {}).get("test"),
        "d_forget_unl_re": fd.get("unlearned-retrained", {}).get("forget"),
        "dis_forget_orig_re": dis.get("original-retrained", {}).get("forget"),
        "dis_test_orig_re": dis.get("original-retrained", {}).get("test"),
        "dis_forget_unl_re": dis.get("unlearned-retrained", {}).get("forget"),
        "param_orig_re": d.get("relative_parameter_distance", {}).get("original-retrained"),
        "param_unl_re": d.get("relative_parameter_distance", {}).get("unlearned-retrained"),
        "already_met": d.get("already_met"), "route": rep.curvature_route,
        "ggn_residual": rep.curvature.get("ggn_residual", {}).get("relative_median"),
    }
    # the prescription, applied in the real (nonlinear) dynamics
    pres = [p for p in rep.prescriptions if p["knob"] == "alpha" and p["goal"] == "resist"
            and p["value"] is not None and p["check"].get("flips")]
    at_eta = [p for p in pres if p["check"]["at"]["eta"] is not None]
    if at_eta:  # the largest alpha that resists at the same step size
        a_p, eta_p = float(at_eta[0]["value"]), rep.eta
    elif pres:  # just below alpha_c, at half its threshold
        a_p = float(pres[0]["value"])
        es = pres[0]["check"]["at"]["eta_star_ms"]
        eta_p = min(rep.eta, 0.5 * es) if es else rep.eta
    if pres:
        flat = FlatModel(copy.deepcopy(e["model"]))
        r_set, f_set = as_dataset(e["retain"], "retain"), as_dataset(e["forget"], "forget")
        run = gradient_difference(
            flat, e["loss"], r_set, f_set,
            UnlearningConfig(a_p, kw["batch_retain"], kw["batch_forget"], "wor"), eta_p,
            run=RunOptions(unlearn_steps=kw.get("unlearn_steps", 200), seed=0))
        row.update(alpha_presc=a_p, eta_presc=eta_p, eta_presc_rel=eta_p / rep.eta,
                   forget_loss_presc=run.record["forget_loss_after"],
                   escaped_presc=run.record["escaped"])
    if exact:
        ex = diagnose(e["model"], e["loss"], e["retain"], e["forget"], DiagnoseOptions.from_flat(
            {"eta": rep.eta, "alpha": kw["alpha"], "batch_retain": kw["batch_retain"],
             "batch_forget": kw["batch_forget"], "route": "dense", "prescribe": False,
             "unlearn_steps": 0, "deletion": False, "progress": False}))
        mc = ex.curvature.get("minimum_check", {})
        row.update(verdict_exact=ex.verdict_code,
                   lambda_min_rel_exact=ex.lambda_min_A / ex.region["lambda_max_retain_mean"],
                   min_check_exact=mc.get("relative"),
                   negative_fraction_exact=ex.curvature.get("negative_curvature_fraction"))
    row["seconds"] = time.perf_counter() - t0
    return {"report": rep, "row": row, "config": asdict(replace(DigitsConfig(), **overrides))}


def _pair(a: Any, b: Any) -> str:
    return f"{_fmt(a)} → {_fmt(b)}"


#: The two markdown tables of ``docs/diagnose.md``: (header, function of a row).
TABLE_DIAGNOSE: tuple[tuple[str, Any], ...] = (
    ("forget set", lambda r: r["kind"]), ("n_f", lambda r: str(r["n_forget"])),
    ("verdict (GGN)", lambda r: r["verdict"]),
    ("λ_min(A)/λ_max(H̄_r)", lambda r: _fmt(r["lambda_min_rel"])),
    ("ρ(T)", lambda r: _fmt(r["rho"], 5)),
    ("steps to 1000× (ms)", lambda r: _fmt(r["ms_steps_1000x"])),
    ("α_c", lambda r: _fmt(r["alpha_c"])), ("σ_f", lambda r: _fmt(r["sigma_f"])),
    ("σ_rf", lambda r: _fmt(r["sigma_rf"])),
    ("GGN residual (median)", lambda r: _fmt(r["ggn_residual"])),
    ("verdict (exact)", lambda r: r.get("verdict_exact", "-")),
    ("λ_min(A)/λ_max (exact)", lambda r: _fmt(r.get("lambda_min_rel_exact"))),
    ("λ_min(H̄)/λ_max (exact)", lambda r: _fmt(r.get("min_check_exact"))),
)
TABLE_OUTCOME: tuple[tuple[str, Any], ...] = (
    ("forget set", lambda r: r["kind"]),
    ("L_f before → after", lambda r: _pair(r["forget_loss_before"], r["forget_loss_after"])),
    ("uninformative L_f", lambda r: _fmt(r["uninformative"])),
    ("run outcome", lambda r: _fmt(r.get("outcome"))),
    ("steps to escape, predicted / observed (of K)",
     lambda r: f"{_fmt(r.get('steps_predicted'))} / {_fmt(r.get('steps_observed'))} "
               f"({_fmt(r.get('horizon'))})"),
    ("forget acc after", lambda r: _fmt(r["forget_acc_after"])),
    ("retain acc after", lambda r: _fmt(r.get("retain_acc_after"))),
    ("test acc", lambda r: _pair(r["test_acc_before"], r["test_acc_after"])),
    ("prescribed α", lambda r: _fmt(r.get("alpha_presc"))),
    ("L_f after (prescribed α)", lambda r: _fmt(r.get("forget_loss_presc"))),
    ("run escaped (prescribed α)", lambda r: _fmt(r.get("escaped_presc"))),
    ("d_F(orig, re)", lambda r: _fmt(r["d_forget_orig_re"])),
    ("d_test(orig, re)", lambda r: _fmt(r["d_test_orig_re"])),
    ("disagree F / test (orig, re)",
     lambda r: f"{_fmt(r['dis_forget_orig_re'], 2)} / {_fmt(r['dis_test_orig_re'], 2)}"),
    ("deletion std met by orig", lambda r: _fmt(r["already_met"])),
    ("d_F(unl, re)", lambda r: _fmt(r["d_forget_unl_re"])),
)


def kind_cell(config: dict[str, Any]) -> dict[str, Any]:
    """Sweep cell: the table row of ``config["kind"]`` under the other keys of ``config``.

    ``config`` holds ``kind`` and every field of :class:`DigitsConfig`; the row's ``seconds`` is
    left to the sweep engine, which records each cell's compute time.
    """
    from numerics.core.serialise import jsonable

    cfg = dict(config)
    kind = cfg.pop("kind")
    row = run_kind(kind, **cfg)["row"]
    row.pop("seconds", None)
    return jsonable(row)


def rows(kinds: tuple[str, ...] = KINDS, *, sweep: dict[str, Any] | None = None,
         **overrides: Any) -> list[dict[str, Any]]:
    """The table rows of ``kinds``, one sweep cell each.

    ``sweep`` holds keyword arguments (``store``, ``settings``...) of
    :func:`numerics.sweep.run_sweep`; with a
    ``store`` an interrupted build keeps the finished kinds and a rerun reuses them.

    Raises
    ------
    numerics.sweep.CellFailed
        When a kind raised (after the other kinds ran).
    """
    from numerics.sweep import CellFailed, run_sweep

    cfg = asdict(replace(DigitsConfig(), **overrides))
    configs = [{"kind": k, **cfg} for k in kinds]
    result = run_sweep("numerics.apps.examples.digits:kind_cell", configs, desc="digits kinds",
                       **(sweep or {}))
    if result.failed:
        raise CellFailed(result.failures)
    by_kind = {c.config["kind"]: c for c in result.cells}
    return [{**by_kind[k].record, "seconds": by_kind[k].seconds} for k in kinds]


def table(kinds: tuple[str, ...] = KINDS, *, sweep: dict[str, Any] | None = None,
          **overrides: Any) -> str:
    """The markdown tables of ``docs/diagnose.md`` (one row per kind; see :func:`rows`)."""
    found = rows(kinds, sweep=sweep, **overrides)
    cfg = replace(DigitsConfig(), **overrides)
    opts = ", ".join(f"{k}={v}" for k, v in OPTIONS.items())
    lines = ["Diagnosis:", ""] + markdown_table(found, TABLE_DIAGNOSE)
    lines += ["", "Actual unlearning and the deletion standard:", ""]
    lines += markdown_table(found, TABLE_OUTCOME)
    lines += ["", f"Configuration: {asdict(cfg)}; diagnose options {opts}; function distances "
                  f"on softmax outputs; {sum(r['seconds'] or 0.0 for r in found):.0f} s of "
                  "compute in all."]
    return "\n".join(lines)


def recorded_configuration(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``(DigitsConfig, OPTIONS)`` dictionaries recorded in a :func:`table` text.

    Raises
    ------
    ValueError
        When the text has no ``Configuration:`` line in the format :func:`table` writes.
    """
    import ast
    import re

    m = re.search(r"^Configuration: (\{.*?\}); diagnose options (.*?); function distances",
                  text, flags=re.M)
    if m is None:
        raise ValueError("no 'Configuration: {...}; diagnose options ...' line in the text")
    cfg = ast.literal_eval(m.group(1))
    opts: dict[str, Any] = {}
    for item in m.group(2).split(", "):
        key, _, value = item.partition("=")
        try:
            opts[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            opts[key] = value
    return cfg, opts


def _write_table(text: str, out: str, argv: list[str]) -> None:
    """Write the tables to ``out`` and record them in the directory's ``manifest.json``."""
    from pathlib import Path

    from numerics.core.manifest import record_outputs

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!-- generated by: python -m numerics.apps.examples.digits {' '.join(argv)} -->\n"
                    f"\n{text}\n", encoding="utf-8")
    cfg, opts = recorded_configuration(text)
    record_outputs(path.parent, [path.name], command=["python", "-m", "numerics.apps.examples.digits", *argv],
                   configuration={"digits": cfg, "diagnose": opts}, seeds=[cfg["seed"]])


def main(argv: list[str] | None = None) -> int:
    """``python -m numerics.apps.examples.digits --table [--kinds ...] [--out FILE]``."""
    p = argparse.ArgumentParser(prog="python -m numerics.apps.examples.digits",
                                description="Digits worked example of unlearnstab diagnose.")
    p.add_argument("--table", action="store_true", help="print the markdown results table")
    p.add_argument("--out", default=None,
                   help="with --table: write the tables to this file (and its directory's "
                        "manifest.json) instead of printing them")
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--n-train", type=int, default=DigitsConfig.n_train)
    p.add_argument("--hidden", type=int, default=DigitsConfig.hidden)
    p.add_argument("--loss", default=DigitsConfig.loss, choices=["ce", "mse"])
    p.add_argument("--seed", type=int, default=DigitsConfig.seed)
    add_sweep_arguments(p)  # --store DIR keeps finished kinds: an interrupted --table resumes
    args = p.parse_args(argv)
    over = {"n_train": args.n_train, "hidden": args.hidden, "loss": args.loss,
            "seed": args.seed}
    try:
        if args.table:
            text = table(tuple(args.kinds), sweep={"store": args.store,
                                                   "settings": sweep_options(args)}, **over)
            if args.out:
                _write_table(text, args.out, list(sys.argv[1:] if argv is None else argv))
            else:
                print(text)
        else:
            for k in args.kinds:
                print(run_kind(k, **over)["report"].verdict)
    except InputError as exc:
        print(f"digits: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
