"""Every command of the landing page and the quick start runs as shown (``verify`` and ``table``
at the quick scale), and both audiences find their start there."""

from __future__ import annotations

import re
from pathlib import Path

import doccommands
import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ("index.rst", "quickstart.rst")


def _commands() -> list[str]:
    out: list[str] = []
    for page in PAGES:
        for line in doccommands.console_commands((DOCS / page).read_text(encoding="utf-8")):
            if line not in out:
                out.append(line)
    return out


def test_pages_show_commands_for_both_audiences():
    commands = _commands()
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    for audience in ("Will unlearning escape for my model, and when?", "Verify the theory"):
        assert audience in index
    for sub in ("diagnose", "verify", "table", "golden"):
        assert any(c.startswith(f"unlearnstab {sub}") for c in commands), sub
    assert any("--out" in c for c in commands if c.startswith("unlearnstab diagnose"))
    toctree = index.split(".. toctree::", 1)[1]
    assert toctree.index("diagnose") < toctree.index("claims")  # diagnose near the top
    skipped = [c for c in commands if not doccommands.runnable(c)]
    assert all(c.startswith(("pip ", "python3 -m sphinx")) for c in skipped), skipped


@pytest.mark.slow
@pytest.mark.parametrize("line", [c for c in _commands() if doccommands.runnable(c)])
def test_documented_command_runs_as_shown(line, tmp_path):
    status, out = doccommands.run_command(line, tmp_path, quick=True)
    assert status == 0, line
    if "--out diag/" in line:
        assert (tmp_path / "diag" / "report.html").is_file()
    if "> c1.json" in line:
        assert (tmp_path / "c1.json").read_text().lstrip().startswith("[")
    if line.startswith("unlearnstab diagnose") and "entry_memorised" in line:
        assert "escapes at every step size" in out


def test_quickstart_python_block_runs_and_its_comments_hold(capsys):
    text = (DOCS / "quickstart.rst").read_text(encoding="utf-8")
    block = re.search(r"\.\. code-block:: python\n\n(.*?)\n\S", text, re.S).group(1)
    scope: dict = {}
    exec(compile(re.sub(r"^   ", "", block, flags=re.M), "quickstart.rst", "exec"), scope)
    lam, eta_star, rho = (float(v) for v in capsys.readouterr().out.split())
    # independently: A = (1 - alpha) mean H_r - alpha mean H_f from the dense Hessians u u^T
    u = scope["U"][:, :, 0]
    h = np.einsum("ni,nj->nij", u, u)
    a = 0.9 * h[:9].mean(axis=0) - 0.1 * (0.25 * h[9:]).mean(axis=0)
    assert lam == pytest.approx(np.linalg.eigvalsh(a)[0], rel=1e-10) and lam > 0
    assert 0.1 < eta_star and rho < 1  # "< 1: resists" at eta = 0.1 below eta*_ms
