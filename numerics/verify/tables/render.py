r"""Renderers: a :class:`~numerics.verify.tables.base.Table` as Markdown, rst, LaTeX, CSV or JSON.

Every format carries the caption (title, notion, configuration, seeds, source): as a paragraph
(Markdown), the ``list-table`` title (rst), ``\caption`` (LaTeX), ``#`` comment lines (CSV) or
the ``caption`` field (JSON).  CSV and JSON hold the raw values; the others the formatted text.
The output is a pure function of the table, so equal tables render to identical bytes.  LaTeX
output needs ``amsmath`` and ``amssymb`` (``\mathbb``, ``\operatorname``, ``\checkmark``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from numerics.verify.tables.base import Column, Table

__all__ = ["FORMATS", "EXTENSIONS", "render"]

#: Greek letters and symbols that captions use, with their LaTeX math form.
_UNICODE_MATH = {
    "σ": r"\sigma", "η": r"\eta", "α": r"\alpha", "ρ": r"\rho", "γ": r"\gamma", "λ": r"\lambda",
    "μ": r"\mu", "δ": r"\delta", "≤": r"\le", "≥": r"\ge", "×": r"\times", "→": r"\to",
    "∈": r"\in", "≈": r"\approx", "✓": r"\checkmark", "·": r"\cdot", "−": "-", "²": "^2",
}
_LATEX_SPECIAL = {"§": r"\S{}", "–": "--", "—": "---", "&": r"\&", "%": r"\%", "$": r"\$",
                  "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "\\": r"\textbackslash{}"}


def _header(col: Column, style: str) -> str:
    if not col.math:
        return col.header
    return {"md": f"${col.math}$", "rst": f":math:`{col.math}`",
            "latex": f"${col.math}$"}.get(style, col.header)


def _cell(col: Column, text: str, style: str) -> str:
    if col.fmt != "math" or text == "-":
        return _latex_text(text) if style == "latex" else (
            _rst_text(text) if style == "rst" else text)
    return {"md": f"${text}$", "rst": f":math:`{text}`", "latex": f"${text}$"}[style]


def _md_pipe(text: str) -> str:
    r"""Escape the pipes of a Markdown table cell (also inside math: ``|x|`` -> ``\|x\|``)."""
    return text.replace(r"\|", "|").replace("|", r"\|")


def _latex_text(text: str) -> str:
    """Escape LaTeX specials; typeset Greek letters and relations as inline math."""
    out = []
    for ch in text:
        if ch in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[ch])
        elif ch in _UNICODE_MATH:
            out.append(f"${_UNICODE_MATH[ch]}$")
        else:
            out.append(ch)
    return "".join(out)


def _rst_text(text: str) -> str:
    """Escape the inline-markup characters of reStructuredText."""
    for ch in ("\\", "*", "`", "|", "_"):
        text = text.replace(ch, "\\" + ch)
    return text


def render_md(table: Table) -> str:
    """GitHub-flavoured Markdown: a caption paragraph, then the pipe table."""
    head = [_md_pipe(_header(c, "md")) for c in table.columns]
    rows = [[_md_pipe(_cell(c, t, "md")) for c, t in zip(table.columns, r, strict=True)]
            for r in table.formatted_rows()]
    lines = [f"**Table {table.table_id}.** {table.caption}", "",
             "| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if c.fmt and c.fmt != "math" else ":---"
                            for c in table.columns) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def render_rst(table: Table, label: bool = True) -> str:
    """A ``list-table`` whose title is the caption, labelled ``table-<id>`` when ``label``."""
    lines = [f".. list-table:: {_rst_text(table.caption)}", "   :header-rows: 1"]
    if label:
        lines.append(f"   :name: table-{table.table_id}")
    lines.append("")
    rows = [[_header(c, "rst") for c in table.columns]]
    rows += [[_cell(c, t, "rst") for c, t in zip(table.columns, r, strict=True)]
             for r in table.formatted_rows()]
    for row in rows:
        for j, cell in enumerate(row):
            lines.append(("   * - " if j == 0 else "     - ") + (cell or r"\ "))
    return "\n".join(lines) + "\n"


def render_latex(table: Table) -> str:
    r"""A floating ``table`` with ``\caption``, ``\label{tab:<id>}`` and a ``tabular``."""
    align = "".join("r" if c.fmt and c.fmt != "math" else "l" for c in table.columns)
    lines = [r"\begin{table}[ht]", r"\centering", rf"\caption{{{_latex_text(table.caption)}}}",
             rf"\label{{tab:{table.table_id}}}", rf"\begin{{tabular}}{{{align}}}", r"\hline",
             " & ".join(_latex_text(c.header) if not c.math else _header(c, "latex")
                        for c in table.columns) + r" \\", r"\hline"]
    for r in table.formatted_rows():
        lines.append(" & ".join(_cell(c, t, "latex")
                                for c, t in zip(table.columns, r, strict=True)) + r" \\")
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def render_csv(table: Table) -> str:
    """Raw values under the column keys, after ``#`` comment lines holding the caption."""
    buf = io.StringIO()
    buf.write(f"# {table.table_id}: {table.caption}\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in table.columns])
    for r in table.rows:
        writer.writerow(["" if r.get(c.key) is None else _csv_value(r.get(c.key))
                         for c in table.columns])
    return buf.getvalue()


def _csv_value(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def render_json(table: Table) -> str:
    """The table's :meth:`~numerics.verify.tables.base.Table.as_dict`, indented."""
    from numerics.core.serialise import jsonable

    return json.dumps(jsonable(table.as_dict()), indent=2, ensure_ascii=False) + "\n"


_RENDERERS: dict[str, Callable[[Table], str]] = {
    "md": render_md, "rst": render_rst, "latex": render_latex, "csv": render_csv,
    "json": render_json,
}
#: Output formats, in the order ``--help`` lists them.
FORMATS: tuple[str, ...] = tuple(_RENDERERS)
#: File extension of each format.
EXTENSIONS: dict[str, str] = {"md": "md", "rst": "rst", "latex": "tex", "csv": "csv",
                              "json": "json"}


def render(table: Table, fmt: str) -> str:
    """Render ``table`` in ``fmt`` (one of :data:`FORMATS`)."""
    try:
        return _RENDERERS[fmt](table)
    except KeyError:
        raise ValueError(f"unknown table format {fmt!r}; expected one of "
                         f"{', '.join(FORMATS)}") from None
