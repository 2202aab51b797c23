r"""Catalog entries of :mod:`theory.cnn`: leading-order predictions for the CNN (SPEC §5.4-5.5).

The predicted coherence law :math:`\sigma(\mathrm{SNR})` and its two limits, cross coherence,
cosines, the out-of-span fraction, :math:`\lambda_{\min}(A)/\lambda_{\max}(\bar H_r)`, the
leading-order :math:`\rho(\mathcal T)` and the noise-alignment scale.
"""

from __future__ import annotations

import theory.cnn as cn
from theory.catalog import register_expression

_TAG = "SPEC §5.5 [D, ✓ qualitatively]"
_P1 = {"SNR": "1/5", "n": 24, "n_r": 20, "n_f": 4, "d": 300, "kappa": 1, "varepsilon": "1/20",
       "alpha": "1/10", "eta_rel": "1/2", "B_f": 2}
_P2 = {"SNR": "8/5", "n": 60, "n_r": 50, "n_f": 10, "d": 1000, "kappa": "3/2",
       "varepsilon": "1/50", "alpha": "3/10", "eta_rel": "1/4", "B_f": 3}


def _points(*names: str) -> list[dict[str, str | int]]:
    return [{k: p[k] for k in names} for p in (_P1, _P2)]


def _register(name: str, getter, symbols, description: str, tag: str = _TAG) -> None:
    register_expression(f"cnn.{name}", getter, symbols,
                        _points(*(str(s) for s in symbols)), tag, description)


_register("sigma", lambda: cn.SIGMA, (cn.snr, cn.n, cn.kappa, cn.eps),
          "predicted Dexter coherence sigma(SNR)")
_register("sigma_limit_low", lambda: cn.sigma_limits()[0], (cn.n, cn.eps),
          "limit of sigma(SNR) as SNR -> 0 (memorisation)")
_register("sigma_limit_high", lambda: cn.sigma_limits()[1], (cn.n,),
          "limit of sigma(SNR) as SNR -> infinity (signal-dominated)")
_register("sigma_rf", lambda: cn.SIGMA_RF, (cn.snr, cn.n_r, cn.n_f, cn.kappa, cn.eps),
          "predicted cross coherence sigma_rf(SNR)")
_register("cos_same", lambda: cn.COS_SAME, (cn.snr, cn.kappa, cn.eps),
          "mean |cos| of same-label pairs")
_register("cos_opposite", lambda: cn.COS_OPPOSITE, (cn.snr, cn.kappa, cn.eps),
          "mean |cos| of opposite-label pairs")
_register("out_of_span", lambda: cn.OUT_OF_SPAN, (cn.snr, cn.n_r, cn.d, cn.kappa),
          "out-of-span fraction of forget curvature")
_register("lambda_min_rel", lambda: cn.LAMBDA_MIN_REL,
          (cn.snr, cn.n_r, cn.n_f, cn.alpha, cn.kappa), "lambda_min(A|V) / lambda_max(Hbar_r)")
_register("rho", lambda: cn.RHO, (cn.snr, cn.n_r, cn.n_f, cn.alpha, cn.eta_rel, cn.B_f, cn.kappa),
          "leading-order rho(T) from the escaping forget-noise directions")
_register("max_noise_ratio", lambda: cn.MAX_NOISE_RATIO, (cn.n, cn.d),
          "max noise-noise alignment relative to self-alignment", "SPEC §5.4 [S:CAO/KOU; D]")
