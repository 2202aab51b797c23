r"""Catalog entries of :mod:`theory.moments`: batch-covariance coefficients and count moments.

For each registered sampling scheme (:func:`theory.sampling.scheme_names`):

* ``moments.<model>.diag_coeff`` and ``moments.<model>.mean_coeff``: the coefficients :math:`a, b`
  of :math:`\mathcal C(M)=a\sum_iH_iMH_i+b\,\bar HM\bar H` (SPEC §2.1);
* ``moments.<model>.count_mean`` and ``moments.<model>.count_var``: :math:`\mathbb EK` and
  :math:`\operatorname{Var}K` of the number of :math:`m` marked samples in a batch (SPEC §4.1);
  a scheme that is not exchangeable has no such law and its entries are recorded as skipped.
"""

from __future__ import annotations

import theory.moments as mo
from theory.catalog import register_expression, skip_expression
from theory.sampling import get_scheme, scheme_names

_POINTS = ({"n": 7, "B": 3}, {"n": 100, "B": 8}, {"n": 24, "B": 4})
_COUNT_POINTS = ({"n": 7, "B": 3, "m": 2}, {"n": 100, "B": 8, "m": 10}, {"n": 24, "B": 4, "m": 1})
_COV = "SPEC §2.1 [D✓ C-MOM]"
_COUNT = "SPEC §4.1 [D✓ C-FAM]"

for _s in scheme_names():
    # reference points moved to sizes the scheme admits (e.g. equal strata need even n and B)
    _pts = [dict(zip(("n", "B"), get_scheme(_s).admissible_sizes(p["n"], p["B"]), strict=True))
            for p in _POINTS]
    register_expression(f"moments.{_s}.diag_coeff", lambda s=_s: mo.batch_moments(s).diag_coeff,
                        (mo.n, mo.B), _pts, _COV, f"coefficient a of sum H_i M H_i in C(M), {_s}")
    register_expression(f"moments.{_s}.mean_coeff", lambda s=_s: mo.batch_moments(s).mean_coeff,
                        (mo.n, mo.B), _pts, _COV, f"coefficient b of Hbar M Hbar in C(M), {_s}")
    if not get_scheme(_s).exchangeable:
        for _q in ("count_mean", "count_var"):
            skip_expression(f"moments.{_s}.{_q}", get_scheme(_s).unsupported("marked-count law"))
        continue
    register_expression(f"moments.{_s}.count_mean", lambda s=_s: mo.count_moments(s)[0],
                        (mo.n, mo.B, mo.m), _COUNT_POINTS, _COUNT, f"E K, marked count, {_s}")
    register_expression(f"moments.{_s}.count_var", lambda s=_s: mo.count_moments(s)[1],
                        (mo.n, mo.B, mo.m), _COUNT_POINTS, _COUNT, f"Var K, marked count, {_s}")
