r"""The one validation layer every entry point goes through.

Per-sample curvature comes in two forms:

* dense Hessians, an array of shape ``(n, d, d)``;
* PSD factors :math:`H_i=F_iF_i^\top`, an array of shape ``(n, d, k)`` (``k=1`` is the rank-one
  case :math:`H_i=u_iu_i^\top` of SPEC §5.3).

Both are validated (finite, symmetric, PSD where required, shapes consistent) and turned into a
:class:`~numerics.core.pools.HessianPool`, stored in float64 (signed, indefinite curvature is a
:class:`~numerics.core.pools.SignedPool`).  Errors are :class:`InputError` with a message that names
the offending array, sample and value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics.core.pools import CurvaturePool, HessianPool
from theory.sampling import UnknownSamplingError, get_scheme

__all__ = [
    "InputError",
    "UnlearningConfig",
    "as_pool",
    "check_alpha",
    "check_real",
    "check_positive",
    "check_count",
    "check_seed",
    "check_eta",
    "check_sampling",
    "check_batch",
]

#: Relative tolerance for symmetry and PSD checks (float64 round-off on sums of products).
SYMMETRY_RTOL = 1e-8
PSD_RTOL = 1e-8


class InputError(ValueError):
    """Bad input: the message names the problem (array, sample, value)."""


def check_real(value: object, name: str) -> float:
    """``value`` as a float when it is one real number (not text, a bool, None or an array).

    Raises
    ------
    InputError
        Naming ``name`` and the value, instead of an error from deep inside numpy.
    """
    if isinstance(value, bool | str | bytes) or value is None:
        raise InputError(f"{name} must be a real number, got {value!r}")
    if not isinstance(value, int | float | np.number) and np.ndim(value) != 0:
        raise InputError(f"{name} must be one real number, got an array of shape "
                         f"{np.shape(value)}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a real number, got {value!r}") from None


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` as float, or raise if it is not a finite number in :math:`[0, 1]`."""
    a = check_real(alpha, "alpha")
    if not np.isfinite(a) or a < 0.0 or a > 1.0:
        raise InputError(f"alpha must lie in [0, 1], got {alpha}")
    return a


def check_eta(eta: float) -> float:
    """Return ``eta`` as float, or raise if it is not finite and positive."""
    e = check_real(eta, "step size eta")
    if not np.isfinite(e) or e <= 0.0:
        raise InputError(f"step size eta must be finite and > 0, got {eta}")
    return e


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as float, or raise if it is not a finite number > 0."""
    v = check_real(value, name)
    if not np.isfinite(v) or v <= 0.0:
        raise InputError(f"{name} must be finite and > 0, got {value}")
    return v


def check_count(value: int, name: str, minimum: int = 1) -> int:
    """Return ``value`` as int, or raise if it is not an integer >= ``minimum``."""
    v = check_real(value, name)
    if not np.isfinite(v) or int(v) != v or v < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(v)


def check_seed(seed: int, name: str = "seed") -> int:
    """Return ``seed`` as int, or raise if it is not an integer >= 0 (numpy's seed range)."""
    return check_count(seed, name, minimum=0)


def check_sampling(sampling: str) -> str:
    """Return the normalised name of a registered sampling scheme, or raise naming the known ones.

    The one check is :func:`theory.sampling.get_scheme`; its error becomes an :class:`InputError`.
    """
    try:
        return get_scheme(sampling).name
    except UnknownSamplingError as exc:
        raise InputError(str(exc)) from None


def check_batch(batch: int, n_pool: int, name: str, sampling: str = "wor") -> int:
    r"""Return ``batch`` as int, or raise if the scheme does not admit it for a set of ``n_pool``.

    The rule (:math:`1\le B\le n`, :math:`B>n` only where a batch may exceed its set) is the
    scheme's :meth:`~theory.sampling.base.SamplingScheme.batch_problem`.
    """
    b = check_real(batch, f"{name} batch size")
    if not np.isfinite(b) or int(b) != b:
        raise InputError(f"{name} batch size must be an integer, got {batch}")
    b = int(batch)
    problem = get_scheme(check_sampling(sampling)).batch_problem(n_pool, b)
    if problem:
        raise InputError(f"{name} batch size {problem}")
    return b


def _finite(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{name} contains NaN or inf (first at index {idx})")


def _factors_from_dense(h: np.ndarray, name: str, psd_rtol: float) -> np.ndarray:
    r"""Batched eigen-decomposition :math:`H_i=V\\Lambda V^\\top\\mapsto F_i=V\\Lambda^{1/2}`."""
    evals, evecs = np.linalg.eigh(h)
    scale = np.abs(evals).max(axis=1)
    scale_all = max(float(scale.max()), np.finfo(float).tiny)
    tol = psd_rtol * scale_all
    worst = evals[:, 0]
    bad = np.flatnonzero(worst < -tol)
    if bad.size:
        i = int(bad[np.argmin(worst[bad])])
        raise InputError(
            f"{name} Hessian of sample {i} is not PSD: smallest eigenvalue {worst[i]:.6g} "
            f"(largest magnitude {scale[i]:.6g})"
        )
    keep = evals > tol  # numerical rank of each sample
    rank = int(keep.sum(axis=1).max()) if keep.any() else 1
    lam = np.where(keep, evals, 0.0)
    f = evecs * np.sqrt(lam)[:, None, :]  # never a square root of a negative number
    order = np.argsort(~keep, axis=1, kind="stable")  # kept columns first
    f = np.take_along_axis(f, order[:, None, :], axis=2)
    return np.ascontiguousarray(f[:, :, : max(rank, 1)])


def as_pool(
    data: np.ndarray | CurvaturePool,
    name: str = "hessians",
    *,
    factors: bool | None = None,
    psd_rtol: float = PSD_RTOL,
) -> CurvaturePool:
    r"""Validate per-sample curvature and return a float64 pool.

    A :class:`~numerics.core.pools.CurvaturePool` (PSD or signed) is returned as it is; arrays
    become a :class:`~numerics.core.pools.HessianPool` (PSD).

    Parameters
    ----------
    data:
        ``(n, d, d)`` dense symmetric PSD Hessians, or ``(n, d, k)`` factors (when
        ``factors=True`` or when the array is not square in its last two axes), or a ``(n, d)``
        array of rank-one vectors :math:`u_i`.
    name:
        Used in error messages.
    factors:
        Force the interpretation of a 3-D array; ``None`` guesses (square means dense) and refuses
        to guess for ``(n, 1, 1)``, where the two readings differ (:math:`h_i` vs :math:`f_i^2`).
    psd_rtol:
        Eigenvalues below :math:`-\mathrm{rtol}\cdot\max|\lambda|` are reported as non-PSD.
    """
    if isinstance(data, CurvaturePool):
        return data
    if np.iscomplexobj(data):
        raise InputError(f"{name} is complex; Hessians are real (the imaginary part would be "
                         "lost): pass the real part explicitly if that is what you mean")
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not a numeric array: {exc}") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
        factors = True
    if arr.ndim != 3:
        raise InputError(
            f"{name} must have shape (n, d, d) (Hessians) or (n, d, k) (factors), got {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise InputError(f"{name} is empty: it needs at least one sample")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise InputError(f"{name} has a zero-sized dimension: shape {arr.shape}")
    _finite(arr, name)
    if factors is None:
        if arr.shape[1:] == (1, 1):
            raise InputError(
                f"{name} has shape {arr.shape}: 1 x 1 Hessians h_i and one-dimensional factors "
                "f_i (h_i = f_i^2) cannot be told apart; pass factors=True for factors (the "
                "output of numerics.core.families) or factors=False for Hessians, or a HessianPool"
            )
        factors = arr.shape[1] != arr.shape[2]
    if factors:
        return HessianPool(np.ascontiguousarray(arr), name)
    scale = max(float(np.abs(arr).max()), np.finfo(float).tiny)
    asym = np.abs(arr - arr.transpose(0, 2, 1)).max(axis=(1, 2))
    if (asym > SYMMETRY_RTOL * scale).any():
        i = int(np.argmax(asym))
        raise InputError(
            f"{name} Hessian of sample {i} is not symmetric: max |H - H^T| = {asym[i]:.3g}"
        )
    sym = 0.5 * (arr + arr.transpose(0, 2, 1))
    return HessianPool(_factors_from_dense(sym, name, psd_rtol), name, dense_cache=sym)


@dataclass(frozen=True)
class UnlearningConfig:
    r"""Hyper-parameters of gradient-difference unlearning (SPEC §1.2).

    :math:`w_{t+1}=w_t-\eta[(1-\alpha)\nabla\hat L_{r,t}-\alpha\nabla\hat L_{f,t}]` with batch
    sizes :math:`B_r, B_f` drawn by ``sampling``.
    """

    alpha: float = 0.0
    batch_retain: int = 1
    batch_forget: int = 1
    sampling: str = "wor"

    def validated(self, n_retain: int, n_forget: int) -> UnlearningConfig:
        """Checked copy for pools of the given sizes."""
        sampling = check_sampling(self.sampling)
        alpha = check_alpha(self.alpha)
        br = check_batch(self.batch_retain, n_retain, "retain", sampling)
        bf = check_batch(self.batch_forget, max(n_forget, 1), "forget", sampling)
        return UnlearningConfig(alpha, br, bf, sampling)
