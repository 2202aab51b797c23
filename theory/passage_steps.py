r"""Stepping engines of the backward first-passage programme (:mod:`theory.horizon`).

One step of the programme of a law on :math:`D` grid cells (floor at cell 0, barrier above cell
:math:`D-1`) is

.. math::
   (Ku)_i=\sum_ok_o\,u^{ext}_{i+o},\qquad u^{ext}_m=u_0\ (m<0),\quad u_m\ (0\le m<D),
   \quad 0\ (m\ge D),

with the merged grid offsets :math:`o` and weights :math:`k_o` of :func:`theory.horizon._kernel`.
Two engines apply it to a batch of laws, with the same early stop (:func:`iterate`):

* **banded sparse** (:func:`_run_sparse`): one block-diagonal CSR matrix, cost
  :math:`\propto` the number of offsets per row times :math:`D`; the laws are taken in blocks of
  at most :data:`SPARSE_BLOCK_NNZ` entries, so that a block's matrix stays in cache (one matrix
  over thousands of laws is memory-bound: about 3.5 times slower per entry);
* **FFT** (:func:`_run_fft`): the sum over offsets :math:`o>-D` is a circular correlation of
  length :math:`N\ge D+\max(o_{max},-o_{min})` (no wrap-around reaches a kept cell, the cells
  :math:`\ge D` are zeroed after every step: the barrier), and the offsets with :math:`i+o<0` add
  :math:`c_iu_0` with :math:`c_i=\sum_{o<-i}k_o` (the floor), so

  .. math:: Ku=\mathbb 1_{[0,D)}\odot\mathcal F^{-1}\big(\overline{\hat g}\odot\hat u\big)+c\,u_0,
            \qquad g_{o\bmod N}=k_o\ (o>-D),

  exactly the same matrix, in :math:`O(N\log N)` per step whatever the number of offsets (the
  σ-family's near-critical laws have 40-65 offsets spread over a range of about 110 cells).
  Float64 throughout: the round-off of one step is about :math:`10^{-16}\log N` relative, and
  over :math:`T=1000` steps the two engines agree to about :math:`3\cdot10^{-13}` (tested).

A law goes to the FFT engine when its offsets per row times :math:`D` exceed
:math:`N\log_2N` (:func:`prefers_fft`), the measured break-even of the two engines.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
import scipy.sparse as sps

__all__ = ["iterate", "prefers_fft", "block_transition", "CHECK_EVERY", "SPARSE_BLOCK_NNZ",
           "FFT_BATCH", "ENGINES"]

#: Steps between the convergence checks of the early stop.
CHECK_EVERY = 8
#: Largest number of stored entries of one block of the sparse engine (about 3 MB: cache-resident).
SPARSE_BLOCK_NNZ = 1 << 18
#: Floats of one batch of the FFT engine (rows times FFT length): about 0.8 MB for the real and
#: complex arrays together, within a core's L2 cache (twice as many floats cost 2.5 times as much
#: per row, measured at lengths 512-1280).
FFT_BATCH = 3 << 14

Kernel = tuple[np.ndarray, np.ndarray]


def block_transition(kernels: list[Kernel], sizes: np.ndarray) -> sps.csr_matrix:
    """Block-diagonal CSR matrix of :math:`K` for laws of ``sizes`` cells each."""
    rows, cols, vals = [], [], []
    start = 0
    for (off, w), n in zip(kernels, sizes, strict=True):
        base = np.arange(n)
        c = base[:, None] + off[None, :]
        keep = c < n
        rows.append(np.broadcast_to(base[:, None], c.shape)[keep] + start)
        cols.append(np.maximum(c[keep], 0) + start)
        vals.append(np.broadcast_to(w[None, :], c.shape)[keep])
        start += int(n)
    return sps.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(start, start))


#: FFT lengths used by the engine, :math:`2^k\{8,10,12,14\}` (at most 25 % above the shortest
#: length without wrap-around): few distinct lengths, so that many laws share one batched transform.
_LADDER = np.array(sorted(m << k for k in range(20) for m in (8, 10, 12, 14)))


def _fft_length(off: np.ndarray, size: int) -> int:
    """FFT length of a law: the first of :data:`_LADDER` without wrap-around onto a kept cell."""
    inner = off[off > -size]
    reach = max(int(inner.max(initial=0)), int(-inner.min(initial=0)), 1)
    return int(_LADDER[np.searchsorted(_LADDER, int(size) + reach)])


def prefers_fft(kernel: Kernel, size: int) -> bool:
    r"""Whether the FFT engine is the cheaper one: offsets :math:`\times D>N\log_2N`."""
    n = _fft_length(kernel[0], size)
    return bool(kernel[0].size * size > n * np.log2(n))


def _fft_parts(kernel: Kernel, size: int, n: int) -> tuple[np.ndarray, float, np.ndarray]:
    r"""Correlation kernel :math:`g` (length ``n``) and the floor weights :math:`c_i=\sum_{o<-i}k_o`.

    :math:`c` is returned as the weight of the offsets at or below :math:`-D` (every row) and the
    rest, :math:`c_i` minus that, which vanishes below the deepest inner offset.
    """
    off, w = kernel
    inner = off > -size
    g = np.zeros(n)
    np.add.at(g, off[inner] % n, w[inner])
    # inner offsets deeper than row i (depth -o > i) reach below the floor from row i
    neg = inner & (off < 0)
    depth = np.zeros(int(-off[neg].min(initial=0)) + 1)
    np.add.at(depth, -off[neg], w[neg])
    tail = np.cumsum(depth[::-1])[::-1]  # tail[k] = weight of depths >= k
    return g, float(w[~inner].sum()), tail[1:]


class _Stopper:
    r"""Early stop of :func:`iterate`.

    Law ``j`` is done once :math:`(T-t)\|u_{t-1}-u_t\|_\infty\le` ``tol[j]`` (or at :math:`t=T`).
    """

    def __init__(self, horizon: int, tol: np.ndarray):
        self.horizon, self.tol = int(horizon), tol

    def done(self, t: int, gap: np.ndarray, laws: np.ndarray) -> np.ndarray:
        """Which of ``laws`` (indices into ``tol``) stop at step ``t`` with their ``gap``."""
        if t >= self.horizon:
            return np.ones(laws.size, bool)
        return (self.horizon - t) * gap <= self.tol[laws]


def _run_fft(kernels: list[Kernel], sizes: np.ndarray, laws: np.ndarray, stop: _Stopper,
             out: list[np.ndarray]) -> None:
    """FFT engine on ``laws`` (indices into ``kernels``), laws of one FFT length at a time."""
    lengths = np.array([_fft_length(kernels[j][0], sizes[j]) for j in laws])
    for n in np.unique(lengths):
        same = laws[lengths == n]
        rows = max(1, FFT_BATCH // int(n))
        for lo in range(0, same.size, rows):
            _run_fft_batch(kernels, sizes, same[lo:lo + rows], int(n), stop, out)


def _run_fft_batch(kernels: list[Kernel], sizes: np.ndarray, laws: np.ndarray, n: int,
                   stop: _Stopper, out: list[np.ndarray]) -> None:
    """FFT engine on one batch of laws of FFT length ``n``."""
    parts = [_fft_parts(kernels[j], int(sizes[j]), n) for j in laws]
    spec = np.conj(sfft.rfft(np.stack([g for g, _, _ in parts]), axis=1))
    mask = (np.arange(n)[None, :] < sizes[laws][:, None]).astype(float)
    deep = np.array([d for _, d, _ in parts])
    tail = np.zeros((laws.size, max(c.size for _, _, c in parts)))
    for r, (_, _, c) in enumerate(parts):
        tail[r, :c.size] = c
    u = mask.copy()
    live, t = laws, 0
    while live.size:
        for _ in range(min(CHECK_EVERY, stop.horizon - t)):
            prev = u
            hat = sfft.rfft(u, axis=1, workers=1)
            hat *= spec
            u = sfft.irfft(hat, n, axis=1, overwrite_x=True, workers=1)
            u += (deep * prev[:, 0])[:, None]  # held at the floor: c_i u_0
            u *= mask  # at or above the barrier: 0
            u[:, :tail.shape[1]] += tail * prev[:, :1]
        t = min(t + CHECK_EVERY, stop.horizon)
        done = stop.done(t, np.max(prev - u, axis=1), live)
        for r in np.flatnonzero(done):
            out[int(live[r])] = u[r, :sizes[live[r]]].copy()
        if done.any():
            keep = ~done
            live, u, spec, mask = live[keep], u[keep], spec[keep], mask[keep]
            deep, tail = deep[keep], tail[keep]


def _run_sparse(kernels: list[Kernel], sizes: np.ndarray, laws: np.ndarray, stop: _Stopper,
                out: list[np.ndarray]) -> None:
    """Sparse engine on ``laws``, in cache-sized blocks."""
    nnz = np.array([kernels[j][0].size * sizes[j] for j in laws])
    start = 0
    while start < laws.size:
        end = start + 1 + int(np.searchsorted(np.cumsum(nnz[start + 1:]),
                                              SPARSE_BLOCK_NNZ - nnz[start], side="right"))
        _run_sparse_block(kernels, sizes, laws[start:end], stop, out)
        start = end


def _run_sparse_block(kernels: list[Kernel], sizes: np.ndarray, laws: np.ndarray,
                      stop: _Stopper, out: list[np.ndarray]) -> None:
    """Sparse engine on one block.

    The matrix is rebuilt without the stopped laws when they hold a quarter of its entries.
    """
    u = np.ones(int(np.sum(sizes[laws])))
    t = 0
    while laws.size:
        n = sizes[laws]
        K = block_transition([kernels[j] for j in laws], n)
        bounds = np.concatenate([[0], np.cumsum(n)])
        nnz = np.add.reduceat(np.diff(K.indptr), bounds[:-1]).astype(float)
        live = np.ones(laws.size, bool)
        while True:
            for _ in range(min(CHECK_EVERY, stop.horizon - t)):
                prev, u = u, K @ u
            t = min(t + CHECK_EVERY, stop.horizon)
            live &= ~stop.done(t, np.maximum.reduceat(prev - u, bounds[:-1]), laws)
            if t >= stop.horizon or nnz[~live].sum() >= 0.25 * nnz.sum():
                break
        for j in np.flatnonzero(~live):
            out[int(laws[j])] = u[bounds[j]:bounds[j + 1]].copy()
        u = np.concatenate([u[bounds[j]:bounds[j + 1]] for j in np.flatnonzero(live)] or [u[:0]])
        laws = laws[live]


#: Engines of :func:`iterate`: ``auto`` picks per law by :func:`prefers_fft`.
ENGINES = ("auto", "fft", "sparse")


def iterate(kernels: list[Kernel], sizes: np.ndarray, horizon: int, tol, *,
            engine: str = "auto") -> list[np.ndarray]:
    r"""Run :math:`u_{t+1}=Ku_t` from :math:`u_0=1` for every law, stopping each when settled.

    :math:`K\ge0` has row sums :math:`\le1`, so :math:`d_t=u_t-u_{t+1}\ge0` obeys
    :math:`d_{t+1}=Kd_t` and :math:`\|d_t\|_\infty` never increases: after step :math:`t`,
    :math:`0\le u_t-u_T\le(T-t)\|d_{t-1}\|_\infty`.  A law stops once this is :math:`\le` its
    ``tol`` (checked every :data:`CHECK_EVERY` steps).

    Parameters
    ----------
    kernels:
        Merged offsets and weights of each law (:func:`theory.horizon._kernel`).
    sizes:
        Grid cells :math:`D` of each law.
    horizon:
        :math:`T\ge1`.
    tol:
        Early-stop accuracy, one number or one per law.
    engine:
        One of :data:`ENGINES`.

    Returns
    -------
    list[numpy.ndarray]
        :math:`u` of each law (:math:`u_T`, or :math:`u_t` at its stop), length ``sizes[l]``.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    sizes = np.asarray(sizes, dtype=int)
    tol = np.broadcast_to(np.asarray(tol, dtype=float), (len(kernels),))
    out: list[np.ndarray] = [np.ones(0)] * len(kernels)
    stop = _Stopper(horizon, tol)
    fft = np.array([engine == "fft" or (engine == "auto" and prefers_fft(k, s))
                    for k, s in zip(kernels, sizes, strict=True)], dtype=bool)
    laws = np.arange(len(kernels))
    if fft.any():
        _run_fft(kernels, sizes, laws[fft], stop, out)
    if (~fft).any():
        _run_sparse(kernels, sizes, laws[~fft], stop, out)
    return out
