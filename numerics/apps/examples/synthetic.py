r"""The separate-sets family of SPEC §4.4 as a real model: the deletion standard vs the lens.

Linear regression :math:`f(w,x)=x^\top w` with per-sample loss
:math:`\ell_i=\frac12(x_i^\top w-y_i)^2` has per-sample Hessian exactly :math:`x_ix_i^\top`.  With
inputs :math:`x_i=u_i` taken from :func:`numerics.core.families.separate_sets` (retain: :math:`\sigma_r`
samples on the shared axis :math:`e_0`, the rest on private axes; forget: :math:`\sigma_f` on
:math:`e_0`, the rest on private, *memorised* axes) and interpolating targets
:math:`y_i=u_i^\top w_{\rm true}`.  The forget curvature :math:`\lambda_f=2` differs from the retain
one, :math:`\lambda_r=1`, so that no forget sample is an exact copy of a retain sample (``diagnose``
rejects a sample that is in both sets).  Then ``diagnose`` must reproduce the closed forms of
:mod:`theory.families`, and the deletion check can be run exactly: training is full-batch gradient
descent from a seeded initialisation, so retraining without the forget set leaves every direction
that only the forget set curves at its initial value.

Cases (``CASES``):

``aligned``
    every forget sample on the shared axis, :math:`\alpha<\alpha_c`: the lens says *resists*;
    retraining lands on the same weights, so by the deletion standard the model is already
    unlearned -- the reviewer's scenario;
``aligned_high_alpha``
    the same sets with :math:`\alpha>\alpha_c`: escapes at every step size, although there is
    nothing to remove -- unlearning only damages the shared direction;
``memorised``
    every forget sample on its own private axis: escapes for every :math:`\alpha>0`; retraining
    differs (those coordinates stay at their initial values), and the escape overshoots them.

Usage::

    unlearnstab diagnose --entry numerics.apps.examples.synthetic:entry_aligned --json
    python -m numerics.apps.examples.synthetic --table
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from numerics.apps.examples._markdown import fmt, markdown_table
from numerics.core.families import separate_sets
from numerics.core.inputs import InputError

__all__ = ["CASES", "make_entry", "entry_aligned", "entry_aligned_high_alpha",
           "entry_memorised", "train", "run_case", "table", "main"]

#: Family parameters and diagnose options of each case.
CASES: dict[str, dict[str, Any]] = {
    "aligned": {"family": {"n_r": 8, "n_f": 2, "sigma_r": 6, "sigma_f": 2, "lam_r": 1.0,
                           "lam_f": 2.0},
                "alpha": 0.1},
    "aligned_high_alpha": {"family": {"n_r": 8, "n_f": 2, "sigma_r": 6, "sigma_f": 2,
                                      "lam_r": 1.0, "lam_f": 2.0},
                           "alpha": 0.6},
    "memorised": {"family": {"n_r": 8, "n_f": 2, "sigma_r": 6, "sigma_f": 0, "lam_r": 1.0,
                             "lam_f": 2.0},
                  "alpha": 0.1},
}
#: Shared diagnose options (absolute step size; the start is perturbed because every per-sample
#: gradient vanishes at an interpolating minimum, where delta_0 = 0 never moves).
OPTIONS: dict[str, Any] = {"eta": 0.5, "batch_retain": 2, "batch_forget": 1,
                           "unlearn_steps": 300, "init_noise": 1e-3}
#: Gradient-descent steps of (re)training.
TRAIN_STEPS = 2000


class Linear(torch.nn.Module):
    r""":math:`f(w,x)=x^\top w`, float64, scalar output per sample."""

    def __init__(self, d: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        self.w = torch.nn.Parameter(torch.randn(d, generator=gen, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(n,)``."""
        return x @ self.w


def loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample half squared error."""
    return 0.5 * (out - target) ** 2


def train(inputs: torch.Tensor, targets: torch.Tensor, seed: int) -> torch.nn.Module:
    r"""Full-batch GD from the seeded initialisation, step :math:`1/\lambda_{\max}(X^\top X/n)`."""
    model = Linear(inputs.shape[1], seed)
    X, y = inputs.to(torch.float64), targets.to(torch.float64)
    gram = X.T @ X / X.shape[0]
    lr = 1.0 / float(torch.linalg.eigvalsh(gram)[-1])
    with torch.no_grad():
        for _ in range(TRAIN_STEPS):
            model.w -= lr * (X.T @ (X @ model.w - y)) / X.shape[0]
    return model


def make_entry(case: str = "aligned", seed: int = 0, rotation: int | None = 7) -> dict[str, Any]:
    """The entry dict of one case (``rotation``: seed of a random rotation of the axes)."""
    if case not in CASES:
        raise InputError(f"unknown case {case!r}; expected one of {', '.join(CASES)}")
    fam = CASES[case]["family"]
    ur, uf = separate_sets(fam["n_r"], fam["n_f"], fam["sigma_r"], fam["sigma_f"], fam["lam_r"],
                           fam["lam_f"], rotation=rotation)
    Xr, Xf = torch.as_tensor(ur[:, :, 0]), torch.as_tensor(uf[:, :, 0])
    gen = torch.Generator().manual_seed(1000 + int(seed))
    w_true = torch.randn(Xr.shape[1], generator=gen, dtype=torch.float64)
    X = torch.cat([Xr, Xf])
    y = X @ w_true
    model = train(X, y, seed)
    opts = dict(OPTIONS, alpha=CASES[case]["alpha"])
    return {"model": model, "loss": loss, "retain": (Xr, y[: len(Xr)]),
            "forget": (Xf, y[len(Xr):]), "train": train, "seed": seed, "options": opts}


def entry_aligned() -> dict[str, Any]:
    """Forget samples aligned with the retain signal, alpha < alpha_c."""
    return make_entry("aligned")


def entry_aligned_high_alpha() -> dict[str, Any]:
    """Aligned forget samples, alpha > alpha_c."""
    return make_entry("aligned_high_alpha")


def entry_memorised() -> dict[str, Any]:
    """Forget samples on private (memorised) axes."""
    return make_entry("memorised")


def run_case(case: str, seed: int = 0) -> dict[str, Any]:
    """``diagnose`` with unlearning and deletion check for one case; a flat row."""
    from numerics.apps.diagnose import DiagnoseOptions, diagnose

    e = make_entry(case, seed)
    opts = DiagnoseOptions.from_flat(dict(e["options"], progress=False, train_seed=e["seed"]))
    rep = diagnose(e["model"], e["loss"], e["retain"], e["forget"], opts, train=e["train"])
    u, d = rep.unlearning, rep.deletion
    fd = d["function_distance"]
    return {"report": rep, "row": {
        "case": case, "alpha": rep.config["alpha"], "verdict": rep.verdict_code,
        "alpha_c": rep.alpha_c, "eta": rep.eta, "eta_star_ms": rep.eta_star_ms, "rho": rep.rho,
        "escaped": u["escaped"], "retain_loss_after": u["retain_loss_after"],
        "d_forget_orig_re": fd["original-retrained"]["forget"],
        "d_retain_orig_re": fd["original-retrained"]["retain"],
        "param_orig_re": d["parameter_distance"]["original-retrained"],
        "d_forget_unl_re": fd["unlearned-retrained"]["forget"],
        "param_unl_re": d["parameter_distance"]["unlearned-retrained"],
        "already_met": d["already_met"], "standards": rep.standards}}


#: Columns of the markdown table (header, row key).
TABLE: tuple[tuple[str, str], ...] = (
    ("case", "case"), ("α", "alpha"), ("verdict", "verdict"), ("α_c", "alpha_c"),
    ("η*_ms", "eta_star_ms"), ("ρ(T) at η=0.5", "rho"), ("run escaped", "escaped"),
    ("retain loss after", "retain_loss_after"), ("d_F(orig, re)", "d_forget_orig_re"),
    ("‖θ*−θ_re‖", "param_orig_re"), ("deletion std met by orig", "already_met"),
    ("d_F(unl, re)", "d_forget_unl_re"), ("‖θ_unl−θ_re‖", "param_unl_re"),
)


def table(seed: int = 0) -> str:
    """The markdown table of ``docs/diagnose.md`` for the synthetic cases."""
    rows = [run_case(c, seed)["row"] for c in CASES]
    cols = [(h, lambda r, k=k: fmt(r[k])) for h, k in TABLE]
    lines = markdown_table(rows, cols)
    lines.append("")
    lines += [f"- **{r['case']}**: {r['standards']}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m numerics.apps.examples.synthetic --table``."""
    p = argparse.ArgumentParser(prog="python -m numerics.apps.examples.synthetic",
                                description="Synthetic families: the lens vs the deletion "
                                            "standard.")
    p.add_argument("--table", action="store_true", help="print the markdown table")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.table:
        print(table(args.seed))
    else:
        for c in CASES:
            print(c, run_case(c, args.seed)["report"].verdict)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
