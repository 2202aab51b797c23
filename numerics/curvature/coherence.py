r"""Coherence of per-sample curvature from trace kernels (SPEC §3.1--3.2), model-agnostic.

Trace kernels and coherence matrices (elementwise square root, always of a clamped kernel):

.. math::
   K_{ij}=\operatorname{tr}(H_iH_j),\qquad S_{ij}=\sqrt{\max(K_{ij},0)}=\|H_i^{1/2}H_j^{1/2}\|_F .

Dexter coherence of one set and the three axes of SPEC §3.2:

.. math::
   \sigma=\frac{\lambda_{\max}(S)}{\max_i\lambda_{\max}(H_i)},\quad
   \sigma_{rf}=\frac{\|S^{rf}\|_2}{\sqrt{\lambda^\star_r\lambda^\star_f}},\quad
   \sigma_{\rm joint}=\frac{\lambda_{\max}\begin{psmallmatrix}S^{rr}&S^{rf}\\S^{fr}&S^{ff}
   \end{psmallmatrix}}{\max(\lambda^\star_r,\lambda^\star_f)} .

**Factor (Gram) route.**  For PSD factors :math:`H_i=F_iF_i^\top`,
:math:`\operatorname{tr}(H_iH_j)=\|F_i^\top F_j\|_F^2`, so every kernel entry is a block of the
factor Gram matrix :math:`G=[F_i^\top F_j]`: one GEMM of cost :math:`O(n^2k^2P)` and memory
:math:`O(nkP+n^2k^2)`.  For rank one, :math:`S=|UU^\top|` (the absolute Gram matrix; no squaring
and no square root), and :math:`\lambda_{\max}(H_i)=\|u_i\|^2`.  On the CPU the Gram matrix is
formed by numpy (``U @ U.T`` is a BLAS ``syrk``); tensors on a GPU stay there for the GEMM and
only the :math:`n\times n` result comes back, as float64 (see :mod:`numerics.core.device`).

**Dense route.**  :func:`coherence_dense` uses :math:`K_{ij}=\langle H_i,H_j\rangle_F` from dense
``(n, P, P)`` Hessians; it is the reference for tests and the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla
import torch

from numerics.core.inputs import InputError
from numerics.core.pools import CurvaturePool

__all__ = [
    "Coherence",
    "PairCoherence",
    "factor_gram",
    "trace_kernel",
    "coherence_matrix",
    "per_sample_lambda_max",
    "dexter_sigma",
    "coherence",
    "coherence_from_kernels",
    "coherence_from_gram",
    "trace_kernel_dense",
    "coherence_dense",
    "pair_coherence",
    "cosine_matrix",
]

FactorsLike = np.ndarray | torch.Tensor | CurvaturePool


def _factors(x: FactorsLike, name: str) -> np.ndarray | torch.Tensor:
    """``(n, P, k)`` factors as numpy (host) or torch (kept on its device), validated."""
    if isinstance(x, CurvaturePool):
        if not x.psd:  # the factor route computes traces of F F^T: the signs would be lost
            raise InputError(f"{name}: the factor route of coherence needs PSD curvature; for "
                             "signed curvature use coherence_dense(pool.dense())")
        x = x.factors
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.device.type == "cpu":
            x = t.numpy() if t.dtype == torch.float64 else t.to(torch.float64).numpy()
        else:
            if t.ndim == 2:
                t = t.unsqueeze(2)
            _check_shape(tuple(t.shape), name)
            if not bool(torch.isfinite(t).all()):
                raise InputError(f"{name} factors contain NaN or inf")
            return t
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    _check_shape(a.shape, name)
    if not np.isfinite(a).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise InputError(f"{name} factors contain NaN or inf (first at index {idx})")
    return a


def _check_shape(shape: tuple[int, ...], name: str) -> None:
    if len(shape) != 3:
        raise InputError(f"{name} factors must have shape (n, P) or (n, P, k), got {shape}")
    if shape[0] == 0 or shape[1] == 0 or shape[2] == 0:
        raise InputError(f"{name} factors are empty: shape {shape}")


def _columns(f: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Rows are the factor columns: ``(n k, P)`` (a view when ``k == 1``)."""
    n, P, k = f.shape
    if k == 1:
        return f[:, :, 0]
    if isinstance(f, torch.Tensor):
        return f.permute(0, 2, 1).reshape(n * k, P)
    return np.ascontiguousarray(f.transpose(0, 2, 1)).reshape(n * k, P)


def factor_gram(a: FactorsLike, b: FactorsLike | None = None) -> np.ndarray:
    r"""Factor Gram blocks :math:`G_{ij}=F_i^\top F_j`, float64 ``(n_a, k_a, n_b, k_b)``.

    One GEMM (``syrk`` when ``b`` is ``None`` on the CPU), on the device of the inputs.
    """
    fa = _factors(a, "first")
    fb = fa if b is None else _factors(b, "second")
    if fa.shape[1] != fb.shape[1]:
        raise InputError(f"factor sets differ in dimension: {fa.shape[1]} vs {fb.shape[1]}")
    if isinstance(fa, torch.Tensor) != isinstance(fb, torch.Tensor):
        raise InputError("both factor sets must be on the same device")
    ca = _columns(fa)
    cb = ca if b is None else _columns(fb)
    g = ca @ cb.T
    if isinstance(g, torch.Tensor):
        g = g.to(torch.float64).cpu().numpy()
    return g.reshape(fa.shape[0], fa.shape[2], fb.shape[0], fb.shape[2])


def _kernel_from_gram(g: np.ndarray) -> np.ndarray:
    r""":math:`K_{ij}=\|G_{ij}\|_F^2` from Gram blocks ``(n_a, k_a, n_b, k_b)``."""
    if g.shape[1] == 1 and g.shape[3] == 1:
        return g[:, 0, :, 0] ** 2
    return np.einsum("ikjl,ikjl->ij", g, g)


def _s_from_gram(g: np.ndarray) -> np.ndarray:
    """Coherence matrix from Gram blocks (rank one: ``|G|`` directly, no square/root)."""
    if g.shape[1] == 1 and g.shape[3] == 1:
        return np.abs(g[:, 0, :, 0])
    return np.sqrt(np.clip(_kernel_from_gram(g), 0.0, None))


def _lam_from_diag(gdiag: np.ndarray) -> np.ndarray:
    r""":math:`\lambda_{\max}(H_i)=\lambda_{\max}(F_i^\top F_i)` from the diagonal blocks."""
    if gdiag.shape[1] == 1:
        return np.clip(gdiag[:, 0, 0], 0.0, None)
    sym = 0.5 * (gdiag + gdiag.transpose(0, 2, 1))
    return np.clip(np.linalg.eigvalsh(sym)[:, -1], 0.0, None)


def _diag_blocks(g: np.ndarray) -> np.ndarray:
    idx = np.arange(g.shape[0])
    return g[idx, :, idx, :]  # (n, k, k)


def trace_kernel(a: FactorsLike, b: FactorsLike | None = None) -> np.ndarray:
    r"""Trace kernel :math:`K_{ij}=\operatorname{tr}(H_iH_j)=\|F_i^\top F_j\|_F^2` (Gram route)."""
    return _kernel_from_gram(factor_gram(a, b))


def coherence_matrix(a: FactorsLike, b: FactorsLike | None = None) -> np.ndarray:
    r"""Coherence matrix :math:`S_{ij}=\sqrt{\max(\operatorname{tr}(H_iH_j),0)}` (Gram route)."""
    return _s_from_gram(factor_gram(a, b))


def per_sample_lambda_max(a: FactorsLike) -> np.ndarray:
    r"""Per-sample :math:`\lambda_{\max}(H_i)=\|F_i\|_2^2`, shape ``(n,)``."""
    f = _factors(a, "factors")
    if isinstance(f, torch.Tensor):
        g = torch.einsum("npk,npl->nkl", f, f).to(torch.float64).cpu().numpy()
    else:
        g = np.einsum("npk,npl->nkl", f, f)
    return _lam_from_diag(g)


#: From this order on, :math:`\lambda_{\max}` of a coherence matrix comes from Lanczos
#: (ARPACK, :math:`O(n^2)` a product) instead of a tridiagonal reduction (:math:`O(n^3)`):
#: at :math:`n=10^4` the reduction took about 50 s a matrix on one core.
LANCZOS_MIN_N = 2048


def _lambda_max_sym(s: np.ndarray) -> float:
    """Largest eigenvalue of a symmetric matrix (subset solver; Lanczos from LANCZOS_MIN_N)."""
    n = s.shape[0]
    if n >= LANCZOS_MIN_N:
        # symmetrised inside the product (no n x n copy); a seeded start (reproducible);
        # tol=0 asks ARPACK for machine precision
        op = spla.LinearOperator((n, n), matvec=lambda v: 0.5 * (s @ v + s.T @ v),
                                 dtype=np.float64)
        v0 = np.random.default_rng(0).standard_normal(n)
        return float(spla.eigsh(op, k=1, which="LA", v0=v0, tol=0.0,
                                return_eigenvectors=False)[0])
    s = 0.5 * (s + s.T)
    if n <= 64:
        return float(np.linalg.eigvalsh(s)[-1])
    return float(sla.eigh(s, eigvals_only=True, subset_by_index=[n - 1, n - 1],
                          overwrite_a=True, check_finite=False)[0])


def _positive(lam_star: float, name: str) -> float:
    if not lam_star > 0.0:
        raise InputError(f"all {name} Hessians are zero: coherence is undefined")
    return lam_star


def dexter_sigma(a: FactorsLike) -> float:
    r"""Dexter coherence :math:`\sigma=\lambda_{\max}(S)/\max_i\lambda_{\max}(H_i)` of one set."""
    g = factor_gram(a)
    lam = _positive(float(_lam_from_diag(_diag_blocks(g)).max()), "per-sample")
    return _lambda_max_sym(_s_from_gram(g)) / lam


@dataclass(frozen=True)
class Coherence:
    r"""Coherence of a retain set and (optionally) a forget set.

    Attributes
    ----------
    sigma_r, sigma_f, sigma_rf, sigma_joint:
        The four scalars of SPEC §3.2 (``sigma_f``, ``sigma_rf`` are ``None`` without a forget
        set, and then ``sigma_joint == sigma_r``).
    lambda_star_r, lambda_star_f:
        :math:`\max_i\lambda_{\max}(H_i)` of each set.
    top_eig_joint:
        :math:`\lambda_{\max}(S^{\rm joint})` (un-normalised).
    lambda_max_r, lambda_max_f:
        Per-sample :math:`\lambda_{\max}(H_i)`.
    S_joint:
        The joint coherence matrix (retain first), kept when asked for.
    """

    sigma_r: float
    sigma_f: float | None
    sigma_rf: float | None
    sigma_joint: float
    lambda_star_r: float
    lambda_star_f: float | None
    top_eig_joint: float
    lambda_max_r: np.ndarray
    lambda_max_f: np.ndarray | None
    S_joint: np.ndarray | None = None


def coherence_from_kernels(S_rr: np.ndarray, lam_r: np.ndarray, S_ff: np.ndarray | None = None,
                           S_rf: np.ndarray | None = None, lam_f: np.ndarray | None = None,
                           keep_matrices: bool = False) -> Coherence:
    r"""The coherence scalars from :math:`S^{\bullet}` and per-sample :math:`\lambda_{\max}`."""
    lam_star_r = _positive(float(np.max(lam_r)), "retain")
    sigma_r = _lambda_max_sym(S_rr) / lam_star_r
    if S_ff is None:
        return Coherence(sigma_r, None, None, sigma_r, lam_star_r, None, sigma_r * lam_star_r,
                         np.asarray(lam_r), None, S_rr if keep_matrices else None)
    lam_star_f = _positive(float(np.max(lam_f)), "forget")
    sigma_f = _lambda_max_sym(S_ff) / lam_star_f
    norm_rf = float(np.linalg.norm(S_rf, 2)) if S_rf.size else 0.0
    sigma_rf = norm_rf / np.sqrt(lam_star_r * lam_star_f)
    S = np.block([[S_rr, S_rf], [S_rf.T, S_ff]])
    top = _lambda_max_sym(S)
    sigma_joint = top / max(lam_star_r, lam_star_f)
    return Coherence(sigma_r, sigma_f, float(sigma_rf), sigma_joint, lam_star_r, lam_star_f, top,
                     np.asarray(lam_r), np.asarray(lam_f), S if keep_matrices else None)


def coherence(retain: FactorsLike, forget: FactorsLike | None = None, *,
              keep_matrices: bool = False) -> Coherence:
    r"""σ_r, σ_f, σ_rf, σ_joint from PSD factors by the Gram route, :math:`O(n^2k^2P)`.

    Parameters
    ----------
    retain, forget:
        Factors ``(n, P, k)`` or rank-one vectors ``(n, P)`` (numpy, torch on any device, or a
        :class:`~numerics.core.pools.HessianPool`).
    keep_matrices:
        Keep the joint coherence matrix in the result.
    """
    g_rr = factor_gram(retain)
    lam_r = _lam_from_diag(_diag_blocks(g_rr))
    if forget is None:
        return coherence_from_kernels(_s_from_gram(g_rr), lam_r, keep_matrices=keep_matrices)
    g_ff = factor_gram(forget)
    g_rf = factor_gram(retain, forget)
    return coherence_from_kernels(
        _s_from_gram(g_rr), lam_r, _s_from_gram(g_ff), _s_from_gram(g_rf),
        _lam_from_diag(_diag_blocks(g_ff)), keep_matrices=keep_matrices,
    )


def coherence_from_gram(gram: np.ndarray | torch.Tensor, retain: np.ndarray | None = None,
                        forget: np.ndarray | None = None, *,
                        keep_matrices: bool = False) -> Coherence:
    r"""Coherence of rank-one sets from their Gram matrix :math:`G_{ik}=\langle u_i,u_k\rangle`.

    :math:`S=|G|` and :math:`\lambda_{\max}(H_i)=G_{ii}`; ``retain``/``forget`` index the rows of
    the two sets (default: every row is a retain sample, no forget set).  For models whose Gram
    matrix has a cheaper structured form than ``U @ U.T`` (e.g.
    :func:`numerics.apps.cnn.model.rank_one_gram`).
    """
    G = gram.detach().to(torch.float64).cpu().numpy() if isinstance(gram, torch.Tensor) \
        else np.asarray(gram, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] != G.shape[1] or G.shape[0] == 0:
        raise InputError(f"a Gram matrix must be square and non-empty, got shape {G.shape}")
    if not np.isfinite(G).all():
        raise InputError("the Gram matrix contains NaN or inf")
    G = 0.5 * (G + G.T)
    r = np.arange(G.shape[0]) if retain is None else np.asarray(retain)
    lam = np.clip(np.diag(G), 0.0, None)
    S = np.abs(G)
    if forget is None:
        return coherence_from_kernels(S[np.ix_(r, r)], lam[r], keep_matrices=keep_matrices)
    f = np.asarray(forget)
    return coherence_from_kernels(S[np.ix_(r, r)], lam[r], S[np.ix_(f, f)], S[np.ix_(r, f)],
                                  lam[f], keep_matrices=keep_matrices)


def trace_kernel_dense(h_a: np.ndarray | torch.Tensor,
                       h_b: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
    r"""Trace kernel :math:`\langle H_i,H_j\rangle_F` from dense symmetric Hessians."""
    a = torch.as_tensor(h_a).to(torch.float64)
    b = a if h_b is None else torch.as_tensor(h_b).to(torch.float64)
    return (a.reshape(a.shape[0], -1) @ b.reshape(b.shape[0], -1).T).cpu().numpy()


def coherence_dense(h_r: np.ndarray | torch.Tensor, h_f: np.ndarray | torch.Tensor | None = None,
                    *, keep_matrices: bool = False) -> Coherence:
    r"""The definition of SPEC §3.1--3.2 on dense Hessians (reference route, :math:`O(n^2P^2)`)."""
    def lam(h):
        t = torch.as_tensor(h).to(torch.float64)
        return torch.linalg.eigvalsh(0.5 * (t + t.transpose(1, 2)))[:, -1].clamp_min(0).numpy()

    def s(k):
        return np.sqrt(np.clip(k, 0.0, None))

    if h_f is None:
        return coherence_from_kernels(s(trace_kernel_dense(h_r)), lam(h_r),
                                      keep_matrices=keep_matrices)
    return coherence_from_kernels(
        s(trace_kernel_dense(h_r)), lam(h_r), s(trace_kernel_dense(h_f)),
        s(trace_kernel_dense(h_r, h_f)), lam(h_f), keep_matrices=keep_matrices,
    )


@dataclass(frozen=True)
class PairCoherence:
    r"""Pair coherence of :math:`A_p=aH^r_i+bH^f_k`, :math:`p=(i,k)` (SPEC §3.2).

    Attributes
    ----------
    top_eig:
        :math:`\lambda_{\max}(S^{\rm pair})` (what ``top_eig_S_exact`` of [S:R] returns).
    sigma:
        ``top_eig`` divided by :math:`\max_p\|A_p\|_2`.
    lambda_star:
        :math:`\max_p\|A_p\|_2`.
    n_negative:
        Number of pair-kernel entries :math:`\operatorname{tr}(A_pA_q)<0` (possible when
        :math:`ab<0`).
    """

    top_eig: float
    sigma: float
    lambda_star: float
    n_negative: int


def pair_coherence(retain: FactorsLike, forget: FactorsLike, a: float, b: float, *,
                   signed: bool = False) -> PairCoherence:
    r"""Coherence of the :math:`n_rn_f` pair matrices :math:`A_p=aH^r_i+bH^f_k`.

    .. math:: \operatorname{tr}(A_pA_q)=a^2K^{rr}_{ii'}+ab\,(K^{rf}_{ik'}+K^{rf}_{i'k})
       +b^2K^{ff}_{kk'} .

    With :math:`ab<0` the kernel can be negative (the companion code then takes ``sqrt`` of a
    negative number).  ``signed=False`` uses :math:`S_{pq}=\sqrt{|\operatorname{tr}(A_pA_q)|}`;
    ``signed=True`` keeps the sign, :math:`S_{pq}=\operatorname{sign}(\cdot)\sqrt{|\cdot|}`.
    Never NaN.  :math:`\|A_p\|_2` is the largest :math:`|\lambda|` of
    :math:`G_p^{1/2}DG_p^{1/2}` with :math:`G_p` the Gram of :math:`[F_i,F_k]` and
    :math:`D=\operatorname{diag}(a I,bI)`.
    """
    a, b = float(a), float(b)
    if not (np.isfinite(a) and np.isfinite(b)):
        raise InputError(f"pair weights must be finite, got a={a}, b={b}")
    g_rr, g_ff, g_rf = factor_gram(retain), factor_gram(forget), factor_gram(retain, forget)
    K_rr, K_ff, K_rf = _kernel_from_gram(g_rr), _kernel_from_gram(g_ff), _kernel_from_gram(g_rf)
    nr, nf = K_rf.shape
    K = (a * a * K_rr[:, None, :, None] + b * b * K_ff[None, :, None, :]
         + a * b * (K_rf[:, None, None, :] + K_rf.T[None, :, :, None]))
    K = K.reshape(nr * nf, nr * nf)
    mag = np.sqrt(np.abs(K))
    S = np.sign(K) * mag if signed else mag
    top = _lambda_max_sym(S)
    # ||A_p||_2 for every pair, from the (k_r + k_f) x (k_r + k_f) Gram of [F_i, F_k]
    kr, kf = g_rr.shape[1], g_ff.shape[1]
    d_rr, d_ff = _diag_blocks(g_rr), _diag_blocks(g_ff)
    Gp = np.empty((nr, nf, kr + kf, kr + kf))
    Gp[:, :, :kr, :kr] = d_rr[:, None]
    Gp[:, :, kr:, kr:] = d_ff[None, :]
    cross = g_rf.transpose(0, 2, 1, 3)  # (nr, nf, kr, kf)
    Gp[:, :, :kr, kr:] = cross
    Gp[:, :, kr:, :kr] = cross.transpose(0, 1, 3, 2)
    ev, vec = np.linalg.eigh(Gp)
    root = (vec * np.sqrt(np.clip(ev, 0.0, None))[..., None, :]) @ vec.swapaxes(-1, -2)
    D = np.concatenate([np.full(kr, a), np.full(kf, b)])
    M = root * D[None, None, None, :] @ root
    lam = np.abs(np.linalg.eigvalsh(0.5 * (M + M.swapaxes(-1, -2)))).max(axis=-1)
    lam_star = float(lam.max())
    if not lam_star > 0:
        raise InputError("every pair matrix A_p is zero: pair coherence is undefined")
    return PairCoherence(top, top / lam_star, lam_star, int((K < 0).sum()))


def cosine_matrix(a: FactorsLike) -> np.ndarray:
    r"""Cosines :math:`\langle u_i,u_k\rangle/(\|u_i\|\|u_k\|)` of rank-one factors."""
    g = factor_gram(a)
    if g.shape[1] != 1:
        raise InputError("cosine_matrix needs rank-one factors (n, P) or (n, P, 1)")
    g = g[:, 0, :, 0]
    norms = np.sqrt(np.clip(np.diag(g), 0.0, None))
    denom = np.outer(norms, norms)
    return np.divide(g, denom, out=np.zeros_like(g), where=denom > 0)
