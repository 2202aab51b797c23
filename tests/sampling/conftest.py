"""Checks every sampling scheme's test module runs on its own independent enumeration.

A scheme's test module supplies ``enumerate_batches(n, B)``, an exact list of
``(probability, z)`` over every possible batch (``z``: multiplicities, float ``(n,)``), written
from the scheme's definition and not from its code.  The fixture ``scheme_checks`` compares it with

* the symbolic indicator moments (:meth:`~theory.sampling.base.SamplingScheme.derive_moments`);
* the marked-count law (:meth:`~theory.sampling.base.SamplingScheme.count_law`), exchangeable
  schemes only;
* the sampler (:meth:`~theory.sampling.base.SamplingScheme.weights`), by Monte Carlo within the
  statistical policy's standard errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp

from numerics.verify.claims.policy import POLICY, Kind
from theory.moments import batch_moments
from theory.sampling import B, get_scheme, n

Enumeration = Callable[[int, int], Iterable[tuple[float, np.ndarray]]]
K_SE = POLICY[Kind.STATISTICAL].value


def _table(enum: Enumeration, n_pool: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    rows = list(enum(n_pool, batch))
    p = np.array([r[0] for r in rows], float)
    z = np.array([r[1] for r in rows], float)
    assert abs(p.sum() - 1.0) < 1e-12, "the enumeration must cover every batch"
    return p, z


def _symbolic(name: str, n_pool: int, batch: int) -> dict[str, float]:
    mom = batch_moments(name)
    sub = {n: n_pool, B: batch}
    out = {"ez": mom.ez, "ez2": mom.ez2, "ezz": mom.ezz,
           "ezz_between": mom.ezz if mom.ezz_between is None else mom.ezz_between}
    return {k: float(sp.sympify(v).subs(sub)) for k, v in out.items()}


def moments_match_enumeration(name: str, enum: Enumeration, n_pool: int, batch: int,
                              pairs: dict[str, tuple[int, int]]) -> None:
    """Exact moments of the enumeration equal the symbolic ones (12 digits).

    ``pairs`` names a sample pair for ``ezz`` (and ``ezz_between`` where the scheme has strata).
    """
    p, z = _table(enum, n_pool, batch)
    sym = _symbolic(name, n_pool, batch)
    exact = {"ez": p @ z[:, 0], "ez2": p @ z[:, 0] ** 2}
    for key, (i, j) in pairs.items():
        exact[key] = p @ (z[:, i] * z[:, j])
    assert exact.keys() <= sym.keys()
    for key, value in exact.items():
        assert sym[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
    assert p @ z.sum(axis=1) == pytest.approx(batch, rel=1e-12)  # nominal size on average


def count_law_matches_enumeration(name: str, enum: Enumeration, n_pool: int, batch: int,
                                  marked: int) -> None:
    """The pmf of the count of the first ``marked`` samples equals the scheme's count law."""
    p, z = _table(enum, n_pool, batch)
    counts = z[:, :marked].sum(axis=1).round().astype(int)
    pmf = np.bincount(counts, weights=p)
    k, q = get_scheme(name).count_law(n_pool, batch, marked)
    dense = np.zeros(max(pmf.size, int(k.max()) + 1))
    dense[k.astype(int)] = q
    dense_enum = np.zeros_like(dense)
    dense_enum[: pmf.size] = pmf
    np.testing.assert_allclose(dense, dense_enum, rtol=1e-12, atol=1e-15)


def sampler_matches_moments(name: str, n_pool: int, batch: int, pairs: dict[str, tuple[int, int]],
                            draws: int = 200_000, seed: int = 0) -> np.ndarray:
    """Monte-Carlo moments of the sampler's weights within ``K_SE`` standard errors."""
    w = get_scheme(name).weights(np.random.default_rng(seed), n_pool, batch, draws)
    assert w.shape == (draws, n_pool) and w.dtype == np.float64
    z = w * batch
    sym = _symbolic(name, n_pool, batch)
    samples = {"ez": z[:, 0], "ez2": z[:, 0] ** 2}
    samples.update({key: z[:, i] * z[:, j] for key, (i, j) in pairs.items()})
    for key, x in samples.items():
        se = x.std() / np.sqrt(draws)
        assert abs(x.mean() - sym[key]) <= K_SE * max(se, 1e-15), (key, x.mean(), sym[key], se)
    return w


@pytest.fixture
def scheme_checks() -> SimpleNamespace:
    """The shared checks, as functions."""
    return SimpleNamespace(moments=moments_match_enumeration, count_law=count_law_matches_enumeration,
                           sampler=sampler_matches_moments, k_se=K_SE)
