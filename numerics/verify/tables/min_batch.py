r"""Minimum stable batch size against coherence σ (SPEC §4.2, §4.3; claims C2, C6, C10).

On the σ-family (:math:`n` samples, :math:`\sigma` of them sharing one axis, curvature
:math:`cn/\sigma` so that :math:`\lambda_{\max}(\bar H)=c`), for plain SGD and for unlearning with
identical retain and forget lists at mixing weight :math:`\alpha`, the smallest batch size
:math:`B` at which the step size :math:`\eta` is stable, in both notions:

* mean-square: :math:`\eta<\eta^\star_{ms}(B)` from the closed forms of :mod:`theory.families`,
  compared exactly (rational arithmetic) so that a tie :math:`\eta=\eta^\star` counts as unstable;
* almost-sure: :math:`\eta<\eta^\star_{as}(B)` from the exact Lyapunov exponent of
  :mod:`theory.lyapunov`.
"""

from __future__ import annotations

from fractions import Fraction

from numerics.verify.tables.base import BuildContext, Column, Table, TableSpec, register_table

SIGMAS = (1, 2, 3, 5, 10, 20, 50, 100)
CONFIG = {"n": 100, "sampling": "wor", "eta": 0.5, "c": 2.0, "alpha": 0.1}


def _min_batch(stable, n: int) -> int | None:
    r"""Smallest :math:`B\in1..n` with ``stable(B)`` (``None`` when no batch size is stable)."""
    for b in range(1, n + 1):
        if stable(b):
            return b
    return None


def build(ctx: BuildContext) -> Table:
    """One row per σ: min B for SGD and for unlearning, mean-square and almost-sure."""
    from theory import families as fam
    from theory import lyapunov as lya

    n, s, c, a = CONFIG["n"], CONFIG["sampling"], CONFIG["c"], CONFIG["alpha"]
    eta = Fraction(str(CONFIG["eta"]))
    def row(sigma: int) -> dict[str, int | None]:
        return {
            "sigma": sigma,
            "sgd_ms": _min_batch(lambda b: eta < fam.sigma_family_eta_star(
                s, sigma, n, b, c, exact=True), n),
            "sgd_as": _min_batch(lambda b: float(eta) < lya.sigma_family_eta_star_as(
                s, sigma, n, b, c), n),
            "unl_ms": _min_batch(lambda b: eta < fam.identical_lists_eta_star(
                s, sigma, n, b, a, c, exact=True), n),
            "unl_as": _min_batch(lambda b: float(eta) < lya.identical_lists_eta_star_as(
                s, sigma, n, b, a, c), n),
        }

    rows = [row(sigma) for sigma in ctx.iterate(SIGMAS, "min batch", total=len(SIGMAS))]
    return Table(
        "min_batch_sigma", "Minimum stable batch size against coherence",
        [Column("sigma", "sigma", r"\sigma", "d"),
         Column("sgd_ms", "SGD, ms", r"B_{\min}^{ms}\ (\alpha=0)", "d"),
         Column("sgd_as", "SGD, a.s.", r"B_{\min}^{as}\ (\alpha=0)", "d"),
         Column("unl_ms", f"unlearning alpha={a:g}, ms", rf"B_{{\min}}^{{ms}}\ (\alpha={a:g})",
                "d"),
         Column("unl_as", f"unlearning alpha={a:g}, a.s.", rf"B_{{\min}}^{{as}}\ (\alpha={a:g})",
                "d")],
        rows, "mean-square (ms) and almost-sure (a.s.), exact",
        {**CONFIG, "family": "σ-family (unlearning: retain list = forget list)",
         "batch sizes scanned": f"1..{n}"}, [],
        "SPEC §4.2-4.3 [D✓ C-FAM]", ("C2", "C6", "C10"),
        "Smallest B at which the step size is stable; a.s. needs smaller batches than ms "
        "because the Lyapunov threshold is never below the mean-square one",
    )


register_table(TableSpec("min_batch_sigma", "minimum stable batch size against sigma (ms, a.s.)",
                         ("C2", "C6", "C10"), build, ("theory.families", "theory.lyapunov"),
                         "§4.2-4.3"))
