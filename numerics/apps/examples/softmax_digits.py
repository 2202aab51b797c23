r"""Softmax regression on scikit-learn's digits: a "resists" verdict that the real run overturns.

A linear softmax classifier (16 pooled pixels -> 10 classes, P = 170) is trained to a confident,
stationary point of the cross-entropy: full-batch Adam, the weights scaled by ``scale`` (logits
sharpened) and polished by more Adam steps (relative mean gradient about 0.006).  The forget set
is every training sample of one digit, and :math:`\alpha=0` (fine-tuning on the retain set: the
verdict concerns the retain curvature alone).

At such a point most samples are fitted with :math:`p\approx1`, their curvature
:math:`\operatorname{diag}(p)-pp^\top` nearly vanishes, and the mean curvature at
:math:`w^\star` comes from a few samples.  The minibatch gradients (the forcing term) move the
parameters by a few tenths in the first steps; that is enough to make other samples uncertain
and the curvature they contribute grows by orders of magnitude.  With :math:`\eta` near
:math:`\eta^\star_{ms}`, :math:`\eta\lambda_{\max}(A(\theta_t))` then exceeds the stability limit
that :math:`A(w^\star)` satisfied, and the run is thrown out of the quadratic region: the
mean-square verdict "resists below :math:`\eta^\star`" is true of the linearisation and false of
the run.  :mod:`numerics.apps.diagnose.trust` measures where the linearisation stops holding.

Usage::

    unlearnstab diagnose --entry numerics.apps.examples.softmax_digits:entry --quiet
    python -m numerics.apps.examples.softmax_digits --out docs/results/softmax_trust.md
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any

import torch

from numerics.apps.examples import trust_cells
from numerics.apps.examples._markdown import fmt, markdown_table, table_main
from numerics.apps.examples.digits import load
from numerics.core.inputs import InputError

__all__ = ["SoftmaxConfig", "OPTIONS", "COLUMNS", "train", "make_entry", "entry", "measure",
           "table", "main"]

#: diagnose options of the example (the command line overrides them): the step size is
#: 0.94 eta*_ms of this model (eta*_ms = 66.7), where the verdict is "resists".
OPTIONS: dict[str, Any] = {"alpha": 0.0, "eta": 63.0, "batch_retain": 16, "batch_forget": 4,
                           "unlearn_steps": 400, "route": "dense", "deletion": False}


@dataclass(frozen=True)
class SoftmaxConfig:
    """The data, the forget set and the training schedule of the example.

    ``per_class`` training samples of each digit (images average-pooled by 2 to 4x4); every
    sample of ``digit`` is forgotten.  Training: ``warm_steps`` full-batch Adam steps at
    ``warm_lr``, weights times ``scale``, then ``polish_steps`` at ``polish_lr``; float64,
    initialised from ``seed``.
    """

    per_class: int = 20
    digit: int = 3
    warm_steps: int = 3000
    warm_lr: float = 0.1
    scale: float = 3.0
    polish_steps: int = 1000
    polish_lr: float = 0.01
    seed: int = 0

    def validated(self) -> SoftmaxConfig:
        """Checked copy."""
        trust_cells.check_digit_split(self.per_class, self.digit)
        if not (self.scale > 0 and self.warm_lr > 0 and self.polish_lr > 0):
            raise InputError("scale and learning rates must be positive")
        return self


_ce = trust_cells.cross_entropy


def _adam(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(int(steps)):
        opt.zero_grad()
        _ce(model(X), y).mean().backward()
        opt.step()


def train(X: torch.Tensor, y: torch.Tensor, cfg: SoftmaxConfig) -> torch.nn.Module:
    """The confident softmax classifier of the module docstring (deterministic, one thread)."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(cfg.seed)
        model = torch.nn.Linear(X.shape[1], 10).to(torch.float64)
        torch.random.set_rng_state(gen_state)
        _adam(model, X, y, cfg.warm_steps, cfg.warm_lr)
        with torch.no_grad():
            for q in model.parameters():
                q.mul_(cfg.scale)
        _adam(model, X, y, cfg.polish_steps, cfg.polish_lr)
    finally:
        torch.set_num_threads(prev)
    return model


def make_entry(**overrides: Any) -> dict[str, Any]:
    """The entry dict (``model, loss, retain, forget, seed, options``)."""
    cfg = replace(SoftmaxConfig(), **overrides).validated()
    X, y, r, f = trust_cells.digit_split(load(2), cfg.per_class, cfg.digit, cfg.seed)
    model = train(X, y, cfg)
    return {"model": model, "loss": _ce, "retain": (X[r], y[r]), "forget": (X[f], y[f]),
            "seed": cfg.seed, "options": dict(OPTIONS)}


def entry() -> dict[str, Any]:
    """Default entry (see :data:`OPTIONS`)."""
    return make_entry()


def measure(etas: tuple[float, ...] = (20.0, 40.0, 63.0), seeds: tuple[int, ...] = (0, 1)
            ) -> list[dict[str, Any]]:
    r"""One row per (:math:`\eta`, seed): verdict, real run, exact linearised run, trust radius.

    :func:`numerics.apps.examples.trust_cells.measure` of :func:`entry` on its dense exact route.
    """
    base = {**OPTIONS, "prescribe": False, "steps_grid": 0, "progress": False}
    base.pop("eta")
    return trust_cells.measure(trust_cells.TrustStudy(make_entry(), base), etas, seeds)


#: Columns of ``docs/results/softmax_trust.md``.
COLUMNS = ("eta", "eta/eta*_ms", "seed", "verdict", "run", "forget loss after", "max forget loss",
           "real distance", "linear distance (max)", "trust radius", "left at step",
           "max departure")


def table() -> str:
    """The markdown of ``docs/results/softmax_trust.md`` (the rows of :func:`measure`)."""
    cols = [(c, lambda r, c=c: fmt(r[c])) for c in COLUMNS]
    return "\n".join(markdown_table(measure(), cols)) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the measured table (markdown), or write it to ``--out``."""
    return table_main(__doc__.splitlines()[0], table, argv)


if __name__ == "__main__":
    sys.exit(main())
