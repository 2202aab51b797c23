r"""``stratified``: a fixed number drawn without replacement from each of :math:`k` equal strata.

Parametrisation (proportional allocation).  The set of :math:`n` samples is split, in pool order,
into :math:`k` equal strata of :math:`s=n/k` consecutive samples (stratum :math:`g` holds the
samples :math:`gs,\dots,(g+1)s-1`; order the pool by class to stratify by class).  A batch of
nominal size :math:`B` draws :math:`b=B/k` samples uniformly without replacement from every
stratum, independently across strata, and :math:`\omega_i=z_i/B`.  Constraints: :math:`k` divides
:math:`n` and :math:`B`, :math:`1\le B\le n`.  The registered scheme has :math:`k=2` (two classes);
:class:`StratifiedWOR` takes any :math:`k` (``StratifiedWOR("stratified3", ..., strata=3)``).

Moments, derived here with sympy for a symbolic :math:`k`:

* inside a stratum the batch is a uniform :math:`b`-subset of :math:`s`, so exchangeability gives
  :math:`sp_1=b` and :math:`p_1+(s-1)p_2=bp_1` for :math:`\mathbb Ez_i=p_1` and
  :math:`\mathbb Ez_iz_j=p_2` (:math:`i\ne j` in the same stratum);
* strata are drawn independently: :math:`\mathbb Ez_iz_j=p_1^2` for :math:`i, j` in different
  strata;

so :math:`\mathbb Ez_i=B/n` for every sample (the batch mean is unbiased),
:math:`\mathbb Ez_i^2=\mathbb Ez_i`, :math:`\mathbb Ez_iz_j=\frac{B(B-k)}{n(n-k)}` within and
:math:`B^2/n^2` between strata.  With :math:`\bar H_g` the stratum means,

.. math:: \mathcal C(M)=a\sum_iH_iMH_i+b\,\bar HM\bar H
   +\frac{n^2}{k^2}\big(\mathbb E\omega_i\omega_j^{\rm within}-\mathbb E\omega_i\omega_j^{\rm between}\big)
   \sum_g\bar H_gM\bar H_g ,\qquad b=0 ,

which is not the two-coefficient form of the exchangeable schemes (and the number of :math:`m`
marked samples in a batch depends on how they are spread over the strata).  Hence the scheme is
*not exchangeable*: the closed forms that need one pair moment (the second-moment operator's
:math:`(a,b)`, the marked-count laws of the diagonal families and of the almost-sure exponents)
skip it with this reason.  The within-stratum pair moment is smaller than the between-strata
one, so the last term is negative semi-definite on PSD :math:`M` and
:math:`\mathcal C(M)\preceq a\sum_iH_iMH_i`: the sufficient convergence bound of SPEC §3.4 with
the weight :math:`a` holds as it does for ``wor``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from theory.sampling.base import B, BatchMoments, SamplingScheme, n, register_scheme

__all__ = ["StratifiedWOR", "STRATIFIED", "k", "derive_stratified_moments"]

#: Number of strata, as a symbol (the registered scheme substitutes its own value).
k = sp.Symbol("k", positive=True, integer=True)


def derive_stratified_moments(name: str = "stratified") -> BatchMoments:
    r"""Indicator moments for :math:`k` strata, in :math:`n, B, k` (see the module docstring)."""
    s, b = n / k, B / k
    p1, p2 = sp.symbols("p1 p2")
    sol = sp.solve([sp.Eq(s * p1, b), sp.Eq(p1 + (s - 1) * p2, b * p1)], [p1, p2], dict=True)[0]
    ez = sp.simplify(sol[p1])
    return BatchMoments(name, ez, ez, sp.factor(sol[p2]), sp.factor(ez**2))  # z_i^2 = z_i


@dataclass(frozen=True)
class StratifiedWOR(SamplingScheme):
    """``B/k`` samples without replacement from each of ``k`` equal consecutive strata."""

    strata: int = 2

    def derive_moments(self) -> BatchMoments:
        """:func:`derive_stratified_moments` at this scheme's number of strata."""
        sym = derive_stratified_moments(self.name)
        sub = {k: self.strata}
        return BatchMoments(self.name, *(sp.factor(sp.simplify(e.subs(sub)))
                                         for e in (sym.ez, sym.ez2, sym.ezz, sym.ezz_between)))

    def batch_problem(self, n_pool: int, batch: int) -> str | None:
        """The base rule, and :math:`k` must divide both :math:`n` and :math:`B`."""
        problem = super().batch_problem(n_pool, batch)
        if problem is None and (n_pool % self.strata or batch % self.strata):
            problem = (f"{batch} cannot be drawn equally from {self.strata} equal strata of a "
                       f"set of {n_pool} ({self.name} needs {self.strata} to divide both)")
        return problem

    def weights(self, rng: np.random.Generator, n_pool: int, batch: int,
                size: int) -> np.ndarray:
        r"""Per stratum the :math:`b` smallest of :math:`s` uniform keys, weight :math:`1/B`."""
        s, b = n_pool // self.strata, batch // self.strata
        keys = rng.random((size, self.strata, s))
        if b == s:
            return np.full((size, n_pool), 1.0 / batch)
        kth = np.partition(keys, b - 1, axis=2)[:, :, b - 1 : b]
        return ((keys <= kth) / batch).reshape(size, n_pool)


STRATIFIED = register_scheme(StratifiedWOR(
    "stratified",
    "B/2 samples without replacement from each half of the set (two equal strata in pool order, "
    "e.g. classes; 2 must divide n and B)",
    order=3, exchangeable=False,
    not_exchangeable_reason="pair moments differ within and between strata, so the batch "
    "covariance has a per-stratum term and the marked-count law depends on how the marked "
    "samples spread over the strata",
    full_batch_is_set=True))
