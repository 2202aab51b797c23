"""Claims as sweep cells: ``verify`` runs each (claim, scale) through the sweep engine.

A claim's check is deterministic (its instances come from fixed seeds), so its result is a cell
record like any other: it can be stored, reused and computed on any executor.  The wall time is
not part of the record (it differs between runs); the engine keeps it beside the record.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from numerics.verify.claims.base import ClaimResult, registry

__all__ = ["CLAIM_CELL", "claim_cell", "claim_configs", "result_from_record", "failed_result"]

#: Dotted path of the claim cell.
CLAIM_CELL = "numerics.verify.claims.cell:claim_cell"


def claim_configs(ids: list[str], scale: str) -> list[dict[str, Any]]:
    """One cell configuration per claim id."""
    return [{"claim": cid, "scale": scale, "seed": 0} for cid in ids]


def claim_cell(config: dict[str, Any]) -> dict[str, Any]:
    """Run one claim at ``config['scale']``; the record is its result without the wall time."""
    claim = registry()[config["claim"]]
    rec = claim.run(config["scale"]).as_dict()
    rec.pop("seconds")
    return rec


def result_from_record(record: dict[str, Any], seconds: float) -> ClaimResult:
    """The :class:`ClaimResult` of a stored claim record (``seconds`` from the engine)."""
    names = {f.name for f in fields(ClaimResult)}
    return ClaimResult(**{k: v for k, v in record.items() if k in names and k != "seconds"},
                       seconds=seconds)


def failed_result(claim_id: str, error: str, seconds: float) -> ClaimResult:
    """A failing :class:`ClaimResult` for a claim cell that could not produce a record."""
    claim = registry()[claim_id]
    tol = claim.tolerance
    first = error.splitlines()[0] if error else "failed"
    return ClaimResult(claim_id, claim.title, claim.kind.value, claim.notion.value, claim.source,
                       None, None, float("nan"), tol.value, tol.meaning, tol.reason, False,
                       seconds, {"exception": first, "traceback": error},
                       problems=[f"the claim cell failed: {first}"])
