r"""The exact mean-square stability operator of the linearised unlearning recursion.

For :math:`\delta_{t+1}=(I-\eta\hat A_t)\delta_t` with
:math:`\hat A_t=(1-\alpha)\hat H_{r,t}-\alpha\hat H_{f,t}` (SPEC §1.3) the second moment
:math:`M_t=\mathbb E\delta_t\delta_t^\top` obeys :math:`M_{t+1}=\mathcal T(M_t)` with (SPEC §2.1)

.. math::
   \mathcal T(M)=(I-\eta A)M(I-\eta A)+\eta^2\big[(1-\alpha)^2\mathcal C_r(M)+\alpha^2\mathcal C_f(M)\big],
   \qquad \mathcal C(M)=a\sum_iH_iMH_i+b\,\bar HM\bar H,

where :math:`(a,b)` come from :func:`theory.moments.covariance_coefficients`.  In Kronecker form
(SPEC §2.2) :math:`\mathcal T(\eta)=I-\eta\mathcal L+\eta^2\mathcal Q` with
:math:`\mathcal L=A\otimes I+I\otimes A` and
:math:`\mathcal Q=A\otimes A+(1-\alpha)^2\mathcal C_r+\alpha^2\mathcal C_f`.

Everything is computed on the active subspace :math:`V=\sum_i\operatorname{range}H_i` (SPEC §1.5),
of dimension :math:`r\le\min(d,\sum_i\operatorname{rank}H_i)`.  Two paths:

* ``dense`` -- the :math:`r^2\times r^2` matrices, ``eigvalsh`` and ``scipy.linalg.eigh(Q, L)``;
  the reference, for small :math:`r`;
* ``lanczos`` -- matrix-free :class:`scipy.sparse.linalg.LinearOperator` and ``eigsh``; one
  application costs :math:`O(n r k (r+k))` and never forms an :math:`r^2\times r^2` matrix.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh, lobpcg

from numerics.core.inputs import InputError, UnlearningConfig, as_pool, check_eta, check_sampling
from numerics.core.pools import CurvaturePool
from numerics.core.progress import solver_tick
from theory.moments import covariance_coefficients
from theory.sampling import get_scheme

__all__ = [
    "BudgetError",
    "LANCZOS_SECONDS",
    "SecondMomentOperator",
    "MeanEscape",
    "LanczosOptions",
    "TopEigen",
    "BisectOptions",
    "active_basis",
    "bisect",
    "negative_curvature",
    "DENSE_MAX_DIM",
]

#: Largest active dimension for which ``method="auto"`` uses the dense Kronecker path.
DENSE_MAX_DIM = 20
#: Wall-clock budget of one matrix-free eigen-solve, seconds (ARPACK's own iteration cap is
#: :math:`10r^2` restarts: hours at :math:`r=300`).
LANCZOS_SECONDS = 600.0
#: Lanczos vectors ARPACK keeps for one eigenpair (``eigsh``'s default ``ncv`` for ``k = 1``); a
#: restart applies the operator at most this many times.
ARPACK_NCV = 20
#: float64 :math:`r^2\times r^2` matrices the dense path holds at once (L, Q, T and products).
DENSE_COPIES = 6
#: Largest :math:`\eta\lambda_{\max}(H_i)` for which :math:`\mathcal T(\eta)` is evaluated.
MAX_STEP_SCALE = 1e100
#: Relative tolerance for the numerical rank of the stacked factors.
RANK_RTOL = 1e-10


def active_basis(*pools: CurvaturePool, rtol: float = RANK_RTOL) -> np.ndarray:
    r"""Orthonormal basis :math:`Q` (``d x r``) of :math:`V=\sum_i\operatorname{range}(H_i)`.

    Computed from the thin SVD of the stacked factors (singular values below
    ``rtol * s_max`` are round-off); no :math:`d\times d` matrix is formed.
    """
    cols = [p.factors.transpose(1, 0, 2).reshape(p.d, -1) for p in pools]
    stacked = np.concatenate(cols, axis=1)
    u, s, _ = np.linalg.svd(stacked, full_matrices=False)  # O(d N min(d, N)), no d x d Gram
    keep = s > rtol * max(s[0], np.finfo(float).tiny) if s.size else np.zeros(0, bool)
    return u[:, keep]


@dataclass(frozen=True)
class LanczosOptions:
    r"""Options of the one matrix-free eigen-solver (:meth:`SecondMomentOperator.top_eigen`).

    Attributes
    ----------
    tol:
        ARPACK relative tolerance.
    which:
        ``LM`` (largest magnitude) or ``LA`` (largest algebraic; for a positive map both give
        :math:`\rho`).
    maxiter:
        ARPACK restarts (``None``: its default, ``10 r^2``).
    start:
        Warm start, a vector of length ``r^2`` (ignored when its length differs); ``None``: the
        deterministic :meth:`SecondMomentOperator.start_vector`.
    strict:
        Raise :class:`scipy.sparse.linalg.ArpackNoConvergence` when ARPACK stops early; otherwise
        return the best available value flagged as not converged.
    vectors:
        Also compute the eigenvector (needed for warm starts and :meth:`perron_matrix`).
    """

    tol: float = 1e-13
    which: str = "LM"
    maxiter: int | None = None
    start: np.ndarray | None = None
    strict: bool = True
    vectors: bool = True


@dataclass(frozen=True)
class TopEigen:
    """An extreme eigenpair found by Lanczos: value, eigenvector (``r^2``, or ``None``), converged."""

    value: float
    vector: np.ndarray | None
    converged: bool


@dataclass(frozen=True)
class BisectOptions:
    """Bisection effort: at most ``iterations`` halvings, stop when ``hi - lo <= rtol * hi``."""

    iterations: int = 200
    rtol: float = 0.0


def bisect(inside: Callable[[float], bool], lo: float, hi: float,
           options: BisectOptions | None = None) -> float:
    r"""Boundary of an interval :math:`\{x:\ \mathrm{inside}(x)\}=[lo, x^\star)` by bisection.

    Parameters
    ----------
    inside:
        Predicate, true below the boundary and false above it.
    lo, hi:
        A bracket: ``inside(lo)`` true, ``inside(hi)`` false (not re-evaluated).
    options:
        :class:`BisectOptions` (default: 200 halvings).

    Returns
    -------
    float
        The midpoint of the final bracket.

    Example
    -------
    >>> round(bisect(lambda x: x * x < 2.0, 0.0, 2.0, BisectOptions(60)), 12)
    1.414213562373
    """
    opt = options or BisectOptions()
    for _ in range(opt.iterations):
        mid = 0.5 * (lo + hi)
        if inside(mid):
            lo = mid
        else:
            hi = mid
        if hi - lo <= opt.rtol * hi:
            break
    return 0.5 * (lo + hi)


def negative_curvature(evals: np.ndarray, rtol: float = 1e-10) -> bool:
    r"""Strict mean-escape test :math:`\lambda_{\min}<-\mathrm{rtol}\cdot\max|\lambda|` on ascending ``evals``.

    The first branch of :meth:`SecondMomentOperator.mean_escape` (SPEC §2.3(c)); the marginal case
    :math:`\lambda_{\min}\approx0` needs the noise and is decided there.
    """
    scale = max(abs(float(evals[0])), abs(float(evals[-1])), np.finfo(float).tiny)
    return bool(evals[0] < -rtol * scale)


@dataclass(frozen=True)
class MeanEscape:
    r"""Outcome of the mean-escape test :math:`\lambda_{\min}(A|_V)<0` (SPEC §2.3(c)).

    Attributes
    ----------
    lambda_min:
        :math:`\lambda_{\min}(A|_V)`.
    lambda_max:
        :math:`\lambda_{\max}(A|_V)`.
    witness:
        Unit eigenvector of :math:`\lambda_{\min}`, in the *original* coordinates.
    escapes_at_every_eta:
        True when :math:`\lambda_{\min}<0`, or :math:`\lambda_{\min}=0` with non-zero batch variance
        along the witness; then :math:`\rho(\mathcal T(\eta))>1` for every :math:`\eta>0`.
    """

    lambda_min: float
    lambda_max: float
    witness: np.ndarray
    escapes_at_every_eta: bool


class BudgetError(InputError):
    """A computation stopped at its stated budget (time, iterations or memory)."""


def _time_budget(fn: Callable[[np.ndarray], np.ndarray], r: int,
                 seconds: float, cap: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``fn`` that raises :class:`BudgetError` once ``seconds`` have passed since the first call.

    Each call also reports the solve's effort to the current phase's progress bar
    (:func:`numerics.core.progress.solver_tick`: applications against ``cap``, seconds against
    the budget).
    """
    state = {"start": None, "calls": 0}

    def budgeted(M: np.ndarray) -> np.ndarray:
        now = time.perf_counter()
        if state["start"] is None:
            state["start"] = now
        state["calls"] += 1
        solver_tick(state["calls"], now - state["start"], seconds, cap)
        if now - state["start"] > seconds:
            raise BudgetError(f"the matrix-free eigen-solve at active dimension {r} stopped at "
                              f"its time budget of {seconds:g} s after {state['calls']} operator "
                              "applications (eta far below the threshold converges slowly: "
                              "raise eta, or reduce the active dimension)")
        return fn(M)

    return budgeted


class SecondMomentOperator:
    r"""The operator :math:`\mathcal T(\eta)` of SPEC §2.1 on the active subspace.

    Parameters
    ----------
    retain, forget:
        Per-sample curvature (anything :func:`numerics.core.inputs.as_pool` accepts); ``forget`` may be
        ``None`` (plain SGD on the retain set).
    config:
        :class:`~numerics.core.inputs.UnlearningConfig` (``alpha``, batch sizes, sampling).
    reduce:
        Restrict to the active subspace (default).  ``False`` keeps the ambient coordinates.
    """

    def __init__(
        self,
        retain: np.ndarray | CurvaturePool,
        forget: np.ndarray | CurvaturePool | None = None,
        config: UnlearningConfig | None = None,
        *,
        reduce: bool = True,
    ) -> None:
        retain_pool = as_pool(retain, "retain")
        forget_pool = as_pool(forget, "forget") if forget is not None else None
        if forget_pool is not None and forget_pool.d != retain_pool.d:
            raise InputError(
                f"retain and forget Hessians differ in dimension: {retain_pool.d} vs {forget_pool.d}"
            )
        if config is not None and not isinstance(config, UnlearningConfig):
            raise InputError(f"config must be an UnlearningConfig, got {type(config).__name__} "
                             "(UnlearningConfig(alpha, batch_retain, batch_forget, sampling))")
        scheme = get_scheme(check_sampling((config or UnlearningConfig()).sampling))
        if not scheme.exchangeable:
            raise InputError(scheme.unsupported("second-moment operator of the form a sum_i "
                                                "H_i M H_i + b Hbar M Hbar"))
        cfg = (config or UnlearningConfig()).validated(
            retain_pool.n, forget_pool.n if forget_pool is not None else 0
        )
        if forget_pool is None and cfg.alpha > 0.0:
            raise InputError(f"alpha = {cfg.alpha:g} > 0 but there is no forget set (forget=None "
                             "would weight the retain set by 1 - alpha alone)")
        self.config = cfg
        self.ambient_dim = retain_pool.d
        pools = [retain_pool] + ([forget_pool] if forget_pool is not None else [])
        if reduce:
            self.basis = active_basis(*pools)
        else:
            self.basis = np.eye(retain_pool.d)
        if self.basis.shape[1] == 0:
            raise InputError("all Hessians are zero: the active subspace is empty")
        if reduce:
            self.retain = retain_pool.project(self.basis)
            self.forget = forget_pool.project(self.basis) if forget_pool is not None else None
        else:  # the identity basis: the pools as they are
            self.retain, self.forget = retain_pool, forget_pool
        a = cfg.alpha
        self.weight_retain = 1.0 - a
        self.weight_forget = a if self.forget is not None else 0.0
        self.coef_retain = covariance_coefficients(cfg.sampling, self.retain.n, cfg.batch_retain)
        self.coef_forget = (
            covariance_coefficients(cfg.sampling, self.forget.n, cfg.batch_forget)
            if self.forget is not None
            else (0.0, 0.0)
        )
        self.mean_retain = self.retain.mean()
        self.mean_forget = self.forget.mean() if self.forget is not None else np.zeros_like(
            self.mean_retain
        )
        A = self.weight_retain * self.mean_retain - self.weight_forget * self.mean_forget
        self.A = 0.5 * (A + A.T)
        self._eigA: tuple[np.ndarray, np.ndarray] | None = None
        self._step_scale: float | None = None
        #: The last matrix-free eigen-solve (:meth:`top_eigen`); its vector can warm-start the next.
        self.last_lanczos: TopEigen | None = None

    # ------------------------------------------------------------------ basic pieces
    @property
    def dim(self) -> int:
        """Active dimension :math:`r`."""
        return int(self.basis.shape[1])

    def eig_A(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Eigen-decomposition of :math:`A|_V` (ascending), cached."""
        if self._eigA is None:
            self._eigA = np.linalg.eigh(self.A)
        return self._eigA

    def _cov(self, pool: CurvaturePool | None, coef: tuple[float, float], mean: np.ndarray,
             M: np.ndarray) -> np.ndarray:
        if pool is None:
            return np.zeros_like(M)
        a, b = coef
        out = a * pool.sum_sandwich(M) if a != 0.0 else np.zeros_like(M)
        if b != 0.0:
            out = out + b * (mean @ M @ mean)
        return out

    def noise(self, M: np.ndarray) -> np.ndarray:
        r""":math:`\mathcal N(M)=(1-\alpha)^2\mathcal C_r(M)+\alpha^2\mathcal C_f(M)`."""
        out = self.weight_retain**2 * self._cov(self.retain, self.coef_retain, self.mean_retain, M)
        if self.forget is not None and self.weight_forget != 0.0:
            out = out + self.weight_forget**2 * self._cov(
                self.forget, self.coef_forget, self.mean_forget, M
            )
        return out

    def apply_Q(self, M: np.ndarray) -> np.ndarray:
        r""":math:`\mathcal Q(M)=AMA+\mathcal N(M)`."""
        return self.A @ M @ self.A + self.noise(M)

    def apply(self, M: np.ndarray, eta: float) -> np.ndarray:
        r""":math:`\mathcal T(\eta)(M)=(I-\eta A)M(I-\eta A)+\eta^2\mathcal N(M)`, matrix-free.

        The one-step map of the second moment, :math:`M_{t+1}=\mathcal T(\eta)(M_t)`, in the
        coordinates of :attr:`basis`; powers :math:`\mathcal T^t(M)` are ``t`` applications.  Cost
        :math:`O(nrk(r+k))`, no :math:`r^2\times r^2` matrix (:meth:`dense_T` is the reference).

        Parameters
        ----------
        M:
            ``(r, r)`` matrix (symmetric for a second moment; any square matrix is accepted).
        eta:
            Step size (not checked here: this is the inner loop of the eigen-solvers).

        Returns
        -------
        numpy.ndarray
            ``(r, r)``.
        """
        P = np.eye(self.dim) - eta * self.A
        return P @ M @ P + eta**2 * self.noise(M)

    # ------------------------------------------------------------------ dense Kronecker path
    def dense_L(self) -> np.ndarray:
        r""":math:`\mathcal L=A\otimes I+I\otimes A` as an ``r^2 x r^2`` matrix."""
        eye = np.eye(self.dim)
        return np.kron(self.A, eye) + np.kron(eye, self.A)

    def dense_noise(self) -> np.ndarray:
        r"""Kronecker form of :math:`\mathcal N`."""
        out = np.zeros((self.dim**2, self.dim**2))
        terms = [(self.weight_retain, self.retain, self.coef_retain, self.mean_retain)]
        if self.forget is not None and self.weight_forget != 0.0:
            terms.append((self.weight_forget, self.forget, self.coef_forget, self.mean_forget))
        for w, pool, (a, b), mean in terms:
            if a != 0.0:
                out += w**2 * a * pool.kron_sum()
            if b != 0.0:
                out += w**2 * b * np.kron(mean, mean)
        return out

    def dense_Q(self) -> np.ndarray:
        r""":math:`\mathcal Q=A\otimes A+\mathcal N` as an ``r^2 x r^2`` matrix."""
        return np.kron(self.A, self.A) + self.dense_noise()

    def dense_T(self, eta: float) -> np.ndarray:
        r""":math:`\mathcal T(\eta)=I-\eta\mathcal L+\eta^2\mathcal Q` as an ``r^2 x r^2`` matrix (the dense reference).

        Column-major :math:`\operatorname{vec}`: ``dense_T(eta) @ M.reshape(-1, order="F")``
        equals ``apply(M, eta).reshape(-1, order="F")``.  Symmetrised; memory :math:`8r^4` bytes.

        Parameters
        ----------
        eta:
            Step size.

        Returns
        -------
        numpy.ndarray
            ``(r^2, r^2)``.
        """
        eta = self.check_step(eta)
        T = np.eye(self.dim**2) - eta * self.dense_L() + eta**2 * self.dense_Q()
        return 0.5 * (T + T.T)

    # ------------------------------------------------------------------ matrix-free path
    def linear_operator(self, fn: Callable[[np.ndarray], np.ndarray]) -> LinearOperator:
        r"""A map on ``r x r`` matrices as a :class:`~scipy.sparse.linalg.LinearOperator` on vectors.

        Column-major :math:`\operatorname{vec}`, the Kronecker convention
        :math:`\operatorname{vec}(XMY)=(Y^\top\otimes X)\operatorname{vec}M` of :meth:`dense_T`.

        Parameters
        ----------
        fn:
            ``(r, r) -> (r, r)`` map, e.g. ``lambda M: op.apply(M, eta)``.

        Returns
        -------
        scipy.sparse.linalg.LinearOperator
            ``r^2 x r^2``, float64.
        """
        r = self.dim

        def matvec(x: np.ndarray) -> np.ndarray:
            M = x.reshape(r, r, order="F")
            return fn(M).reshape(-1, order="F")

        return LinearOperator((r * r, r * r), matvec=matvec, dtype=np.float64)

    def start_vector(self) -> np.ndarray:
        """Deterministic symmetric start vector for Lanczos (reproducible results), length ``r^2``."""
        rng = np.random.default_rng(0)
        G = rng.standard_normal((self.dim, self.dim))
        return (np.eye(self.dim) + 0.1 * (G @ G.T) / self.dim).reshape(-1, order="F")

    def top_eigen(self, fn: Callable[[np.ndarray], np.ndarray],
                  solver: LanczosOptions | None = None) -> TopEigen:
        r"""The extreme eigenpair of a symmetric map on ``r x r`` matrices by Lanczos (``eigsh``).

        The one matrix-free eigen-solver of the project: :meth:`rho`, :meth:`eta_star_ms` and
        :meth:`perron_matrix` use it, and so does :class:`numerics.apps.diagnose.criterion.Criterion`
        (with its own tolerance, effort and warm starts).  The result is also kept in
        :attr:`last_lanczos`.  When ARPACK stops before ``solver.tol`` and ``solver.strict`` is
        False, the best converged Ritz pair is returned (or, with none, the best Rayleigh-Ritz
        pair of a short LOBPCG run), flagged ``converged=False``.

        Parameters
        ----------
        fn:
            Symmetric ``(r, r) -> (r, r)`` map.
        solver:
            :class:`LanczosOptions` (default: tolerance ``1e-13``, largest magnitude, strict).

        Returns
        -------
        TopEigen
        """
        opt = solver or LanczosOptions()
        r = self.dim
        cap = None if opt.maxiter is None else int(opt.maxiter) * min(r * r, ARPACK_NCV)
        lin = self.linear_operator(_time_budget(fn, r, LANCZOS_SECONDS, cap))
        if r == 1:
            one = np.ones(1)
            res = TopEigen(float(lin.matvec(one)[0]), one, True)
            self.last_lanczos = res
            return res
        warm = opt.start is not None and opt.start.shape[0] == r * r
        v0 = opt.start if warm else self.start_vector()
        try:
            out = eigsh(lin, k=1, which=opt.which, v0=v0, tol=opt.tol, maxiter=opt.maxiter,
                        return_eigenvectors=opt.vectors)
            val, vec = out if opt.vectors else (out, None)
            converged = True
        except ArpackNoConvergence as exc:
            if opt.strict:
                raise BudgetError(f"the matrix-free eigen-solve at active dimension {r} did not "
                                  f"converge to tolerance {opt.tol:g} within its iteration "
                                  f"budget ({opt.maxiter or 'ARPACK default'} restarts)"
                                  ) from None
            converged = False
            if exc.eigenvalues.size:
                val, vec = exc.eigenvalues, exc.eigenvectors
            else:  # no Ritz value converged: the best Rayleigh-Ritz value of a short LOBPCG run
                rng = np.random.default_rng(0)
                X = np.column_stack([v0, rng.standard_normal((r * r, 3))])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    val, vec = lobpcg(lin, X, largest=True, maxiter=2 * (opt.maxiter or 1000),
                                      tol=opt.tol)
                j = int(np.argmax(val))
                val, vec = val[j:j + 1], vec[:, j:j + 1]
        res = TopEigen(float(val[0]), vec[:, 0] if vec is not None else None, converged)
        self.last_lanczos = res
        return res

    def check_step(self, eta: float) -> float:
        r"""``eta`` as a float when :math:`\mathcal T(\eta)` is representable in float64.

        Its entries grow like :math:`(\eta\lambda)^2` with :math:`\lambda\le\max_i\|F_i\|_F^2`
        the largest per-sample curvature, so a step with :math:`\eta\lambda>`
        :data:`MAX_STEP_SCALE` is refused (it would overflow float64).
        """
        eta = check_eta(eta)
        if self._step_scale is None:
            # ||F_i||_F^2 >= |lambda(H_i)| for PSD and signed pools alike
            self._step_scale = max(float(np.einsum("ndk,ndk->n", p.factors, p.factors).max())
                                   for p in (self.retain, self.forget) if p is not None)
        scale = self._step_scale
        if eta * scale > MAX_STEP_SCALE:
            raise InputError(f"step size eta = {eta:g} is too large for these Hessians: eta * "
                             f"max ||F_i||^2 = {eta * scale:.3g} > {MAX_STEP_SCALE:g}, and "
                             "T(eta) would overflow float64")
        return eta

    def _resolve(self, method: str) -> str:
        if method not in ("auto", "dense", "lanczos"):
            raise InputError(f"unknown method {method!r}; expected auto, dense or lanczos")
        if method == "auto":
            return "dense" if self.dim <= DENSE_MAX_DIM else "lanczos"
        if method == "dense":
            self.check_dense_size()
        return method

    def check_dense_size(self, available: float | None = None) -> None:
        r"""Refuse the dense path when its :math:`r^2\times r^2` matrices would not fit.

        The estimate is :data:`DENSE_COPIES` float64 matrices of :math:`r^4` entries, compared
        with the memory available (before anything is allocated).
        """
        from numerics.core.npz import GIB, available_bytes

        need = DENSE_COPIES * 8.0 * float(self.dim) ** 4
        have = available_bytes() if available is None else float(available)
        if need > have:
            raise InputError(f"the dense method at active dimension {self.dim} needs about "
                             f"{need / GIB:.3g} GiB ({DENSE_COPIES} matrices of {self.dim}^2 x "
                             f"{self.dim}^2 float64), more than the {have / GIB:.3g} GiB "
                             "available; use the matrix-free method (lanczos)")

    # ------------------------------------------------------------------ quantities
    def rho(self, eta: float, method: str = "auto", solver: LanczosOptions | None = None) -> float:
        r"""Spectral radius :math:`\rho(\mathcal T(\eta)|_V)` (mean-square growth factor per step).

        :math:`\mathbb E\|\delta_t\|^2\to0` iff :math:`\rho<1` (SPEC §2.3(a)).

        Parameters
        ----------
        eta:
            Step size.
        method:
            ``auto`` (dense up to :data:`DENSE_MAX_DIM`), ``dense`` or ``lanczos``.
        solver:
            Lanczos options (default :class:`LanczosOptions` without eigenvectors).

        Returns
        -------
        float
        """
        eta = self.check_step(eta)
        if self._resolve(method) == "dense":
            ev = np.linalg.eigvalsh(self.dense_T(eta))
            return float(max(abs(ev[0]), abs(ev[-1])))
        opt = solver or LanczosOptions(vectors=False)
        return abs(self.top_eigen(lambda M: self.apply(M, eta), opt).value)

    def perron_matrix(self, eta: float) -> np.ndarray:
        r"""PSD eigenvector :math:`M^\star` of :math:`\mathcal T(\eta)` for :math:`\rho` (trace 1)."""
        eta = self.check_step(eta)
        if self._resolve("auto") == "dense":
            ev, vec = np.linalg.eigh(self.dense_T(eta))
            j = int(np.argmax(np.abs(ev)))
            x = vec[:, j]
        else:
            x = self.top_eigen(lambda M: self.apply(M, eta)).vector
        M = x.reshape(self.dim, self.dim, order="F")
        M = 0.5 * (M + M.T)
        if np.trace(M) < 0:
            M = -M
        return M / np.trace(M)

    def mean_escape(self, rtol: float = 1e-10) -> MeanEscape:
        r"""Mean-escape test :math:`\lambda_{\min}(A|_V)<0` with its witness (SPEC §2.3(c))."""
        evals, evecs = self.eig_A()
        lam_min, lam_max = float(evals[0]), float(evals[-1])
        scale = max(abs(lam_min), abs(lam_max), np.finfo(float).tiny)
        v = evecs[:, 0]
        if negative_curvature(evals, rtol):
            escapes = True
        elif lam_min <= rtol * scale:
            vv = np.outer(v, v)
            escapes = bool(np.sum(vv * self.noise(vv)) > rtol * scale**2)
        else:
            escapes = False
        return MeanEscape(lam_min, lam_max, self.basis @ v, escapes)

    def has_stable_step(self) -> bool:
        r"""True when some :math:`\eta>0` is mean-square stable.

        That is: no mean escape and :math:`A\succ0` on :math:`V` (then the stable set is
        :math:`(0,\eta^\star_{ms})`, SPEC §2.3(d)).
        """
        return not self.mean_escape().escapes_at_every_eta and self.eig_A()[0][0] > 0

    def scaled_q(self, Y: np.ndarray) -> np.ndarray:
        r""":math:`\mathcal L^{-1/2}\mathcal Q\mathcal L^{-1/2}(Y)` in the eigenbasis of :math:`A`.

        Needs :math:`A\succ0` on :math:`V`.  There :math:`\mathcal L` acts as
        :math:`X_{ij}\mapsto(a_i+a_j)X_{ij}`; the top eigenvalue of this symmetric map is
        :math:`\mu_{\max}(\mathcal Q,\mathcal L)=1/\eta^\star_{ms}`.

        Parameters
        ----------
        Y:
            ``(r, r)`` matrix in the eigenbasis of :math:`A`.

        Returns
        -------
        numpy.ndarray
            ``(r, r)``.
        """
        evals, P = self.eig_A()
        inv_sqrt = 1.0 / np.sqrt(evals[:, None] + evals[None, :])
        X = P @ (inv_sqrt * Y) @ P.T  # back to the working basis
        return inv_sqrt * (P.T @ self.apply_Q(X) @ P)

    def eta_star_ms(self, method: str = "auto", solver: LanczosOptions | None = None) -> float:
        r"""Exact mean-square threshold :math:`\eta^\star_{ms}=1/\mu_{\max}`, :math:`\mathcal Qx=\mu\mathcal Lx`.

        The stable set is exactly :math:`(0,\eta^\star)` when :math:`A\succ0` on :math:`V`
        (SPEC §2.3(d)).  Returns ``0.0`` when the mean escapes (no step size is stable).

        The matrix-free path takes the top eigenvalue of the symmetric :meth:`scaled_q`
        (``which="LA"``).

        Parameters
        ----------
        method:
            ``auto``, ``dense`` (``scipy.linalg.eigh(Q, L)``) or ``lanczos``.
        solver:
            Lanczos options (default: tolerance ``1e-13``, strict).

        Returns
        -------
        float
        """
        if not self.has_stable_step():
            return 0.0
        if self._resolve(method) == "dense":
            mu = sla.eigh(self.dense_Q(), self.dense_L(), eigvals_only=True)
            return float(1.0 / mu[-1])
        opt = solver or LanczosOptions(which="LA", vectors=False)
        return float(1.0 / self.top_eigen(self.scaled_q, opt).value)

    def eta_star_bisect(self, hi: float | None = None, rtol: float = 1e-13,
                        method: str = "auto") -> float:
        r"""Cross-check of :math:`\eta^\star_{ms}` by bisection on :math:`\rho(\mathcal T(\eta))=1`."""
        if self.mean_escape().escapes_at_every_eta:
            return 0.0
        hi = hi if hi is not None else 2.0 / self.eig_A()[0][-1]
        while self.rho(hi, method) < 1.0:  # the mean alone bounds eta* by 2/lambda_max(A)
            hi *= 2.0
        return bisect(lambda eta: self.rho(eta, method) < 1.0, 0.0, hi, BisectOptions(200, rtol))

    def mean_square_stable(self, eta: float, method: str = "auto") -> bool:
        r"""True when :math:`\rho(\mathcal T(\eta))<1`."""
        return self.rho(eta, method) < 1.0
