"""Fixtures shared by the whole suite.

``batch_enumeration(name)``: the exact enumeration of a sampling scheme's batches, taken from the
scheme's own test module ``tests/sampling/test_<name>.py`` (its ``enumerate_batches(n, B)``
yields ``(probability, multiplicities)`` for every possible batch, written from the scheme's
definition).  Tests that need an independent exact law of a scheme read it here, so a new scheme
brings its enumeration once, in its own test module.

``one_thread``: one BLAS/torch thread for a test (made autouse by the diagnose and fuzz folders).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import numpy as np
import pytest

Enumeration = Callable[[int, int], Iterable[tuple[float, np.ndarray]]]
_SAMPLING_TESTS = Path(__file__).resolve().parent / "sampling"


@cache
def _enumeration(name: str) -> Enumeration:
    path = _SAMPLING_TESTS / f"test_{name}.py"
    if not path.is_file():
        raise LookupError(f"sampling scheme {name!r} has no test module {path}")
    spec = importlib.util.spec_from_file_location(f"_sampling_enumeration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.enumerate_batches


def count_pmf_by_enumeration(name: str, n_pool: int, batch: int, marked: int) -> dict[int, float]:
    """Exact pmf of the count of the first ``marked`` samples, from the enumeration."""
    probs: dict[int, float] = {}
    for p, z in _enumeration(name)(n_pool, batch):
        k = int(round(float(np.sum(z[:marked]))))
        probs[k] = probs.get(k, 0.0) + p
    return probs


@pytest.fixture
def batch_enumeration() -> Callable[[str], Enumeration]:
    """``batch_enumeration(name)(n, B)``: every batch of the scheme with its probability."""
    return _enumeration


@pytest.fixture
def enumerated_count_pmf() -> Callable[[str, int, int, int], dict[int, float]]:
    """``enumerated_count_pmf(name, n, B, m)``: exact marked-count pmf by enumeration."""
    return count_pmf_by_enumeration


@pytest.fixture
def one_thread():
    """One BLAS/torch thread for the test (small problems: fastest, and timings stay stable)."""
    import torch
    from threadpoolctl import threadpool_limits

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(prev)
