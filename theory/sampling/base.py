r"""The sampling-scheme protocol, its symbolic moments and the registry of schemes.

A minibatch mean is :math:`\hat H=\sum_{i=1}^n\omega_iH_i` with random weights
:math:`\omega_i=z_i/B`, where :math:`z_i` is the multiplicity of sample :math:`i` in the batch and
:math:`B` the *nominal* batch size (SPEC §1.4).  A scheme is one object that knows

* its name and a one-line help text (for the command line and the docs);
* its symbolic indicator moments :math:`\mathbb Ez_i`, :math:`\mathbb Ez_i^2` and
  :math:`\mathbb Ez_iz_j` (:math:`i\ne j`), derived in its module (:meth:`SamplingScheme.derive_moments`);
* the exact law of the number :math:`K` of :math:`m` marked samples in a batch
  (:meth:`SamplingScheme.count_law`, used by :mod:`theory.lyapunov`);
* a numpy sampler of batch weights (:meth:`SamplingScheme.weights`);
* whether a batch may exceed its set (:attr:`SamplingScheme.may_exceed_set`) and which batch
  sizes it admits (:meth:`SamplingScheme.batch_problem`);
* whether it is *exchangeable* (:attr:`SamplingScheme.exchangeable`): every pair of distinct
  samples has the same joint law, so the pair moment :math:`\mathbb Ez_iz_j` is one number and
  the closed forms that need it (the two-coefficient batch covariance, the marked-count laws of
  the commuting families) apply.  A scheme that is not says why in
  :attr:`SamplingScheme.not_exchangeable_reason`, and the consumers skip it with that reason.

Every scheme lives in its own module of :mod:`theory.sampling`; importing the package imports
every such module, and each module registers its scheme with :func:`register_scheme`.  Everything
that loops over schemes reads :func:`scheme_names`; :func:`get_scheme` raises
:class:`UnknownSamplingError` naming the known schemes for any other name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import sympy as sp

__all__ = [
    "n",
    "B",
    "m",
    "BatchMoments",
    "SamplingScheme",
    "UnknownSamplingError",
    "register_scheme",
    "get_scheme",
    "check_sampling",
    "scheme_names",
    "exchangeable_names",
    "skipped_schemes",
    "sampling_help",
]

#: Pool size, nominal batch size and number of marked samples (shared by every scheme).
n, B, m = sp.symbols("n B m", positive=True)


class UnknownSamplingError(ValueError):
    """A sampling-scheme name that is not registered (the message names the known ones)."""


@dataclass(frozen=True)
class BatchMoments:
    r"""Indicator moments of one sampling scheme, as sympy expressions in :math:`n, B`.

    Attributes
    ----------
    sampling:
        Name of the scheme.
    ez:
        :math:`\mathbb E z_i`, the expected multiplicity of sample :math:`i` in a batch.
    ez2:
        :math:`\mathbb E z_i^2`.
    ezz:
        :math:`\mathbb E z_iz_j` for :math:`i\neq j` (for a stratified scheme: :math:`i, j` in the
        same stratum).
    ezz_between:
        :math:`\mathbb E z_iz_j` for :math:`i, j` in different strata; ``None`` for an
        exchangeable scheme (every pair is alike, the moment is ``ezz``).
    """

    sampling: str
    ez: sp.Expr
    ez2: sp.Expr
    ezz: sp.Expr
    ezz_between: sp.Expr | None = None

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
        r""":math:`\mathbb E\omega_i\omega_j=\mathbb Ez_iz_j/B^2` for :math:`i\ne j` (same stratum)."""
        return sp.simplify(self.ezz / B**2)

    @property
    def diag_coeff(self) -> sp.Expr:
        r"""Coefficient :math:`a` of :math:`\sum_iH_iMH_i` in :math:`\mathcal C(M)`."""
        return sp.factor(sp.simplify(self.e_omega2 - self.e_omega_omega))

    @property
    def mean_coeff(self) -> sp.Expr:
        r"""Coefficient :math:`b` of :math:`\bar HM\bar H` in :math:`\mathcal C(M)`.

        :math:`b=n^2\,\mathbb E\omega_i\omega_j-1`, with the between-strata pair moment when the
        scheme has strata.
        """
        pair = self.ezz if self.ezz_between is None else self.ezz_between
        return sp.factor(sp.simplify(n**2 * pair / B**2 - 1))


@dataclass(frozen=True)
class SamplingScheme(ABC):
    r"""One sampling scheme: a name, its moments, its count law and its sampler.

    Attributes
    ----------
    name:
        The registry key (lower case), e.g. ``wor``.
    help:
        One line for the command line and the docs.
    order:
        Position in :func:`scheme_names` (listings, tables and golden files follow it).
    may_exceed_set:
        True when a batch may hold more draws than its set has samples (with replacement).
    exchangeable:
        True when every pair of distinct samples has the same joint inclusion law.
    not_exchangeable_reason:
        For a scheme that is not exchangeable: what the exchangeable closed forms miss.
    full_batch_is_set:
        True when a batch of nominal size :math:`B=n` is the whole set with certainty (then the
        marked count has no variance, where a closed form may read :math:`0/0`).
    """

    name: str
    help: str
    order: int
    may_exceed_set: bool = False
    exchangeable: bool = True
    not_exchangeable_reason: str = ""
    full_batch_is_set: bool = False

    @abstractmethod
    def derive_moments(self) -> BatchMoments:
        """Derive the symbolic indicator moments (called once, cached by :mod:`theory.moments`)."""

    @abstractmethod
    def weights(self, rng: np.random.Generator, n_pool: int, batch: int,
                size: int) -> np.ndarray:
        r"""``size`` independent batches as weights :math:`\omega` (``size x n_pool``).

        Parameters
        ----------
        rng:
            The generator every draw comes from.
        n_pool, batch:
            Pool size :math:`n` and nominal batch size :math:`B` (already validated).
        size:
            Number of batches.

        Returns
        -------
        ndarray
            float64 ``(size, n_pool)``, :math:`\hat H=\sum_i\omega_iH_i` per row.
        """

    def count_law(
        self, n_pool: int, batch: int, marked: int,  # noqa: ARG002 -- the overrides' signature
    ) -> tuple[np.ndarray, np.ndarray]:
        """Support and pmf of the count of ``marked`` samples (of ``n_pool``) in a batch.

        Only exchangeable schemes have one law whatever the marked samples are; the others raise
        ``ValueError`` with :attr:`not_exchangeable_reason`.
        """
        raise ValueError(self.unsupported("a marked-count law"))

    def batch_problem(self, n_pool: int, batch: int) -> str | None:
        """What is wrong with the batch size ``batch`` for a set of ``n_pool``, or ``None``.

        The phrase continues "batch size ...", e.g. ``"must be >= 1, got 0"``.  The rule "a batch
        may exceed its set only with replacement" is written here, once.
        """
        if batch < 1:
            return f"must be >= 1, got {batch}"
        if batch > n_pool and not self.may_exceed_set:
            return f"{batch} is larger than its set of {n_pool} samples"
        return None

    def admissible_sizes(self, n_pool: int, batch: int) -> tuple[int, int]:
        """The smallest admissible ``(n', B')`` with ``n' >= n_pool`` and ``B' >= batch``.

        ``(n_pool, batch)`` itself when the scheme admits it; reference points of the golden
        expressions are moved this way to sizes a scheme can draw (e.g. equal strata).
        """
        for n_new in range(int(n_pool), int(n_pool) + 1000):
            for b_new in range(int(batch), n_new + 1 if not self.may_exceed_set else n_new + batch):
                if self.batch_problem(n_new, b_new) is None:
                    return n_new, b_new
        raise ValueError(f"{self.name} admits no batch size near n = {n_pool}, B = {batch}")

    def unsupported(self, what: str) -> str:
        """The message for a closed form this scheme cannot take (its exchangeability)."""
        return (f"sampling model {self.name!r} has no {what}: it is not exchangeable "
                f"({self.not_exchangeable_reason})")


_SCHEMES: dict[str, SamplingScheme] = {}


def register_scheme(scheme: SamplingScheme) -> SamplingScheme:
    """Add ``scheme`` to the registry (its module calls this once, at import).

    Returns
    -------
    SamplingScheme
        The registered scheme.
    """
    key = scheme.name
    if key != key.lower() or not key.replace("_", "").isalnum():
        raise ValueError(f"sampling scheme name {key!r} must be lower-case letters, digits, '_'")
    if key in _SCHEMES:
        raise ValueError(f"sampling scheme {key!r} is registered twice")
    if not scheme.exchangeable and not scheme.not_exchangeable_reason:
        raise ValueError(f"sampling scheme {key!r} is not exchangeable and must say why")
    _SCHEMES[key] = scheme
    return scheme


def scheme_names() -> tuple[str, ...]:
    """Every registered scheme name, in the schemes' ``order``."""
    return tuple(sorted(_SCHEMES, key=lambda k: (_SCHEMES[k].order, k)))


def exchangeable_names() -> tuple[str, ...]:
    """The names of the exchangeable schemes (those the exchangeable closed forms take)."""
    return tuple(k for k in scheme_names() if _SCHEMES[k].exchangeable)


def skipped_schemes() -> dict[str, str]:
    """Schemes the exchangeable closed forms skip, with the reason (name -> reason)."""
    return {k: _SCHEMES[k].not_exchangeable_reason for k in scheme_names()
            if not _SCHEMES[k].exchangeable}


def get_scheme(name: str) -> SamplingScheme:
    """The registered scheme called ``name`` (case-insensitive).

    Raises
    ------
    UnknownSamplingError
        For any other name; the message lists the known schemes.
    """
    key = str(name).lower()
    if key not in _SCHEMES:
        raise UnknownSamplingError(
            f"unknown sampling model {name!r}; expected one of {', '.join(scheme_names())}")
    return _SCHEMES[key]


def check_sampling(name: str) -> str:
    """The normalised name of a registered scheme, or :class:`UnknownSamplingError`."""
    return get_scheme(name).name


def sampling_help(default: str = "wor") -> str:
    """One help string listing every scheme with its help line (command line, docs)."""
    parts = [f"{k}{' (default)' if k == default else ''}: {_SCHEMES[k].help}"
             for k in scheme_names()]
    return "; ".join(parts)
