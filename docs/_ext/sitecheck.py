"""Checks of the built HTML site that Sphinx itself does not make.

* :func:`broken_links` -- every relative link of every page leads to an existing file and, when it
  has a ``#fragment``, to an element with that ``id`` (or ``<a name>``) in the target page.
  ``sphinx -b linkcheck`` checks external links only; a wrong anchor inside the site (for example
  a source-code page pointing at an object documented on another page) is invisible to it.
* :func:`dashed_options` -- visible text where an option's ``--`` became an en or em dash (smart
  quotes), so that a command copied from the page fails.

Run from the command line: ``python docs/_ext/sitecheck.py docs/_build/html`` (exit 1 and one
line per problem).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["BrokenLink", "broken_links", "dashed_options", "html_pages"]

#: An en or em dash starting a word and directly followed by an option-like word (``–claim``,
#: ``—quick``); a dash between words (``noise–noise``) is prose.
_DASHED = re.compile("(?<![^\\s(\\[`'\"])[\u2013\u2014][a-z][a-z-]+")
#: Elements whose text is not shown as prose.
_HIDDEN = frozenset({"script", "style", "head", "title"})


@dataclass(frozen=True)
class BrokenLink:
    """A relative link whose target file or anchor does not exist."""

    page: str
    href: str
    reason: str

    def __str__(self) -> str:
        return f"{self.page}: {self.href} ({self.reason})"


class _Page(HTMLParser):
    """The ids, link targets and visible text of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a" and a.get("name"):
            self.ids.add(str(a["name"]))
        if tag == "a" and a.get("href") is not None:
            self.hrefs.append(str(a["href"]))
        if tag in _HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


def html_pages(root: Path | str) -> dict[Path, _Page]:
    """Every ``*.html`` page under ``root``, parsed (keys are resolved paths)."""
    pages: dict[Path, _Page] = {}
    for path in sorted(Path(root).rglob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path.resolve()] = page
    return pages


def broken_links(root: Path | str, pages: dict[Path, _Page] | None = None) -> list[BrokenLink]:
    """Relative links under ``root`` whose file or ``#anchor`` is missing.

    Parameters
    ----------
    root:
        The built site (``docs/_build/html``).
    pages:
        Pages already parsed by :func:`html_pages` (parsed here when omitted).

    Returns
    -------
    list of BrokenLink
        Empty when every internal link resolves.  Links with a scheme (``https:``, ``mailto:``)
        or a host are external and not checked here.
    """
    base = Path(root).resolve()
    pages = html_pages(base) if pages is None else pages
    broken: list[BrokenLink] = []
    for path, page in pages.items():
        name = path.relative_to(base).as_posix()
        for href in page.hrefs:
            url = urlsplit(href)
            if url.scheme or url.netloc:
                continue
            target = path if not url.path else (path.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(BrokenLink(name, href, "no such file"))
            elif url.fragment and target.suffix == ".html":
                if unquote(url.fragment) not in pages[target].ids:
                    broken.append(BrokenLink(name, href, "no such anchor"))
    return broken


def dashed_options(root: Path | str, pages: dict[Path, _Page] | None = None) -> list[str]:
    """``page: text`` for each option shown with an en/em dash instead of ``--``."""
    base = Path(root).resolve()
    pages = html_pages(base) if pages is None else pages
    out: list[str] = []
    for path, page in pages.items():
        for match in _DASHED.finditer("".join(page.text)):
            out.append(f"{path.relative_to(base).as_posix()}: {match.group(0)}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Print every problem of the site given as the only argument; exit 1 if there is one."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python docs/_ext/sitecheck.py BUILT_HTML_DIR", file=sys.stderr)
        return 2
    pages = html_pages(args[0])
    problems = [str(b) for b in broken_links(args[0], pages)] + dashed_options(args[0], pages)
    for line in problems:
        print(line)
    print(f"sitecheck: {len(pages)} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
