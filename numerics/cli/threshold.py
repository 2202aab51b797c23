"""``unlearnstab threshold``: the exact stability thresholds of one configuration."""

from __future__ import annotations

import argparse

from numerics.cli._common import (
    EXAMPLE_FACTORS,
    add_operator_arguments,
    run_operator_report,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``threshold`` parser."""
    p = sub.add_parser("threshold", help="exact mean-square (and almost-sure) step-size threshold",
                       description="eta*_ms from the generalised eigenproblem Q x = mu L x, "
                                   "eta*_as when the family commutes, and the mean-escape test.")
    add_operator_arguments(p, eta=False)
    p.add_argument("--eta", type=float, default=None, help="also report rho(T) at this step")
    p.set_defaults(func=run_operator_report)


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = EXAMPLE_FACTORS + """\
unlearnstab threshold --hessians H.npz --factors \\
    --alpha 0.1 --batch-retain 4 --batch-forget 2 --json
"""
#: Shared notes explaining this command's choices.
NOTES = ('sampling', 'notions')
