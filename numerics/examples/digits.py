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
    the training samples farthest from their class mean in input space.

Inputs are the 8x8 images average-pooled to 4x4 by default (``pool=2``), which keeps the model
small (P = 334 with 12 hidden units): the active subspace of the curvature has dimension at most
P, and the exact second-moment operator is an :math:`r^2\times r^2` object.

Usage::

    unlearnstab diagnose --entry numerics.examples.digits:entry_class --eta-rel 0.5
    python -m numerics.examples.digits --table          # the table of docs/diagnose.md
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from numerics.inputs import InputError

__all__ = ["DigitsConfig", "KINDS", "load", "make_model", "train", "make_entry", "entry",
           "entry_random", "entry_class", "entry_mislabeled", "entry_atypical", "run_kind",
           "table", "main"]

#: Forget-set kinds.
KINDS: tuple[str, ...] = ("random", "class", "mislabeled", "atypical")


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
        "train": train_fn, "seed": cfg.seed,
        "options": {"alpha": 0.1, "eta_rel": 0.5, "batch_retain": 16, "batch_forget": 4},
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


def run_kind(kind: str, *, diagnose_kw: dict[str, Any] | None = None,
             **overrides: Any) -> dict[str, Any]:
    """Entry, ``diagnose`` (with unlearning and deletion check) and a flat table row."""
    from numerics.diagnose import diagnose

    t0 = time.perf_counter()
    e = make_entry(kind, **overrides)
    kw = dict(e["options"])
    kw.update({"progress": False, "train": e["train"], "train_seed": e["seed"],
               "test": e["test"]})
    kw.update(diagnose_kw or {})
    rep = diagnose(e["model"], e["loss"], e["retain"], e["forget"], **kw)
    u, d = rep.unlearning or {}, rep.deletion or {}
    fd = d.get("function_distance", {})
    row = {
        "kind": kind, "n_forget": len(e["forget"][0]), "verdict": rep.verdict_code,
        "rho": rep.rho, "eta_star_ms": rep.eta_star_ms, "lambda_min_A": rep.lambda_min_A,
        "alpha_c": rep.alpha_c, "sigma_f": rep.sigma_f, "sigma_rf": rep.sigma_rf,
        "sigma_joint": rep.sigma_joint, "out_of_span": rep.out_of_span_forget,
        "ms_steps_1000x": rep.witness_summary.get("ms_growth_steps_1000x"),
        "forget_loss_before": u.get("forget_loss_before"),
        "forget_loss_after": u.get("forget_loss_after"),
        "uninformative": u.get("uninformative_forget_loss"),
        "forget_acc_after": u.get("forget_acc_after"), "test_acc_after": u.get("test_acc_after"),
        "escaped": u.get("escaped"),
        "d_forget_orig_re": fd.get("original-retrained", {}).get("forget"),
        "d_test_orig_re": fd.get("original-retrained", {}).get("test"),
        "d_forget_unl_re": fd.get("unlearned-retrained", {}).get("forget"),
        "param_orig_re": d.get("relative_parameter_distance", {}).get("original-retrained"),
        "param_unl_re": d.get("relative_parameter_distance", {}).get("unlearned-retrained"),
        "already_met": d.get("already_met"), "route": rep.curvature_route,
        "seconds": time.perf_counter() - t0,
    }
    return {"report": rep, "row": row, "config": asdict(replace(DigitsConfig(), **overrides))}


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


#: Columns of the markdown table (header, row key).
TABLE: tuple[tuple[str, str], ...] = (
    ("forget set", "kind"), ("n_f", "n_forget"), ("verdict", "verdict"), ("ρ(T)", "rho"),
    ("α_c", "alpha_c"), ("σ_rf", "sigma_rf"), ("σ_joint", "sigma_joint"),
    ("out-of-span", "out_of_span"), ("steps to 1000×", "ms_steps_1000x"),
    ("L_f before → after", "_lf"), ("uninf. L_f", "uninformative"), ("escaped (run)", "escaped"),
    ("forget acc after", "forget_acc_after"), ("test acc after", "test_acc_after"),
    ("d_F(orig, re)", "d_forget_orig_re"), ("d_test(orig, re)", "d_test_orig_re"),
    ("d_F(unl, re)", "d_forget_unl_re"), ("deletion std met by orig", "already_met"),
)


def table(kinds: tuple[str, ...] = KINDS, **overrides: Any) -> str:
    """The markdown table of ``docs/diagnose.md`` (one row per kind)."""
    rows = [run_kind(k, **overrides)["row"] for k in kinds]
    head = "| " + " | ".join(h for h, _ in TABLE) + " |"
    sep = "|" + "|".join("---" for _ in TABLE) + "|"
    lines = [head, sep]
    for r in rows:
        r = dict(r, _lf=f"{_fmt(r['forget_loss_before'])} → {_fmt(r['forget_loss_after'])}")
        lines.append("| " + " | ".join(_fmt(r[k]) for _, k in TABLE) + " |")
    cfg = replace(DigitsConfig(), **overrides)
    lines.append("")
    lines.append(f"Configuration: {asdict(cfg)}; diagnose options alpha=0.1, eta_rel=0.5, "
                 f"B_r=16, B_f=4, 200 unlearning steps; route {rows[0]['route']}; "
                 f"{sum(r['seconds'] for r in rows):.0f} s in all.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m numerics.examples.digits --table [--kinds ...]``."""
    p = argparse.ArgumentParser(prog="python -m numerics.examples.digits",
                                description="Digits worked example of unlearnstab diagnose.")
    p.add_argument("--table", action="store_true", help="print the markdown results table")
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--n-train", type=int, default=DigitsConfig.n_train)
    p.add_argument("--hidden", type=int, default=DigitsConfig.hidden)
    p.add_argument("--loss", default=DigitsConfig.loss, choices=["ce", "mse"])
    p.add_argument("--seed", type=int, default=DigitsConfig.seed)
    args = p.parse_args(argv)
    over = {"n_train": args.n_train, "hidden": args.hidden, "loss": args.loss,
            "seed": args.seed}
    try:
        if args.table:
            print(table(tuple(args.kinds), **over))
        else:
            for k in args.kinds:
                print(run_kind(k, **over)["report"].verdict)
    except InputError as exc:
        print(f"digits: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
