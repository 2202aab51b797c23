r"""Catalog entries of :mod:`theory.families`: the commuting closed forms of SPEC §3.6 and §4.

* ``families.generic.{D,V,eta_star}`` -- the diagonal law in the count-moment placeholders;
* ``families.diagonal.<model>.{D,V,eta_star}`` -- the diagonal law of each sampling model (§4.1);
* ``families.sigma_family.<model>.{shared,private}`` -- plain SGD on the σ-family (§4.2);
* ``families.identical_lists.<model>.{shared,private}`` -- retain list = forget list (§4.3);
* ``families.separate_sets.<model>.{alpha_c,shared,shared_V,private_retain}`` -- §4.4;
* ``families.clique.<model>.eta_star`` and the two σ-derivatives of the Bernoulli clique (§3.6,
  §4.5).
"""

from __future__ import annotations

import theory.families as fa
from theory.catalog import register_expression, skip_expression
from theory.sampling import get_scheme, scheme_names

_GEN_SYMS = (fa.alpha, fa.lam_r, fa.B_r, fa.E_r, fa.V_r, fa.lam_f, fa.B_f, fa.E_f, fa.V_f)
_GEN_PTS = [dict(zip(map(str, _GEN_SYMS), v, strict=True)) for v in (
    ("1/10", 3, 3, "6/7", "20/49", 2, 2, "1/2", "1/4"),
    ("3/10", 1, 4, "5/6", "1/2", "5/2", 3, "3/2", "3/5"))]
_AXIS_SYMS = (fa.alpha, fa.lam_r, fa.m_r, fa.n_r, fa.B_r, fa.lam_f, fa.m_f, fa.n_f, fa.B_f)
_AXIS_PTS = [dict(zip(map(str, _AXIS_SYMS), v, strict=True)) for v in (
    ("1/10", 3, 2, 7, 3, 2, 1, 4, 2), ("3/10", 1, 5, 24, 4, "5/2", 3, 6, 3),
    (0, 2, 10, 100, 8, 1, 1, 10, 2))]
_SIG_SYMS = (fa.sigma, fa.n, fa.B, fa.c)
_SIG_PTS = [dict(zip(map(str, _SIG_SYMS), v, strict=True)) for v in (
    (10, 100, 8, 2), (5, 20, 4, 2), (3, 7, 2, "3/2"))]
_ID_SYMS = (*_SIG_SYMS, fa.alpha)
_ID_PTS = [dict(p, alpha=a) for p, a in zip(_SIG_PTS, ("1/10", "3/10", "1/5"), strict=True)]
_SEP_SYMS = fa.SeparateSetsLaw.ARGS
_SEP_PTS = [dict(zip(map(str, _SEP_SYMS), v, strict=True)) for v in (
    ("1/10", 2, 5, 20, 4, 3, 2, 6, 2), ("3/10", 1, 10, 100, 8, 1, 4, 10, 3))]
_CLQ_SYMS = (fa.sigma, fa.lam, fa.n, fa.B)
_CLQ_PTS = [dict(zip(map(str, _CLQ_SYMS), v, strict=True)) for v in (
    (5, 2, 20, 4), (1, 1, 7, 3), (10, "3/2", 100, 8))]
_SHARP_SYMS = (fa.sigma, fa.c, fa.n, fa.B)
_SHARP_PTS = [dict(zip(map(str, _SHARP_SYMS), v, strict=True)) for v in (
    (5, 2, 20, 4), (1, 1, 7, 3), (10, "3/2", 100, 8))]

_LAW = "SPEC §4.1 [D✓ C-FAM]"
for _q in ("D", "V", "eta_star"):
    register_expression(f"families.generic.{_q}", lambda q=_q: getattr(fa.generic_diagonal_law(), q),
                        _GEN_SYMS, _GEN_PTS, _LAW, f"diagonal law, {_q}, in E K and Var K")


def _register_scheme(s: str) -> None:
    """The closed forms of one scheme; a scheme that is not exchangeable records them skipped."""
    entries = [(f"families.diagonal.{s}.{q}", lambda q=q: getattr(fa.diagonal_law(s), q),
                _AXIS_SYMS, _AXIS_PTS, _LAW, f"diagonal law, {q}, {s}")
               for q in ("D", "V", "eta_star")]
    for q in ("shared", "private"):
        entries.append((f"families.sigma_family.{s}.{q}",
                        lambda q=q: getattr(fa.sigma_family_law(s), q), _SIG_SYMS, _SIG_PTS,
                        "SPEC §4.2 [S:R family; D✓ C-FAM]",
                        f"eta*_ms of the {q} axis, plain SGD on the sigma-family, {s}"))
        entries.append((f"families.identical_lists.{s}.{q}",
                        lambda q=q: getattr(fa.identical_lists_law(s), q), _ID_SYMS, _ID_PTS,
                        "SPEC §4.3 [D✓ C-UNL]",
                        f"eta*_ms of the {q} axis, retain list = forget list, {s}"))
    entries += [(f"families.separate_sets.{s}.{q}",
                 lambda q=q: getattr(fa.separate_sets_law(s), q), _SEP_SYMS, _SEP_PTS,
                 "SPEC §4.4 [D✓ C-FAM]", f"separate retain and forget sets, {q}, {s}")
                for q in ("alpha_c", "shared", "shared_V", "private_retain")]
    entries.append((f"families.clique.{s}.eta_star", lambda: fa.clique_law(s).eta_star,
                    _CLQ_SYMS, _CLQ_PTS, "SPEC §4.5 [D✓ symbolic]",
                    f"eta*_ms of a clique of sigma samples, {s}"))
    scheme = get_scheme(s)
    for name, *rest in sorted(entries, key=lambda e: e[0]):
        if scheme.exchangeable:
            register_expression(name, *rest)
        else:
            skip_expression(name, scheme.unsupported("marked-count law for the diagonal families"))


for _s in scheme_names():
    _register_scheme(_s)

register_expression("families.clique.bernoulli.d_sigma_fixed_lambda",
                    lambda: fa.clique_sigma_derivatives("bernoulli")[0], _CLQ_SYMS, _CLQ_PTS,
                    "SPEC §3.6 [D✓ symbolic]", "d eta*/d sigma at fixed per-sample curvature")
register_expression("families.clique.bernoulli.d_sigma_fixed_sharpness",
                    lambda: fa.clique_sigma_derivatives("bernoulli")[1], _SHARP_SYMS, _SHARP_PTS,
                    "SPEC §3.6 [D✓ symbolic]", "d eta*/d sigma at fixed sharpness lambda_max(Hbar)=c")
