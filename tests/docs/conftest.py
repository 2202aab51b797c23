"""The built documentation site, shared by the tests that read the HTML.

CI builds the site first (``.ci/run``) and points ``UNLEARNSTAB_DOCS_HTML`` at it; without that
variable the site is built here into ``docs/_build/html`` with the command CI runs, so that a
later build is incremental.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))  # the documentation tooling


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The directory of the built HTML site (built once per session when not given)."""
    given = os.environ.get("UNLEARNSTAB_DOCS_HTML")
    if given:
        path = Path(given)
        if not (path / "index.html").is_file():
            pytest.fail(f"UNLEARNSTAB_DOCS_HTML={given} holds no built site")
        return path
    out = ROOT / "docs" / "_build" / "html"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                           "html", "docs", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out
