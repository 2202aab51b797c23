r"""Independent routes for the answers the fuzz suite accepts.

:func:`enumerated_rho` builds :math:`\mathcal T(\eta)=\mathbb E[P_t\otimes P_t]`,
:math:`P_t=I-\eta\hat A_t`, by enumerating every pair of batches drawn without replacement
(SPEC §1.4), restricted to the active subspace; no code of the package is used.
"""

from __future__ import annotations

import itertools

import numpy as np


def active(hs: list[np.ndarray], rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis of the sum of the ranges (eigenvectors of the summed Hessians)."""
    total = sum(h.sum(axis=0) for h in hs)
    ev, vec = np.linalg.eigh(total)
    return vec[:, ev > rtol * max(ev.max(), 1e-300)]


def enumerated_T(hr: np.ndarray, hf: np.ndarray | None, alpha: float, br: int, bf: int,
                 eta: float) -> np.ndarray:
    """:math:`\\mathcal T(\\eta)` on the active subspace by enumeration of the batches (wor)."""
    hs = [hr] + ([hf] if hf is not None else [])
    q = active(hs)
    r = q.shape[1]
    hr = q.T @ hr @ q
    hf = q.T @ hf @ q if hf is not None else np.zeros((1, r, r))
    bf = bf if alpha > 0 else 1
    T = np.zeros((r * r, r * r))
    count = 0
    for sr in itertools.combinations(range(hr.shape[0]), br):
        mr = hr[list(sr)].mean(axis=0)
        for sf in itertools.combinations(range(hf.shape[0]), bf):
            a = (1 - alpha) * mr - alpha * hf[list(sf)].mean(axis=0)
            p = np.eye(r) - eta * a
            T += np.kron(p, p)
            count += 1
    return T / count


def enumerated_rho(hr, hf, alpha, br, bf, eta) -> float:
    """Spectral radius of :func:`enumerated_T`."""
    return float(np.abs(np.linalg.eigvals(enumerated_T(hr, hf, alpha, br, bf, eta))).max())
