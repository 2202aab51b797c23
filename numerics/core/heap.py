r"""Returning the C heap's free pages to the operating system (the resident set is what counts).

Arrays of a few hundred KiB to 32 MiB come from the C allocator's heap, not from their own
mappings (glibc raises its mmap threshold to the largest block freed), so the pages of
the ``P x b`` blocks an iteration frees stay resident: fragments of them cannot serve the next,
larger blocks, and the resident set grows above the live data (measured on the matrix-free
subspace route at :math:`P=4.3\cdot10^4`: 0.21 GiB resident above the start for about 0.11 GiB
live).  :func:`release_free_heap` (glibc ``malloc_trim(0)``) hands every free page back; called
once per iteration it keeps the resident set near the live data at the price of page faults
when the pages are reused.  Elsewhere (no glibc) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["release_free_heap"]


@functools.lru_cache(maxsize=1)
def _trim():
    """The C library's ``malloc_trim`` (glibc), or ``None`` where it has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_heap() -> bool:
    """Return the heap's free pages to the operating system (glibc ``malloc_trim(0)``).

    Returns
    -------
    bool
        Whether a trim was made (``False`` without glibc).
    """
    fn = _trim()
    if fn is None:
        return False
    fn(0)
    return True
