r"""The one tolerance policy, keyed by the kind of claim.

Every check compares a theory value with an independently computed one.  The check returns the
numbers (:class:`Comparison`: predicted and observed values, standard errors where the kind needs
them); this module alone turns them into the claim's error measure (:func:`measure`) and its
verdict (:func:`judge`), with the tolerance of the claim's *kind*.  A claim may override its
tolerance only with a stated reason (:class:`Tolerance.reason`), which is printed with the result.

Three rules hold for every kind:

* errors aggregate with NaN propagating: one NaN value makes the error NaN, and NaN never passes;
* a comparison that examined nothing (no values, or a monotone sequence shorter than two) fails;
* a failed side condition (a check's ``conditions``) makes the error the worst value of its kind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike


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


#: Kinds whose measure is a rate or a correlation (higher is better); the others are errors.
RATE_KINDS: frozenset[Kind] = frozenset({Kind.SIGN, Kind.AGREEMENT, Kind.RANK_CORRELATION})

#: The measure of a kind when a side condition fails (the worst value the measure can take).
WORST: dict[Kind, float] = {**{k: math.inf for k in Kind if k not in RATE_KINDS},
                            Kind.SIGN: 0.0, Kind.AGREEMENT: 0.0, Kind.RANK_CORRELATION: -1.0}


def _floats(values: ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class Comparison:
    r"""One named set of predicted and observed values; the kind of the claim says how they compare.

    ================================  ==============================  ===============================
    kind                              ``predicted``                   ``observed``
    ================================  ==============================  ===============================
    identity, tight threshold         the theory values               the independent values
    upper bound / lower bound         the bound                       the exact values
    bracket                           ``[lower, upper]`` (2, ...)     the exact values
    monotone trend                    direction +1 / -1 (per row)     sequences, one per row
    sign, agreement rate              signed value (> 0: the event)   signed value (> 0: the event)
    statistical                       the exact values                estimates (``scale``: SEs)
    rank correlation                  direction +1 / -1               Spearman correlations
    ================================  ==============================  ===============================

    Parameters
    ----------
    name:
        What is compared (one line, shown with the result).
    predicted, observed:
        Float arrays (or scalars) that broadcast against each other.
    scale:
        The unit of a statistical deviation (standard errors, or a stated band); ``None`` otherwise.
    """

    name: str
    predicted: np.ndarray
    observed: np.ndarray
    scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "predicted", _floats(self.predicted))
        object.__setattr__(self, "observed", _floats(self.observed))
        if self.scale is not None:
            object.__setattr__(self, "scale", _floats(self.scale))

    def as_dict(self) -> dict[str, object]:
        """Plain lists (for JSON)."""
        return {"name": self.name, "predicted": self.predicted.tolist(),
                "observed": self.observed.tolist(),
                "scale": None if self.scale is None else self.scale.tolist()}


@dataclass(frozen=True)
class Verdict:
    """The policy's reading of a check: the measure, whether it passes, and why not.

    Attributes
    ----------
    error:
        The measure of the kind (an error, or a rate / correlation for :data:`RATE_KINDS`).
    passed:
        Within the tolerance, every comparison examined something, every condition holds.
    examined:
        Number of values examined per comparison name.
    parts:
        The measure of each comparison.
    problems:
        One line per reason the claim fails beyond its error (nothing examined, a condition).
    """

    error: float
    passed: bool
    examined: dict[str, int] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def _worst(values: np.ndarray, rate: bool) -> float:
    """Max (or min for rates) that propagates NaN; NaN for an empty array."""
    if values.size == 0:
        return math.nan
    return float(np.min(values) if rate else np.max(values))


def _over(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""How far ``a`` exceeds ``b`` relative to ``b``: :math:`a/b-1` (:math:`(a-b)/|b|` if b <= 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b - 1.0, (a - b) / np.abs(b))


def _under(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""How far ``a`` falls below ``b`` relative to ``b``: :math:`1-a/b` (:math:`(b-a)/|b|` if b <= 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, 1.0 - a / b, (b - a) / np.abs(b))


def _relative_error(p: np.ndarray, o: np.ndarray) -> np.ndarray:
    r""":math:`|o-p|/\max(|p|,\text{tiny})`."""
    return np.abs(o - p) / np.maximum(np.abs(p), np.finfo(np.float64).tiny)


def _monotone_steps(direction: np.ndarray, seqs: np.ndarray) -> np.ndarray:
    r"""Relative steps against ``direction``: :math:`-d\,(s_{k+1}-s_k)/|s_k|` along each row."""
    rows = np.atleast_2d(seqs)
    if rows.shape[0] == 0 or rows.shape[-1] < 2:
        return np.empty(0)
    d = direction.reshape(-1, 1) if direction.ndim else direction
    with np.errstate(divide="ignore", invalid="ignore"):
        return -d * (rows[:, 1:] - rows[:, :-1]) / np.abs(rows[:, :-1])


def _rate_values(p: np.ndarray, o: np.ndarray) -> np.ndarray:
    """1.0 where the events ``p > 0`` and ``o > 0`` agree, 0.0 where not, NaN where either is NaN."""
    p, o = np.broadcast_arrays(p, o)
    agree = ((p > 0) == (o > 0)).astype(np.float64)
    return np.where(np.isnan(p) | np.isnan(o), np.nan, agree)


def _statistical(c: Comparison) -> np.ndarray:
    r""":math:`|o-p|/s` (0 where :math:`s=0` and they agree, ``inf`` where they differ)."""
    if c.scale is None:
        raise ValueError(f"statistical comparison {c.name!r} needs its standard errors (scale)")
    diff = np.abs(c.observed - c.predicted)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / c.scale
    return np.where(c.scale == 0.0, np.where(diff == 0.0, 0.0, np.inf), z)


def deviations(kind: Kind, c: Comparison) -> np.ndarray:
    """The per-value deviations of ``c`` under the rule of ``kind`` (before aggregation).

    Parameters
    ----------
    kind:
        The kind of the claim.
    c:
        Its predicted and observed values.

    Returns
    -------
    numpy.ndarray
        Relative errors, relative violations, steps against the trend, z-scores, 0/1 agreement
        indicators or direction-signed correlations, depending on ``kind``.
    """
    p, o = c.predicted, c.observed
    if kind in (Kind.IDENTITY, Kind.TIGHT_THRESHOLD):
        return _relative_error(p, o)
    if kind is Kind.UPPER_BOUND:
        return _under(p, o)
    if kind is Kind.LOWER_BOUND:
        return _over(p, o)
    if kind is Kind.BRACKET:
        if p.shape[:1] != (2,):
            raise ValueError(f"bracket comparison {c.name!r}: predicted must be [lower, upper]")
        return np.maximum(_over(p[0], o), _under(p[1], o))
    if kind is Kind.MONOTONE:
        return _monotone_steps(p, o)
    if kind in (Kind.SIGN, Kind.AGREEMENT):
        return _rate_values(p, o)
    if kind is Kind.STATISTICAL:
        return _statistical(c)
    if kind is Kind.RANK_CORRELATION:
        return p * o
    raise ValueError(f"no rule for kind {kind!r}")


def measure(kind: Kind, c: Comparison) -> float:
    """The measure of one comparison: the worst deviation, or the rate of agreement.

    Errors are the largest deviation (clipped below at 0 for violations and trends: a bound with
    room to spare has error 0); agreement rates are the mean indicator; correlations the smallest.
    NaN propagates; a comparison that examined nothing measures NaN.

    Parameters
    ----------
    kind:
        The kind of the claim.
    c:
        The comparison.

    Returns
    -------
    float
        The measure (an error, or a rate / correlation for :data:`RATE_KINDS`).
    """
    dev = deviations(kind, c)
    if dev.size == 0:
        return math.nan
    if kind in (Kind.SIGN, Kind.AGREEMENT):
        return float(np.mean(dev))
    value = _worst(dev, kind in RATE_KINDS)
    if kind in (Kind.UPPER_BOUND, Kind.LOWER_BOUND, Kind.BRACKET, Kind.MONOTONE):
        value = float(np.maximum(value, 0.0))  # NaN stays NaN
    return value


def examined(kind: Kind, c: Comparison) -> int:
    """How many values ``c`` examined (steps for a monotone trend)."""
    return int(deviations(kind, c).size)


def passes(kind: Kind, error: float, tol: Tolerance) -> bool:
    """The pass rule: errors at most ``tol``, rates at least ``tol``; NaN never passes."""
    if math.isnan(error):
        return False
    if kind in RATE_KINDS:
        return error >= tol.value  # here "error" is the achieved rate / correlation
    return error <= tol.value


def judge(kind: Kind, comparisons: Sequence[Comparison], tol: Tolerance,
          conditions: Mapping[str, bool] | None = None) -> Verdict:
    """The verdict of a check: aggregate the comparisons and apply the pass rule.

    The error is the worst measure over the comparisons (max for errors, min for rates), NaN
    propagating; it becomes :data:`WORST` of the kind when a condition fails, and the claim fails
    when any comparison examined nothing (or there is none).

    Parameters
    ----------
    kind:
        The kind of the claim.
    comparisons:
        What the check returned.
    tol:
        The tolerance in force.
    conditions:
        Named side conditions of the claim (each must be true).

    Returns
    -------
    Verdict
        Error, pass/fail, values examined per comparison and the reasons for failing.
    """
    names = [c.name for c in comparisons]
    if len(set(names)) != len(names):
        raise ValueError(f"comparison names must be unique: {names}")
    problems: list[str] = []
    if not comparisons:
        problems.append("the check returned no comparison: it examined nothing")
    examined_n = {c.name: examined(kind, c) for c in comparisons}
    problems += [f"{name!r} examined nothing" for name, k in examined_n.items() if k == 0]
    parts = {c.name: measure(kind, c) for c in comparisons}
    values = np.array(list(parts.values()), dtype=np.float64)
    error = _worst(values, kind in RATE_KINDS)
    failed = [name for name, ok in (conditions or {}).items() if not ok]
    problems += [f"condition failed: {name}" for name in failed]
    if failed and not math.isnan(error):
        error = WORST[kind]
    if math.isnan(error) and not problems:
        problems.append("the error is NaN")
    ok = passes(kind, error, tol) and not problems
    return Verdict(error, ok, examined_n, parts, tuple(problems))
