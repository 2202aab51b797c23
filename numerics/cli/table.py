"""``unlearnstab table``: generate the documentation tables from code (never typed by hand)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from numerics.core.inputs import InputError
from numerics.core.serialise import jsonable
from numerics.sweep.options import add_sweep_arguments, sweep_options
from numerics.verify.claims.base import SCALES
from numerics.verify.tables.base import BuildContext, TableSpec, table_registry, tables_for_claims
from numerics.verify.tables.render import EXTENSIONS, FORMATS, render


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``table`` parser."""
    p = sub.add_parser(
        "table", help="generate the tables a paper or the docs print",
        description="Build tables from the theory and the numerics, with their configuration "
                    "(notion, sizes, seeds) in the caption.  Without --out they are printed; "
                    "with --out each is written as DIR/<table>.<ext> next to a manifest.json.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--claim", nargs="+", metavar="ID",
                       help="the tables documenting these claims (C1 also selects C1.a ...)")
    which.add_argument("--table", nargs="+", metavar="NAME", help="tables by name")
    which.add_argument("--all", action="store_true", help="every table that can be built")
    which.add_argument("--list", action="store_true", help="list the tables and exit")
    p.add_argument("--format", nargs="+", choices=FORMATS, default=["md"], metavar="FMT",
                   help=f"one or more of {', '.join(FORMATS)} (default: md)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="write files and a manifest.json into DIR instead of printing")
    p.add_argument("--quick", action="store_true", help="the smallest configurations")
    p.add_argument("--scale", choices=SCALES, default=None,
                   help="configuration size (default: 'default'; --quick means 'quick')")
    p.add_argument("--seed", type=int, default=None, help="override the tables' base seeds")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bars or notices")
    add_sweep_arguments(p, quiet=False)
    p.set_defaults(func=run)


def select(args: argparse.Namespace) -> tuple[list[TableSpec], bool]:
    """The requested builders, and whether they were asked for explicitly."""
    specs = table_registry()
    if args.all or args.list:
        return list(specs.values()), False
    if args.table:
        unknown = [t for t in args.table if t not in specs]
        if unknown:
            raise InputError(f"unknown table {unknown[0]}; known: {', '.join(specs)}")
        return [specs[t] for t in args.table], True
    from numerics.verify.claims.base import registry

    claims = registry()
    for cid in args.claim:
        if not any(c == cid or c.startswith(cid + ".") or cid.startswith(c + ".")
                   for c in claims):
            raise InputError(f"unknown claim id {cid}; known: {', '.join(claims)}")
    chosen = tables_for_claims(args.claim)
    if not chosen:
        with_tables = sorted({c for s in specs.values() for c in s.claims})
        raise InputError(f"no table documents {' '.join(args.claim)}; claims with tables: "
                         f"{', '.join(with_tables)}")
    return chosen, True


def _list(specs: list[TableSpec], as_json: bool) -> int:
    rows = [{"table": s.table_id, "claims": list(s.claims), "section": s.section,
             "available": s.available, "reason": s.unavailable_reason(), "title": s.title}
            for s in specs]
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    width = max(len(s.table_id) for s in specs)
    for r in rows:
        state = "ready" if r["available"] else "waits: " + r["reason"].split("until ", 1)[-1]
        print(f"{r['table']:<{width}}  {','.join(r['claims']) or '-':<12} {r['title']}  [{state}]")
    return 0


def run(args: argparse.Namespace) -> int:
    """Build, render and print or write the tables; exit 1 if a requested table is unavailable."""
    specs, explicit = select(args)
    if args.list:
        return _list(specs, args.json)
    scale = args.scale or ("quick" if args.quick else "default")
    progress = not (args.quiet or args.json) and sys.stderr.isatty()
    settings = sweep_options(args, progress=progress)
    sweep = {"store": args.store, "executor": settings.executor, "workers": settings.workers,
             "scheduler": settings.scheduler, "retry_failed": settings.retry_failed,
             "chunk_size": settings.chunk_size}
    ctx = BuildContext(scale=scale, seed=args.seed, progress=progress, sweep=sweep)
    built: list[dict[str, Any]] = []
    missing: list[dict[str, str]] = []
    for spec in specs:
        if not spec.available:
            missing.append({"table": spec.table_id, "reason": spec.unavailable_reason()})
            if not (args.quiet or args.json):
                print(f"unlearnstab table: {spec.unavailable_reason()}", file=sys.stderr)
            continue
        built.append(_build_one(spec, ctx, args))
    if args.json:
        json.dump(jsonable({"scale": scale, "tables": built, "unavailable": missing}),
                  sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.out is not None and not args.quiet:
        for entry in built:
            print(f"{entry['table']}: {', '.join(entry['files'])}")
        if built:
            print(f"manifest: {built[0]['manifest']}")
    if explicit and missing:
        return 1
    return 0


def _build_one(spec: Any, ctx: BuildContext, args: argparse.Namespace) -> dict[str, Any]:
    """Build one table; print it or write its files (with their manifest); its JSON entry."""
    scale = ctx.scale
    if not (args.quiet or args.json):
        print(f"[{spec.table_id}] {spec.title} ...", file=sys.stderr, flush=True)
    table = spec.make(ctx)
    texts = {fmt: render(table, fmt) for fmt in args.format}
    entry: dict[str, Any] = {"table": table.table_id, "caption": table.caption, "files": []}
    if args.out is not None:
        from numerics.core.manifest import record_outputs

        args.out.mkdir(parents=True, exist_ok=True)
        for fmt, text in texts.items():
            path = args.out / f"{table.table_id}.{EXTENSIONS[fmt]}"
            path.write_text(text, encoding="utf-8")
            entry["files"].append(str(path))
        # names relative to --out: record_outputs reads relative paths from the directory
        entry["manifest"] = str(record_outputs(
            args.out, [Path(f).name for f in entry["files"]], configuration={
                "table": table.table_id, "scale": scale, "notion": table.notion,
                "formats": list(args.format), **table.config},
            seeds=table.seeds))
    elif not args.json:
        for text in texts.values():
            print(text)
    if args.json:
        entry["data"] = table.as_dict()
        if args.out is None:
            entry["rendered"] = texts
    return entry


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = """\
unlearnstab table --list
unlearnstab table --claim C5 --format md --quick
"""
#: Shared notes explaining this command's choices.
NOTES = ('scales',)
