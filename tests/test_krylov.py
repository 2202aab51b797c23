"""The shared Krylov space of A, mean H_r and mean H_f against dense eigen-decompositions.

The reference is ``numpy.linalg.eigh`` of the mean per-sample Hessians formed densely by
``torch.autograd.functional.hessian`` (no Hessian-vector product, no Krylov space).
"""

import functools

import numpy as np
import pytest
import torch

from numerics.curvature.krylov import KrylovOptions, SharedKrylov, Want
from numerics.curvature.matrix_free import MatrixFreeCurvature, SampleFunctions

ALPHA = 0.3


@functools.lru_cache(maxsize=1)
def _setup():
    gen = torch.Generator().manual_seed(1)
    d, h, c = 5, 8, 3
    P = h * d + c * h
    theta = 0.7 * torch.randn(P, generator=gen, dtype=torch.float64)

    def output(th, x):
        return th[h * d:].reshape(c, h) @ torch.tanh(th[:h * d].reshape(h, d) @ x)

    def loss_of_output(o, t):
        return torch.nn.functional.cross_entropy(o[None], t[None]).reshape(())

    fns = SampleFunctions(output, loss_of_output)
    X = torch.randn(40, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, c, (40,), generator=gen)
    sets = ((X[:30], y[:30]), (X[30:], y[30:]))
    curs = [MatrixFreeCurvature(fns, theta, s, "hessian") for s in sets]
    dense = [np.mean([torch.autograd.functional.hessian(lambda th, x=x, t=t: fns.loss(th, x, t),
                                                        theta).numpy() for x, t in zip(*s,
                                                                                       strict=True)],
                     axis=0) for s in sets]
    return curs, dense, P


@pytest.mark.parametrize("max_dim", [0, 14])
def test_ritz_values_match_dense_spectra(max_dim):
    (mr, mf), (Hr, Hf), P = _setup()
    A = (1 - ALPHA) * Hr - ALPHA * Hf
    opts = KrylovOptions(tol=1e-7, max_dim=max_dim)
    solver = SharedKrylov(mr, mf, ALPHA, opts)
    wants = [Want("A", "bottom", 2), Want("A", "top", 2), Want("retain", "top", 2),
             Want("forget", "top", 3)]
    vecs = solver.vectors(wants)
    assert solver.converged and solver.dim < P  # a proper subspace, not all of R^P
    if max_dim:
        assert solver.restarts > 0
    for w, V in zip(wants, vecs, strict=True):
        M = {"A": A, "retain": Hr, "forget": Hf}[w.op]
        ev = np.linalg.eigvalsh(0.5 * (M + M.T))
        ref = ev[:w.count] if w.end == "bottom" else ev[-w.count:]
        V = V.numpy()
        np.testing.assert_allclose(V.T @ V, np.eye(w.count), atol=1e-10)
        ritz = np.sort(np.diag(V.T @ M @ V))
        scale = np.abs(ev).max()
        assert np.all(np.abs(ritz - ref) <= 1e-6 * scale), (w, ritz, ref)
        resid = np.linalg.norm(M @ V - V @ np.diag(np.diag(V.T @ M @ V)), axis=0)
        assert np.all(resid <= 10 * opts.tol * scale)


def test_larger_request_extends_the_same_space():
    (mr, mf), (Hr, _), _ = _setup()
    solver = SharedKrylov(mr, mf, 0.0, KrylovOptions(tol=1e-7))
    solver.vectors([Want("retain", "top", 1)])
    first = solver.columns
    V = solver.vectors([Want("retain", "top", 4)])[0].numpy()
    assert solver.columns > first and solver.FK is None  # alpha = 0: no forget products
    ev = np.linalg.eigvalsh(0.5 * (Hr + Hr.T))
    np.testing.assert_allclose(np.sort(np.diag(V.T @ Hr @ V)), ev[-4:], rtol=0,
                               atol=1e-6 * np.abs(ev).max())
