r"""The memory of the matrix-free subspace route, planned against ``--memory-budget-gb``.

The route's memory is dominated by ``P``-vectors (float64 columns of length :math:`P`): the
shared Krylov arrays :math:`K`, :math:`\bar H_rK`, :math:`\bar H_fK` of ``m`` columns each and
their temporaries, :func:`~numerics.curvature.krylov.peak_columns`

.. math:: c(m,k)=(a+1)\,m+b\,k,\qquad a=3\ (2\text{ at }\alpha=0),\ b=
   \mathrm{BLOCK\_COLUMNS},

at subspace dimension ``k`` (the SVD of the ``P x k`` basis holds fewer: :math:`a\,m+5k`),
while the per-sample projections hold :math:`a\,m+(1+p)k` (the basis and ``p`` =
:data:`~numerics.curvature.matrix_free.PROJECTION_COLUMNS` per column for one sample).  Beside
them one chunk of a mean product holds at most ``chunk_bytes``, and the projected pools
:data:`POOL_COPIES` :math:`n k^2` floats; the columns are counted :data:`SLACK` times (heap
fragmentation and the library's work arrays: measured 8 % above the uncounted estimate at
:math:`P=5\cdot10^4`).  With :math:`B_{\rm work}` the bytes the budget leaves after the
resident set and the margin (:func:`~numerics.apps.diagnose.memory.working_budget`), the plan
(:func:`plan_subspace`) keeps, for every ``k`` of the growth (``k0``, ``2 k0``, ...),

.. math:: 8P\,s\max\bigl(c(m_k,k),\,a\,m_k+(1+p)k\bigr)+\text{chunk\_bytes}
   +8\cdot\mathrm{POOL\_COPIES}\,nk^2\le B_{\rm work},

with :math:`m_k=\max(6k,60)` (the default Krylov basis) where that fits; otherwise the basis is
capped (``dim_cap``, at least :math:`3k`, more thick restarts) and ``k`` stops at the largest
size whose smallest basis fits.  When not even ``k0`` fits the route is refused before anything
is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from numerics.core.inputs import InputError
from numerics.curvature.krylov import peak_columns
from numerics.curvature.matrix_free import PROJECTION_COLUMNS
from numerics.curvature.subspace import SubspaceOptions

__all__ = ["SubspaceSizes", "SubspacePlan", "plan_subspace", "default_max_dim", "POOL_COPIES",
           "SLACK"]

#: Copies of the projected per-sample blocks (``n k^2`` floats) alive at once: the blocks, their
#: eigen-decompositions and the signed factors.
POOL_COPIES = 4
#: Factor on the counted ``P``-vectors for what the count misses (heap fragmentation of freed
#: blocks, LAPACK work arrays, the autograd tangents of a mean product's chunk).
SLACK = 1.25


@dataclass(frozen=True)
class SubspaceSizes:
    r"""The sizes that decide the route's memory.

    Attributes
    ----------
    n_params:
        :math:`P`.
    samples:
        :math:`n_r+n_f`.
    alpha:
        Mixing :math:`\alpha` (0: no forget products are held).
    chunk_bytes:
        Memory one chunk's intermediates may use.
    """

    n_params: int
    samples: int
    alpha: float
    chunk_bytes: float


@dataclass(frozen=True)
class SubspacePlan:
    """What the budget allows: the options to run with, and the numbers behind them (bytes)."""

    options: SubspaceOptions
    k_max: int
    dim_cap: int
    estimate: float
    left: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (GiB)."""
        return {"k_max": self.k_max, "krylov_dim_cap": self.dim_cap,
                "estimate_gib": self.estimate / 2**30, "left_gib": self.left / 2**30}


def default_max_dim(k: int, P: int) -> int:
    """The Krylov basis a request of ``k`` vectors gets without a cap (``max(6k, 60)``, <= P)."""
    return min(max(6 * k, 60, 3 * k), P)


def _bytes(sizes: SubspaceSizes, m: int, k: int) -> float:
    """Estimated peak bytes at Krylov basis ``m`` and subspace dimension ``k``."""
    arrays = 3 if sizes.alpha > 0.0 else 2
    cols = max(peak_columns(m, k, sizes.alpha), arrays * m + (1 + PROJECTION_COLUMNS) * k)
    return (8.0 * SLACK * sizes.n_params * cols + sizes.chunk_bytes
            + 8.0 * POOL_COPIES * sizes.samples * k * k)


def plan_subspace(sizes: SubspaceSizes, opts: SubspaceOptions, left: float,
                  budget_gb: float) -> SubspacePlan:
    r"""The subspace options under the budget: largest ``k`` and Krylov basis that fit, or refuse.

    Parameters
    ----------
    sizes:
        :class:`SubspaceSizes`.
    opts:
        The requested growth (``k0``, ``k_max``).
    left:
        :math:`B_{\rm work}`, bytes.
    budget_gb:
        The whole-process budget (for the message).

    Returns
    -------
    SubspacePlan
        ``options`` equal to ``opts`` when every size fits with its default basis; else with
        ``k_max`` lowered and ``krylov_dim_cap`` set.

    Raises
    ------
    InputError
        When the smallest size (``k0`` with a basis of ``3 k0``) does not fit: one line naming
        the phase and the numbers.
    """
    P = int(sizes.n_params)
    sizes_k = [max(opts.k0, 4)]
    while sizes_k[-1] < opts.k_max:
        sizes_k.append(2 * sizes_k[-1])
    fits = [k for k in sizes_k if _bytes(sizes, min(3 * k, P), k) <= left]
    if not fits or fits[0] != sizes_k[0]:
        k0 = sizes_k[0]
        need = _bytes(sizes, min(3 * k0, P), k0)
        raise InputError(
            f"memory budget: the matrix-free subspace route at P = {P} needs about "
            f"{need / 2**30:.3g} GiB for its smallest Krylov space (k = {k0}, basis of "
            f"{min(3 * k0, P)} P-vectors and their products), more than the "
            f"{max(left, 0.0) / 2**30:.3g} GiB the {budget_gb:.3g} GiB budget leaves after the "
            "resident set and the margin; raise --memory-budget-gb")
    k_top = fits[-1]
    k_max = opts.k_max if k_top == sizes_k[-1] else k_top
    m_default = default_max_dim(k_top, P)
    if _bytes(sizes, m_default, k_top) <= left:
        plan = opts if k_max == opts.k_max else replace(opts, k_max=k_max)
        return SubspacePlan(plan, k_max, 0, _bytes(sizes, m_default, k_top), left)
    m = min(3 * k_top, P)  # fits; grow it to the largest basis within the budget
    while m < m_default and _bytes(sizes, m + 1, k_top) <= left:
        m += 1
    return SubspacePlan(replace(opts, k_max=k_max, krylov_dim_cap=m), k_max, m,
                        _bytes(sizes, m, k_top), left)
