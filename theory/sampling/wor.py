r"""``wor``: a uniform size-:math:`B` subset, without replacement (SPEC §1.4, the default).

:math:`\omega_i=z_i/B` with :math:`z_i\in\{0,1\}` and :math:`\sum_iz_i=B`.  Exchangeability gives
:math:`\mathbb Ez_i=p_1`, :math:`\mathbb Ez_iz_j=p_2`; taking expectations of :math:`\sum_jz_j=B`
and of :math:`z_i\sum_jz_j=Bz_i` (with :math:`z_i^2=z_i`) gives two linear equations
:math:`np_1=B`, :math:`p_1+(n-1)p_2=Bp_1`.  The count of :math:`m` marked samples is
hypergeometric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy import stats

from theory.sampling.base import B, BatchMoments, SamplingScheme, n, register_scheme

__all__ = ["WithoutReplacement", "WOR"]


@dataclass(frozen=True)
class WithoutReplacement(SamplingScheme):
    """Uniform size-``B`` subsets of the set."""

    def derive_moments(self) -> BatchMoments:
        r"""Solve :math:`np_1=B`, :math:`p_1+(n-1)p_2=Bp_1` for :math:`\mathbb Ez`, :math:`\mathbb Ez_iz_j`."""
        p1, p2 = sp.symbols("p1 p2")
        sol = sp.solve([sp.Eq(n * p1, B), sp.Eq(p1 + (n - 1) * p2, B * p1)], [p1, p2],
                       dict=True)[0]
        ez = sp.simplify(sol[p1])
        return BatchMoments(self.name, ez, ez, sp.factor(sol[p2]))  # z_i^2 = z_i

    def count_law(self, n_pool: int, batch: int, marked: int) -> tuple[np.ndarray, np.ndarray]:
        """Hypergeometric: ``marked`` of ``n_pool`` marked, ``batch`` drawn."""
        k = np.arange(0, min(marked, batch) + 1)
        return k, stats.hypergeom.pmf(k, n_pool, marked, batch)

    def weights(self, rng: np.random.Generator, n_pool: int, batch: int,
                size: int) -> np.ndarray:
        r"""The :math:`B` smallest of :math:`n` uniform keys per row, weight :math:`1/B`."""
        keys = rng.random((size, n_pool))
        if batch == n_pool:
            return np.full((size, n_pool), 1.0 / n_pool)
        kth = np.partition(keys, batch - 1, axis=1)[:, batch - 1 : batch]
        return (keys <= kth) / batch


WOR = register_scheme(WithoutReplacement(
    "wor", "uniform size-B subsets without replacement", order=0, full_batch_is_set=True))
