"""Claims: the unit a user sees.  ``verify``, ``table`` and the docs are views of one registry."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from numerics.verify.claims.policy import Kind, Notion, Tolerance, passes, tolerance

#: Configurations: ``quick`` (test suite), ``default`` (CPU, under 2 minutes for all claims),
#: ``large`` (meant for a GPU or a cluster).
SCALES: tuple[str, ...] = ("quick", "default", "large")


@dataclass
class CheckOutcome:
    """What a check function returns: the two sides, the error measure and evidence."""

    predicted: Any
    observed: Any
    error: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClaimResult:
    """A claim's verdict: predicted vs observed, the error, the tolerance and pass/fail."""

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
    check: ``check(scale) -> CheckOutcome`` with ``scale`` in :data:`SCALES`; tolerance_override: with its reason;
    command: the exact command that reproduces the claim.
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

    def run(self, scale: str = "default") -> ClaimResult:
        """Run the check at ``scale``; an exception becomes a failed result with its traceback."""
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
        tol = self.tolerance
        start = time.perf_counter()
        try:
            out = self.check(scale)
            ok = passes(self.kind, out.error, tol)
        except Exception as exc:  # a crashing check is a failing claim, reported, not hidden
            out = CheckOutcome(None, None, float("nan"),
                               {"exception": repr(exc), "traceback": traceback.format_exc()})
            ok = False
        return ClaimResult(
            self.claim_id, self.title, self.kind.value, self.notion.value, self.source,
            out.predicted, out.observed, float(out.error), tol.value, tol.meaning, tol.reason,
            bool(ok), time.perf_counter() - start, out.evidence,
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
