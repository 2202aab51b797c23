r"""``bernoulli``: independent inclusion with :math:`q=B/n` (SPEC §1.4, [S:DX]).

:math:`z_i\sim\mathrm{Bernoulli}(q)` independently, so :math:`\mathbb Ez=\mathbb Ez^2=q` and
:math:`\mathbb Ez_iz_j=q^2`; the mean is divided by the *nominal* :math:`B`, so the realised batch
size is random.  The count of :math:`m` marked samples is :math:`\mathrm{Binomial}(m, q)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from theory.sampling.base import B, BatchMoments, SamplingScheme, n, register_scheme

__all__ = ["BernoulliSampling", "BERNOULLI"]


@dataclass(frozen=True)
class BernoulliSampling(SamplingScheme):
    """Each sample joins the batch independently with probability ``B/n``."""

    def derive_moments(self) -> BatchMoments:
        r""":math:`\mathbb Ez=\mathbb Ez^2=q`, :math:`\mathbb Ez_iz_j=q^2` with :math:`q=B/n`."""
        q = B / n
        return BatchMoments(self.name, q, q, q**2)

    def count_law(self, n_pool: int, batch: int, marked: int) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`\mathrm{Binomial}(m, B/n)`."""
        k = np.arange(0, marked + 1)
        return k, stats.binom.pmf(k, marked, batch / n_pool)

    def weights(self, rng: np.random.Generator, n_pool: int, batch: int,
                size: int) -> np.ndarray:
        """Independent inclusions with ``q = B/n``, divided by the nominal ``B``."""
        return (rng.random((size, n_pool)) < batch / n_pool) / batch


BERNOULLI = register_scheme(BernoulliSampling(
    "bernoulli", "each sample joins independently with probability B/n (nominal divisor B)",
    order=1, full_batch_is_set=True))
