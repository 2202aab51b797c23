r"""Synthetic commuting families as float64 rank-one factors (SPEC §4), for the operator.

Every builder returns factors of shape ``(n, d, 1)`` with :math:`H_i=u_iu_i^\top`,
:math:`u_i=\sqrt{\lambda_i}\,e_{k(i)}` (or :math:`0` for a zero Hessian), in the coordinate basis
or, with ``rotation``, in a rotated one: :math:`u_i\mapsto Ru_i` for an orthogonal :math:`R`.  A
rotation changes nothing in the theory (:math:`\mathcal T` is conjugated by :math:`R\otimes R`),
so rotated copies test that the operator and :func:`numerics.core.commuting.exact_eta_star_as` do not
rely on the coordinate basis.

An ``(n, 1, 1)`` array (the σ-family with :math:`\sigma=n`) is square in its last two axes, so
:func:`numerics.core.inputs.as_pool` would read it as dense Hessians; pass such arrays as
``as_pool(x, factors=True)``.

The closed forms for these families are in :mod:`theory.families` and :mod:`theory.lyapunov`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "random_rotation",
    "sigma_family",
    "identical_lists",
    "separate_sets",
    "clique",
]

Rotation = np.ndarray | int | None


def random_rotation(d: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    r"""Haar-random orthogonal ``d x d`` matrix (QR of a Gaussian, column signs fixed by ``R``)."""
    if d < 1:
        raise ValueError(f"dimension must be >= 1, got {d}")
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))[None, :]


def _axis_factors(
    axis: np.ndarray, curvature: np.ndarray, d: int, rotation: Rotation
) -> np.ndarray:
    r"""Factors :math:`\sqrt{\lambda_i}\,Re_{k(i)}`, shape ``(n, d, 1)``; ``axis=-1`` gives zero."""
    axis = np.asarray(axis, dtype=int)
    curvature = np.broadcast_to(np.asarray(curvature, dtype=float), axis.shape)
    if (curvature < 0).any():
        raise ValueError("curvatures must be >= 0")
    u = np.zeros((axis.size, d))
    live = axis >= 0
    u[np.flatnonzero(live), axis[live]] = np.sqrt(curvature[live])
    if rotation is not None:
        R = random_rotation(d, rotation) if isinstance(rotation, (int, np.integer)) else rotation
        R = np.asarray(R, dtype=float)
        if R.shape != (d, d):
            raise ValueError(f"rotation must be {d} x {d}, got {R.shape}")
        u = u @ R.T
    return np.ascontiguousarray(u[:, :, None])


def _check(n: int, sigma: int) -> None:
    if n < 1 or not 1 <= sigma <= n:
        raise ValueError(f"need 1 <= sigma <= n, got sigma={sigma}, n={n}")


def sigma_family(n: int, sigma: int, c: float = 2.0, rotation: Rotation = None) -> np.ndarray:
    r"""σ-family of SPEC §4.2: the first σ samples on :math:`e_0`, the others on private axes.

    Every sample has curvature :math:`\lambda=cn/\sigma` (so :math:`\lambda_{\max}(\bar H)=c`);
    :math:`d=n-\sigma+1`.  ``rotation``: an orthogonal matrix, an integer seed for
    :func:`random_rotation`, or ``None``.
    """
    _check(n, sigma)
    d = n - sigma + 1
    axis = np.concatenate([np.zeros(sigma, int), np.arange(1, d)])
    return _axis_factors(axis, c * n / sigma, d, rotation)


def identical_lists(n: int, sigma: int, c: float = 2.0,
                    rotation: Rotation = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Retain list = forget list = the σ-family (SPEC §4.3); returns two independent copies."""
    f = sigma_family(n, sigma, c, rotation)
    return f, f.copy()


def separate_sets(n_r: int, n_f: int, sigma_r: int, sigma_f: int, lam_r: float, lam_f: float,
                  rotation: Rotation = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Separate retain and forget sets sharing :math:`e_0` (SPEC §4.4).

    Retain: :math:`\sigma_r` samples on :math:`e_0`, the other :math:`n_r-\sigma_r` on private
    axes; forget: :math:`\sigma_f` on :math:`e_0`, the others on their own private (memorised) axes.
    :math:`d=1+(n_r-\sigma_r)+(n_f-\sigma_f)`.  Returns ``(retain, forget)``.
    """
    if not (0 <= sigma_r <= n_r and 0 <= sigma_f <= n_f and n_r >= 1 and n_f >= 1):
        raise ValueError("need 0 <= sigma_r <= n_r, 0 <= sigma_f <= n_f, n_r, n_f >= 1")
    pr, pf = n_r - sigma_r, n_f - sigma_f
    d = 1 + pr + pf
    if isinstance(rotation, (int, np.integer)):
        rotation = random_rotation(d, rotation)  # one rotation for both sets
    ax_r = np.concatenate([np.zeros(sigma_r, int), 1 + np.arange(pr)])
    ax_f = np.concatenate([np.zeros(sigma_f, int), 1 + pr + np.arange(pf)])
    return _axis_factors(ax_r, lam_r, d, rotation), _axis_factors(ax_f, lam_f, d, rotation)


def clique(n: int, sigma: int, lam: float, d: int = 2, rotation: Rotation = None) -> np.ndarray:
    r"""Clique of SPEC §4.5: σ identical rank-one :math:`\lambda e_0e_0^\top`, the others zero.

    The ambient dimension ``d`` (default 2) only matters through ``rotation``.
    """
    _check(n, sigma)
    axis = np.where(np.arange(n) < sigma, 0, -1)
    return _axis_factors(axis, lam, d, rotation)
