r"""Scalar forms of the sufficient conditions of SPEC §3.4, derived with sympy.

**Convergence (resist).**  With :math:`A\succ0`, :math:`K=\tilde w_r\sum_i\lambda_{\max}(H^r_i)H^r_i
+\tilde w_f\sum_k\lambda_{\max}(H^f_k)H^f_k` and :math:`c^\star=\lambda_{\max}(A^{-1/2}KA^{-1/2})`,
one has :math:`\mathcal L^{-1}\mathcal Q(I)\preceq\mu_{\rm b}I` with
:math:`\mu_{\rm b}=\frac12(\lambda_{\max}(A)+c^\star)`, hence :math:`\mu_{\max}\le\mu_{\rm b}` and

.. math::
   \eta<\eta_{\rm conv}=1/\mu_{\rm b}=\frac{2}{\lambda_{\max}(A)+c^\star}
   \ \Rightarrow\ \text{stable}.

The weights :math:`\tilde w` are the coefficient :math:`a` of :math:`\sum_iH_iMH_i` in the batch
covariance (:func:`theory.moments.batch_moments`), times :math:`(1-\alpha)^2` or :math:`\alpha^2`;
the centring term :math:`b\,\bar HM\bar H` has :math:`b\le0` and is dropped.

**Divergence (escape).**  For a unit :math:`v`, the Rayleigh quotient of the self-adjoint
:math:`\mathcal T` at :math:`M=vv^\top` is :math:`(1-\eta a_v)^2+\eta^2s_v`, with
:math:`a_v=v^\top Av` and :math:`s_v=\langle vv^\top,\mathcal N(vv^\top)\rangle`; it exceeds one,
so :math:`\rho(\mathcal T)>1`, beyond the positive root :math:`\eta_{\rm div}=2a_v/(a_v^2+s_v)`
(or for every :math:`\eta` when :math:`a_v\le0<s_v`).

**Plain-SGD corollary.**  With :math:`A=\bar H` and :math:`K\preceq\tilde w\lambda^\star n\bar H`,
:math:`c^\star\le\tilde w\,n\,\lambda^\star`; for Bernoulli sampling this is
:math:`(1-q)\lambda^\star/B`, giving :math:`\eta<2/(\lambda_{\max}(\bar H)+(1-q)\lambda^\star/B)`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import sympy as sp

from theory.moments import B, batch_moments, n
from theory.sampling import check_sampling

__all__ = [
    "lam_A",
    "c_star",
    "a_v",
    "s_v",
    "lam_Hbar",
    "lam_star",
    "eta_conv",
    "eta_div",
    "conv_weight",
    "sgd_conv",
    "eta_conv_value",
    "eta_div_value",
    "sgd_conv_value",
]

#: Symbols :math:`\lambda_{\max}(A)`, :math:`c^\star`, :math:`\lambda_{\max}(\bar H)`,
#: :math:`\lambda^\star`.
lam_A, c_star, lam_Hbar, lam_star = sp.symbols(
    "lambda_A c_star lambda_Hbar lambda_star", positive=True
)
#: :math:`a_v=v^\top Av` (any sign) and :math:`s_v\ge0`.
a_v = sp.Symbol("a_v", real=True)
s_v = sp.Symbol("s_v", nonnegative=True)
_eta, _mu = sp.symbols("eta mu", positive=True)


@cache
def eta_conv() -> sp.Expr:
    r""":math:`\eta_{\rm conv}=1/\mu_{\rm b}`, :math:`2\mu_{\rm b}=\lambda_{\max}(A)+c^\star`."""
    mu_bound = (lam_A + c_star) / 2  # L^{-1}(A^2) = A/2 <= lam_A I/2 and L^{-1}(K) <= c* I/2
    return sp.factor(1 / mu_bound)


@cache
def eta_div() -> sp.Expr:
    r"""Non-zero root of the Rayleigh quotient equation :math:`(1-\eta a_v)^2+\eta^2s_v=1`."""
    rayleigh = (1 - _eta * a_v) ** 2 + _eta**2 * s_v
    roots = [r for r in sp.solve(sp.Eq(rayleigh, 1), _eta) if sp.simplify(r) != 0]
    if len(roots) != 1:
        raise AssertionError(f"expected one non-zero root, got {roots}")
    return sp.factor(roots[0])


@cache
def conv_weight(sampling: str) -> sp.Expr:
    r"""Per-set weight :math:`\tilde w/(\text{mixing})^2`: the coefficient :math:`a` of :math:`\sum_iH_iMH_i`.

    Bernoulli :math:`(1-q)/(nB)`, WOR :math:`c_{\rm wor}/n`, WR :math:`1/(nB)` (derived in
    :mod:`theory.moments`).
    """  # noqa: E501
    return batch_moments(check_sampling(sampling)).diag_coeff


@cache
def sgd_conv(sampling: str) -> sp.Expr:
    r"""Plain-SGD corollary: :math:`\eta_{\rm conv}` at :math:`c^\star=\tilde w\,n\,\lambda^\star`.

    Free symbols :math:`\lambda_{\max}(\bar H)`, :math:`\lambda^\star`, :math:`n`, :math:`B`.
    """
    bound = conv_weight(sampling) * n * lam_star  # K <= w lam* sum_i H_i = (w n lam*) Hbar
    return sp.factor(eta_conv().subs({lam_A: lam_Hbar, c_star: bound}, simultaneous=True))


@cache
def _callables() -> dict[str, Callable]:
    return {
        "conv": sp.lambdify((lam_A, c_star), eta_conv(), "numpy"),
        "div": sp.lambdify((a_v, s_v), eta_div(), "numpy"),
    }


@cache
def _sgd_callable(sampling: str) -> Callable:
    return sp.lambdify((lam_Hbar, lam_star, n, B), sgd_conv(sampling), "numpy")


def eta_conv_value(lambda_max_A, c_star_value):
    r"""Float :math:`\eta_{\rm conv}=2/(\lambda_{\max}(A)+c^\star)` (stable below it)."""
    out = np.asarray(_callables()["conv"](np.asarray(lambda_max_A, float),
                                          np.asarray(c_star_value, float)), float)
    return float(out) if out.ndim == 0 else out


def eta_div_value(a, s):
    r"""Float :math:`\eta_{\rm div}=2a_v/(a_v^2+s_v)`; ``0.0`` where :math:`a_v\le0` (escape at every :math:`\eta` if :math:`s_v>0`)."""  # noqa: E501
    a_arr, s_arr = np.asarray(a, float), np.asarray(s, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.asarray(_callables()["div"](a_arr, s_arr), float)
    out = np.where(a_arr > 0, val, 0.0)
    return float(out) if out.ndim == 0 else out


def sgd_conv_value(sampling: str, lambda_max_Hbar: float, lambda_star: float, n_pool: int,
                   batch: int) -> float:
    r"""Float plain-SGD corollary :math:`2/(\lambda_{\max}(\bar H)+\tilde w\,n\,\lambda^\star)`."""
    return float(_sgd_callable(check_sampling(sampling))(lambda_max_Hbar, lambda_star, n_pool,
                                                         batch))
