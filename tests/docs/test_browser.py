"""The built site and ``report.html`` as a reader sees them, in headless Chromium
(``docs/_ext/browsercheck.py``): the maths rendered, no page scrolls sideways at 1280 px, and no
request leaves the machine.  Screenshots of the main pages go to ``docs/_build/screenshots``.

Skipped only when no Chromium is installed (CI installs Debian's ``chromium``)."""

from __future__ import annotations

from pathlib import Path

import browsercheck
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(browsercheck.chromium() is None,
                                reason="no chromium executable (apt-get install chromium)")

ROOT = Path(__file__).resolve().parents[2]
#: The pages a reader opens first; their screenshots are kept for review.
MAIN_PAGES = ("index", "quickstart", "diagnose", "notions", "claims", "tables", "findings",
              "gallery_auto/index", "gallery_auto/plot_notions", "generated/theory/linear_exact")


def test_checker_sees_raw_tex_overflow_and_requests_leaving(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><head><link rel='stylesheet' href='https://cdn.example.org/x.css'></head><body>"
        "<p>raw \\(w^\\star\\)</p><pre>\\(in code is fine\\)</pre>"
        "<div style='width:2000px'>wide</div><img src='http://example.org/a.png'></body></html>")
    good = tmp_path / "good.html"
    good.write_text("<html><body><p>plain text, x -&gt; y</p><pre>\\(code\\)</pre></body></html>")
    bad_report, good_report = browsercheck.check_pages([page, good])
    assert len(bad_report.raw_math) == 1 and "w^\\star" in bad_report.raw_math[0]
    assert bad_report.overflow_px == 2000 - browsercheck.WIDTH + 8  # body margin 8 px
    assert bad_report.external == ["http://example.org/a.png", "https://cdn.example.org/x.css"]
    assert good_report.problems == []


def test_site_renders_offline_without_sideways_scrolling(built_site):
    pages = sorted(p for p in built_site.rglob("*.html") if "_modules" not in p.parts)
    assert len(pages) > 50
    main = {built_site / f"{name}.html" for name in MAIN_PAGES}
    assert main <= set(pages)
    shots = ROOT / "docs" / "_build" / "screenshots"
    reports = browsercheck.check_pages(sorted(main), shots)
    reports += browsercheck.check_pages([p for p in pages if p not in main])
    problems = [f"{r.url}: {line}" for r in reports for line in r.problems]
    assert not problems, "\n".join(problems[:30])
    rendered = {Path(r.url).stem: r.math_rendered for r in reports}
    # the pages with formulas typeset them (MathJax shipped with the build)
    assert rendered["index"] >= 3 and rendered["notions"] >= 5 and rendered["diagnose"] >= 5
    assert all(Path(r.screenshot).stat().st_size > 10_000 for r in reports[:len(main)])


def test_report_html_renders_offline(tmp_path):
    from numerics.apps.diagnose import DiagnoseOptions, diagnose_curvature
    from numerics.apps.diagnose.api import write_outputs

    rng = np.random.default_rng(1)
    u = rng.standard_normal((140, 30))
    u[:, :4] += 2.0 * rng.standard_normal((140, 1))
    report = diagnose_curvature(u[:120], u[120:], DiagnoseOptions.of(
        alpha=0.1, batch_retain=8, batch_forget=4, eta_rel=0.5))
    write_outputs(report, tmp_path)
    shots = ROOT / "docs" / "_build" / "screenshots"
    (rep,) = browsercheck.check_pages([tmp_path / "report.html"], shots)
    assert rep.problems == [] and rep.title == "unlearnstab diagnose"
