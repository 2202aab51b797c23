r"""Random test instances: non-commuting PSD families of mixed rank (seeded).

Used by the claims (C1, C3, C5) and by the property-based tests.  Each per-sample Hessian is
:math:`H_i=F_iF_i^\top` with :math:`F_i\in\mathbb R^{d\times k_i}` Gaussian, :math:`k_i` drawn in
:math:`1..\mathrm{max\_rank}` (zero-padded columns), so the family does not commute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.core.inputs import HessianPool, UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator
from theory.sampling import exchangeable_names


@dataclass(frozen=True)
class Instance:
    """A random unlearning instance: retain/forget pools and a configuration."""

    retain: HessianPool
    forget: HessianPool | None
    config: UnlearningConfig

    def operator(self, **kwargs) -> SecondMomentOperator:
        """The second-moment operator of this instance."""
        return SecondMomentOperator(self.retain, self.forget, self.config, **kwargs)


def random_pool(rng: np.random.Generator, n: int, d: int, max_rank: int | None = None,
                scale: float = 1.0, name: str = "hessians") -> HessianPool:
    """``n`` random PSD matrices in dimension ``d`` with ranks in ``1..max_rank``."""
    k = d if max_rank is None else max(1, min(max_rank, d))
    F = rng.standard_normal((n, d, k)) * scale
    ranks = rng.integers(1, k + 1, size=n)
    F *= (np.arange(k)[None, None, :] < ranks[:, None, None])  # zero the unused columns
    return as_pool(F, name, factors=True)


def random_instance(rng: np.random.Generator, *, d: int = 4, n_retain: int = 6,
                    n_forget: int = 3, alpha_max: float = 0.4, sampling: str | None = None,
                    forget_scale: float = 0.5, max_rank: int | None = None) -> Instance:
    r"""A random instance with :math:`\\alpha\\in[0,\\alpha_{\\max}]` and random batch sizes."""
    retain = random_pool(rng, n_retain, d, max_rank, 1.0, "retain")
    forget = random_pool(rng, n_forget, d, max_rank, forget_scale, "forget") if n_forget else None
    schemes = exchangeable_names()  # the schemes the exchangeable operator takes
    sampling = sampling or schemes[int(rng.integers(len(schemes)))]
    cfg = UnlearningConfig(
        alpha=float(rng.uniform(0.0, alpha_max)) if n_forget else 0.0,
        batch_retain=int(rng.integers(1, n_retain + 1)),
        batch_forget=int(rng.integers(1, n_forget + 1)) if n_forget else 1,
        sampling=sampling,
    )
    return Instance(retain, forget, cfg)


def random_orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random orthogonal ``d x d`` matrix drawn from ``rng``."""
    from numerics.core.families import random_rotation

    return random_rotation(d, rng)
