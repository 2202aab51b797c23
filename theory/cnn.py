r"""Leading-order predictions for the two-layer CNN on signal-plus-noise data (SPEC §5.4--5.5).

All expressions are sympy, with float callables beside them.  Notation (SPEC §5):
:math:`n` training samples, patch dimension :math:`d`,
:math:`\mathrm{SNR}=\|\mu\|/(\sigma_p\sqrt d)`,
:math:`m_s` / :math:`m_\xi` the number of filters active on a sample's signal / noise patch,
:math:`\kappa=m_s/m_\xi`, and the signal-to-noise *curvature* ratio

.. math:: r=\frac ab=\kappa\,\mathrm{SNR}^2,\qquad a=m_s\|\mu\|^2,\quad b=m_\xi\sigma_p^2d .

**Gram decomposition** (exact for ReLU, :math:`\mu\perp\xi`):
:math:`\langle g_i,g_k\rangle=\frac1{m^2}(\|\mu\|^2y_iy_kN^\mu_{ik}
+N^\xi_{ik}\langle\xi_i,\xi_k\rangle)`.
Signal vectors of the two classes live on disjoint filter sets, so they are orthogonal and
signal couples only same-label samples.

**Noise concentration.**  :math:`\cos(\xi_i,\xi_k)\approx\mathcal N(0,1/d')`, :math:`d'=d-1` (the
noise lives in :math:`\mu^\perp`), so :math:`\mathbb E|\cos|=\sqrt{2/(\pi d')}` and
:math:`\max_{i\ne k}|\langle\xi_i,\xi_k\rangle|/\|\xi_i\|^2\approx\sqrt{2\log(n(n-1))/d'}`
(the maximum of :math:`n(n-1)/2` half-normal variables; the :math:`d^{-1/2}` law is exact, the
constant is leading order).  Marchenko--Pastur/Bai--Yin:
:math:`\operatorname{spec}(\Xi\Xi^\top/(\sigma_p^2d))\to\frac{d'}{d}[(1-\sqrt{n/d'})^2,(1+\sqrt{n/d'})^2]`.

**Coherence law** (rank-one :math:`S=|UU^\top|`, comparable :math:`\ell''`, balanced classes).
Let :math:`\varepsilon=\omega\sqrt{2/(\pi d')}` be the mean noise-noise :math:`|\cos|` with
:math:`\omega=\mathbb E[N^\xi_{ik}]/m_\xi` the fraction of shared active noise filters.  The
Perron root of :math:`S` is :math:`\approx\frac n2a+b(1+(n-1)\varepsilon)`, so

.. math:: \sigma(\mathrm{SNR})\approx\frac{\frac n2\,r+1+(n-1)\varepsilon}{1+r},\qquad
   \sigma\to1+(n-1)\varepsilon\ (\mathrm{SNR}\to0),\qquad
   \sigma\to\frac n2\ (\mathrm{SNR}\to\infty).

Cross coherence:
:math:`\sigma_{rf}\approx\sqrt{n_rn_f}\,(\tfrac12r+\varepsilon)/(1+r)\to\sqrt{n_rn_f}/2`.
Cosines: same label :math:`(r+\varepsilon)/(1+r)`, opposite label :math:`\varepsilon/(1+r)`.

**Unlearning quantities** (our derivations [D]; :math:`N=n_r/2` same-class retain samples).
The forget noise part :math:`e_k` is orthogonal to all retain curvature, the forget signal part
is in the retain span up to :math:`ab/(b+Na)`:

.. math:: \phi_{\rm out}\approx\frac{1-n_r/d'+r/(1+Nr)}{1+r},\qquad
   \frac{\lambda_{\min}(A|_V)}{\lambda_{\max}(\bar H_r)}\approx-\alpha\frac{n_r}{n_f}\,\frac1{1+Nr},

and along :math:`e_k` the recursion is scalar: with
:math:`\eta=\eta_{\rm rel}\cdot2/\lambda_{\max}(\bar H_r)`,
:math:`x=\eta\alpha b=2\eta_{\rm rel}\alpha n_r/(1+Nr)` and WOR inclusion :math:`q=B_f/n_f`,

.. math:: \rho(\mathcal T)\gtrsim\Big(1+\frac x{n_f}\Big)^2+\frac{x^2q(1-q)}{B_f^2}\ \downarrow 1 .

Every monotone trend of SPEC §5.5 follows from the sign of a derivative in SNR, computed here
symbolically (:data:`TRENDS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp

__all__ = [
    "CNNSetup",
    "snr", "n", "d", "kappa", "eps", "r", "n_r", "n_f", "alpha", "eta_rel", "B_f", "delta",
    "GRAM_INNER", "curvature_ratio", "noise_eps", "SIGMA", "SIGMA_RF", "COS_SAME", "COS_OPPOSITE",
    "OUT_OF_SPAN", "LAMBDA_MIN_REL", "RHO", "MAX_NOISE_RATIO", "NORM_DEVIATION", "INNER_SCALE",
    "mp_edges", "sigma_limits", "trend_direction", "trends", "TRENDS_NONLINEAR", "callable_of",
    "predictions",
]

snr, n, d, kappa, eps = sp.symbols("SNR n d kappa varepsilon", positive=True)
n_r, n_f, alpha, eta_rel, B_f, delta, omega = sp.symbols(
    "n_r n_f alpha eta_rel B_f delta omega", positive=True)
m, mu2, yy, N_mu, N_xi, xi_inner = sp.symbols("m mu2 yy N_mu N_xi xi_inner", real=True)

#: :math:`r=\kappa\,\mathrm{SNR}^2`.
r = kappa * snr**2

#: Signal/noise decomposition of :math:`\langle g_i,g_k\rangle` (SPEC §5.4).
GRAM_INNER = (mu2 * yy * N_mu + N_xi * xi_inner) / m**2


def curvature_ratio(snr_value: float, kappa_value: float = 1.0) -> float:
    r""":math:`r=a/b=\kappa\,\mathrm{SNR}^2`."""
    return float(kappa_value) * float(snr_value) ** 2


def noise_eps(d_value: int, omega_value: float = 1.0) -> float:
    r"""Noise floor :math:`\varepsilon=\omega\sqrt{2/(\pi(d-1))}`: the mean noise-noise :math:`|\cos|`."""
    return float(omega_value * sp.sqrt(2 / (sp.pi * (d_value - 1))))


#: Predicted Dexter coherence :math:`\sigma(\mathrm{SNR})` (joint or retain: the set's :math:`n`).
SIGMA = (n / 2 * r + 1 + (n - 1) * eps) / (1 + r)
#: Predicted cross coherence :math:`\sigma_{rf}`.
SIGMA_RF = sp.sqrt(n_r * n_f) * (r / 2 + eps) / (1 + r)
#: Mean :math:`|\cos|` of same-label and opposite-label pairs.
COS_SAME = (r + eps) / (1 + r)
COS_OPPOSITE = eps / (1 + r)
#: Out-of-span fraction of forget curvature.
OUT_OF_SPAN = (1 - n_r / (d - 1) + r / (1 + n_r / 2 * r)) / (1 + r)
#: :math:`\lambda_{\min}(A|_V)/\lambda_{\max}(\bar H_r)`.
LAMBDA_MIN_REL = -alpha * (n_r / n_f) / (1 + n_r / 2 * r)
_x = 2 * eta_rel * alpha * n_r / (1 + n_r / 2 * r)
_q = B_f / n_f
#: Leading-order :math:`\rho(\mathcal T)` from the escaping forget-noise directions.
RHO = (1 + _x / n_f) ** 2 + _x**2 * _q * (1 - _q) / B_f**2

#: :math:`\max_{i\ne k}|\langle\xi_i,\xi_k\rangle|/\|\xi_i\|^2` to leading order.
MAX_NOISE_RATIO = sp.sqrt(2 * sp.log(n * (n - 1)) / (d - 1))
#: Relative deviation scale of :math:`\|\xi_i\|^2/(\sigma_p^2d)` with probability :math:`1-\delta`.
NORM_DEVIATION = sp.sqrt(sp.log(n / delta) / d)
#: Scale of :math:`|\langle\xi_i,\xi_k\rangle|/\sigma_p^2` w.p. :math:`1-\delta` (up to a constant).
INNER_SCALE = sp.sqrt(d * sp.log(n / delta))


def mp_edges(n_value: int, d_value: int, *, effective: bool = True) -> tuple[float, float]:
    r"""Marchenko--Pastur edges of :math:`\Xi\Xi^\top/(\sigma_p^2d)` for :math:`n` noise vectors.

    ``effective=True`` accounts for the noise living in :math:`\mu^\perp` (:math:`d'=d-1`
    dimensions): :math:`\frac{d'}{d}(1\pm\sqrt{n/d'})^2`; ``False`` gives the textbook
    :math:`(1\pm\sqrt{n/d})^2` of SPEC §5.4.
    """
    dd = d_value - 1 if effective else d_value
    g = sp.sqrt(sp.Rational(n_value, dd))
    scale = sp.Rational(dd, d_value)
    return float(scale * (1 - g) ** 2), float(scale * (1 + g) ** 2)


def sigma_limits() -> tuple[sp.Expr, sp.Expr]:
    r"""The two limits of :data:`SIGMA`: :math:`1+(n-1)\varepsilon` (memorisation), :math:`n/2`."""
    return sp.limit(SIGMA, snr, 0), sp.limit(SIGMA, snr, sp.oo)


def trend_direction(expr: sp.Expr, assumptions: dict | None = None) -> int:
    r"""Sign of :math:`\partial\,\mathrm{expr}/\partial\,\mathrm{SNR}` (+1, -1, or 0 if undecided).

    Decided symbolically by factoring the derivative under positivity of every symbol and the
    stated ``assumptions`` (substitutions such as :math:`n=n_0+2`, :math:`n_0>0`, that encode
    :math:`n>2`).
    """
    der = sp.factor(sp.simplify(sp.diff(expr, snr)))
    if assumptions:
        der = sp.factor(sp.simplify(der.subs(assumptions)))
    if der.is_positive:
        return 1
    if der.is_negative:
        return -1
    return 0


_h = sp.symbols("h", positive=True)  # a free positive gap, used to encode strict inequalities


@cache
def _trends() -> dict[str, int]:
    r"""Signs of the SNR-derivatives, each under its stated regime.

    * :math:`\sigma`: :math:`n/2>1+(n-1)\varepsilon` (the signal block beats the noise floor),
      encoded as :math:`\varepsilon=(n/2-1-h)/(n-1)`;
    * :math:`\sigma_{rf}`: :math:`\varepsilon<1/2`; same-label cosine: :math:`\varepsilon<1`;
    * out-of-span fraction: :math:`d\to\infty` (for finite :math:`d` it first rises by
      :math:`O(n_r/d)` at :math:`r\lesssim1/(n_rd)`, then falls);
    * :math:`\rho`: :math:`B_f<n_f` (:math:`q<1`).
    """
    return {
        "sigma_joint": trend_direction(SIGMA.subs(eps, (n / 2 - 1 - _h) / (n - 1))),
        "sigma_r": trend_direction(SIGMA.subs(eps, (n / 2 - 1 - _h) / (n - 1))),
        "sigma_rf": trend_direction(SIGMA_RF.subs(eps, sp.Rational(1, 2) / (1 + _h))),
        "cos_same_label": trend_direction(COS_SAME.subs(eps, 1 / (1 + _h))),
        "cos_opposite_label": trend_direction(COS_OPPOSITE),
        "out_of_span_forget": trend_direction(sp.limit(OUT_OF_SPAN, d, sp.oo)),
        "lambda_min_A_rel": trend_direction(LAMBDA_MIN_REL),
        "rho": trend_direction(RHO.subs(B_f, n_f / (1 + _h))),
    }


#: Predicted direction of every monotone trend in SNR (+1 increasing, -1 decreasing).  The
#: symbolic ones come from :func:`trend_direction`; the nonlinear ones are SPEC §5.5 / [S:P]
#: ("lower SNR means more memorisation and easier unlearning").
TRENDS_NONLINEAR: dict[str, int] = {"forget_loss_growth": -1, "forget_acc_after": +1}


def trends() -> dict[str, int]:
    """All predicted trend directions (symbolic ones derived on first use)."""
    return {**_trends(), **TRENDS_NONLINEAR}



@cache
def callable_of(name: str) -> Callable[..., float]:
    """Float callable of one of the named expressions, arguments in the order of its symbols."""
    expr, args = _EXPRS[name]
    return sp.lambdify(args, expr, "math")


_EXPRS: dict[str, tuple[sp.Expr, tuple[sp.Symbol, ...]]] = {
    "sigma": (SIGMA, (snr, n, kappa, eps)),
    "sigma_rf": (SIGMA_RF, (snr, n_r, n_f, kappa, eps)),
    "cos_same_label": (COS_SAME, (snr, kappa, eps)),
    "cos_opposite_label": (COS_OPPOSITE, (snr, kappa, eps)),
    "out_of_span_forget": (OUT_OF_SPAN, (snr, n_r, d, kappa)),
    "lambda_min_A_rel": (LAMBDA_MIN_REL, (snr, n_r, n_f, alpha, kappa)),
    "rho": (RHO, (snr, n_r, n_f, alpha, eta_rel, B_f, kappa)),
    "max_noise_ratio": (MAX_NOISE_RATIO, (n, d)),
    "gram_inner": (GRAM_INNER, (mu2, yy, N_mu, N_xi, xi_inner, m)),
}


@dataclass(frozen=True)
class CNNSetup:
    r"""The experiment quantities the predictions depend on (the names of the CNN configuration).

    Attributes
    ----------
    n, n_forget, d:
        Training samples, forget-set size, patch dimension.
    alpha, eta_rel, batch_forget:
        Mixing weight, step in units of :math:`2/\lambda_{\max}(\bar H_r)`, forget batch size.
    """

    n: int = 24
    n_forget: int = 4
    d: int = 300
    alpha: float = 0.1
    eta_rel: float = 0.5
    batch_forget: int = 2


def predictions(snr_value: float, setup: CNNSetup | Any, *, kappa_value: float = 1.0,
                omega_value: float = 0.5) -> dict[str, float]:
    r"""Every leading-order prediction at one SNR, as floats (keys match the ``cnn`` records).

    Parameters
    ----------
    snr_value:
        The SNR :math:`\|\mu\|/(\sigma_p\sqrt d)`.
    setup:
        A :class:`CNNSetup`, or any object with its attributes (e.g. the CNN experiment's
        configuration).
    kappa_value, omega_value:
        :math:`m_s/m_\xi` and the shared-filter fraction :math:`\omega`; both can be measured
        on the trained network (activation counts).

    Returns
    -------
    dict[str, float]
        One prediction per record key.
    """
    n_value, n_forget, d_value = setup.n, setup.n_forget, setup.d
    alpha_value, eta_rel_value, batch_forget = setup.alpha, setup.eta_rel, setup.batch_forget
    e = noise_eps(d_value, omega_value)
    nr = n_value - n_forget
    return {
        "sigma_joint": callable_of("sigma")(snr_value, n_value, kappa_value, e),
        "sigma_r": callable_of("sigma")(snr_value, nr, kappa_value, e),
        "sigma_rf": callable_of("sigma_rf")(snr_value, nr, n_forget, kappa_value, e),
        "cos_same_label": callable_of("cos_same_label")(snr_value, kappa_value, e),
        "cos_opposite_label": callable_of("cos_opposite_label")(snr_value, kappa_value, e),
        "out_of_span_forget": callable_of("out_of_span_forget")(snr_value, nr, d_value,
                                                                kappa_value),
        "lambda_min_A_rel": callable_of("lambda_min_A_rel")(snr_value, nr, n_forget, alpha_value,
                                                            kappa_value),
        "rho": callable_of("rho")(snr_value, nr, n_forget, alpha_value, eta_rel_value,
                                  batch_forget, kappa_value),
    }
