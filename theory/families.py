r"""Closed forms for commuting (diagonal-law) families, derived with sympy (SPEC §3.6, §4).

Every sample loads on exactly one coordinate axis, :math:`H_i=\lambda\,e_{k(i)}e_{k(i)}^\top`.  The
recursion then decouples into scalar ones, :math:`\delta^{(k)}_{t+1}=J_k\,\delta^{(k)}_t`, with the
coordinate multiplier (SPEC §4.1)

.. math::
   J_k=1-\eta(1-\alpha)\frac{\lambda_r}{B_r}K^r_k+\eta\alpha\frac{\lambda_f}{B_f}K^f_k ,

where :math:`K^r_k, K^f_k` are the independent counts of the :math:`m^r_k, m^f_k` samples of axis
:math:`k` that land in the retain and forget batches.

Nothing below is typed in from SPEC.  The derivation is:

1. expand :math:`J_k` and :math:`J_k^2` as polynomials in :math:`(K_r, K_f)` and take expectations
   monomial by monomial, using independence and the raw moments
   :math:`\mathbb EK`, :math:`\mathbb EK^2=\operatorname{Var}K+(\mathbb EK)^2` (a *generic* law in
   placeholder symbols :math:`E_r, V_r, E_f, V_f`);
2. read off :math:`D=-\partial_\eta\mathbb EJ` and
   :math:`V=(\mathbb EJ^2-(\mathbb EJ)^2)/\eta^2`;
3. solve :math:`\mathbb EJ^2=1` for :math:`\eta>0`, which gives
   :math:`\eta^\star=2D/(D^2+V)`;
4. substitute the count moments of :func:`theory.moments.count_moments` for the sampling model, and
   then the family's parameters (σ-family, identical lists, separate sets, clique).

Every sympy expression has a float callable beside it (``lambdify``).  The numeric functions
return ``0.0`` where the mean escapes (:math:`D\le 0`): then no step size is mean-square stable,
the same convention as :meth:`numerics.core.operator.SecondMomentOperator.eta_star_ms`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import sympy as sp

from theory.moments import B, count_moments, m, n
from theory.sampling import check_sampling, get_scheme

__all__ = [
    "eta",
    "alpha",
    "lam_r",
    "lam_f",
    "m_r",
    "m_f",
    "n_r",
    "n_f",
    "B_r",
    "B_f",
    "sigma",
    "c",
    "lam",
    "sigma_r",
    "sigma_f",
    "mu_r",
    "mu_f",
    "E_r",
    "V_r",
    "E_f",
    "V_f",
    "DiagonalLaw",
    "AxisPair",
    "SeparateSetsLaw",
    "CliqueLaw",
    "DiagonalFamily",
    "generic_diagonal_law",
    "diagonal_law",
    "count_moment_values",
    "AxisLaw",
    "SeparateSets",
    "axis_D",
    "axis_V",
    "axis_second_moment",
    "axis_eta_star",
    "sigma_family_law",
    "sigma_family_eta_star",
    "identical_lists_law",
    "identical_lists_eta_star",
    "separate_sets_law",
    "separate_sets_eta_star",
    "clique_law",
    "clique_eta_star",
    "clique_sigma_derivatives",
    "sigma_family_diagonal",
    "identical_lists_diagonal",
    "separate_sets_diagonal",
    "clique_diagonal",
    "min_stable_batch",
]

eta, alpha, lam_r, lam_f, m_r, m_f, n_r, n_f, B_r, B_f, sigma, c = sp.symbols(
    "eta alpha lambda_r lambda_f m_r m_f n_r n_f B_r B_f sigma c", positive=True
)
lam, sigma_r, sigma_f, mu_r, mu_f = sp.symbols("lambda sigma_r sigma_f mu_r mu_f", positive=True)
#: Placeholders for :math:`\mathbb EK` and :math:`\operatorname{Var}K` of each set (generic law).
E_r, V_r, E_f, V_f = sp.symbols("E_r V_r E_f V_f", nonnegative=True)

_K_r, _K_f = sp.symbols("K_r K_f", nonnegative=True)  # the random counts, as polynomial variables

#: Argument order of the per-axis callables.
AXIS_ARGS: tuple[sp.Symbol, ...] = (alpha, lam_r, m_r, n_r, B_r, lam_f, m_f, n_f, B_f)
_GENERIC_ARGS: tuple[sp.Symbol, ...] = (alpha, lam_r, B_r, E_r, V_r, lam_f, B_f, E_f, V_f)


def _tidy(expr: sp.Expr) -> sp.Expr:
    """Cancel and factor a rational expression (a canonical, readable form)."""
    return sp.factor(sp.cancel(sp.together(expr)))


# ---------------------------------------------------------------------------------------------
# The diagonal law
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiagonalLaw:
    r"""Mean-square law of one diagonal axis (SPEC §4.1).

    Attributes
    ----------
    sampling:
        Sampling model, or ``None`` for the generic law in the placeholders
        :math:`E_r, V_r, E_f, V_f` of the count moments.
    D:
        Net mean curvature of the axis, :math:`\mathbb EJ=1-\eta D`.
    V:
        Batch variance, :math:`\operatorname{Var}J=\eta^2V`.
    EJ2:
        :math:`\mathbb EJ^2=(1-\eta D)^2+\eta^2V`, as derived (expanded in :math:`\eta`).
    eta_star:
        The positive root :math:`\eta^\star=2D/(D^2+V)` of :math:`\mathbb EJ^2=1`; the axis is
        mean-square stable exactly on :math:`(0,\eta^\star)` when :math:`D>0`.
    """

    sampling: str | None
    D: sp.Expr
    V: sp.Expr
    EJ2: sp.Expr
    eta_star: sp.Expr


def _expectation(poly_expr: sp.Expr, raw_r: list[sp.Expr], raw_f: list[sp.Expr]) -> sp.Expr:
    r""":math:`\mathbb E` of a polynomial in independent :math:`K_r, K_f` from their raw moments."""
    poly = sp.Poly(sp.expand(poly_expr), _K_r, _K_f)
    return sp.expand(sum(coef * raw_r[i] * raw_f[j] for (i, j), coef in poly.terms()))


@cache
def generic_diagonal_law() -> DiagonalLaw:
    r"""The diagonal law in the count-moment placeholders :math:`E_\bullet, V_\bullet`.

    Derived from
    :math:`J=1-\eta(1-\alpha)\frac{\lambda_r}{B_r}K_r+\eta\alpha\frac{\lambda_f}{B_f}K_f`
    with :math:`\mathbb EK_\bullet=E_\bullet`, :math:`\mathbb EK_\bullet^2=V_\bullet+E_\bullet^2`
    and :math:`K_r\perp K_f`; :math:`\eta^\star` is ``sympy.solve`` of :math:`\mathbb EJ^2=1` over
    :math:`\eta>0`.
    """
    J = 1 - eta * (1 - alpha) * (lam_r / B_r) * _K_r + eta * alpha * (lam_f / B_f) * _K_f
    raw_r = [sp.Integer(1), E_r, V_r + E_r**2]
    raw_f = [sp.Integer(1), E_f, V_f + E_f**2]
    EJ = _expectation(J, raw_r, raw_f)
    EJ2 = _expectation(J**2, raw_r, raw_f)
    D = _tidy(-sp.diff(EJ, eta))
    if sp.simplify(EJ - (1 - eta * D)) != 0:  # E J must be affine in eta
        raise AssertionError("E J is not affine in eta")
    V = _tidy(sp.expand(EJ2 - EJ**2) / eta**2)
    roots = [r for r in sp.solve(sp.Eq(EJ2, 1), eta) if sp.simplify(r) != 0]
    if len(roots) != 1:
        raise AssertionError(f"expected one non-zero root of E J^2 = 1, got {roots}")
    return DiagonalLaw(None, D, V, EJ2, _tidy(roots[0]))


def _count_substitution(sampling: str) -> dict[sp.Symbol, sp.Expr]:
    """Placeholders -> count moments of ``sampling`` for the retain and forget sets."""
    mean, var = count_moments(check_sampling(sampling))
    to_r = {n: n_r, B: B_r, m: m_r}
    to_f = {n: n_f, B: B_f, m: m_f}
    return {
        E_r: mean.subs(to_r, simultaneous=True),
        V_r: var.subs(to_r, simultaneous=True),
        E_f: mean.subs(to_f, simultaneous=True),
        V_f: var.subs(to_f, simultaneous=True),
    }


@cache
def diagonal_law(sampling: str) -> DiagonalLaw:
    r"""The diagonal law of SPEC §4.1 for one sampling model.

    The generic law of :func:`generic_diagonal_law` with the count moments of
    :func:`theory.moments.count_moments` substituted (:math:`\mathbb EK=Bm/n` for every model and
    the model's :math:`\operatorname{Var}K`).  Free symbols: :math:`\eta` (in ``EJ2`` only),
    :math:`\alpha, \lambda_r, \lambda_f, m_r, m_f, n_r, n_f, B_r, B_f`.
    """
    key = check_sampling(sampling)
    gen = generic_diagonal_law()
    sub = _count_substitution(key)
    return DiagonalLaw(
        key,
        _tidy(gen.D.subs(sub)),
        _tidy(gen.V.subs(sub)),
        sp.expand(gen.EJ2.subs(sub)),
        _tidy(gen.eta_star.subs(sub)),
    )


@cache
def _count_callables(sampling: str) -> tuple[Callable, Callable]:
    mean, var = count_moments(check_sampling(sampling))
    return sp.lambdify((n, B, m), mean, "numpy"), sp.lambdify((n, B, m), var, "numpy")


def count_moment_values(sampling: str, n_pool, batch, marked) -> tuple[np.ndarray, np.ndarray]:
    r"""Numeric :math:`(\mathbb EK,\operatorname{Var}K)` for :math:`m` marked samples of :math:`n`.

    Broadcasts over array arguments.  Under a scheme whose full batch is the whole set
    (``full_batch_is_set``: ``wor``, ``bernoulli``) a full batch (:math:`B=n`, including the pool
    of one where the closed form reads :math:`0/0`) has :math:`\operatorname{Var}K=0`.
    """
    scheme = get_scheme(sampling)
    key = scheme.name
    n_a, b_a, m_a = (np.asarray(x, dtype=float) for x in (n_pool, batch, marked))
    f_mean, f_var = _count_callables(key)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.asarray(f_mean(n_a, b_a, m_a), dtype=float) * np.ones_like(n_a * b_a * m_a)
        var = np.asarray(f_var(n_a, b_a, m_a), dtype=float) * np.ones_like(mean)
    if scheme.full_batch_is_set:
        var = np.where(b_a >= n_a, 0.0, var)
    return mean, var


@cache
def _generic_callables() -> dict[str, Callable]:
    gen = generic_diagonal_law()
    return {
        "D": sp.lambdify(_GENERIC_ARGS, gen.D, "numpy"),
        "V": sp.lambdify(_GENERIC_ARGS, gen.V, "numpy"),
        "EJ2": sp.lambdify((eta, *_GENERIC_ARGS), gen.EJ2, "numpy"),
        "eta_star": sp.lambdify(_GENERIC_ARGS, gen.eta_star, "numpy"),
    }


@dataclass(frozen=True, eq=False)
class AxisLaw:
    r"""One diagonal axis (or an array of them) under a sampling scheme and mixing weight.

    On the axis, each set has :math:`m` samples of per-sample curvature :math:`\lambda`, in a
    pool of :math:`n` drawn in batches of nominal size :math:`B`; the forget set defaults to no
    sample on the axis.  Array values broadcast (several axes at once).

    Attributes
    ----------
    sampling:
        A registered scheme name.
    alpha:
        Mixing weight :math:`\alpha\in[0,1]`.
    lam_r, m_r, n_r, B_r:
        Retain curvature on the axis, retain samples on it, retain pool size and batch size.
    lam_f, m_f, n_f, B_f:
        The same for the forget set.
    """

    sampling: str
    alpha: Any
    lam_r: Any
    m_r: Any
    n_r: Any
    B_r: Any
    lam_f: Any = 0.0
    m_f: Any = 0
    n_f: Any = 1
    B_f: Any = 1


@dataclass(frozen=True)
class SeparateSets:
    r"""The separate-sets family of SPEC §4.4: pools, shared counts and curvatures.

    :math:`\sigma_r` of the :math:`n_r` retain samples and :math:`\sigma_f` of the :math:`n_f`
    forget samples load on the shared axis :math:`e_0` (curvature :math:`\lambda_r`,
    :math:`\lambda_f`); every other sample has a private axis.
    """

    n_r: int
    n_f: int
    sigma_r: int
    sigma_f: int
    lam_r: float
    lam_f: float


def _generic_args(law: AxisLaw) -> tuple:
    er, vr = count_moment_values(law.sampling, law.n_r, law.B_r, law.m_r)
    ef, vf = count_moment_values(law.sampling, law.n_f, law.B_f, law.m_f)
    f = np.asarray
    return (f(law.alpha, float), f(law.lam_r, float), f(law.B_r, float), er, vr,
            f(law.lam_f, float), f(law.B_f, float), ef, vf)


def _as_output(x: np.ndarray) -> float | np.ndarray:
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


def axis_D(law: AxisLaw) -> float | np.ndarray:
    r"""Numeric :math:`D=(1-\alpha)\lambda_r\mathbb EK_r/B_r-\alpha\lambda_f\mathbb EK_f/B_f`."""
    args = _generic_args(law)
    return _as_output(_generic_callables()["D"](*args))


def axis_V(law: AxisLaw) -> float | np.ndarray:
    r"""Numeric :math:`V=(1-\alpha)^2(\lambda_r/B_r)^2\operatorname{Var}K_r+\alpha^2(\lambda_f/B_f)^2\operatorname{Var}K_f`."""  # noqa: E501
    args = _generic_args(law)
    return _as_output(_generic_callables()["V"](*args))


def axis_second_moment(eta_, law: AxisLaw) -> float | np.ndarray:
    r"""Numeric :math:`\mathbb EJ^2=(1-\eta D)^2+\eta^2V`, the per-step mean-square factor."""
    args = _generic_args(law)
    return _as_output(_generic_callables()["EJ2"](np.asarray(eta_, float), *args))


def axis_eta_star(law: AxisLaw) -> float | np.ndarray:
    r"""Numeric mean-square threshold of one diagonal axis, :math:`\eta^\star=2D/(D^2+V)`.

    Parameters
    ----------
    law:
        The axis: scheme, :math:`\alpha`, and per set the curvature, samples on the axis, pool
        and batch size (:class:`AxisLaw`; defaults: no forget sample on the axis).

    Returns
    -------
    float or ndarray
        :math:`\eta^\star` where :math:`D>0`, and ``0.0`` where :math:`D\le 0` (the mean escapes:
        :math:`\mathbb EJ^2>1` for every :math:`\eta>0`).  Broadcasts over array arguments.

    Examples
    --------
    Full-batch gradient descent on one sample of curvature 1: the classical :math:`2/\lambda`.

    >>> axis_eta_star(AxisLaw("wor", 0.0, lam_r=1.0, m_r=1, n_r=1, B_r=1))
    2.0

    Two of four samples on the axis, batches of two without replacement: the count is
    hypergeometric with :math:`\mathbb EK=1`, :math:`\operatorname{Var}K=1/3`, so :math:`D=1/2`,
    :math:`V=1/12` and :math:`\eta^\star=2D/(D^2+V)=3`.

    >>> round(axis_eta_star(AxisLaw("wor", 0.0, lam_r=1.0, m_r=2, n_r=4, B_r=2)), 12)
    3.0
    """
    args = _generic_args(law)
    fns = _generic_callables()
    D = np.asarray(fns["D"](*args), float)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.asarray(fns["eta_star"](*args), float)
    return _as_output(np.where(D > 0, val, 0.0))


# ---------------------------------------------------------------------------------------------
# Named families
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AxisPair:
    r"""Thresholds of the two axis types of a σ-type family: the shared axis and a private axis.

    Attributes
    ----------
    shared, private:
        :math:`\eta^\star` of the shared axis :math:`e_0` and of a private axis (sympy).
    shared_D, private_D:
        The net mean curvature :math:`D` of each axis (the axis escapes at every :math:`\eta`
        when :math:`D\le0`).
    args:
        Argument order of the callables.
    """

    shared: sp.Expr
    private: sp.Expr
    shared_D: sp.Expr
    private_D: sp.Expr
    args: tuple[sp.Symbol, ...]
    _fns: dict[str, Callable] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("shared", "private", "shared_D", "private_D"):
            expr = getattr(self, name)
            self._fns[name] = sp.lambdify(self.args, expr, "numpy")
            self._fns[name + "_exact"] = sp.lambdify(self.args, expr, "math")

    def shared_fn(self, *values) -> float:
        r"""Float :math:`\eta^\star` of the shared axis (``0.0`` where :math:`D\le 0`)."""
        return self._threshold("shared", values)

    def private_fn(self, *values) -> float:
        r"""Float :math:`\eta^\star` of a private axis (``0.0`` where :math:`D\le 0`)."""
        return self._threshold("private", values)

    def evaluate(self, name: str, *values):
        r"""``shared``/``private``/``*_D`` evaluated by numpy at ``values`` (broadcasting).

        Parameters
        ----------
        name:
            ``shared``, ``private``, ``shared_D`` or ``private_D``.
        *values:
            The arguments, in the order of :attr:`args`.

        Returns
        -------
        ndarray or float
            The expression's value (no clamping where :math:`D\le 0`).
        """
        return self._fns[name](*values)

    def _threshold(self, name: str, values: tuple) -> float:
        vals = tuple(float(v) for v in values)
        if self._fns[name + "_D"](*vals) <= 0:
            return 0.0
        return float(self._fns[name](*vals))

    def exact(self, name: str, values: Iterable) -> Fraction:
        """Exact value of ``shared``/``private``/``*_D`` at rational arguments (a ``Fraction``).

        The closed forms have integer coefficients, so evaluating the lambdified expression on
        :class:`fractions.Fraction` arguments is exact rational arithmetic.
        """
        vals = tuple(Fraction(v) for v in values)
        out = self._fns[name + "_exact"](*vals)
        if not isinstance(out, (Fraction, int)):
            raise TypeError(f"exact evaluation of {name} left rational arithmetic: {out!r}")
        return Fraction(out)


def _sgd(expr: sp.Expr) -> sp.Expr:
    r"""Plain SGD: :math:`\alpha=0`; the forget symbols must drop out."""
    out = _tidy(expr.subs(alpha, 0))
    leftover = out.free_symbols & {lam_f, m_f, n_f, B_f}
    if leftover:
        raise AssertionError(f"forget symbols {leftover} survive alpha = 0")
    return out


@cache
def sigma_family_law(sampling: str) -> AxisPair:
    r"""Plain SGD on the σ-family (SPEC §4.2), derived from the diagonal law with :math:`\alpha=0`.

    :math:`n` samples, :math:`\sigma` of them on the shared axis :math:`e_0`, the rest on private
    axes; every sample has curvature :math:`\lambda=cn/\sigma`, so :math:`\lambda_{\max}(\bar H)=c`.
    Shared axis: :math:`m=\sigma`; private axis: :math:`m=1`.  Arguments ``(sigma, n, B, c)``.
    """
    law = diagonal_law(sampling)
    common = {n_r: n, B_r: B, lam_r: c * n / sigma}
    shared_sub = {**common, m_r: sigma}
    private_sub = {**common, m_r: 1}
    return AxisPair(
        _sgd(law.eta_star.subs(shared_sub, simultaneous=True)),
        _sgd(law.eta_star.subs(private_sub, simultaneous=True)),
        _sgd(law.D.subs(shared_sub, simultaneous=True)),
        _sgd(law.D.subs(private_sub, simultaneous=True)),
        (sigma, n, B, c),
    )


def _min_axes(pair: AxisPair, values: tuple, only_shared: bool, exact: bool):
    if exact:
        shared_d = pair.exact("shared_D", values)
        shared = pair.exact("shared", values) if shared_d > 0 else Fraction(0)
        if only_shared:
            return shared
        private_d = pair.exact("private_D", values)
        private = pair.exact("private", values) if private_d > 0 else Fraction(0)
        return min(shared, private)
    shared = pair.shared_fn(*values)
    return shared if only_shared else min(shared, pair.private_fn(*values))


def _check_family(sampling: str, sigma_: int, n_: int, B_: int) -> str:
    scheme = get_scheme(sampling)
    if not 1 <= sigma_ <= n_:
        raise ValueError(f"sigma must lie in [1, n] = [1, {n_}], got {sigma_}")
    problem = scheme.batch_problem(n_, B_)
    if problem:
        raise ValueError(f"batch size {problem} ({scheme.name}, n = {n_})")
    return scheme.name


def sigma_family_eta_star(
    sampling: str, sigma_: int, n_: int, B_: int, c_: float = 2.0, *, exact: bool = False
) -> float | Fraction:
    r"""Mean-square threshold of SGD on the σ-family, :math:`\min(\eta^\star_0,\eta^\star_{\rm priv})`.

    Only the shared axis exists when :math:`\sigma=n`.  With ``exact=True`` the value is an exact
    :class:`~fractions.Fraction` (``c`` is read as ``Fraction(c)``), to decide ties such as
    :math:`\eta=\eta^\star` exactly.
    """  # noqa: E501
    key = _check_family(sampling, sigma_, n_, B_)
    if n_ == 1:  # closed forms read 0/0; one sample, K = m deterministically (full batch)
        return 2 / Fraction(c_) if exact else 2.0 / c_
    return _min_axes(sigma_family_law(key), (sigma_, n_, B_, c_), sigma_ == n_, exact)


def sigma_family_eta_star_grid(sampling: str, sigma_, n_: int, B_, c_: float = 2.0) -> np.ndarray:
    r"""Vectorised :func:`sigma_family_eta_star` over arrays of :math:`\sigma` and :math:`B`.

    Evaluates the lambdified shared and private thresholds once on the broadcast arrays (no Python
    loop over cells); an axis with :math:`D\le0` contributes :math:`0`, and the private axis is
    absent where :math:`\sigma=n`.  Requires :math:`n\ge2`.
    """
    scheme = get_scheme(sampling)
    key = scheme.name
    if n_ < 2:
        raise ValueError("the grid form needs n >= 2")
    sig, bat = np.broadcast_arrays(np.asarray(sigma_, float), np.asarray(B_, float))
    bad_batch = [p for p in map(lambda b: scheme.batch_problem(n_, b), np.unique(bat)) if p]
    if (sig < 1).any() or (sig > n_).any() or bad_batch:
        raise ValueError(f"need 1 <= sigma <= n (n = {n_}) and admissible batch sizes "
                         f"({key}: batch size {bad_batch[0] if bad_batch else 'ok'})")
    pair = sigma_family_law(key)
    args = (sig, float(n_), bat, float(c_))
    with np.errstate(divide="ignore", invalid="ignore"):
        shared = np.where(pair.evaluate("shared_D", *args) > 0, pair.evaluate("shared", *args),
                          0.0)
        private = np.where(pair.evaluate("private_D", *args) > 0,
                           pair.evaluate("private", *args), 0.0)
    return np.where(sig == n_, shared, np.minimum(shared, private))


@cache
def identical_lists_law(sampling: str) -> AxisPair:
    r"""Unlearning with retain list = forget list (SPEC §4.3), derived from the diagonal law.

    Both lists are the same :math:`n` samples of the σ-family (:math:`\lambda=cn/\sigma`), with the
    same batch size :math:`B`; the two batches are drawn independently.  Shared axis:
    :math:`m_r=m_f=\sigma`; private axis: :math:`m_r=m_f=1`.  Arguments
    ``(sigma, n, B, c, alpha)``.
    """
    law = diagonal_law(sampling)
    common = {n_r: n, n_f: n, B_r: B, B_f: B, lam_r: c * n / sigma, lam_f: c * n / sigma}
    shared_sub = {**common, m_r: sigma, m_f: sigma}
    private_sub = {**common, m_r: 1, m_f: 1}

    def sub(expr: sp.Expr, s: dict) -> sp.Expr:
        return _tidy(expr.subs(s, simultaneous=True))

    return AxisPair(
        sub(law.eta_star, shared_sub),
        sub(law.eta_star, private_sub),
        sub(law.D, shared_sub),
        sub(law.D, private_sub),
        (sigma, n, B, c, alpha),
    )


def identical_lists_eta_star(
    sampling: str, sigma_: int, n_: int, B_: int, alpha_: float, c_: float = 2.0,
    *, exact: bool = False,
) -> float | Fraction:
    r"""Mean-square threshold of unlearning with identical retain and forget lists (SPEC §4.3).

    :math:`\min(\eta^\star_0,\eta^\star_{\rm priv})`, only the shared axis when :math:`\sigma=n`;
    ``0.0`` for :math:`\alpha\ge\frac12` (every axis has :math:`D=(1-2\alpha)c/\sigma\le0`).
    """
    key = _check_family(sampling, sigma_, n_, B_)
    if n_ == 1:
        raise ValueError("identical lists need n >= 2 (the closed forms read 0/0 at n = 1)")
    return _min_axes(identical_lists_law(key), (sigma_, n_, B_, c_, alpha_), sigma_ == n_, exact)


@dataclass(frozen=True)
class SeparateSetsLaw:
    r"""Separate retain and forget sets sharing the signal axis :math:`e_0` (SPEC §4.4).

    Attributes
    ----------
    shared_D, shared_V, shared:
        :math:`D_0`, :math:`V_0`, :math:`\eta^\star_0` of :math:`e_0` (:math:`m_r=\sigma_r`,
        :math:`m_f=\sigma_f`).
    alpha_c:
        Root of :math:`D_0=0` in :math:`\alpha` (critical mixing).
    private_retain, private_retain_D:
        :math:`\eta^\star` and :math:`D` of a private retain axis (:math:`m_r=1, m_f=0`).
    private_forget_D:
        :math:`D` of a private forget axis (:math:`m_r=0, m_f=1`).
    """

    sampling: str
    shared_D: sp.Expr
    shared_V: sp.Expr
    shared: sp.Expr
    alpha_c: sp.Expr
    private_retain: sp.Expr
    private_retain_D: sp.Expr
    private_forget_D: sp.Expr

    #: Argument order of :func:`separate_sets_eta_star`'s closed forms.
    ARGS = (alpha, lam_r, sigma_r, n_r, B_r, lam_f, sigma_f, n_f, B_f)


@cache
def separate_sets_law(sampling: str) -> SeparateSetsLaw:
    r"""Derive the §4.4 quantities from the diagonal law (:math:`\alpha_c` solves :math:`D_0=0`)."""
    key = check_sampling(sampling)
    law = diagonal_law(key)
    shared = {m_r: sigma_r, m_f: sigma_f}
    retain_priv = {m_r: 1, m_f: 0}
    forget_priv = {m_r: 0, m_f: 1}
    D0 = _tidy(law.D.subs(shared, simultaneous=True))
    roots = sp.solve(sp.Eq(D0, 0), alpha)
    if len(roots) != 1:
        raise AssertionError(f"expected one critical alpha, got {roots}")
    return SeparateSetsLaw(
        key,
        D0,
        _tidy(law.V.subs(shared, simultaneous=True)),
        _tidy(law.eta_star.subs(shared, simultaneous=True)),
        _tidy(roots[0]),
        _tidy(law.eta_star.subs(retain_priv, simultaneous=True)),
        _tidy(law.D.subs(retain_priv, simultaneous=True)),
        _tidy(law.D.subs(forget_priv, simultaneous=True)),
    )


def separate_sets_eta_star(
    sampling: str, family: SeparateSets, B_r_: int, B_f_: int, alpha_: float,
) -> float:
    r"""Mean-square threshold of the separate-sets family (SPEC §4.4), via :func:`axis_eta_star`.

    Axes: :math:`e_0` (when :math:`\sigma_r+\sigma_f>0`), :math:`n_r-\sigma_r` private retain
    axes and :math:`n_f-\sigma_f` private forget axes.  ``0.0`` when some axis has :math:`D\le0`
    (e.g. any private forget axis once :math:`\alpha>0`).
    """
    return separate_sets_diagonal(sampling, family, B_r_, B_f_, alpha_).eta_star_ms()


@dataclass(frozen=True)
class CliqueLaw:
    r"""Clique: :math:`\sigma` identical rank-one Hessians of curvature :math:`\lambda` among :math:`n` (SPEC §4.5).

    Attributes
    ----------
    eta_star:
        Threshold of the clique axis (plain SGD), arguments ``(sigma, lam, n, B)``.
    """  # noqa: E501

    sampling: str
    eta_star: sp.Expr


@cache
def clique_law(sampling: str = "bernoulli") -> CliqueLaw:
    r"""The clique axis of plain SGD: :math:`m=\sigma`, per-sample curvature :math:`\lambda`."""
    key = check_sampling(sampling)
    law = diagonal_law(key)
    sub = {n_r: n, B_r: B, lam_r: lam, m_r: sigma}
    return CliqueLaw(key, _sgd(law.eta_star.subs(sub, simultaneous=True)))


@cache
def _clique_fn(sampling: str) -> Callable:
    return sp.lambdify((sigma, lam, n, B), clique_law(sampling).eta_star, "numpy")


def clique_eta_star(sampling: str, sigma_: int, lam_: float, n_: int, B_: int) -> float:
    r"""Float threshold of the clique axis (the whole family when the other samples are zero)."""
    _check_family(sampling, sigma_, n_, B_)
    if n_ == 1:
        return 2.0 / lam_
    return float(_clique_fn(check_sampling(sampling))(sigma_, lam_, n_, B_))


@cache
def clique_sigma_derivatives(sampling: str = "bernoulli") -> tuple[sp.Expr, sp.Expr]:
    r"""SPEC §3.6: :math:`\partial_\sigma\eta^\star` at fixed :math:`\lambda`, at fixed sharpness.

    Returns ``(d_fixed_lambda, d_fixed_sharpness)``; the second substitutes
    :math:`\lambda=cn/\sigma` (so :math:`\lambda_{\max}(\bar H)=c`) *before* differentiating.
    """
    law = clique_law(sampling).eta_star
    d_lam = _tidy(sp.diff(law, sigma))
    d_sharp = _tidy(sp.diff(law.subs(lam, c * n / sigma), sigma))
    return d_lam, d_sharp


# ---------------------------------------------------------------------------------------------
# Numeric diagonal families (used by theory.lyapunov and numerics.core.commuting)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiagonalFamily:
    r"""A commuting family of diagonal-law type, one row per *distinct* axis.

    Attributes
    ----------
    sampling:
        ``wor``, ``bernoulli`` or ``wr``.
    alpha:
        Mixing weight.
    n_r, B_r, n_f, B_f:
        Pool and batch sizes of the two sets (``n_f=1, B_f=1`` when there is no forget set).
    m_r, m_f:
        Integer arrays ``(K,)``: number of retain / forget samples loading on each axis.
    lam_r, lam_f:
        Float arrays ``(K,)``: per-sample curvature of each set on each axis (ignored where the
        matching count is zero).
    multiplicity:
        How many identical axes each row stands for (does not change any threshold).
    """

    sampling: str
    alpha: float
    n_r: int
    B_r: int
    n_f: int
    B_f: int
    m_r: np.ndarray
    m_f: np.ndarray
    lam_r: np.ndarray
    lam_f: np.ndarray
    multiplicity: np.ndarray

    @classmethod
    def from_axes(cls, law: AxisLaw) -> DiagonalFamily:
        r"""Validate, drop empty axes and merge identical rows.

        Parameters
        ----------
        law:
            The axes: ``m_r, m_f, lam_r, lam_f`` arrays ``(K,)`` (broadcast), pool and batch
            sizes and :math:`\alpha` scalars.

        Returns
        -------
        DiagonalFamily
            The family.
        """
        key = check_sampling(law.sampling)
        alpha_, n_r_, B_r_, n_f_, B_f_ = law.alpha, law.n_r, law.B_r, law.n_f, law.B_f
        m_r_, m_f_, lam_r_, lam_f_ = law.m_r, law.m_f, law.lam_r, law.lam_f
        cols = np.broadcast_arrays(
            np.asarray(m_r_, float), np.asarray(m_f_, float),
            np.asarray(lam_r_, float), np.asarray(lam_f_, float),
        )
        rows = np.stack([np.atleast_1d(x) for x in cols], axis=1)
        rows[rows[:, 0] == 0, 2] = 0.0  # curvature is meaningless without samples
        rows[rows[:, 1] == 0, 3] = 0.0
        live = (rows[:, 0] * rows[:, 2] > 0) | (rows[:, 1] * rows[:, 3] > 0)
        if not live.any():
            raise ValueError("the family has no axis with a non-zero sample")
        uniq, counts = np.unique(rows[live], axis=0, return_counts=True)
        if (uniq[:, 0] > n_r_).any() or (uniq[:, 1] > n_f_).any():
            raise ValueError("an axis holds more samples than its set")
        return cls(key, float(alpha_), int(n_r_), int(B_r_), int(n_f_), int(B_f_),
                   uniq[:, 0].astype(int), uniq[:, 1].astype(int), uniq[:, 2], uniq[:, 3],
                   counts)

    def axis_law(self) -> AxisLaw:
        r"""The axes as one :class:`AxisLaw` (arrays over the axes).

        Returns
        -------
        AxisLaw
            Scheme, :math:`\alpha`, and per set the per-axis counts and curvatures.
        """
        return AxisLaw(self.sampling, self.alpha, self.lam_r, self.m_r, self.n_r, self.B_r,
                       self.lam_f, self.m_f, self.n_f, self.B_f)

    def D(self) -> np.ndarray:
        """Per-axis net mean curvature :math:`D_k`."""
        return np.atleast_1d(axis_D(self.axis_law()))

    def V(self) -> np.ndarray:
        """Per-axis batch variance :math:`V_k`."""
        return np.atleast_1d(axis_V(self.axis_law()))

    def second_moment(self, eta_: float) -> np.ndarray:
        r"""Per-axis :math:`\mathbb EJ_k^2` at :math:`\eta`."""
        return np.atleast_1d(axis_second_moment(eta_, self.axis_law()))

    def eta_star_ms(self) -> float:
        r"""Mean-square threshold :math:`\min_k\eta^\star_k` (``0.0`` if some :math:`D_k\le0`)."""
        return float(np.min(axis_eta_star(self.axis_law())))


def sigma_family_diagonal(
    sampling: str, sigma_: int, n_: int, B_: int, c_: float = 2.0
) -> DiagonalFamily:
    r"""The σ-family of SPEC §4.2 as a :class:`DiagonalFamily` (:math:`\lambda=cn/\sigma`, plain SGD)."""  # noqa: E501
    _check_family(sampling, sigma_, n_, B_)
    lam_ = c_ * n_ / sigma_
    return DiagonalFamily.from_axes(AxisLaw(
        sampling, 0.0, [lam_, lam_ if n_ > sigma_ else 0.0], [sigma_, 1], n_, B_,
        [0.0, 0.0], [0, 0], 1, 1))


def identical_lists_diagonal(
    sampling: str, sigma_: int, n_: int, B_: int, alpha_: float, c_: float = 2.0
) -> DiagonalFamily:
    r"""The identical-lists family of SPEC §4.3 as a :class:`DiagonalFamily`."""
    _check_family(sampling, sigma_, n_, B_)
    lam_ = c_ * n_ / sigma_
    priv = lam_ if n_ > sigma_ else 0.0
    return DiagonalFamily.from_axes(AxisLaw(
        sampling, alpha_, [lam_, priv], [sigma_, 1], n_, B_, [lam_, priv], [sigma_, 1], n_, B_))


def separate_sets_diagonal(
    sampling: str, family: SeparateSets, B_r_: int, B_f_: int, alpha_: float,
) -> DiagonalFamily:
    r"""Separate retain/forget sets sharing :math:`e_0` (SPEC §4.4) as a :class:`DiagonalFamily`."""
    n_r_, n_f_, sigma_r_, sigma_f_ = family.n_r, family.n_f, family.sigma_r, family.sigma_f
    lam_r_, lam_f_ = family.lam_r, family.lam_f
    if not (0 <= sigma_r_ <= n_r_ and 0 <= sigma_f_ <= n_f_):
        raise ValueError("need 0 <= sigma_r <= n_r and 0 <= sigma_f <= n_f")
    rows_m_r = [sigma_r_, 1 if n_r_ > sigma_r_ else 0, 0]
    rows_m_f = [sigma_f_, 0, 1 if n_f_ > sigma_f_ else 0]
    return DiagonalFamily.from_axes(AxisLaw(
        sampling, alpha_, [lam_r_] * 3, rows_m_r, n_r_, B_r_, [lam_f_] * 3, rows_m_f, n_f_, B_f_))


def clique_diagonal(sampling: str, n_: int, sigma_: int, lam_: float, B_: int) -> DiagonalFamily:
    r"""Clique of SPEC §4.5 (the other :math:`n-\sigma` samples have zero Hessian)."""
    _check_family(sampling, sigma_, n_, B_)
    return DiagonalFamily.from_axes(AxisLaw(sampling, 0.0, [lam_], [sigma_], n_, B_, [0.0], [0],
                                            1, 1))


def min_stable_batch(is_stable: Callable[[int], bool], batches: Iterable[int]) -> int | None:
    """Smallest batch size in ``batches`` (scanned in increasing order) for which ``is_stable``."""
    for b in sorted(batches):
        if is_stable(b):
            return int(b)
    return None
