r"""Batch-covariance coefficients and count moments of the sampling models (SPEC §2.1, §4.1).

As derived by :mod:`theory.moments`; claim C1.a checks them by Monte-Carlo.
"""

from __future__ import annotations

import sympy as sp

from numerics.verify.tables.base import BuildContext, Column, Table, TableSpec, register_table


def build(ctx: BuildContext) -> Table:  # noqa: ARG001 -- builder protocol; needs no context
    r""":math:`a`, :math:`b`, :math:`\mathbb EK`, :math:`\operatorname{Var}K` per model."""
    from theory import moments as mo
    from theory.sampling import get_scheme, scheme_names

    rows = []
    for s in scheme_names():
        bm = mo.batch_moments(s)
        row = {"sampling": s, "diag_coeff": sp.latex(bm.diag_coeff),
               "mean_coeff": sp.latex(bm.mean_coeff)}
        if get_scheme(s).exchangeable:
            mean, var = mo.count_moments(s)
            row.update(count_mean=sp.latex(mean), count_var=sp.latex(var))
        else:  # no law for an arbitrary marked set: say so in the cell
            row.update(count_mean=r"\text{n/a}", count_var=r"\text{n/a}",
                       skipped=get_scheme(s).unsupported("marked-count law"))
        rows.append(row)
    return Table(
        "batch_moments", "Batch-covariance coefficients and marked-count moments",
        [Column("sampling", "sampling"),
         Column("diag_coeff", "a", "a", "math"), Column("mean_coeff", "b", "b", "math"),
         Column("count_mean", "E K", r"\mathbb{E}K", "math"),
         Column("count_var", "Var K", r"\operatorname{Var}K", "math")],
        rows, "algebraic (exact identities)",
        {"pool size": "n", "batch size": "B", "marked samples": "m"}, [],
        "SPEC §2.1 and §4.1 [D✓ C-MOM]", ("C1.a",),
        "C(M) = a sum_i H_i M H_i + b Hbar M Hbar; K counts the m marked samples in a batch",
    )


register_table(TableSpec("batch_moments", "batch-covariance coefficients per sampling model",
                         ("C1.a",), build, (), "§2.1, §4.1"))
