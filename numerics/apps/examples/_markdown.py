"""Markdown tables of the worked examples (one formatter, so the docs' tables read alike)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["fmt", "markdown_table", "table_main"]


def fmt(v: Any, digits: int = 3) -> str:
    """``-`` for None, ``yes``/``no`` for booleans, ``digits`` significant digits for floats."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def markdown_table(rows: Sequence[dict[str, Any]],
                   cols: Sequence[tuple[str, Callable[[dict[str, Any]], str]]]) -> list[str]:
    """Pipe-table lines: a header of the column names, then one line per row."""
    lines = ["| " + " | ".join(h for h, _ in cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(fn(r) for _, fn in cols) + " |" for r in rows]
    return lines


def table_main(description: str, text: Callable[[], str], argv: Sequence[str] | None) -> int:
    """Command line of a docs table: print ``text()`` (markdown), or write it to ``--out FILE``.

    Parameters
    ----------
    description:
        The parser's description (the example's first docstring line).
    text:
        Measures and returns the table.
    argv:
        Arguments (``None``: ``sys.argv``).

    Returns
    -------
    int
        0.
    """
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=None, help="write the table to this file")
    args = parser.parse_args(argv)
    out = text()
    if args.out is None:
        print(out, end="")
    else:
        Path(args.out).write_text(out)
    return 0
