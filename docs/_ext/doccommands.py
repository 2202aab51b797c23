"""Run the shell commands the documentation shows, as a reader would paste them.

``unlearnstab ...`` runs in process (``numerics.cli.main``) and ``python -c "..."`` is executed,
both in the current directory; ``> FILE`` redirects stdout.  Installing and building the docs are
not run (listed in :data:`NOT_RUN`).  At the quick scale, ``verify`` and ``table`` get ``--quick``
unless the command gives a scale.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

from numerics.cli import main

#: Commands shown but not run here: installation, the docs build and the test suite itself.
NOT_RUN: tuple[str, ...] = ("pip ", "python3 -m sphinx", "python -m sphinx", "python -m pytest",
                            "python3 -m pytest", "cd ")
#: Sub-commands that take ``--quick``.
SCALED: tuple[str, ...] = ("verify", "table")


@contextlib.contextmanager
def _inside(path: Path) -> Iterator[None]:
    """Run the block with ``path`` as the working directory (restored after)."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def shell_lines(text: str) -> list[str]:
    """Logical command lines of a block: continuations joined, blank lines dropped."""
    joined = re.sub(r"\\\n\s*", "", text)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def console_commands(rst: str) -> list[str]:
    """The ``$ `` lines of every code block of an rst/markdown source (continuations joined)."""
    out: list[str] = []
    for line in shell_lines(rst):
        if line.startswith("$ "):
            out.append(line[2:])
    return out


def run_command(line: str, cwd: Path, quick: bool = True) -> tuple[int, str]:
    """Run one command line in ``cwd``; returns (exit status, stdout)."""
    tokens = shlex.split(line, comments=True)
    target = None
    if ">" in tokens:
        at = tokens.index(">")
        tokens, target = tokens[:at], tokens[at + 1]
    buffer = io.StringIO()
    with _inside(cwd), contextlib.redirect_stdout(buffer):
        if tokens[0] == "unlearnstab":
            argv = tokens[1:]
            if quick and argv[0] in SCALED and not {"--quick", "--scale", "--list"} & set(argv):
                argv.append("--quick")
            status = main(argv)
        elif tokens[:2] in (["python", "-c"], ["python3", "-c"]):
            exec(compile(tokens[2], "<command>", "exec"), {"__name__": "__command__"})
            status = 0
        else:
            raise ValueError(f"do not know how to run {line!r}")
    if target is not None:
        (cwd / target).write_text(buffer.getvalue())
    return status, buffer.getvalue()


def runnable(line: str) -> bool:
    """False for the commands listed in :data:`NOT_RUN`."""
    return not line.startswith(NOT_RUN)
