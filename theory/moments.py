r"""Batch-moment algebra, derived symbolically from indicator moments.

A minibatch mean is written :math:`\hat H=\sum_{i=1}^n \omega_i H_i` with random weights
:math:`\omega_i`.  Everything the second-moment operator needs is the pair of moments
:math:`\mathbb E[\omega_i^2]` and :math:`\mathbb E[\omega_i\omega_j]` (:math:`i\neq j`), which this
module reads from the sampling-scheme registry (:mod:`theory.sampling`), where each scheme's
module *derives* them (it does not transcribe them) from its indicator variables (SPEC §1.4, §2.1).

Collecting the diagonal terms of :math:`\mathbb E[\hat HM\hat H]=\sum_{ij}\mathbb E[\omega_i\omega_j]
H_iMH_j` and completing the double sum to :math:`n^2\bar HM\bar H` gives the batch-covariance operator

.. math::
   \mathcal C(M)=\mathbb E[\hat HM\hat H]-\bar HM\bar H
   = a\sum_i H_iMH_i + b\,\bar HM\bar H,\qquad
   a=\mathbb E\omega_i^2-\mathbb E\omega_i\omega_j,\quad b=n^2\,\mathbb E\omega_i\omega_j-1 .

The same moments give the mean and variance of the count :math:`K` of *marked* samples
(:math:`m` of the :math:`n`) that land in a batch, which drive the commuting closed forms of §4.1:
:math:`\mathbb EK=m\,\mathbb Ez`, :math:`\operatorname{Var}K=m\operatorname{Var}z+m(m-1)\operatorname{Cov}(z_i,z_j)`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import sympy as sp

from theory.sampling import B, BatchMoments, get_scheme, m, n

__all__ = [
    "batch_moments",
    "covariance_coefficients",
    "count_moments",
    "n",
    "B",
    "m",
]


@cache
def batch_moments(sampling: str) -> BatchMoments:
    r"""Derived indicator moments of the registered scheme ``sampling`` (cached).

    Parameters
    ----------
    sampling:
        A registered scheme name (:func:`theory.sampling.scheme_names`).

    Returns
    -------
    BatchMoments
        :math:`\mathbb E\omega_i`, :math:`\mathbb E\omega_i^2`, :math:`\mathbb E\omega_i\omega_j`
        of the batch weights :math:`\omega_i=\mathbb 1[i\in\text{batch}]/B`.

    Examples
    --------
    Every scheme weighs a sample :math:`1/n` on average (the batch gradient is unbiased); without
    replacement :math:`\mathbb E\omega_i^2=\mathbb E\omega_i/B`:

    >>> m = batch_moments("wor")
    >>> m.e_omega, m.e_omega2
    (1/n, 1/(B*n))
    """
    return get_scheme(sampling).derive_moments()


@cache
def _coefficient_callables(sampling: str) -> tuple[Callable, Callable]:
    mom = batch_moments(sampling)
    return sp.lambdify((n, B), mom.diag_coeff, "math"), sp.lambdify((n, B), mom.mean_coeff, "math")


def covariance_coefficients(sampling: str, n_pool: int, batch: int) -> tuple[float, float]:
    r"""Numeric :math:`(a, b)` with :math:`\mathcal C(M)=a\sum_iH_iMH_i+b\,\bar HM\bar H`.

    Parameters
    ----------
    sampling:
        A registered exchangeable scheme (:func:`theory.sampling.scheme_names`).
    n_pool:
        Pool size :math:`n\ge 1`.
    batch:
        Nominal batch size, admitted by the scheme (:math:`1\le B\le n` unless a batch may
        exceed its set).

    Returns
    -------
    tuple of float
        :math:`(a, b)`; ``(0, 0)`` for a pool of one.
    """
    scheme = get_scheme(sampling)
    if not scheme.exchangeable:
        raise ValueError(scheme.unsupported("two-coefficient batch covariance"))
    if n_pool < 1:
        raise ValueError(f"pool size must be >= 1, got {n_pool}")
    problem = scheme.batch_problem(n_pool, batch)
    if problem:
        raise ValueError(f"batch size {problem}")
    if n_pool == 1:  # a pool of one: every batch mean is that matrix (the formulas read 0/0)
        return 0.0, 0.0
    fa, fb = _coefficient_callables(scheme.name)
    return float(fa(n_pool, batch)), float(fb(n_pool, batch))


@cache
def count_moments(sampling: str) -> tuple[sp.Expr, sp.Expr]:
    r"""Mean and variance of the number :math:`K` of :math:`m` marked samples in a batch.

    .. math:: \mathbb EK=m\,\mathbb Ez,\qquad
       \operatorname{Var}K=m(\mathbb Ez^2-(\mathbb Ez)^2)+m(m-1)(\mathbb Ez_iz_j-(\mathbb Ez)^2).

    For ``wr`` the count :math:`K=\sum_{i\in\text{marked}} c_i` includes repeated draws.  Only an
    exchangeable scheme has one law whichever samples are marked; the others raise ``ValueError``.
    """
    scheme = get_scheme(sampling)
    if not scheme.exchangeable:
        raise ValueError(scheme.unsupported("marked-count moments"))
    mom = batch_moments(scheme.name)
    mean = sp.simplify(m * mom.ez)
    var = m * (mom.ez2 - mom.ez**2) + m * (m - 1) * (mom.ezz - mom.ez**2)
    return mean, sp.factor(sp.simplify(var))
