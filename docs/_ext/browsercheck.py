"""Open pages in headless Chromium, as a reader would, and report what a screenshot would show.

For each page, :func:`check_pages` loads it in one headless Chromium (Debian's ``chromium``) driven
over the DevTools protocol (``websocket-client``), at a 1280 × 900 window, and records

* ``raw_math``: TeX delimiters ``\\(``, ``\\[`` or ``$$`` left in the visible text outside code
  (the formulas did not render) and ``math_errors``: MathJax's messages for formulas it
  could not typeset;
* ``overflow_px``: how far the page scrolls horizontally (``scrollWidth - innerWidth``);
* ``external``: every request for a URL that is not ``file:``, ``data:``, ``blob:`` or
  ``about:`` -- none may leave the machine.  Chromium runs with its proxy set to a closed local
  port and every host name resolving nowhere, so such a request fails instead of leaving, and it
  is still recorded;
* optionally a PNG screenshot of the viewport.

Run from the command line: ``python docs/_ext/browsercheck.py docs/_build/html [--shots DIR]``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PageReport", "chromium", "check_pages", "LOCAL_SCHEMES", "WIDTH", "HEIGHT"]

#: URL schemes that stay on the machine.
LOCAL_SCHEMES: tuple[str, ...] = ("file:", "data:", "blob:", "about:", "chrome-error:")
#: The window a reader on a laptop has.
WIDTH, HEIGHT = 1280, 900

# Wait for MathJax (when the page loads it) to finish typesetting, then measure.
_MEASURE = """
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, .highlight, mjx-assistive-mml')
       .forEach(e => e.remove());
  const text = clone.textContent || '';
  const raw = [];
  const re = /\\\\\\(|\\\\\\[|\\$\\$/g;
  let m;
  while ((m = re.exec(text)) !== null && raw.length < 5) {
    raw.push(text.slice(Math.max(0, m.index - 30), m.index + 40).replace(/\\s+/g, ' '));
  }
  return JSON.stringify({
    raw_math: raw,
    math_errors: Array.from(document.querySelectorAll('mjx-merror'))
      .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5),
    math_rendered: document.querySelectorAll('mjx-container').length,
    overflow_px: document.documentElement.scrollWidth - window.innerWidth,
    too_wide: Array.from(document.body.querySelectorAll('*'))
      .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                   && !(e.parentElement && e.parentElement.getBoundingClientRect().right
                        > window.innerWidth + 1))
      .slice(0, 3)
      .map(e => e.tagName.toLowerCase() + '.' + (e.className || '') + ': '
                + (e.textContent || '').trim().slice(0, 60)),
    title: document.title,
  });
})()
"""


@dataclass
class PageReport:
    """What one page showed."""

    url: str
    title: str = ""
    raw_math: list[str] = field(default_factory=list)
    math_errors: list[str] = field(default_factory=list)
    math_rendered: int = 0
    overflow_px: int = 0
    too_wide: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    screenshot: str | None = None

    @property
    def problems(self) -> list[str]:
        """One line per problem (empty when the page is fine)."""
        out = [f"raw TeX left: {s!r}" for s in self.raw_math]
        out += [f"MathJax error: {e}" for e in self.math_errors]
        if self.overflow_px > 0:
            out.append(f"scrolls horizontally by {self.overflow_px} px at {WIDTH} px "
                       f"(too wide: {'; '.join(self.too_wide) or '?'})")
        out += [f"request leaves the machine: {u}" for u in self.external]
        return out


def chromium() -> str | None:
    """The Chromium executable (``$CHROMIUM``, then the usual names), or None."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class _Session:
    """A minimal DevTools-protocol client over one page target."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.ws.recv()))

    def close(self) -> None:
        self.ws.close()


@contextmanager
def _browser(exe: str) -> Iterator[str]:
    """Start headless Chromium; yield the DevTools websocket URL of its first page."""
    import urllib.request

    profile = tempfile.mkdtemp(prefix="unlearnstab-chromium-")
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update",
            "--disable-domain-reliability", "--metrics-recording-only", "--mute-audio",
            f"--user-data-dir={profile}", "--remote-debugging-port=0",
            # nothing can leave: a closed local proxy port, and no host name resolves
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "about:blank"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            pages = [t for t in json.loads(r.read()) if t.get("type") == "page"]
        yield pages[0]["webSocketDebuggerUrl"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _visit(session: _Session, url: str, shot: Path | None) -> PageReport:
    session.events.clear()
    session.call("Page.navigate", url=url)
    session.wait_event("Page.loadEventFired", timeout=60)
    result = session.call("Runtime.evaluate", expression=_MEASURE, awaitPromise=True,
                          returnByValue=True, timeout=60000)
    data = json.loads(result["result"]["value"])
    requested = [e["params"]["request"]["url"] for e in session.events
                 if e.get("method") == "Network.requestWillBeSent"]
    report = PageReport(url=url, external=sorted({u for u in requested
                                                  if not u.startswith(LOCAL_SCHEMES)}), **data)
    if shot is not None:
        png = session.call("Page.captureScreenshot", format="png")["data"]
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.write_bytes(base64.b64decode(png))
        report.screenshot = str(shot)
    return report


def check_pages(pages: Iterable[Path], shots: Path | None = None,
                exe: str | None = None) -> list[PageReport]:
    """Load each HTML file in one headless Chromium and report what it showed.

    Parameters
    ----------
    pages:
        HTML files to open (``file://`` URLs are made from them).
    shots:
        Directory for one viewport screenshot per page (``<name>.png``); none when omitted.
    exe:
        The Chromium executable (default :func:`chromium`).

    Returns
    -------
    list of PageReport
        One per page, in order.
    """
    exe = exe or chromium()
    if exe is None:
        raise FileNotFoundError("no chromium executable found")
    reports = []
    with _browser(exe) as ws_url:
        session = _Session(ws_url)
        try:
            session.call("Page.enable")
            session.call("Network.enable")
            session.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                         deviceScaleFactor=1, mobile=False)
            for page in pages:
                path = Path(page).resolve()
                name = "_".join(path.with_suffix("").parts[-2:])
                reports.append(_visit(session, path.as_uri(),
                                      None if shots is None else shots / f"{name}.png"))
        finally:
            session.close()
    return reports


def main(argv: list[str] | None = None) -> int:
    """Check every page of a built site; print problems; exit 1 if there is one."""
    args = sys.argv[1:] if argv is None else argv
    if not args or not Path(args[0]).is_dir():
        print("usage: python docs/_ext/browsercheck.py BUILT_HTML_DIR [--shots DIR]",
              file=sys.stderr)
        return 2
    shots = Path(args[args.index("--shots") + 1]) if "--shots" in args else None
    pages = sorted(Path(args[0]).rglob("*.html"))
    bad = 0
    for rep in check_pages(pages, shots):
        for line in rep.problems:
            bad += 1
            print(f"{rep.url}: {line}")
    print(f"browsercheck: {len(pages)} pages, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
