r"""The process memory cap of ``diagnose``: resident set now, and what the phases may still use.

With ``--memory-budget-gb B`` the budget covers the whole process.  At the start of the
curvature phase the resident set :math:`R` already in use is read from ``/proc/self/statm``
(``resource.getrusage`` peak where that file is missing); the phases get

.. math:: B_{\rm work} = B - R - M,

with :math:`M` = :data:`MARGIN_BYTES` for interpreter and library temporaries, and a budget with
:math:`B_{\rm work}\le 0` is refused with the numbers.  Each route's working set is estimated
as :data:`WORKING_COPIES` times its factor bytes (``8 n P^2`` dense, ``8 n P C`` Gauss-Newton),
so the route is chosen and its chunks sized with :math:`B_{\rm work}/` :data:`WORKING_COPIES`
before anything is allocated.
"""

from __future__ import annotations

import os
import resource
import sys

from numerics.core.inputs import InputError

#: Working margin kept free for interpreter and library temporaries, bytes.
MARGIN_BYTES = 96 * 2**20
#: Working copies of the per-sample curvature floats alive at once: the Hessians (or Jacobians),
#: their eigenvectors (the factors), the eigensolver or einsum workspace and the coherence
#: matrices (measured: 0.85 GiB above the start for 0.24 GiB of dense Hessians, P = 400, n = 200).
WORKING_COPIES = 5


def resident_bytes() -> int:
    """Resident set of this process now, bytes (``/proc/self/statm``; else the peak so far).

    Returns
    -------
    int
        Resident bytes.
    """
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(rss) * (1 if sys.platform == "darwin" else 1024)


def working_budget(budget_gb: float) -> float:
    r"""Bytes left to the phases, :math:`B - R - M`, or :class:`InputError` when not positive.

    Parameters
    ----------
    budget_gb:
        The whole-process budget :math:`B`, GiB (finite, > 0).

    Returns
    -------
    float
        :math:`B_{\rm work}` in bytes.
    """
    if not (isinstance(budget_gb, (int, float)) and budget_gb == budget_gb
            and 0 < budget_gb < float("inf")):
        raise InputError(f"memory budget must be finite and > 0 GiB, got {budget_gb}")
    held = resident_bytes()
    left = float(budget_gb) * 2**30 - held - MARGIN_BYTES
    if left <= 0:
        raise InputError(f"memory budget {budget_gb:.3g} GiB is below the {held / 2**30:.2f} GiB "
                         f"this process already holds plus a {MARGIN_BYTES / 2**30:.2f} GiB "
                         "working margin; raise --memory-budget-gb")
    return left
