r"""``report.html``: the ``diagnose`` report as one self-contained page.

The page holds the verdict, the numbers behind it with the notion each one belongs to, the
configuration, the figure (embedded as a base64 PNG), the prescriptions with their re-checks, the
actual unlearning run and the deletion check when they ran, and the notes.  It loads nothing:
no script, no font, no stylesheet and no image from anywhere else, so it can be mailed as one
file and opened offline.  Symbols are plain Unicode (ρ, η*, λ_min), not typeset maths.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from numerics import __version__

if TYPE_CHECKING:  # pragma: no cover
    from numerics.apps.diagnose.api import DiagnoseReport

__all__ = ["NUMBERS", "Number", "render", "write"]


@dataclass(frozen=True)
class Number:
    """One number of the report: its JSON key, symbol, notion and meaning."""

    key: str
    symbol: str
    notion: str
    meaning: str


#: The numbers of the report, in the order shown, each with its notion.
NUMBERS: tuple[Number, ...] = (
    Number("rho", "ρ(T(η))", "mean-square",
           "growth factor of E|δ|² per step at your η; < 1 resists, > 1 escapes"),
    Number("eta_star_ms", "η*_ms", "mean-square",
           "largest step size that resists (none: escapes at every step size)"),
    Number("lambda_min_A", "λ_min(A|V)", "mean (first moment)",
           "smallest curvature of the mean unlearning matrix on the active subspace; "
           "< 0: ascent wins and it escapes at every step size"),
    Number("lambda_max_A", "λ_max(A|V)", "mean (first moment)",
           "largest curvature of the mean unlearning matrix"),
    Number("alpha_c", "α_c", "mean (first moment)",
           "forget weight above which the mean escapes at every step size"),
    Number("ms_growth_steps_1000x", "T_1000", "mean-square, finite horizon",
           "steps for the mean square to grow 1000× at your η (escaping only)"),
    Number("sigma_r", "σ_r", "coherence (property of the curvature)",
           "alignment of the retain samples' curvature (1: private directions, n: shared)"),
    Number("sigma_f", "σ_f", "coherence (property of the curvature)",
           "alignment of the forget samples' curvature"),
    Number("sigma_rf", "σ_rf", "coherence (property of the curvature)",
           "alignment between retain and forget curvature"),
    Number("sigma_joint", "σ_joint", "coherence (property of the curvature)",
           "alignment of all samples' curvature together"),
    Number("active_dim", "dim V", "—", "dimension of the subspace the curvature spans"),
    Number("out_of_span_forget", "out-of-span", "—",
           "share of forget curvature outside the retain span (memorised directions)"),
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 max-width:1100px;margin:2rem auto;padding:0 1.2rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.3rem}h2{font-size:1.2rem;margin-top:2rem;
 border-bottom:1px solid #ddd;padding-bottom:.2rem}
.verdict{font-size:1.25rem;padding:.8rem 1rem;border-radius:6px;border-left:8px solid}
.escapes{background:#fdf0e6;border-color:#d55e00}.resists{background:#e8f3fa;border-color:#0072b2}
table{border-collapse:collapse;width:100%;font-size:.95rem}
td,th{border-bottom:1px solid #e3e3e3;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{font-family:ui-monospace,"DejaVu Sans Mono",monospace;
 white-space:nowrap}
.wrap{overflow-x:auto}figure{margin:1rem 0}img{width:100%;height:auto;border:1px solid #eee}
.flip{color:#0072b2;font-weight:600}.fail{color:#d55e00;font-weight:600}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.9rem}
pre{background:#f6f6f6;padding:.7rem;overflow-x:auto}footer{margin-top:2rem;color:#666;
 font-size:.85rem}
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _esc(value: Any) -> str:
    return html.escape(_fmt(value))


def _rows(rows: Sequence[Sequence[str]], head: Sequence[str]) -> str:
    out = ["<div class='wrap'><table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows]
    return "\n".join(out) + "</table></div>"


def _numbers(d: dict[str, Any]) -> str:
    values = dict(d)
    values["ms_growth_steps_1000x"] = (d.get("witness_summary") or {}).get("ms_growth_steps_1000x")
    rows = [[f"<td>{html.escape(n.symbol)}</td>", f"<td class='num'>{_esc(values.get(n.key))}</td>",
             f"<td>{html.escape(n.notion)}</td>", f"<td>{html.escape(n.meaning)}</td>"]
            for n in NUMBERS if n.key in values]
    return _rows(rows, ("quantity", "value", "notion", "meaning"))


def _config(d: dict[str, Any]) -> str:
    cfg = dict(d.get("config") or {})
    cfg["eta"] = d.get("eta")
    cfg["curvature route"] = d.get("curvature_route")
    omits = (d.get("curvature") or {}).get("omits")
    if omits:
        cfg["curvature omits"] = omits
    rows = [[f"<td>{html.escape(str(k))}</td>", f"<td class='num'>{_esc(v)}</td>"]
            for k, v in cfg.items()]
    return _rows(rows, ("setting", "value"))


def _prescriptions(d: dict[str, Any]) -> str:
    items = []
    for p in d.get("prescriptions") or []:
        flips = (p.get("check") or {}).get("flips")
        mark = ("" if flips is None else " <span class='flip'>[re-checked: flips]</span>"
                if flips else " <span class='fail'>[re-check failed]</span>")
        items.append(f"<li>{html.escape(str(p.get('text', '')))}{mark}</li>")
    return "<ul>" + "".join(items) + "</ul>" if items else "<p>None asked for.</p>"


def _runs(d: dict[str, Any]) -> str:
    parts = []
    u = d.get("unlearning")
    if u:
        parts.append(
            "<p><b>Actual unlearning run</b> (nonlinear): "
            f"{_esc(u.get('steps_taken'))} steps, forget loss {_esc(u.get('forget_loss_before'))}"
            f" → {_esc(u.get('forget_loss_after'))} (uninformative level "
            f"{_esc(u.get('uninformative_forget_loss'))}): "
            f"<b>{'escaped' if u.get('escaped') else 'resisted'}</b>.</p>")
    tr = d.get("trust")
    if tr:
        parts.append("<p><b>Trust radius of the linearisation</b> (along the run): "
                     f"{html.escape(str(tr.get('text', '')))}.</p>")
    dl = d.get("deletion")
    if dl:
        fd = (dl.get("function_distance") or {}).get("original-retrained", {})
        ref = dl.get("reference_set", "test")
        parts.append(
            "<p><b>Deletion check</b> (retraining without the forget set): "
            f"d_forget(original, retrained) = {_esc(fd.get('forget'))}, d_{html.escape(str(ref))}"
            f" = {_esc(fd.get(ref))}: standard "
            f"{'already met' if dl.get('already_met') else 'not met'}.</p>")
    if d.get("standards"):
        parts.append(f"<p>{html.escape(str(d['standards']))}</p>")
    return "\n".join(parts)


def render(report: DiagnoseReport | dict[str, Any], figures: Sequence[Path | str] = (),
           title: str = "unlearnstab diagnose") -> str:
    """The report as one HTML document with every figure embedded.

    Parameters
    ----------
    report:
        A :class:`~numerics.apps.diagnose.api.DiagnoseReport` or its :meth:`as_dict`.
    figures:
        PNG or SVG files to embed (``data:`` URIs; nothing is linked).
    title:
        The page title.

    Returns
    -------
    str
        The HTML text.
    """
    from numerics.core.serialise import jsonable

    d = report if isinstance(report, dict) else report.as_dict()
    d = jsonable(d)
    code = str(d.get("verdict_code") or "")
    kind = "escapes" if code.startswith("escapes") or d.get("escapes") else "resists"
    imgs = []
    for fig in figures:
        path = Path(fig)
        mime = "image/svg+xml" if path.suffix.lower() == ".svg" else "image/png"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        imgs.append(f"<figure><img alt='diagnose figure {html.escape(path.name)}' "
                    f"src='data:{mime};base64,{data}'></figure>")
    notes = "".join(f"<li>{html.escape(str(n))}</li>" for n in d.get("notes") or [])
    body = [
        f"<h1>{html.escape(title)}</h1>",
        "<p>Will gradient-difference unlearning escape the trained minimum (move the model) or "
        "be pulled back (resist)?  Verdict from the exact <b>mean-square</b> criterion of the "
        "dynamics linearised at the trained weights.</p>",
        f"<p class='verdict {kind}'><b>{html.escape(kind.upper())}</b>: "
        f"{html.escape(str(d.get('verdict', '')))}</p>",
        "<h2>Numbers and their notions</h2>", _numbers(d),
        "<h2>Figure</h2>", *imgs,
        "<h2>What would change the verdict</h2>", _prescriptions(d),
        "<h2>Configuration</h2>", _config(d),
    ]
    runs = _runs(d)
    if runs:
        body += ["<h2>Runs</h2>", runs]
    if notes:
        body += ["<h2>Notes</h2>", f"<ul>{notes}</ul>"]
    body += ["<details><summary>The full JSON report</summary><pre>"
             + html.escape(json.dumps(d, indent=2)) + "</pre></details>",
             f"<footer>unlearnstab {html.escape(__version__)} · self-contained report</footer>"]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write(report: DiagnoseReport | dict[str, Any], path: Path | str,
          figures: Sequence[Path | str] = ()) -> Path:
    """Write :func:`render`'s page to ``path`` (UTF-8) and return it."""
    out = Path(path)
    out.write_text(render(report, figures), encoding="utf-8")
    return out
