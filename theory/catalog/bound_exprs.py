r"""Catalog entries of :mod:`theory.bounds`: the sufficient conditions of SPEC §3.4.

* ``bounds.eta_conv`` -- :math:`2/(\lambda_{\max}(A)+c^\star)`;
* ``bounds.eta_div`` -- :math:`2a_v/(a_v^2+s_v)`;
* ``bounds.sgd_conv.<model>`` -- the plain-SGD corollary per sampling model.
"""

from __future__ import annotations

import theory.bounds as bo
from theory.catalog import register_expression
from theory.moments import B, n
from theory.sampling import get_scheme, scheme_names

_TAG = "SPEC §3.4 [D✓ C-BND]"
register_expression("bounds.eta_conv", bo.eta_conv, (bo.lam_A, bo.c_star),
                    ({"lambda_A": 2, "c_star": "1/2"}, {"lambda_A": "3/10", "c_star": 4}), _TAG,
                    "sufficient convergence threshold")
register_expression("bounds.eta_div", bo.eta_div, (bo.a_v, bo.s_v),
                    ({"a_v": 2, "s_v": "1/2"}, {"a_v": "3/10", "s_v": 4}), _TAG,
                    "sufficient divergence threshold along a direction v")
_SGD_POINTS = ({"lambda_Hbar": 2, "lambda_star": 8, "n": 20, "B": 4},
               {"lambda_Hbar": "1/2", "lambda_star": 3, "n": 7, "B": 2})
for _s in scheme_names():
    register_expression(f"bounds.sgd_conv.{_s}", lambda s=_s: bo.sgd_conv(s),
                        (bo.lam_Hbar, bo.lam_star, n, B),
                        [{**p, **dict(zip(("n", "B"),  # moved to sizes the scheme admits
                                          get_scheme(_s).admissible_sizes(p["n"], p["B"]),
                                          strict=True))} for p in _SGD_POINTS], _TAG,
                        f"plain-SGD corollary of the convergence condition, {_s}")
