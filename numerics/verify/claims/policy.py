r"""The one tolerance policy, keyed by the kind of claim.

Every check compares a theory value with an independently computed one and passes when the error
is within the tolerance of its *kind*.  A claim may override its tolerance only with a stated
reason (:class:`Tolerance.reason`), which is printed with the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """Kinds of claim, each with its own pass rule."""

    IDENTITY = "identity"  #: two exact computations of one quantity agree to round-off
    TIGHT_THRESHOLD = "tight threshold"  #: a threshold sits exactly on the stability boundary
    UPPER_BOUND = "upper bound"  #: a bound is never below the exact value (no violations)
    LOWER_BOUND = "lower bound"  #: a bound is never above the exact value (no violations)
    BRACKET = "bracket"  #: lower <= exact <= upper on every instance
    MONOTONE = "monotone trend"  #: non-decreasing / non-increasing in a parameter
    SIGN = "sign"  #: the sign (escape vs resist) agrees on every cell
    STATISTICAL = "statistical"  #: a Monte-Carlo estimate agrees within k standard errors
    AGREEMENT = "agreement rate"  #: a fraction of grid cells agree with a prediction
    RANK_CORRELATION = "rank correlation"  #: a Spearman correlation has the predicted sign/size


class Notion(str, Enum):
    """Which notion of stability a number refers to (compare like with like)."""

    MEAN_SQUARE = "mean-square"  #: rho of the second-moment operator T
    ALMOST_SURE = "almost-sure"  #: top Lyapunov exponent of the random product
    TRAJECTORY = "finite-horizon trajectory"  #: the companion-code rule (growth within T steps)
    NONLINEAR = "nonlinear escape"  #: the real (nonlinear) unlearning run
    ALGEBRAIC = "algebraic"  #: no dynamics: an identity between formulas


@dataclass(frozen=True)
class Tolerance:
    """A pass rule: ``value`` is a relative error, a violation slack, a count of SEs, a rate..."""

    value: float
    meaning: str
    reason: str = "default policy for this kind"


#: The default tolerance of each kind.
POLICY: dict[Kind, Tolerance] = {
    Kind.IDENTITY: Tolerance(1e-9, "max relative error"),
    Kind.TIGHT_THRESHOLD: Tolerance(1e-8, "max |rho(T(eta*)) - 1| and relative error of eta*"),
    Kind.UPPER_BOUND: Tolerance(1e-10, "max relative violation"),
    Kind.LOWER_BOUND: Tolerance(1e-10, "max relative violation"),
    Kind.BRACKET: Tolerance(1e-10, "max relative violation of lower <= exact <= upper"),
    Kind.MONOTONE: Tolerance(1e-10, "max relative step against the predicted direction"),
    Kind.SIGN: Tolerance(1.0, "minimum fraction of cells whose sign agrees"),
    Kind.STATISTICAL: Tolerance(4.0, "max |estimate - exact| in standard errors"),
    Kind.AGREEMENT: Tolerance(0.95, "minimum fraction of cells that agree"),
    Kind.RANK_CORRELATION: Tolerance(0.8, "minimum |Spearman rho| in the predicted direction"),
}


def tolerance(kind: Kind, override: Tolerance | None = None) -> Tolerance:
    """The tolerance of ``kind``, or ``override`` (which must state its reason)."""
    if override is not None:
        if not override.reason or override.reason == POLICY[kind].reason:
            raise ValueError(f"a tolerance override for {kind.value!r} must state its reason")
        return override
    return POLICY[kind]


def passes(kind: Kind, error: float, tol: Tolerance) -> bool:
    """Apply the pass rule: errors below ``tol`` for error kinds, rates above it for rates."""
    if kind in (Kind.SIGN, Kind.AGREEMENT, Kind.RANK_CORRELATION):
        return error >= tol.value  # here "error" is the achieved rate / correlation
    return error <= tol.value
