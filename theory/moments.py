r"""Batch-moment algebra, derived symbolically from indicator moments.

A minibatch mean is written :math:`\hat H=\sum_{i=1}^n \omega_i H_i` with random weights
:math:`\omega_i`.  Everything the second-moment operator needs is the pair of moments
:math:`\mathbb E[\omega_i^2]` and :math:`\mathbb E[\omega_i\omega_j]` (:math:`i\neq j`), which this
module *derives* (it does not transcribe them) from the indicator variables of each sampling model
(SPEC §1.4, §2.1):

* ``wor`` -- a uniform size-:math:`B` subset, :math:`\omega_i=z_i/B` with
  :math:`\sum_i z_i=B`; exchangeability plus :math:`z_i^2=z_i` give two linear equations;
* ``bernoulli`` -- :math:`z_i\sim\mathrm{Bernoulli}(q)` independent, :math:`q=B/n`, divided by the
  *nominal* :math:`B`;
* ``wr`` -- :math:`B` i.i.d. uniform draws, :math:`\omega_i=c_i/B` with multiplicity counts
  :math:`c_i=\sum_t\mathbb 1\{I_t=i\}`.

Collecting the diagonal terms of
:math:`\mathbb E[\hat HM\hat H]=\sum_{ij}\mathbb E[\omega_i\omega_j]H_iMH_j` and completing the
double sum to :math:`n^2\bar HM\bar H` gives the batch-covariance operator

.. math::
   \mathcal C(M)=\mathbb E[\hat HM\hat H]-\bar HM\bar H
   = a\sum_i H_iMH_i + b\,\bar HM\bar H,\qquad
   a=\mathbb E\omega_i^2-\mathbb E\omega_i\omega_j,\quad b=n^2\,\mathbb E\omega_i\omega_j-1 .

The same moments give the mean and variance of the count :math:`K` of *marked* samples
(:math:`m` of the :math:`n`) that land in a batch, which drive the commuting closed forms of §4.1:
:math:`\mathbb EK=m\,\mathbb Ez`,
:math:`\operatorname{Var}K=m\operatorname{Var}z+m(m-1)\operatorname{Cov}(z_i,z_j)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sympy as sp

__all__ = [
    "SAMPLING_MODELS",
    "BatchMoments",
    "batch_moments",
    "covariance_coefficients",
    "count_moments",
    "n",
    "B",
    "m",
]

#: The sampling models the package implements (SPEC §1.4).
SAMPLING_MODELS: tuple[str, ...] = ("wor", "bernoulli", "wr")

n, B, m = sp.symbols("n B m", positive=True)


@dataclass(frozen=True)
class BatchMoments:
    r"""Indicator moments of one sampling model, as sympy expressions in :math:`n, B`.

    Attributes
    ----------
    sampling:
        Name of the model (``wor``, ``bernoulli`` or ``wr``).
    ez:
        :math:`\mathbb E z_i`, the expected multiplicity of sample :math:`i` in a batch.
    ez2:
        :math:`\mathbb E z_i^2`.
    ezz:
        :math:`\mathbb E z_iz_j` for :math:`i\neq j`.
    """

    sampling: str
    ez: sp.Expr
    ez2: sp.Expr
    ezz: sp.Expr

    @property
    def e_omega(self) -> sp.Expr:
        r""":math:`\mathbb E\omega_i=\mathbb Ez_i/B`."""
        return sp.simplify(self.ez / B)

    @property
    def e_omega2(self) -> sp.Expr:
        r""":math:`\mathbb E\omega_i^2=\mathbb Ez_i^2/B^2`."""
        return sp.simplify(self.ez2 / B**2)

    @property
    def e_omega_omega(self) -> sp.Expr:
        r""":math:`\mathbb E\omega_i\omega_j=\mathbb Ez_iz_j/B^2` for :math:`i\ne j`."""
        return sp.simplify(self.ezz / B**2)

    @property
    def diag_coeff(self) -> sp.Expr:
        r"""Coefficient :math:`a` of :math:`\sum_iH_iMH_i` in :math:`\mathcal C(M)`."""
        return sp.factor(sp.simplify(self.e_omega2 - self.e_omega_omega))

    @property
    def mean_coeff(self) -> sp.Expr:
        r"""Coefficient :math:`b` of :math:`\bar HM\bar H` in :math:`\mathcal C(M)`."""
        return sp.factor(sp.simplify(n**2 * self.e_omega_omega - 1))


def _derive_wor() -> BatchMoments:
    r"""Uniform subsets: :math:`n\mathbb Ez=B`, :math:`\mathbb E[z_i\sum_jz_j]=B\mathbb Ez_i`."""
    p1, p2 = sp.symbols("p1 p2")
    sol = sp.solve([sp.Eq(n * p1, B), sp.Eq(p1 + (n - 1) * p2, B * p1)], [p1, p2], dict=True)[0]
    ez = sp.simplify(sol[p1])
    return BatchMoments("wor", ez, ez, sp.factor(sol[p2]))  # z_i^2 = z_i


def _derive_bernoulli() -> BatchMoments:
    r"""Independent inclusions, :math:`q=B/n`.

    :math:`\mathbb Ez=\mathbb Ez^2=q` and :math:`\mathbb Ez_iz_j=q^2`.
    """
    q = B / n
    return BatchMoments("bernoulli", q, q, q**2)


def _derive_wr() -> BatchMoments:
    r"""I.i.d. draws :math:`I_1..I_B`.

    Sum :math:`\mathbb E[\mathbb 1\{I_t=i\}\mathbb 1\{I_s=j\}]` over the :math:`B` diagonal pairs
    :math:`t=s` and the :math:`B(B-1)` pairs :math:`t\neq s`.
    """
    same, other = sp.Integer(1) / n, sp.Integer(1) / n**2  # P(I_t=i) and P(I_t=i, I_s=j), t != s
    ez = B * same
    ez2 = B * same + B * (B - 1) * other  # i == j: diagonal pairs hit with prob 1/n
    ezz = B * 0 + B * (B - 1) * other  # i != j: a single draw cannot be both i and j
    return BatchMoments("wr", sp.simplify(ez), sp.expand(ez2), sp.factor(ezz))


_DERIVATIONS: dict[str, Callable[[], BatchMoments]] = {
    "wor": _derive_wor,
    "bernoulli": _derive_bernoulli,
    "wr": _derive_wr,
}


def check_sampling(sampling: str) -> str:
    """Return ``sampling`` normalised, or raise a ``ValueError`` naming the known models."""
    key = str(sampling).lower()
    if key not in _DERIVATIONS:
        raise ValueError(
            f"unknown sampling model {sampling!r}; expected one of {', '.join(SAMPLING_MODELS)}"
        )
    return key


@cache
def batch_moments(sampling: str) -> BatchMoments:
    """Derived indicator moments for ``sampling`` (cached)."""
    return _DERIVATIONS[check_sampling(sampling)]()


@cache
def _coefficient_callables(sampling: str) -> tuple[Callable, Callable]:
    mom = batch_moments(sampling)
    return sp.lambdify((n, B), mom.diag_coeff, "math"), sp.lambdify((n, B), mom.mean_coeff, "math")


def covariance_coefficients(sampling: str, n_pool: int, batch: int) -> tuple[float, float]:
    r"""Numeric :math:`(a, b)` with :math:`\mathcal C(M)=a\sum_iH_iMH_i+b\,\bar HM\bar H`.

    Parameters
    ----------
    sampling:
        ``wor``, ``bernoulli`` or ``wr``.
    n_pool:
        Pool size :math:`n\ge 1`.
    batch:
        Nominal batch size :math:`1\le B\le n` (``wr`` allows :math:`B>n`).
    """
    key = check_sampling(sampling)
    if n_pool < 1:
        raise ValueError(f"pool size must be >= 1, got {n_pool}")
    if batch < 1:
        raise ValueError(f"batch size must be >= 1, got {batch}")
    if key != "wr" and batch > n_pool:
        raise ValueError(f"batch size {batch} is larger than its set of {n_pool} samples")
    if n_pool == 1:  # a pool of one: every batch mean is that matrix (the formulas read 0/0)
        return 0.0, 0.0
    fa, fb = _coefficient_callables(key)
    return float(fa(n_pool, batch)), float(fb(n_pool, batch))


@cache
def count_moments(sampling: str) -> tuple[sp.Expr, sp.Expr]:
    r"""Mean and variance of the number :math:`K` of :math:`m` marked samples in a batch.

    .. math:: \mathbb EK=m\,\mathbb Ez,\qquad
       \operatorname{Var}K=m(\mathbb Ez^2-(\mathbb Ez)^2)+m(m-1)(\mathbb Ez_iz_j-(\mathbb Ez)^2).

    For ``wr`` the count :math:`K=\sum_{i\in\text{marked}} c_i` includes repeated draws.
    """
    mom = batch_moments(sampling)
    mean = sp.simplify(m * mom.ez)
    var = m * (mom.ez2 - mom.ez**2) + m * (m - 1) * (mom.ezz - mom.ez**2)
    return mean, sp.factor(sp.simplify(var))
