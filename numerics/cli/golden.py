"""``unlearnstab golden``: compare expressions and numeric thresholds with their golden files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from numerics.core.inputs import InputError
from numerics.core.serialise import jsonable
from numerics.verify import golden_thresholds
from numerics.verify.golden import DEFAULT_DIR, GoldenReport, check, format_entry, update


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``golden`` parser."""
    p = sub.add_parser(
        "golden", help="regression-test the derived expressions and thresholds against their "
                       "golden files",
        description="Derive every registered expression and compare it with its golden file "
                    "(srepr, LaTeX, values at reference points); recompute every threshold "
                    "that has no closed form (eta*_as, eta*_ms of non-commuting instances) at "
                    "its fixed points and compare with its golden values.  Algebraically equal "
                    "rewrites pass; changed, new or removed entries print a diff and exit 1.  "
                    "--update re-blesses them after review.")
    p.add_argument("--update", action="store_true",
                   help="write the current derivations as the new golden files")
    p.add_argument("--name", nargs="+", metavar="NAME",
                   help="only these expressions or thresholds (a prefix such as 'moments.wor' "
                        "selects a group)")
    p.add_argument("--dir", type=Path, default=None, metavar="DIR",
                   help=f"golden directory (default: {DEFAULT_DIR.parent.parent.name}/golden/"
                        f"{DEFAULT_DIR.name})")
    p.add_argument("--thresholds-dir", type=Path, default=None, metavar="DIR",
                   help="golden directory of the thresholds (default: tests/golden/"
                        f"{golden_thresholds.DEFAULT_DIR.name})")
    p.add_argument("--verbose", action="store_true",
                   help="also list unchanged expressions and skipped ones (with the reason)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    p.set_defaults(func=run)


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad arguments before any work.

    A golden directory that is missing (when checking) or a file, and a ``--name`` that selects
    nothing (it would check nothing and pass).
    """
    from numerics.verify.golden import selected
    from theory.catalog import expressions

    for flag, directory in (("--dir", args.dir), ("--thresholds-dir", args.thresholds_dir)):
        if directory is None:
            continue
        if directory.exists() and not directory.is_dir():
            raise InputError(f"{flag} {directory} is not a directory")
        if not args.update and not directory.exists():
            raise InputError(f"{flag} {directory} does not exist (--update creates it)")
    known = list(expressions()) + list(golden_thresholds.THRESHOLDS)
    if args.dir is not None and args.dir.is_dir():  # removed entries are names too
        known += [p.stem for p in args.dir.glob("*.json")]
    for name in args.name or ():
        if not any(selected(k, [name]) for k in known):
            raise InputError(f"no expression or threshold named {name!r} (nor a group of them; "
                             "e.g. 'moments.wor')")


def run(args: argparse.Namespace) -> int:
    """Check (exit 1 on any change) or update (exit 0)."""
    _check_arguments(args)
    progress = not (args.quiet or args.json)
    expr_report = (update if args.update else check)(args.dir, args.name, progress=progress)
    thr = golden_thresholds.update if args.update else golden_thresholds.check
    thr_report = thr(args.thresholds_dir, args.name, progress=progress)
    parts: list[tuple[str, GoldenReport, object]] = [
        ("expressions", expr_report, format_entry),
        ("thresholds", thr_report, golden_thresholds.format_threshold)]
    failed = [] if args.update else expr_report.failed + thr_report.failed
    if args.json:
        json.dump(jsonable({
            "mode": "update" if args.update else "check",
            "passed": not failed,
            **{label: {"directory": str(rep.directory), "counts": rep.counts(),
                       "written": rep.written, "deleted": rep.deleted,
                       "entries": [e.as_dict() for e in rep.entries]}
               for label, rep, _ in parts},
        }), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 1 if failed else 0
    if not args.quiet:
        for _, rep, fmt in parts:
            for e in rep.entries:
                if args.verbose or e.status not in ("same", "skipped"):
                    print(fmt(e))  # type: ignore[operator]
    counts = "; ".join(f"{label}: " + ", ".join(f"{v} {k}" for k, v in rep.counts().items())
                       for label, rep, _ in parts)
    if args.update:
        written = len(expr_report.written) + len(thr_report.written)
        deleted = len(expr_report.deleted) + len(thr_report.deleted)
        print(f"golden: wrote {written}, deleted {deleted} in {expr_report.directory} and "
              f"{thr_report.directory} ({counts})")
        return 0
    verdict = "FAIL (review, then: unlearnstab golden --update)" if failed else "PASS"
    print(f"golden: {counts} -> {verdict}")
    return 1 if failed else 0


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = """\
unlearnstab golden --name moments.wor     # one group of expressions
unlearnstab golden --quiet               # everything; exit 1 and a diff on a change
"""
