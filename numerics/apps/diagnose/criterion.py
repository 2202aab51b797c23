r"""The exact mean-square criterion at any :math:`(\alpha,B_r,B_f,\eta)`, for the prescriptions.

For reduced per-sample curvature (coordinates in an orthonormal basis of the active subspace
:math:`V`) this evaluates, through :class:`~numerics.core.operator.SecondMomentOperator` (or its signed
form), SPEC §2.3:

* the mean-escape test :math:`\lambda_{\min}(A(\alpha)|_V)<0` with its witness;
* :math:`\eta^\star_{ms}(\alpha,B_r,B_f)=1/\mu_{\max}(\mathcal Q,\mathcal L)` when
  :math:`A\succ0` on :math:`V`;
* :math:`\rho(\mathcal T(\eta))`;
* the critical mixing weight

  .. math:: \alpha_c=\sup\{\alpha\in[0,1]:A(\alpha)\succ0\text{ on }V\},\qquad
     A(\alpha)=\bar H_r-\alpha(\bar H_r+\bar H_f).

  :math:`A` is affine in :math:`\alpha`, so :math:`\lambda_{\min}(A(\alpha))` is concave and the
  set is an interval.  When :math:`S=\bar H_r+\bar H_f\succ0` on :math:`V` (always for PSD
  curvature, since :math:`V` is the sum of the ranges) :math:`\alpha_c` is the smallest
  generalised eigenvalue of :math:`\bar H_rx=\nu Sx`: exact, no search.  Otherwise it is found by
  bisection on the concave :math:`\lambda_{\min}(A(\alpha))`.

When :math:`\alpha=0` the forget set has no weight: directions of :math:`V` that only the forget
set curves are inert, and the operator is built on the retain span alone.

Large active dimensions use the matrix-free Lanczos path with a looser tolerance than the
operator's default (``LANCZOS_TOL``) and warm starts from the previous top eigenvector, because
the prescriptions evaluate the criterion many times; every value a prescription *reports* is
re-checked at the operator's own tolerance (:mod:`numerics.apps.diagnose.prescribe`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from numerics.core.inputs import InputError, UnlearningConfig
from numerics.core.operator import (
    DENSE_MAX_DIM,
    BisectOptions,
    LanczosOptions,
    MeanEscape,
    SecondMomentOperator,
    bisect,
    negative_curvature,
)
from numerics.core.pools import CurvaturePool
from numerics.core.progress import advance

__all__ = ["Criterion", "Point", "LANCZOS_TOL"]

#: Lanczos tolerance used inside searches (the reported values use a tighter one).
LANCZOS_TOL = 1e-9
#: A critical mixing weight below this is reported as 0 (the mean-escape test resolves
#: :math:`\lambda_{\min}(A)` to 1e-10 of its scale, so smaller weights cannot be told from 0;
#: the test is made at ten times this weight).
ALPHA_ZERO = 1e-9
#: Restarts allowed to ARPACK before a value is reported as not converged.
MAXITER = 3000
#: Restarts allowed when computing :math:`\rho` (reported, never used for a verdict).
RHO_MAXITER = 20
#: Operators kept besides the one in use (:attr:`Criterion.cache_limit`'s default); each holds a
#: few :math:`r\times r` matrices.
MAX_CACHED_OPERATORS = 64


@dataclass(frozen=True)
class Point:
    r"""The exact criterion at one configuration.

    Attributes
    ----------
    alpha, batch_retain, batch_forget, eta:
        The configuration (``eta`` may be ``None``).
    lambda_min_A, lambda_max_A:
        Extreme eigenvalues of :math:`A|_V`.
    escapes_at_every_eta:
        The mean-escape test.
    eta_star_ms:
        :math:`\eta^\star_{ms}`, ``None`` when it escapes at every step size.
    rho, rho_converged:
        :math:`\rho(\mathcal T(\eta))` when ``eta`` is given, and whether Lanczos converged.
    """

    alpha: float
    batch_retain: int
    batch_forget: int
    eta: float | None
    lambda_min_A: float
    lambda_max_A: float
    escapes_at_every_eta: bool
    eta_star_ms: float | None
    rho: float | None
    rho_converged: bool | None = None

    @property
    def escapes(self) -> bool | None:
        r"""Escape at ``eta``; ``None`` without a step size.

        Decided by :math:`\eta\ge\eta^\star_{ms}` (the stable set is exactly
        :math:`(0,\eta^\star)`, SPEC §2.3(d)), which is better conditioned than the sign of
        :math:`\rho-1` when many eigenvalues of :math:`\mathcal T` crowd at 1.
        """
        if self.escapes_at_every_eta:
            return True
        if self.eta is None:
            return None
        if self.eta_star_ms is None:  # neutral: the stable set is empty, rho(T) = 1
            return True
        return bool(self.eta >= self.eta_star_ms)

    @property
    def neutral(self) -> bool:
        r"""No mean escape, yet no stable step size (a neutral direction).

        :math:`\lambda_{\min}(A|_V)=0` with no batch noise along its witness, so
        :math:`\rho(\mathcal T(\eta))=1` at every :math:`\eta`.
        """
        return not self.escapes_at_every_eta and self.eta_star_ms is None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"alpha": self.alpha, "batch_retain": self.batch_retain,
                "batch_forget": self.batch_forget, "eta": self.eta,
                "lambda_min_A": self.lambda_min_A, "escapes_at_every_eta":
                self.escapes_at_every_eta, "eta_star_ms": self.eta_star_ms, "rho": self.rho,
                "rho_converged": self.rho_converged, "escapes": self.escapes}


class Criterion:
    r"""The exact criterion for fixed reduced pools and sampling model, at any configuration.

    Parameters
    ----------
    retain, forget:
        Reduced pools (``(n, r, k)`` factors in a common orthonormal basis of :math:`V`).
    sampling:
        ``wor``, ``bernoulli`` or ``wr``.
    """

    def __init__(self, retain: CurvaturePool, forget: CurvaturePool, sampling: str) -> None:
        if retain.d != forget.d:
            raise InputError("retain and forget curvature must share one basis")
        self.retain = retain
        self.forget = forget
        self.sampling = sampling
        self._ops: dict[tuple, SecondMomentOperator] = {}
        #: Operators kept besides the one in use; fewer under a memory budget (an operator left
        #: out is rebuilt, with the same numbers).
        self.cache_limit = MAX_CACHED_OPERATORS
        self._warm: dict[str, np.ndarray] = {}
        self.mean_retain = retain.mean()
        self.mean_forget = forget.mean()
        #: False when the last Lanczos run stopped before its tolerance (value still reported).
        self.converged = True

    @property
    def dim(self) -> int:
        """Active dimension :math:`r`."""
        return int(self.retain.d)

    @property
    def n_retain(self) -> int:
        """Retain pool size."""
        return self.retain.n

    @property
    def n_forget(self) -> int:
        """Forget pool size."""
        return self.forget.n

    # ------------------------------------------------------------------ operators
    def operator(self, alpha: float, batch_retain: int, batch_forget: int) -> SecondMomentOperator:
        r"""The (cached) operator; at :math:`\alpha=0` on the retain span only."""
        key = (float(alpha), int(batch_retain), int(batch_forget))
        op = self._ops.get(key)
        if op is None:
            if len(self._ops) > self.cache_limit:
                self._ops.clear()
            if alpha == 0.0:
                cfg = UnlearningConfig(0.0, batch_retain, 1, self.sampling)
                op = SecondMomentOperator(self.retain, None, cfg, reduce=True)
            else:
                cfg = UnlearningConfig(alpha, batch_retain, batch_forget, self.sampling)
                op = SecondMomentOperator(self.retain, self.forget, cfg, reduce=False)
            self._ops[key] = op
        return op

    def A(self, alpha: float) -> np.ndarray:
        r""":math:`A(\alpha)=(1-\alpha)\bar H_r-\alpha\bar H_f` on :math:`V`."""
        return (1.0 - alpha) * self.mean_retain - alpha * self.mean_forget

    def mean_escape(self, alpha: float, batch_retain: int = 1,
                    batch_forget: int = 1) -> MeanEscape:
        r"""Mean-escape test at :math:`\alpha` (independent of the batch sizes unless marginal)."""
        return self.operator(alpha, batch_retain, batch_forget).mean_escape()

    # ------------------------------------------------------------------ eigen-solvers
    def _solver(self, tag: str, r: int, tol: float, maxiter: int, which: str) -> LanczosOptions:
        """Search options: loose tolerance, bounded effort, warm start from the last vector."""
        return LanczosOptions(tol=tol, which=which, maxiter=maxiter,
                              start=self._warm.get(f"{tag}{r}"), strict=False)

    def _remember(self, tag: str, op: SecondMomentOperator) -> None:
        """Keep the last Lanczos vector (warm start) and its convergence flag."""
        res = op.last_lanczos
        self.converged = res.converged
        self._warm[f"{tag}{op.dim}"] = res.vector

    def rho(self, eta: float, alpha: float, batch_retain: int, batch_forget: int,
            tol: float = LANCZOS_TOL) -> float:
        r""":math:`\rho(\mathcal T(\eta))=\lambda_{\max}(\mathcal T(\eta))` (a positive map).

        Matrix-free, the effort is bounded (``RHO_MAXITER``): when many eigenvalues crowd at 1
        (directions of very small curvature) Lanczos converges slowly, and the value is then a
        lower bound (a Ritz value) with :attr:`converged` False.  Verdicts never depend on it:
        they compare :math:`\eta` with :math:`\eta^\star_{ms}`.
        """
        op = self.operator(alpha, batch_retain, batch_forget)
        self.converged = True
        advance()  # one criterion solve, counted by the running phase's progress bar
        if op.dim <= DENSE_MAX_DIM:
            return op.rho(eta, "dense")
        value = op.rho(eta, "lanczos", self._solver("T", op.dim, tol, RHO_MAXITER, "LA"))
        self._remember("T", op)
        return value

    def eta_star(self, alpha: float, batch_retain: int, batch_forget: int,
                 tol: float = LANCZOS_TOL) -> float | None:
        r""":math:`\eta^\star_{ms}`; ``None`` when the mean escapes (no stable step size)."""
        op = self.operator(alpha, batch_retain, batch_forget)
        advance()  # one criterion solve, counted by the running phase's progress bar
        if not op.has_stable_step():
            return None
        if op.dim <= DENSE_MAX_DIM:
            return op.eta_star_ms("dense")
        value = op.eta_star_ms("lanczos", self._solver("Q", op.dim, tol, MAXITER, "LA"))
        self._remember("Q", op)
        return value

    def stable_at(self, eta: float, alpha: float, batch_retain: int, batch_forget: int,
                  tol: float = LANCZOS_TOL) -> bool:
        r"""Mean-square stable at :math:`\eta`: no mean escape and :math:`\eta<\eta^\star_{ms}`."""
        if self.escapes_mean(alpha):
            return False
        es = self.eta_star(alpha, batch_retain, batch_forget, tol)
        return es is not None and eta < es

    def point(self, alpha: float, batch_retain: int, batch_forget: int, eta: float | None,
              tol: float = LANCZOS_TOL, *, with_rho: bool = True) -> Point:
        """Everything at one configuration (``rho`` only with ``with_rho`` and a step size)."""
        op = self.operator(alpha, batch_retain, batch_forget)
        esc = op.mean_escape()
        es = None if esc.escapes_at_every_eta else self.eta_star(alpha, batch_retain,
                                                                 batch_forget, tol)
        rho, conv = None, None
        if eta is not None and with_rho:
            rho = self.rho(eta, alpha, batch_retain, batch_forget, tol)
            conv = self.converged
        return Point(float(alpha), int(batch_retain), int(batch_forget), eta,
                     esc.lambda_min, esc.lambda_max, esc.escapes_at_every_eta, es, rho, conv)

    # ------------------------------------------------------------------ critical mixing
    def lambda_min_A(self, alpha: float) -> float:
        r""":math:`\lambda_{\min}(A(\alpha)|_V)` (on the retain span at :math:`\alpha=0`)."""
        return self.mean_escape(alpha).lambda_min

    def escapes_mean(self, alpha: float, rtol: float = 1e-10) -> bool:
        r"""Fast mean-escape test :math:`\lambda_{\min}(A(\alpha)|_V)<-\mathrm{rtol}\,\max|\lambda|`.

        The first branch of :meth:`~numerics.core.operator.SecondMomentOperator.mean_escape`, from one
        ``eigvalsh`` of :math:`A(\alpha)` (no operator is built); at :math:`\alpha=0` the full
        test on the retain span.
        """
        if alpha == 0.0:
            return self.mean_escape(0.0).escapes_at_every_eta
        return negative_curvature(np.linalg.eigvalsh(self.A(alpha)), rtol)

    def alpha_c(self) -> tuple[float, str]:
        r"""Critical mixing :math:`\alpha_c` and how it was computed (``geneig`` or ``bisection``).

        ``0.0`` when the forget set curves a direction the retain set does not (every
        :math:`\alpha>0` escapes); ``1.0`` when no :math:`\alpha\le1` makes the mean escape.
        The generalised eigenvalue is accepted only when the fast mean-escape test confirms it on
        both sides (relative offset ``1e-6``); otherwise bisection on that test (60 halvings).
        """
        if self.escapes_mean(0.0):
            return 0.0, "retain mean Hessian already has negative curvature"
        if not self.escapes_mean(1.0):
            return 1.0, "no alpha <= 1 escapes"
        S = self.mean_retain + self.mean_forget
        Hr = 0.5 * (self.mean_retain + self.mean_retain.T)
        try:
            nu = float(sla.eigh(Hr, 0.5 * (S + S.T), eigvals_only=True)[0])
        except (np.linalg.LinAlgError, sla.LinAlgError, ValueError):
            nu = float("nan")
        if np.isfinite(nu) and abs(nu) <= ALPHA_ZERO:
            nu = 0.0  # below the resolution of the mean-escape test (rtol 1e-10)
        if nu == 0.0 and self.escapes_mean(10 * ALPHA_ZERO):
            return 0.0, "geneig"
        if np.isfinite(nu) and 0.0 < nu <= 1.0:
            lo, hi = nu * (1.0 - 1e-6), nu * (1.0 + 1e-6)
            if not self.escapes_mean(lo) and self.escapes_mean(min(hi, 1.0)):
                return nu, "geneig"
        if self.escapes_mean(10 * ALPHA_ZERO):
            return 0.0, "bisection"
        edge = bisect(lambda a: not self.escapes_mean(a), 0.0, 1.0, BisectOptions(iterations=60))
        return edge, "bisection"
