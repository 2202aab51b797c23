"""Every registered claim with its kind, notion, provenance, status and reproducing command."""

from __future__ import annotations

from numerics.verify.tables.base import BuildContext, Column, Table, TableSpec, register_table


def build(ctx: BuildContext, run: bool = True) -> Table:
    """One row per claim; ``status`` is the verdict of its check at ``ctx.scale`` when ``run``."""
    from numerics.verify.claims.base import registry
    from theory.catalog import provenance_kind

    claims = registry()
    outcomes = {}
    if run:  # the claims run as cells of the sweep engine, like ``unlearnstab verify``
        from numerics.sweep import run_sweep
        from numerics.verify.claims.cell import CLAIM_CELL, claim_configs

        sweep = run_sweep(CLAIM_CELL, claim_configs(list(claims), ctx.scale), desc="claims",
                          **ctx.sweep_kwargs())
        outcomes = {c.config["claim"]: c for c in sweep.cells}
    rows = []
    for cid, claim in claims.items():
        status = "not run"
        seconds = None
        if run:
            out = outcomes[cid]
            status = "PASS" if out.ok and out.record["passed"] else "FAIL"
            seconds = round(out.seconds, 1)
        rows.append({"claim": cid, "title": claim.title, "kind": claim.kind.value,
                     "notion": claim.notion.value, "provenance": provenance_kind(claim.source),
                     "source": claim.source, "status": status, "seconds": seconds,
                     "command": claim.command + ("" if ctx.scale == "default"
                                                 else f" --scale {ctx.scale}")})
    return Table(
        "claims", "Claims of the theory and their verification",
        [Column("claim", "claim"), Column("title", "statement"), Column("kind", "kind"),
         Column("notion", "notion"), Column("provenance", "provenance"),
         Column("source", "source"), Column("status", "status"),
         Column("command", "command")],
        rows, "per claim (column 'notion')", {"scale": ctx.scale, "claims": len(rows)}, [],
        "SPEC §6", tuple(claims),
        "Status is the verdict of each claim's check at this scale",
        seed_note="fixed inside each claim's check (see its module)",
    )


register_table(TableSpec("claims", "every claim: kind, notion, provenance, status, command",
                         (), build, (), "§6"))
