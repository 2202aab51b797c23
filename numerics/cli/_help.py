"""The end of every sub-command's ``--help``: runnable examples and what the choices mean.

A command module may define ``EXAMPLES`` (a string of one or two command lines, each runnable as
shown from an empty directory) and ``NOTES`` (names of the shared notes below that explain its
choices).  :func:`finish` appends them as the help's epilog and gives every command ``--quiet``.
"""

from __future__ import annotations

import argparse
import textwrap
from types import ModuleType

from numerics.apps.diagnose.route_choice import SUBSPACE_MIN_P

__all__ = ["NOTES", "finish"]

#: Shared explanations, appended to the help of the commands that name them in ``NOTES``.
NOTES: dict[str, str] = {
    "sampling": (
        "sampling schemes (--sampling), how each step draws its batches:\n"
        "  wor        B distinct samples, without replacement (the default)\n"
        "  bernoulli  each sample joins independently with probability B/n (the batch size is\n"
        "             random, B on average); the batch mean divides by the nominal B\n"
        "  wr         B samples with replacement (a sample may repeat)"
    ),
    "notions": (
        "notions of stability (every number says which one it is):\n"
        "  mean-square  E|delta_t|^2 -> 0, i.e. rho(T(eta)) < 1 for the second-moment operator;\n"
        "               threshold eta*_ms (exact, from a generalised eigenproblem)\n"
        "  almost-sure  top Lyapunov exponent < 0: a typical trajectory returns; eta*_as >= eta*_ms\n"
        "  trajectory   the finite-horizon rule: escape when |w_t|^2 >= 1000 |w_0|^2 within T\n"
        "               steps, majority over repetitions (follows the almost-sure boundary)\n"
        "  nonlinear    the real unlearning run leaves the basin of the trained minimum"
    ),
    "scales": (
        "scales (--quick / --scale): quick takes seconds per claim, default is what the\n"
        "documentation reports, large is for a long run"
    ),
    "step_size": (
        "step sizes (--eta / --eta-rel), in the units you unlearn with or relative to curvature:\n"
        "  --eta E      the learning rate you unlearn with: one plain (S)GD step, no momentum,\n"
        "               on (1-alpha) L_retain - alpha L_forget; the same number as your\n"
        "               optimiser's lr (for Adam or momentum the effective step differs)\n"
        "  --eta-rel R  the same step relative to the retain curvature at w*:\n"
        "               eta = R * 2 / lambda_max(mean retain Hessian). R = 1 is the step at which\n"
        "               plain descent on the retain loss alone stops being stable, so R < 1 is a\n"
        "               step descent alone tolerates; useful when you do not know the scale\n"
        "  neither      the verdict gives the step sizes that resist (eta < eta*_ms)\n"
        "  the report gives the absolute eta and region.lambda_max_retain_mean, so\n"
        "  R = eta * lambda_max / 2 either way"
    ),
    "routes": (
        "curvature routes (--route; the report's curvature_route and route_reason):\n"
        f"  auto          P <= {SUBSPACE_MIN_P} parameters: dense when the n P^2 floats fit (exact),\n"
        "                else Gauss-Newton factors; larger (or when neither fits): the\n"
        "                matrix-free subspace route, on Gauss-Newton products for a\n"
        "                cross-entropy-like loss and exact Hessian products otherwise\n"
        "  dense         exact per-sample Hessians (indefinite kept exactly)\n"
        "  ggn           Gauss-Newton factors J^T R per sample (omits the residual term)\n"
        "  subspace      exact Hessians on a grown Lanczos subspace (reported matrix-free)\n"
        "  subspace-ggn  Gauss-Newton matrices on that subspace (reported matrix-free-ggn)"
    ),
    "quiet": (
        "--quiet: no progress bars or notices on stderr; results and errors are still printed.\n"
        "Bars show only when stderr is a terminal; UNLEARNSTAB_PROGRESS=1 forces them"
    ),
}


def _epilog(module: ModuleType) -> str:
    parts: list[str] = []
    examples = getattr(module, "EXAMPLES", "").strip("\n")
    if examples:
        parts.append("examples:\n" + "\n".join("  " + line if line else line
                                               for line in examples.splitlines()))
    for key in getattr(module, "NOTES", ()):
        parts.append(NOTES[key])
    return "\n\n".join(parts)


def finish(parser: argparse.ArgumentParser, module: ModuleType) -> None:
    """Append the module's examples and notes to ``parser``'s help; add ``--quiet`` if missing.

    Parameters
    ----------
    parser:
        The sub-command's parser, as its module's ``register`` built it.
    module:
        The sub-command's module (read for ``EXAMPLES`` and ``NOTES``).
    """
    epilog = _epilog(module)
    if epilog:
        parser.epilog = epilog
        parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keeps the epilog's lines
        if parser.description:  # which the description then needs too
            parser.description = textwrap.fill(" ".join(parser.description.split()), 90)
    try:
        parser.add_argument("--quiet", action="store_true",
                            help="no progress bars or notices on stderr")
    except argparse.ArgumentError:  # the command defines its own --quiet
        pass
