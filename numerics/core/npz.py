"""Reading per-sample curvature from an ``.npz`` file: every malformed file refused up front.

:func:`read_arrays` opens the archive, reads each member's ``.npy`` header (shape and dtype)
*before* any data, and refuses with one :class:`~numerics.core.inputs.InputError` line:

* a missing file, an empty or truncated file, a file that is not a zip archive (a plain ``.npy``)
  or whose members are not ``.npy`` arrays;
* an array name that is not expected (a misspelled ``Forget`` would otherwise be read as "no
  forget set"), or a required one that is missing;
* object arrays (pickled data: never loaded), complex arrays (the imaginary part would be lost)
  and other non-numeric dtypes;
* an array whose header claims more memory than the machine has available (the estimate,
  ``float64`` bytes times the working factor :data:`WORKING_COPIES`, is printed), or more data
  than the member holds.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from numerics.core.inputs import InputError

__all__ = ["read_arrays", "available_bytes", "WORKING_COPIES", "GIB"]

GIB = float(2**30)
#: float64 copies of an array that validation and the eigen-decompositions hold at once.
WORKING_COPIES = 4


def available_bytes() -> float:
    """Memory available to this process now (``MemAvailable``, else physical pages), bytes."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def _header(z: zipfile.ZipFile, member: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the ``.npy`` header of ``member`` (no data read)."""
    fmt = np.lib.format
    try:
        with z.open(member) as fh:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(fh)
            else:
                raise InputError(f"cannot read {path}: member {member!r} has npy format version "
                                 f"{version}, expected 1.0 or 2.0")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputError(f"cannot read {path}: member {member!r} is not an npy array "
                         f"({exc})") from None
    return tuple(int(s) for s in shape), np.dtype(dtype)


def _check_dtype(dtype: np.dtype, name: str, path: Path) -> None:
    if dtype.hasobject:
        raise InputError(f"cannot read {path}: array {name!r} holds Python objects (pickled "
                         "data), which are never loaded; save numeric arrays")
    if dtype.kind == "c":
        raise InputError(f"{path}: array {name!r} is complex ({dtype}); Hessians are real "
                         "(the imaginary part would be lost)")
    if dtype.kind not in "fiub":
        raise InputError(f"{path}: array {name!r} has dtype {dtype}, not a real number type")


def read_arrays(path: str | Path, expected: Iterable[str] = ("retain", "forget"),
                required: Iterable[str] = ("retain",),
                memory_bytes: float | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file as float64, after the checks of the module docstring.

    Parameters
    ----------
    path:
        The file.
    expected, required:
        Names an array may have; names it must have.
    memory_bytes:
        Memory the arrays may take (``WORKING_COPIES`` float64 copies of all of them); default
        :func:`available_bytes`.

    Returns
    -------
    dict
        name -> float64 array, for the names present.
    """
    path = Path(path)
    expected, required = tuple(expected), tuple(required)
    if not path.is_file():
        raise InputError(f"Hessian file {path} does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"cannot read {path}: the file is empty")
    if not zipfile.is_zipfile(path):
        raise InputError(f"cannot read {path} as an npz file: not a zip archive (truncated, or "
                         "a plain .npy? save with numpy.savez(path, retain=..., forget=...))")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"cannot read {path} as an npz file: {exc}") from None
    with z:
        members = _members(z, path, expected, required)
        headers = {name: _header(z, member, path) for name, member in members.items()}
        need = 0.0
        for name, (shape, dtype) in headers.items():
            _check_dtype(dtype, name, path)
            need += WORKING_COPIES * 8.0 * float(np.prod(shape, dtype=float))
        limit = available_bytes() if memory_bytes is None else float(memory_bytes)
        if need > limit:
            shapes = ", ".join(f"{n!r} {s}" for n, (s, _) in headers.items())
            raise InputError(f"{path}: its arrays ({shapes}) need about {need / GIB:.3g} GiB to "
                             f"analyse ({WORKING_COPIES} float64 copies), more than the "
                             f"{limit / GIB:.3g} GiB available")
        for name, (shape, dtype) in headers.items():
            size = float(np.prod(shape, dtype=float)) * dtype.itemsize
            stored = z.getinfo(members[name]).file_size
            if size > stored:
                raise InputError(f"cannot read {path}: array {name!r} claims shape {shape} "
                                 f"({size:.4g} bytes) but its member holds {stored} bytes "
                                 "(truncated or corrupt)")
        out = {}
        for name, member in members.items():
            try:
                with z.open(member) as fh:
                    arr = np.lib.format.read_array(fh, allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise InputError(f"cannot read {path}: array {name!r}: {exc}") from None
            out[name] = np.asarray(arr, dtype=np.float64)
    return out


def _members(z: zipfile.ZipFile, path: Path, expected: tuple[str, ...],
             required: tuple[str, ...]) -> dict[str, str]:
    """Array name -> zip member, refusing unknown names and missing required ones."""
    members = {m[:-4] if m.endswith(".npy") else m: m for m in z.namelist()}
    unknown = [n for n in members if n not in expected]
    if unknown:
        raise InputError(f"{path} has unknown array {unknown[0]!r}; expected "
                         f"{' and '.join(repr(e) for e in expected)} (a misspelled name "
                         "would be ignored)")
    missing = [n for n in required if n not in members]
    if missing:
        found = ", ".join(members) or "nothing"
        raise InputError(f"{path} has no array named {missing[0]!r} (found: {found})")
    return members
