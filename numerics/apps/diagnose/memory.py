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
from dataclasses import dataclass
from typing import Any

from numerics.apps.diagnose.stationary import CHUNK as GRADIENT_CHUNK
from numerics.apps.diagnose.unlearn import WEIGHT_CHUNK_BYTES
from numerics.core.inputs import InputError
from numerics.core.operator import ARPACK_NCV, DENSE_COPIES, DENSE_MAX_DIM

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


# ---------------------------------------------------------------------- the later phases
#: Lanczos vectors and work arrays of one matrix-free eigen-solve, in units of :math:`r^2` floats
#: (ARPACK's ``ncv`` basis vectors, its start vector, the residual and the warm start kept).
LANCZOS_VECTORS = ARPACK_NCV + 4
#: :math:`r\times r` float64 matrices one operator application holds (``I - eta A``, two products,
#: the noise term and its sum) besides its per-sample stacks.
APPLY_MATRICES = 6
#: Per-sample ``(n k, r)`` stacks one noise application holds (the stacked factors, ``F M``, the
#: weighted stack and the batched product, :func:`numerics.core.pools._sandwich`).
APPLY_STACKS = 3
#: :math:`r\times r` matrices a cached operator keeps (basis, two means, ``A``, its eigenvectors).
OPERATOR_MATRICES = 5
#: ``P``-vectors per sample the stationarity check's per-sample gradients hold (the gradients and
#: the per-sample weight-gradient products; measured 1.2 at :math:`P=4.3\cdot10^4`, 256 samples).
GRADIENT_COPIES = 2


@dataclass(frozen=True)
class LaterNeeds:
    r"""The sizes that decide the memory of the phases after the curvature.

    Attributes
    ----------
    active_dim, samples, rank:
        :math:`r`, :math:`n_r+n_f` and the factor rank :math:`k` of the reduced pools.
    steps:
        :math:`K` of the unlearning run and its forecast (0: no run).
    n_params:
        :math:`P`.
    data_bytes:
        Bytes of the retain and forget inputs and targets (the run concatenates them).
    """

    active_dim: int
    samples: int
    rank: int
    steps: int
    n_params: int
    data_bytes: float


@dataclass(frozen=True)
class LaterPlan:
    """What the later phases may use: the criterion's operator cache, whether the forecast runs.

    ``estimates`` holds each phase's estimated bytes, ``left`` the bytes the budget leaves them
    (:func:`plan_later_phases`), ``notes`` one sentence per change of path.
    """

    operator_cache: int
    forecast: bool
    estimates: dict[str, float]
    left: float
    notes: tuple[str, ...] = ()
    gradient_chunk: int = GRADIENT_CHUNK

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (GiB)."""
        return {"left_gib": self.left / 2**30, "operator_cache": self.operator_cache,
                "forecast": self.forecast, "gradient_chunk": self.gradient_chunk,
                "estimates_gib": {k: v / 2**30 for k, v in self.estimates.items()}}


def solve_bytes(r: int, samples: int, rank: int) -> float:
    r"""Bytes one criterion solve holds at active dimension :math:`r` (Lanczos plus one application).

    Dense path (:math:`r\le` ``DENSE_MAX_DIM``): ``DENSE_COPIES`` matrices of :math:`r^4` floats;
    matrix-free: :data:`LANCZOS_VECTORS` + :data:`APPLY_MATRICES` matrices of :math:`r^2` floats
    and :data:`APPLY_STACKS` stacks of :math:`nkr` floats.
    """
    if r <= DENSE_MAX_DIM:
        return 8.0 * DENSE_COPIES * float(r) ** 4
    return 8.0 * ((LANCZOS_VECTORS + APPLY_MATRICES) * float(r) ** 2
                  + APPLY_STACKS * float(samples) * rank * r)


def run_bytes(need: LaterNeeds) -> float:
    r"""Bytes of the unlearning run.

    The concatenated data, one chunk of batch weights (at most ``WEIGHT_CHUNK_BYTES``) and four
    parameter vectors.
    """
    if need.steps <= 0:
        return 0.0
    weights = min(float(WEIGHT_CHUNK_BYTES), 8.0 * need.steps * need.samples)
    return need.data_bytes + weights + 8.0 * 4 * need.n_params


def forecast_bytes(need: LaterNeeds) -> float:
    r"""Bytes of the forced-recursion forecast.

    The mean path :math:`(K+1)\times r`, the second moments, and the projected per-sample
    gradients :math:`n\times r` of both sets.
    """
    if need.steps <= 0:
        return 0.0
    r = float(need.active_dim)
    return 8.0 * ((need.steps + 1) * (r + 1) + 2 * need.samples * r + APPLY_MATRICES * r * r)


def _refuse(phase: str, need_bytes: float, left: float, budget_gb: float, advice: str) -> None:
    raise InputError(f"memory budget: the {phase} needs about {need_bytes / 2**30:.3g} GiB, more "
                     f"than the {max(left, 0.0) / 2**30:.3g} GiB the {budget_gb:.3g} GiB budget "
                     f"leaves after the resident set and the margin; {advice}")


def plan_later_phases(budget_gb: float, need: LaterNeeds, left: float | None = None) -> LaterPlan:
    r"""Check the later phases against the budget before they spend; switch paths or refuse.

    The bytes left are :math:`B - R - M` read now (:func:`working_budget`, after the curvature).
    One criterion solve (:func:`solve_bytes`) with its operator (:data:`OPERATOR_MATRICES`
    :math:`r^2` floats) and the unlearning run (:func:`run_bytes`) must fit, else
    :class:`InputError` names the phase and the numbers.  The stationarity check's per-sample
    gradients are taken in chunks of at most ``GRADIENT_CHUNK`` samples that fit
    (:data:`GRADIENT_COPIES` ``P``-vectors each).  The criterion's cache of further
    operators (up to ``MAX_CACHED_OPERATORS``) shrinks to what fits beside them: an operator
    left out is rebuilt on demand, with the same numbers.  A forecast (:func:`forecast_bytes`)
    that does not fit is skipped: ``steps_to_escape_predicted`` is then null with the reason.

    Parameters
    ----------
    budget_gb:
        The whole-process budget :math:`B`, GiB.
    need:
        The sizes (:class:`LaterNeeds`).
    left:
        Bytes left (default: read now by :func:`working_budget`).

    Returns
    -------
    LaterPlan
    """
    from numerics.apps.diagnose.criterion import MAX_CACHED_OPERATORS

    if left is None:
        try:
            left = working_budget(budget_gb)
        except InputError as exc:
            raise InputError(f"after the curvature phase: {exc}") from None
    left = float(left)
    r = need.active_dim
    per_op = 8.0 * OPERATOR_MATRICES * float(r) ** 2
    est = {"operator": solve_bytes(r, need.samples, need.rank) + per_op,
           "unlearning_run": run_bytes(need), "forecast": forecast_bytes(need)}
    advice = "pass --max-samples N (a smaller active dimension) or raise --memory-budget-gb"
    if est["operator"] > left:
        _refuse(f"second-moment operator at active dimension {r} (Lanczos workspace and one "
                "application)", est["operator"], left, budget_gb, advice)
    if est["unlearning_run"] > left:
        _refuse(f"unlearning run of {need.steps} steps (data, batch weights, parameters)",
                est["unlearning_run"], left, budget_gb,
                "pass --unlearn-steps 0 to skip it or raise --memory-budget-gb")
    grad_bytes = 8.0 * GRADIENT_COPIES * max(need.n_params, 1)
    chunk = min(GRADIENT_CHUNK, int(left // grad_bytes))
    if chunk < 1:
        _refuse(f"stationarity check (per-sample gradients of {need.n_params} parameters)",
                grad_bytes, left, budget_gb, "raise --memory-budget-gb")
    est["stationarity"] = grad_bytes * chunk
    cache = max(0, min(MAX_CACHED_OPERATORS, int((left - est["operator"]) // per_op)))
    est["operator_cache"] = per_op * cache  # besides the one in use
    notes = []
    if cache < MAX_CACHED_OPERATORS:
        notes.append(f"memory budget: the criterion keeps at most {cache + 1} operator(s) of "
                     f"{r}^2 x {r}^2 ({per_op / 2**30:.3g} GiB each) instead of "
                     f"{MAX_CACHED_OPERATORS + 1} and rebuilds the others (same numbers, more "
                     "time)")
    forecast = est["forecast"] <= left
    if not forecast:
        notes.append(f"memory budget: the forced-recursion forecast of {need.steps} steps needs "
                     f"about {est['forecast'] / 2**30:.3g} GiB, more than the "
                     f"{left / 2**30:.3g} GiB left: skipped (steps_to_escape_predicted null, no "
                     "within-K prescriptions)")
    return LaterPlan(cache, forecast, est, left, tuple(notes), chunk)
