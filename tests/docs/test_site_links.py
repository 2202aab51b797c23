"""Internal links and copy-pasteable options of the built site (``docs/_ext/sitecheck.py``)."""

from __future__ import annotations

import pytest
import sitecheck


@pytest.fixture(scope="module")
def pages(built_site):
    return sitecheck.html_pages(built_site)


def _site(tmp_path, pages: dict[str, str]):
    for name, body in pages.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return tmp_path


def test_checker_finds_a_missing_anchor_and_a_missing_file(tmp_path):
    root = _site(tmp_path, {
        "index.html": '<a href="a.html#x">ok</a><a href="a.html#nope">bad</a>'
                      '<a href="gone.html">gone</a><a href="https://example.org/#z">external</a>'
                      '<a href="#top">self</a><p id="top"></p>',
        "sub/a.html": '<a href="../a.html#x">ok</a><a href="../index.html#top">ok</a>',
        "a.html": '<h1 id="x">x</h1><a name="legacy"></a><a href="#legacy">ok</a>',
    })
    broken = sitecheck.broken_links(root)
    assert sorted((b.page, b.href, b.reason) for b in broken) == [
        ("index.html", "a.html#nope", "no such anchor"),
        ("index.html", "gone.html", "no such file"),
    ]


def test_checker_finds_an_option_turned_into_a_dash(tmp_path):
    root = _site(tmp_path, {"index.html": "<p>run unlearnstab verify \u2013claim C5 --quick; "
                                          "noise\u2013noise alignment</p><script>x \u2013y</script>"})
    assert sitecheck.dashed_options(root) == ["index.html: \u2013claim"]


def test_built_site_has_no_broken_internal_link(built_site, pages):
    assert len(pages) > 50  # the API and source pages are there
    broken = sitecheck.broken_links(built_site, pages)
    assert not broken, "\n".join(map(str, broken[:20]))


def test_built_site_shows_options_with_two_hyphens(built_site, pages):
    assert not sitecheck.dashed_options(built_site, pages)
    quick = (built_site / "quickstart.html").read_text(encoding="utf-8")
    assert "--claim" in quick and "\u2013claim" not in quick
