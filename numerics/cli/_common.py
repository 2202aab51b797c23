"""Helpers shared by the sub-commands: loading Hessian files and printing results."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from numerics.core.inputs import InputError, UnlearningConfig, check_alpha
from numerics.core.npz import read_arrays
from numerics.core.operator import SecondMomentOperator
from numerics.core.report import operator_report
from numerics.core.serialise import jsonable
from theory.sampling import sampling_help


def add_operator_arguments(parser: argparse.ArgumentParser, *, eta: bool = True) -> None:
    """The options shared by ``radius`` and ``threshold``."""
    parser.add_argument("--hessians", required=True, metavar="FILE.npz",
                        help="npz with 'retain' (n_r, d, d) and optionally 'forget' (n_f, d, d); "
                             "(n, d, k) factor arrays are accepted too (a square array is read "
                             "as Hessians unless --factors)")
    if eta:
        parser.add_argument("--eta", type=float, required=True, help="step size")
    parser.add_argument("--alpha", type=float, default=None,
                        help="mixing weight in [0, 1]; required when the file has a forget set "
                             "(0 ignores it), and only 0 without one")
    parser.add_argument("--batch-retain", type=int, default=1, metavar="BR")
    parser.add_argument("--batch-forget", type=int, default=1, metavar="BF")
    parser.add_argument("--sampling", default="wor", help=sampling_help())
    parser.add_argument("--method", default="auto", choices=["auto", "dense", "lanczos"])
    parser.add_argument("--factors", action="store_true",
                        help="read the arrays as (n, d, k) factors H_i = F_i F_i^T")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def load_operator(args: argparse.Namespace) -> SecondMomentOperator:
    """Build the operator from ``--hessians`` and the hyper-parameter options."""
    path = Path(args.hessians)
    data = read_arrays(path)
    forget = data.get("forget")
    alpha = None if args.alpha is None else check_alpha(args.alpha)
    if forget is None and alpha not in (None, 0.0):
        raise InputError(f"alpha = {args.alpha:g} > 0 but there is no forget set in {path} "
                         "(an array named 'forget')")
    if forget is not None and args.alpha is None:
        raise InputError(f"{path} has a forget set: give --alpha (the weight of its ascent; "
                         "--alpha 0 ignores it)")
    from numerics.core.inputs import as_pool

    def kind(arr: np.ndarray) -> bool | None:
        """--factors: factors; otherwise a square array is Hessians (also 1 x 1), else guessed."""
        if args.factors:
            return True
        return False if arr.ndim == 3 and arr.shape[1] == arr.shape[2] else None

    retain_pool = as_pool(data["retain"], "retain", factors=kind(data["retain"]))
    forget_pool = (as_pool(forget, "forget", factors=kind(forget)) if forget is not None
                   else None)
    cfg = UnlearningConfig(alpha or 0.0, args.batch_retain, args.batch_forget, args.sampling)
    return SecondMomentOperator(retain_pool, forget_pool, cfg)


def report_with_progress(op: SecondMomentOperator, args: argparse.Namespace,
                         label: str) -> dict[str, Any]:
    """:func:`~numerics.core.report.operator_report` as one phase with a progress bar.

    The bar (stderr, unless ``--quiet`` or stderr is not a terminal; see
    :mod:`numerics.core.progress`) appears after a second and states each matrix-free
    eigen-solve's operator applications and the seconds left of its time budget; Ctrl-C names
    the phase.
    """
    from numerics.core.progress import PhaseClock, PhaseSpec, progress_enabled

    clock = PhaseClock(progress_enabled(not getattr(args, "quiet", False)))
    with clock.phase(PhaseSpec(args.command, label)):
        return operator_report(op, eta=args.eta, method=args.method)


def check_figure_path(path: str, flag: str) -> Path:
    """``path`` when a figure can be written there: its directory exists, its extension is known.

    Checked before any work, so that a long run does not end in a traceback from matplotlib.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    p = Path(path)
    if not p.parent.is_dir():
        raise InputError(f"{flag} {p}: directory {p.parent} does not exist")
    kinds = FigureCanvasAgg.get_supported_filetypes()
    if p.suffix.lstrip(".").lower() not in kinds:
        raise InputError(f"{flag} {p}: unknown image extension {p.suffix or '(none)'!r}; use one "
                         f"of {', '.join(sorted(kinds))}")
    return p


def emit(record: dict[str, Any], as_json: bool) -> None:
    """Print ``record`` as JSON or as aligned ``key: value`` lines."""
    if as_json:
        json.dump(jsonable(record), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    width = max(len(k) for k in record)
    for key, value in record.items():
        if isinstance(value, float):
            value = f"{value:.10g}"
        print(f"{key:<{width}}  {value}")


def run_operator_report(args: argparse.Namespace) -> int:
    """``radius`` and ``threshold``: print the operator report of the parsed arguments; exit 0."""
    op = load_operator(args)
    emit(report_with_progress(op, args, "second-moment operator (eta*_ms, rho)"), args.json)
    return 0


#: The first lines of the ``radius``/``threshold`` examples: a small ``.npz`` of factors.
EXAMPLE_FACTORS = """\
python -c "import numpy as np; r = np.random.default_rng(0); \\
np.savez('H.npz', retain=r.normal(size=(20, 8, 1)), forget=r.normal(size=(4, 8, 1)))"
"""
