"""Command-line entry point ``unlearnstab``.

Each sub-command lives in its own module under :mod:`numerics.cli` and exposes
``register(subparsers)`` and ``run(args) -> int``, and optionally ``EXAMPLES`` and ``NOTES`` for
the end of its ``--help`` (:mod:`numerics.cli._help`; every command accepts ``--quiet``).  Bad
input is reported as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from numerics import __version__
from numerics.cli._help import finish
from numerics.core.inputs import InputError
from numerics.core.progress import Interrupted

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "verify", "radius", "threshold", "cnn", "frontier", "table", "golden", "diagnose",
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = OneLineParser(
        prog="unlearnstab",
        description="Verify the linear-stability theory of gradient-difference unlearning.",
    )
    parser.add_argument("--version", action="version", version=f"unlearnstab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"numerics.cli.{name}")
        module.register(sub)
        finish(sub.choices[name], module)  # examples, notes and --quiet
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen sub-command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"unlearnstab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: one line naming the phase, no traceback
        where = f" during {exc.phase}" if isinstance(exc, Interrupted) else ""
        print(f"unlearnstab {args.command}: interrupted{where}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
