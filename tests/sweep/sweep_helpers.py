"""Helpers of the sweep tests (imported by name: this directory is on the test path)."""

import os
from pathlib import Path

TOY = "numerics.sweep.demo:toy_cell"
ROOT = Path(__file__).resolve().parents[2]


def toy_configs(count, **extra):
    return [dict({"seed": s, "d": 5}, **extra) for s in range(count)]


def child_env():
    """Environment for subprocesses and spawned workers: this checkout first on the path."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return e
