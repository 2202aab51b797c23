r"""Claims: the unit a user sees.  ``verify``, ``table`` and the docs are views of one registry.

A claim's check returns *numbers*, never a verdict: one or more :class:`Comparison` objects
(predicted and observed values as floats or arrays, standard errors where the kind needs them),
side conditions and evidence.  The policy of the claim's kind (:mod:`numerics.verify.claims.policy`)
computes the error and the verdict, so every claim of a kind is judged by the same rule, NaN never
passes, and a check that examined nothing fails.

Writing a claim
---------------
A claim is a check function and one :func:`register` call in a module of
:mod:`numerics.verify.claims` (a new module there is discovered; nothing else is edited: the
test suite runs every registered claim at its ``quick`` scale, ``verify``, the ``claims`` table
and the documentation list it)::

    import numpy as np

    from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, register
    from numerics.verify.claims.policy import Kind, Notion


    def _check(scale: str) -> CheckOutcome:
        n = {"quick": 3, "default": 50, "large": 5000}[scale]
        theory = n * (n + 1) / 2                      # the closed form
        exact = float(np.arange(1, n + 1).sum())      # an independent route: enumeration
        return CheckOutcome([Comparison("1 + ... + n", theory, exact)], evidence={"n": n})


    register(Claim("C99", "Gauss's sum", r"$1+\dots+n=n(n+1)/2$",
                   Kind.IDENTITY, Notion.ALGEBRAIC, "SPEC §0 [example]", _check))

The kind fixes what ``predicted`` and ``observed`` mean (a bound and the exact value, a direction
and sequences, an estimate and its standard errors...: see :class:`Comparison`).  A tolerance
other than the kind's default is a :class:`~numerics.verify.claims.policy.Tolerance` with its
reason, passed as ``tolerance_override``.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from numerics.verify.claims.policy import (
    Comparison,
    Kind,
    Notion,
    Tolerance,
    Verdict,
    judge,
    tolerance,
)

__all__ = ["SCALES", "CheckOutcome", "ClaimResult", "Claim", "Comparison", "register",
           "registry", "claim_sort_key"]

#: Configurations: ``quick`` (test suite), ``default`` (CPU, under 2 minutes for all claims),
#: ``large`` (meant for a GPU or a cluster).
SCALES: tuple[str, ...] = ("quick", "default", "large")


@dataclass
class CheckOutcome:
    """What a check function returns: its comparisons, side conditions and evidence.

    Attributes
    ----------
    comparisons:
        The predicted and observed numbers (at least one; each must examine something).
    evidence:
        Anything that helps a reader judge the result (JSON-serialisable).
    conditions:
        Named side conditions of the statement; a false one fails the claim.
    display:
        ``(predicted, observed)`` one-line summaries for the ``verify`` table; by default the
        value itself when a single number is compared, else a count of values.
    """

    comparisons: Sequence[Comparison]
    evidence: dict[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, bool] = field(default_factory=dict)
    display: tuple[Any, Any] | None = None

    def summary(self) -> tuple[Any, Any]:
        """The ``(predicted, observed)`` shown in the table."""
        if self.display is not None:
            return self.display
        if len(self.comparisons) == 1 and self.comparisons[0].observed.size == 1:
            c = self.comparisons[0]
            pred = c.predicted.ravel()
            return (float(pred[0]) if pred.size == 1 else pred.tolist(),
                    float(c.observed.ravel()[0]))
        total = sum(int(c.observed.size) for c in self.comparisons)
        return (f"{len(self.comparisons)} comparison(s)", f"{total} values")


@dataclass
class ClaimResult:
    """A claim's verdict: predicted vs observed, the error, the tolerance and pass/fail.

    ``predicted`` / ``observed`` are the one-line summaries; ``comparisons`` holds the numbers
    (lists of floats), ``examined`` the count of values per comparison and ``problems`` the reasons
    for failing beyond the error (nothing examined, a failed condition, an exception).
    """

    claim_id: str
    title: str
    kind: str
    notion: str
    source: str
    predicted: Any
    observed: Any
    error: float
    tolerance: float
    tolerance_meaning: str
    tolerance_reason: str
    passed: bool
    seconds: float
    evidence: dict[str, Any] = field(default_factory=dict)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    conditions: dict[str, bool] = field(default_factory=dict)
    examined: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary (for JSON)."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Claim:
    """A checkable statement of the theory.

    Attributes
    ----------
    claim_id: ``C1`` ...; title: one line; statement: the claim in words (LaTeX allowed);
    kind / notion: see :mod:`numerics.verify.claims.policy`; source: the SPEC provenance tag;
    check: ``check(scale) -> CheckOutcome`` with ``scale`` in :data:`SCALES`;
    tolerance_override: with its reason; command: the exact command that reproduces the claim.
    """

    claim_id: str
    title: str
    statement: str
    kind: Kind
    notion: Notion
    source: str
    check: Callable[[str], CheckOutcome]
    tolerance_override: Tolerance | None = None

    @property
    def command(self) -> str:
        """The command that reproduces this claim."""
        return f"unlearnstab verify --claim {self.claim_id}"

    @property
    def tolerance(self) -> Tolerance:
        """The tolerance in force (policy or stated override)."""
        return tolerance(self.kind, self.tolerance_override)

    def judge(self, outcome: CheckOutcome) -> Verdict:
        """The policy's verdict on ``outcome`` (kind, tolerance, conditions)."""
        return judge(self.kind, list(outcome.comparisons), self.tolerance, outcome.conditions)

    def run(self, scale: str = "default") -> ClaimResult:
        """Run the check at ``scale``; an exception becomes a failed result with its traceback.

        Parameters
        ----------
        scale:
            One of :data:`SCALES`.

        Returns
        -------
        ClaimResult
            The numbers, the policy's error and verdict, and the evidence.
        """
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
        tol = self.tolerance
        start = time.perf_counter()
        try:
            out = self.check(scale)
            verdict = self.judge(out)
            predicted, observed = out.summary()
        # a crashing check is a failing claim, reported, not hidden
        except Exception as exc:  # noqa: BLE001
            out = CheckOutcome([], {"exception": repr(exc), "traceback": traceback.format_exc()})
            verdict = Verdict(float("nan"), False, problems=(f"the check raised {exc!r}",))
            predicted = observed = None
        return ClaimResult(
            self.claim_id, self.title, self.kind.value, self.notion.value, self.source,
            predicted, observed, float(verdict.error), tol.value, tol.meaning, tol.reason,
            bool(verdict.passed), time.perf_counter() - start, out.evidence,
            comparisons=[{**c.as_dict(), "examined": verdict.examined[c.name],
                          "measure": verdict.parts[c.name]} for c in out.comparisons],
            conditions={k: bool(v) for k, v in out.conditions.items()},
            examined=dict(verdict.examined), problems=list(verdict.problems),
        )


_REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add ``claim`` to the registry (ids are unique)."""
    if claim.claim_id in _REGISTRY:
        raise ValueError(f"claim {claim.claim_id} is registered twice")
    _REGISTRY[claim.claim_id] = claim
    return claim


def registry() -> dict[str, Claim]:
    """All registered claims, loading the claim modules on first use, sorted by number."""
    from numerics.verify.claims import load_all

    load_all()
    return dict(sorted(_REGISTRY.items(), key=lambda kv: claim_sort_key(kv[0])))


def claim_sort_key(claim_id: str) -> tuple[int, str]:
    """Natural order: C1, C1.a, C2, ..., C10."""
    head, _, tail = claim_id.partition(".")
    digits = "".join(ch for ch in head if ch.isdigit())
    return (int(digits) if digits else 10**6, tail)
