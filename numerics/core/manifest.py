"""Provenance of every output: ``manifest.json`` next to the tables and figures a command writes.

:func:`record_outputs` merges one entry per output file into ``<dir>/manifest.json``: the command
line, the configuration, the seeds, the file's SHA-256, the package and dependency versions, the
git revision of the source tree (when it is a git checkout) and a UTC timestamp.  Several commands
may write into one directory; each file keeps the entry of the command that last wrote it.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["MANIFEST_NAME", "versions", "git_revision", "record_outputs", "read_manifest"]

MANIFEST_NAME = "manifest.json"
#: Distributions whose versions every manifest records (missing ones are recorded as ``None``).
DEPENDENCIES: tuple[str, ...] = ("numpy", "scipy", "sympy", "torch", "matplotlib")
_ROOT = Path(__file__).resolve().parents[2]


def versions() -> dict[str, str | None]:
    """Versions of unlearnstab, Python and the numeric dependencies (without importing them)."""
    from numerics import __version__

    out: dict[str, str | None] = {"unlearnstab": __version__,
                                  "python": platform.python_version()}
    for dist in DEPENDENCIES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def git_revision(root: Path | None = None) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the source tree, or ``None`` when it is not a git checkout."""
    root = root or _ROOT
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True, timeout=10,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())} if commit else None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(directory: Path | str) -> dict[str, Any]:
    """The manifest of ``directory`` (an empty one when there is none)."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        return {"outputs": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def record_outputs(directory: Path | str, files: Iterable[Path | str], *,
                   command: Sequence[str] | None = None,
                   configuration: Mapping[str, Any] | None = None,
                   seeds: Sequence[int] = ()) -> Path:
    """Merge entries for ``files`` (inside ``directory``) into its ``manifest.json``.

    Parameters
    ----------
    directory:
        The output directory.
    files:
        Output files (absolute, or relative to ``directory``).
    command:
        The command line (default: ``sys.argv``).
    configuration:
        Everything that determined the outputs (sizes, scale, notion, ...), JSON-serialisable.
    seeds:
        The random seeds used.

    Returns
    -------
    Path
        The manifest's path.
    """
    from numerics.core.serialise import jsonable

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(directory)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    base = {
        "command": list(command if command is not None else sys.argv),
        "configuration": jsonable(dict(configuration or {})),
        "seeds": [int(s) for s in seeds],
        "versions": versions(),
        "git": git_revision(),
        "platform": platform.platform(),
        "created": stamp,
    }
    outputs = manifest.setdefault("outputs", {})
    for f in files:
        path = Path(f) if Path(f).is_absolute() else directory / f
        rel = path.resolve().relative_to(directory.resolve()).as_posix()
        outputs[rel] = {**base, "sha256": _sha256(path)}
    manifest["outputs"] = dict(sorted(outputs.items()))
    manifest["updated"] = stamp
    target = directory / MANIFEST_NAME
    target.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
