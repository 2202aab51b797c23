"""``unlearnstab verify``: run the registered claims and print predicted vs observed."""

from __future__ import annotations

import argparse
import json
import sys

from numerics.core.inputs import InputError
from numerics.core.serialise import jsonable
from numerics.sweep import run_sweep
from numerics.sweep.options import add_sweep_arguments, sweep_options
from numerics.verify.claims.base import SCALES, ClaimResult, registry
from numerics.verify.claims.cell import CLAIM_CELL, claim_configs, failed_result, result_from_record


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``verify`` parser."""
    p = sub.add_parser("verify", help="check the theory's claims numerically",
                       description="Run each claim's check (theory value vs an independent "
                                   "computation) and exit non-zero if any fails.")
    p.add_argument("--claim", nargs="+", metavar="ID", help="claim ids (default: all)")
    p.add_argument("--quick", action="store_true", help="the smallest configurations")
    p.add_argument("--scale", choices=SCALES, default=None,
                   help="configuration size (default: 'default'; --quick means 'quick')")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    add_sweep_arguments(p, quiet=False)
    p.set_defaults(func=run)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 28 else text[:25] + "..."


def print_table(results: list[ClaimResult], stream=None) -> None:
    """Aligned table: claim, kind, notion, predicted, observed, error, status (to stdout)."""
    stream = sys.stdout if stream is None else stream  # the stream in force now, not at import
    head = ["claim", "kind", "notion", "predicted", "observed", "error", "tol", "status", "s"]
    rows = [[r.claim_id, r.kind, r.notion, _fmt(r.predicted), _fmt(r.observed), _fmt(r.error),
             _fmt(r.tolerance), "PASS" if r.passed else "FAIL", f"{r.seconds:.1f}"]
            for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=False)), file=stream)
    print("  ".join("-" * w for w in widths), file=stream)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)), file=stream)


def select(claims: dict, wanted: list[str] | None) -> list[str]:
    """Claim ids matching ``wanted`` (``C1`` selects ``C1.a``, ``C1.b``...); all when empty."""
    if not wanted:
        return list(claims)
    out: list[str] = []
    for w in wanted:
        hits = [c for c in claims if c == w or c.startswith(w + ".")]
        if not hits:
            raise InputError(f"unknown claim id {w}; known: {', '.join(claims)}")
        out.extend(h for h in hits if h not in out)
    return out


def run(args: argparse.Namespace) -> int:
    """Run the selected claims; exit 1 if any fails."""
    claims = registry()
    ids = select(claims, args.claim)
    scale = args.scale or ("quick" if args.quick else "default")
    opts = sweep_options(args, progress=not (args.json or args.quiet))
    sweep = run_sweep(CLAIM_CELL, claim_configs(ids, scale), args.store, opts,
                      desc=f"verify ({scale})")
    results: list[ClaimResult] = [
        result_from_record(c.record, c.seconds) if c.ok and c.record is not None
        else failed_result(c.config["claim"], c.error or "", c.seconds)
        for c in sweep.cells]
    failed = [r.claim_id for r in results if not r.passed]
    if args.json:
        json.dump(jsonable([r.as_dict() for r in results]), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if not args.quiet:
            print_table(results)
            for r in results:
                if not r.passed and "exception" in r.evidence:
                    print(f"\n{r.claim_id} raised:\n{r.evidence['traceback']}", file=sys.stderr)
        status = "FAIL" if failed else "PASS"
        reused = f", {sweep.reused} reused from {sweep.store}" if sweep.reused else ""
        print(f"verify: {len(results) - len(failed)} passed, {len(failed)} failed"
              f" (scale={scale}{reused}) -> {status}")
    return 1 if failed else 0


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = """\
unlearnstab verify --claim C5 --quick        # one claim, seconds
unlearnstab verify --claim C1 C5 --quick --json > claims.json
"""
#: Shared notes explaining this command's choices.
NOTES = ('scales', 'notions')
