"""The command line ``unlearnstab``: one module per sub-command (``register`` + ``run``).

This is the top layer: it imports the applications and the verification layer, and nothing
below imports it.
"""

from numerics.cli.entry import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
