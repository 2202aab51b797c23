r"""Device and dtype policy, chosen once at the edge and passed in.

Policy
------
* ``cpu``: float64 everywhere (the reference path).
* ``cuda``: the :math:`O(nP)` and :math:`O(n^2P)` work (per-sample gradients, the factor Gram
  matrix :math:`UU^\top`) runs on the GPU in the requested dtype; the default is float64, which
  data-centre GPUs (A100/H100/H200) run at full tensor-core rate.  ``float32`` may be requested
  for consumer GPUs; TF32 is then switched *off* for matmuls so that a float32 Gram matrix keeps
  :math:`\approx 10^{-7}` relative accuracy.
* Everything of size :math:`O(n^2)` or smaller (eigenvalues of coherence matrices, the reduced
  second-moment operator, :math:`\lambda_{\min}(A|_V)`) is moved to the host in float64, so the
  numbers the claims test are always float64 whatever the device.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits

from numerics.core.inputs import InputError

__all__ = ["DEVICES", "DTYPES", "resolve_device", "resolve_dtype", "thread_limit",
           "gpu_memory_cap"]

#: Accepted values of ``--device``.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
#: Accepted values of ``--dtype``.
DTYPES: tuple[str, ...] = ("auto", "float64", "float32")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map ``auto|cpu|cuda`` (or ``cuda:K``) to a :class:`torch.device`, or raise."""
    if isinstance(device, torch.device):
        device = str(device)
    key = str(device).lower()
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but CUDA is not available here")
        return torch.device(key)
    raise InputError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")


def resolve_dtype(device: torch.device, dtype: str | torch.dtype = "auto") -> torch.dtype:
    """Dtype for the device-side work: float64 unless float32 is asked for (GPU only)."""
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).removeprefix("torch.")
    key = str(dtype).lower()
    if key not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    if key in ("auto", "float64"):
        return torch.float64
    if device.type == "cpu":
        raise InputError("float32 is only allowed on a GPU; the CPU path is float64 throughout")
    torch.backends.cuda.matmul.allow_tf32 = False  # keep float32 GEMMs at float32 accuracy
    return torch.float32


@contextmanager
def thread_limit(threads: int | None):
    r"""Limit torch and BLAS/OpenMP threads inside the block (``None`` leaves them alone).

    Small problems (the CNN experiments at :math:`n\\le100`) run fastest and most predictably
    on one thread: thread start-up and contention cost more than the arithmetic they share.
    """
    if threads is None:
        yield
        return
    if int(threads) < 1:
        raise InputError(f"threads must be >= 1, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with threadpool_limits(int(threads)):
            yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def gpu_memory_cap(device: torch.device, budget_gb: float | None):
    r"""Cap the CUDA caching allocator at ``budget_gb`` GiB on ``device`` inside the block.

    .. math:: f=\min\Big(1,\ \frac{B}{M_{\rm device}}\Big),

    passed to :func:`torch.cuda.set_per_process_memory_fraction` (:math:`B` the budget in bytes,
    :math:`M_{\rm device}` the device's total memory) and set back to 1 on exit.  An allocation
    that would pass the cap raises :class:`torch.cuda.OutOfMemoryError` in the allocator, before
    the memory is taken; inside the block it becomes an :class:`InputError` naming the budget
    (the CLI's one line, exit status 2).  On the CPU, or without a budget, nothing is done (the
    host resident set is checked by :mod:`numerics.apps.diagnose.memory`).

    Parameters
    ----------
    device:
        The compute device (:func:`resolve_device`).
    budget_gb:
        The ``--memory-budget-gb`` budget, GiB, or ``None``.
    """
    if device.type != "cuda" or budget_gb is None:
        yield
        return
    total = torch.cuda.get_device_properties(device).total_memory
    fraction = min(1.0, float(budget_gb) * 2**30 / total)
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        raise InputError(f"GPU memory budget of {float(budget_gb):g} GiB "
                         f"({fraction:.3g} of the device's {total / 2**30:.1f} GiB) exceeded: "
                         f"{first}; raise --memory-budget-gb or lower --max-samples") from None
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
