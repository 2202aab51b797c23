r"""``wr``: :math:`B` i.i.d. uniform draws, with replacement (SPEC §1.4).

:math:`\omega_i=c_i/B` with multiplicity counts :math:`c_i=\sum_t\mathbb 1\{I_t=i\}`.  Summing
:math:`\mathbb E[\mathbb 1\{I_t=i\}\mathbb 1\{I_s=j\}]` over the :math:`B` diagonal pairs
:math:`t=s` and the :math:`B(B-1)` pairs :math:`t\ne s` gives the moments.  A batch may exceed its
set.  The count of :math:`m` marked samples (with repeats) is :math:`\mathrm{Binomial}(B, m/n)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy import stats

from theory.sampling.base import B, BatchMoments, SamplingScheme, n, register_scheme

__all__ = ["WithReplacement", "WR"]


@dataclass(frozen=True)
class WithReplacement(SamplingScheme):
    """``B`` independent uniform draws from the set."""

    def derive_moments(self) -> BatchMoments:
        r"""Diagonal pairs hit :math:`i` with probability :math:`1/n`, others :math:`1/n^2`."""
        same, other = sp.Integer(1) / n, sp.Integer(1) / n**2  # P(I_t=i), P(I_t=i, I_s=j), t!=s
        ez = B * same
        ez2 = B * same + B * (B - 1) * other  # i == j: diagonal pairs hit with prob 1/n
        ezz = B * 0 + B * (B - 1) * other  # i != j: a single draw cannot be both i and j
        return BatchMoments(self.name, sp.simplify(ez), sp.expand(ez2), sp.factor(ezz))

    def count_law(self, n_pool: int, batch: int, marked: int) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`\mathrm{Binomial}(B, m/n)`."""
        k = np.arange(0, batch + 1)
        return k, stats.binom.pmf(k, batch, marked / n_pool)

    def weights(self, rng: np.random.Generator, n_pool: int, batch: int,
                size: int) -> np.ndarray:
        """Multinomial counts of ``B`` uniform draws, divided by ``B``."""
        return rng.multinomial(batch, np.full(n_pool, 1.0 / n_pool), size=size) / batch


WR = register_scheme(WithReplacement(
    "wr", "B independent uniform draws with replacement (B may exceed the set)", order=2,
    may_exceed_set=True))
