r"""A small CNN on scikit-learn's digits: why "resists" overstated the safe step size.

The network is ``Conv2d(1, c, 3) -> ReLU -> flatten -> Linear(c (s-2)^2, 10)`` on the
:math:`s\times s` images (:math:`s=8`, or 4 when pooled), cross-entropy, trained full-batch with
Adam in float64 from ``seed``.  The forget set is every training sample of one digit and
:math:`\alpha=0` (fine-tuning on the retain set), so every verdict concerns the retain curvature
alone.  ``diagnose`` runs on the Gauss--Newton route (the one a user of a network gets by default
on cross-entropy) and the verdict of the exact route (exact Hessians on a Lanczos subspace,
:data:`EXACT_ROUTE`) is recorded beside it.

Measured (``docs/results/cnn_trust.md``; P = 750, :math:`\eta^\star_{ms}=38.8`): the runs
resist at 0.3 and 0.6 :math:`\eta^\star_{ms}` and collapse at 0.95 (forget loss 10--13, retain
accuracy at chance within 10--20 steps) while the exact linearised run stays within 0.39; the
run left the trust region before the event.  Cause (b) holds; the exact route's negative
curvature (:math:`\lambda_{\min}(\bar H_r)=-1.0\cdot10^{-4}`, "escapes at every step size")
is real but grows by a factor of about 2 in 200 steps.

The output is bilinear in the convolution and the linear weights, so the exact Hessian of a
sample carries the term :math:`\sum_c\partial_{f_c}\ell\,\nabla^2_\theta f_c` that the
Gauss--Newton matrix omits; it is indefinite, and at a minimum that training did not finish it
leaves small negative eigenvalues in :math:`\bar H_r`.  The study measures both candidate causes
of an overstated safe step size: (a) that omitted negative curvature (the exact route's verdict),
(b) the run leaving the region where the curvature at :math:`w^\star` describes it (the trust
radius of :mod:`numerics.apps.diagnose.trust`), each cell with the exact linearised run of
:func:`numerics.apps.examples.trust_cells.linear_run` beside the real one.

Usage::

    unlearnstab diagnose --entry numerics.apps.examples.cnn_digits:entry --quiet
    python -m numerics.apps.examples.cnn_digits --out docs/results/cnn_trust.md
"""

from __future__ import annotations

import ast
import sys
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from numerics.apps.examples import trust_cells
from numerics.apps.examples._markdown import fmt, markdown_table, table_main
from numerics.apps.examples.digits import load
from numerics.core.inputs import InputError

__all__ = ["CNNConfig", "OPTIONS", "ETA_MULTIPLES", "SEEDS", "EXACT_ROUTE", "COLUMNS",
           "make_model", "train", "make_entry", "entry", "study", "measure", "table",
           "recorded_configuration", "main"]

#: diagnose options of the example (the command line overrides them): alpha = 0, the
#: Gauss-Newton route, no deletion check (the study is about the verdict and the run).
OPTIONS: dict[str, Any] = {"alpha": 0.0, "batch_retain": 16, "batch_forget": 4,
                           "unlearn_steps": 200, "route": "ggn", "deletion": False}
#: Step sizes of the study, in units of the Gauss-Newton route's eta*_ms.
ETA_MULTIPLES: tuple[float, ...] = (0.3, 0.6, 0.95, 1.5, 2.0)
#: Batch seeds of the study.
SEEDS: tuple[int, ...] = (0, 1)
#: The exact route whose verdict is recorded beside the Gauss-Newton one (exact Hessians on a
#: Lanczos subspace, reported as ``matrix-free``).
EXACT_ROUTE = "subspace"
#: Columns of ``docs/results/cnn_trust.md``: (header, row key).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("eta/eta*_ms", "eta/eta*_ms"), ("eta", "eta"), ("seed", "seed"),
    ("verdict (GGN)", "verdict"), ("verdict (exact)", f"verdict ({EXACT_ROUTE})"),
    ("run", "run"), ("forget loss after", "forget loss after"),
    ("retain acc after", "retain acc after"), ("escape step", "steps to escape observed"),
    ("real distance", "real distance"), ("linear distance (max)", "linear distance (max)"),
    ("distance checked", "distance checked"), ("trust radius", "trust radius"),
    ("left at step", "left at step"), ("max departure", "max departure"))


@dataclass(frozen=True)
class CNNConfig:
    """Data, forget set, network and training schedule of the example.

    ``per_class`` training samples of each digit (images average-pooled by ``pool``: 1 keeps
    8x8); every sample of ``digit`` is forgotten; ``channels`` convolution filters of 3x3;
    ``steps`` full-batch Adam steps at ``lr``; float64, initialised from ``seed``.
    """

    per_class: int = 10
    digit: int = 3
    pool: int = 1
    channels: int = 2
    steps: int = 1000
    lr: float = 0.01
    seed: int = 0

    def validated(self) -> CNNConfig:
        """Checked copy."""
        trust_cells.check_digit_split(self.per_class, self.digit)
        if self.pool not in (1, 2):
            raise InputError(f"pool must be 1 (8x8 images) or 2 (4x4), got {self.pool}")
        if self.channels < 1 or self.steps < 0 or not self.lr > 0:
            raise InputError("channels must be at least 1, steps non-negative, lr positive")
        return self


_ce = trust_cells.cross_entropy


def make_model(side: int, channels: int, seed: int) -> torch.nn.Module:
    """``Conv2d(1, channels, 3) -> ReLU -> flatten -> Linear(.., 10)``, float64, from ``seed``.

    The initial weights are drawn in float32 whatever torch's default dtype (then cast), so
    the trained model does not depend on it.
    """
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    f32 = torch.float32
    model = torch.nn.Sequential(torch.nn.Conv2d(1, channels, 3, dtype=f32), torch.nn.ReLU(),
                                torch.nn.Flatten(),
                                torch.nn.Linear(channels * (side - 2) ** 2, 10, dtype=f32)
                                ).to(torch.float64)
    torch.random.set_rng_state(gen_state)
    return model


def train(X: torch.Tensor, y: torch.Tensor, cfg: CNNConfig) -> torch.nn.Module:
    """Full-batch Adam on the cross-entropy (deterministic, one thread)."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = make_model(X.shape[-1], cfg.channels, cfg.seed)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        for _ in range(int(cfg.steps)):
            opt.zero_grad()
            _ce(model(X), y).mean().backward()
            opt.step()
    finally:
        torch.set_num_threads(prev)
    return model


def make_entry(**overrides: Any) -> dict[str, Any]:
    """The entry dict (``model, loss, retain, forget, seed, options``) of :class:`CNNConfig`."""
    cfg = replace(CNNConfig(), **overrides).validated()
    side = 8 // cfg.pool
    X, y, r, f = trust_cells.digit_split(load(cfg.pool), cfg.per_class, cfg.digit, cfg.seed)
    X = X.reshape(-1, 1, side, side)
    model = train(X, y, cfg)
    return {"model": model, "loss": _ce, "retain": (X[r], y[r]), "forget": (X[f], y[f]),
            "seed": cfg.seed, "options": dict(OPTIONS)}


def entry() -> dict[str, Any]:
    """Default entry (see :data:`OPTIONS`; give ``--eta`` or ``--eta-rel`` for a run)."""
    return make_entry()


def study(cfg: CNNConfig | None = None, routes: tuple[str, ...] = (EXACT_ROUTE,),
          **options: Any) -> trust_cells.TrustStudy:
    """The entry of ``cfg`` with :data:`OPTIONS` (updated by ``options``) and the extra routes."""
    c = CNNConfig() if cfg is None else cfg
    return trust_cells.TrustStudy(make_entry(**asdict(c)), {**OPTIONS, **options}, routes)


def measure(cfg: CNNConfig | None = None, multiples: tuple[float, ...] = ETA_MULTIPLES,
            seeds: tuple[int, ...] = SEEDS) -> tuple[float, list[dict[str, Any]]]:
    r""":math:`\eta^\star_{ms}` of the Gauss--Newton route and the rows at ``multiples`` of it."""
    s = study(cfg)
    star = trust_cells.eta_star(s)
    if star is None:
        raise InputError("the Gauss-Newton verdict has no eta*_ms (it escapes at every step "
                         "size): the study's step sizes are multiples of it")
    return star, trust_cells.measure(s, [m * star for m in multiples], seeds, star)


def table(cfg: CNNConfig | None = None, multiples: tuple[float, ...] = ETA_MULTIPLES,
          seeds: tuple[int, ...] = SEEDS) -> str:
    """The markdown of ``docs/results/cnn_trust.md``: the rows, then the configuration line."""
    c = CNNConfig() if cfg is None else cfg
    star, rows = measure(c, multiples, seeds)
    cols = [(head, lambda r, key=key: fmt(r[key])) for head, key in COLUMNS]
    lines = markdown_table(rows, cols)
    lines += ["", f"eta*_ms (Gauss-Newton route) = {star:.4g}; exact route: {EXACT_ROUTE}.",
              "", f"Configuration: {asdict(c)}; diagnose options {OPTIONS}; "
              f"multiples {tuple(multiples)}; seeds {tuple(seeds)}."]
    return "\n".join(lines) + "\n"


def recorded_configuration(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``CNNConfig`` and diagnose options recorded in a table written by :func:`table`."""
    for line in text.splitlines():
        if line.startswith("Configuration: "):
            cfg, rest = line[len("Configuration: "):].split("; diagnose options ", 1)
            opts = rest.split("; multiples ", 1)[0]
            return ast.literal_eval(cfg), ast.literal_eval(opts)
    raise ValueError("no 'Configuration: ...' line in the table")


def main(argv: list[str] | None = None) -> int:
    """Print the measured table (markdown), or write it to ``--out``."""
    return table_main(__doc__.splitlines()[0], table, argv)


if __name__ == "__main__":
    sys.exit(main())
