"""``unlearnstab golden``: compare the derived expressions with their golden files, or re-bless."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from numerics.commands._common import jsonable
from numerics.golden import DEFAULT_DIR, check, format_entry, update


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``golden`` parser."""
    p = sub.add_parser(
        "golden", help="regression-test the derived expressions against their golden files",
        description="Derive every registered expression and compare it with its golden file "
                    "(srepr, LaTeX, values at reference points).  Algebraically equal rewrites "
                    "pass; changed, new or removed expressions print a diff and exit 1.  "
                    "--update re-blesses them after review.")
    p.add_argument("--update", action="store_true",
                   help="write the current derivations as the new golden files")
    p.add_argument("--name", nargs="+", metavar="NAME",
                   help="only these expressions (a prefix such as 'moments.wor' selects a group)")
    p.add_argument("--dir", type=Path, default=None, metavar="DIR",
                   help=f"golden directory (default: {DEFAULT_DIR.parent.parent.name}/golden/"
                        f"{DEFAULT_DIR.name})")
    p.add_argument("--verbose", action="store_true", help="also list unchanged expressions")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check (exit 1 on any change) or update (exit 0)."""
    progress = not (args.quiet or args.json)
    report = (update if args.update else check)(args.dir, args.name, progress=progress)
    failed = [] if args.update else report.failed
    if args.json:
        json.dump(jsonable({
            "directory": str(report.directory),
            "mode": "update" if args.update else "check",
            "counts": report.counts(),
            "passed": not failed,
            "written": report.written,
            "deleted": report.deleted,
            "entries": [e.as_dict() for e in report.entries],
        }), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 1 if failed else 0
    if not args.quiet:
        for e in report.entries:
            if args.verbose or e.status != "same":
                print(format_entry(e))
    counts = ", ".join(f"{v} {k}" for k, v in report.counts().items())
    if args.update:
        print(f"golden: wrote {len(report.written)}, deleted {len(report.deleted)} "
              f"in {report.directory} ({counts})")
        return 0
    verdict = "FAIL (review, then: unlearnstab golden --update)" if failed else "PASS"
    print(f"golden: {counts} -> {verdict}")
    return 1 if failed else 0
