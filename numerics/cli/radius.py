"""``unlearnstab radius``: the mean-square growth factor rho(T) at one step size."""

from __future__ import annotations

import argparse

from numerics.cli._common import add_operator_arguments, emit, load_operator
from numerics.core.report import operator_report


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``radius`` parser."""
    p = sub.add_parser("radius", help="spectral radius of the second-moment operator at --eta",
                       description="rho(T(eta)) on the active subspace, the mean-escape test and "
                                   "the exact mean-square threshold.")
    add_operator_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 0."""
    op = load_operator(args)
    emit(operator_report(op, eta=args.eta, method=args.method), args.json)
    return 0


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = """\
python -c "import numpy as np; r = np.random.default_rng(0); \\
np.savez('H.npz', retain=r.normal(size=(20, 8, 1)), forget=r.normal(size=(4, 8, 1)))"
unlearnstab radius --hessians H.npz --factors \\
    --eta 0.3 --alpha 0.1 --batch-retain 4 --batch-forget 2
"""
#: Shared notes explaining this command's choices.
NOTES = ('sampling', 'notions')
