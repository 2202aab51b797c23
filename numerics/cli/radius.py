"""``unlearnstab radius``: the mean-square growth factor rho(T) at one step size."""

from __future__ import annotations

import argparse

from numerics.cli._common import (
    EXAMPLE_FACTORS,
    add_operator_arguments,
    run_operator_report,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``radius`` parser."""
    p = sub.add_parser("radius", help="spectral radius of the second-moment operator at --eta",
                       description="rho(T(eta)) on the active subspace, the mean-escape test and "
                                   "the exact mean-square threshold.")
    add_operator_arguments(p)
    p.set_defaults(func=run_operator_report)


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = EXAMPLE_FACTORS + """\
unlearnstab radius --hessians H.npz --factors \\
    --eta 0.3 --alpha 0.1 --batch-retain 4 --batch-forget 2
"""
#: Shared notes explaining this command's choices.
NOTES = ('sampling', 'notions')
