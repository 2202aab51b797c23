"""Coherence: the Gram route equals the dense definition; invariances; pair coherence; errors."""

import numpy as np
import pytest
import scipy.linalg as sla
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.inputs import InputError
from numerics.curvature.coherence import (
    coherence,
    coherence_dense,
    coherence_from_gram,
    cosine_matrix,
    dexter_sigma,
    pair_coherence,
    trace_kernel,
)


def _dense(F):
    return np.einsum("npk,nqk->npq", F, F)


def _definition(F_r, F_f):
    """SPEC §3.1-3.2 literally: S_ij = ||H_i^{1/2} H_j^{1/2}||_F with matrix square roots."""
    H = [_dense(F_r), _dense(F_f)]
    roots = [[np.real(sla.sqrtm(h)) for h in hs] for hs in H]

    def S(a, b):
        return np.array([[np.linalg.norm(x @ y) for y in b] for x in a])

    lam = [np.array([np.linalg.eigvalsh(h)[-1] for h in hs]) for hs in H]
    Srr, Sff, Srf = S(roots[0], roots[0]), S(roots[1], roots[1]), S(roots[0], roots[1])
    full = np.block([[Srr, Srf], [Srf.T, Sff]])
    return {
        "sigma_r": np.linalg.eigvalsh(Srr)[-1] / lam[0].max(),
        "sigma_f": np.linalg.eigvalsh(Sff)[-1] / lam[1].max(),
        "sigma_rf": np.linalg.norm(Srf, 2) / np.sqrt(lam[0].max() * lam[1].max()),
        "sigma_joint": np.linalg.eigvalsh(full)[-1] / max(lam[0].max(), lam[1].max()),
    }


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
@pytest.mark.parametrize("k", [1, 2, 3])
def test_gram_route_equals_dense_definition(k):
    rng = np.random.default_rng(k)
    F_r, F_f = rng.standard_normal((7, 6, k)), 0.7 * rng.standard_normal((3, 6, k))
    got = coherence(F_r, F_f)
    ref = _definition(F_r, F_f)
    dense = coherence_dense(_dense(F_r), _dense(F_f))
    for key, val in ref.items():
        assert getattr(got, key) == pytest.approx(val, rel=1e-6)  # sqrtm accuracy
        assert getattr(got, key) == pytest.approx(getattr(dense, key), rel=1e-12)


def test_trace_kernel_is_squared_gram_for_rank_one():
    U = np.random.default_rng(0).standard_normal((5, 9))
    assert np.allclose(trace_kernel(U), (U @ U.T) ** 2, rtol=1e-13)


def test_reference_values():
    e = np.eye(5)
    assert dexter_sigma(e) == pytest.approx(1.0)  # orthogonal rank-one
    u = np.tile(np.random.default_rng(0).standard_normal(7), (6, 1))
    assert dexter_sigma(u) == pytest.approx(6.0)  # identical rank-one: sigma = n
    Q = np.linalg.qr(np.random.default_rng(1).standard_normal((8, 3)))[0]
    same = np.tile(Q, (4, 1, 1))  # identical rank-3 projectors
    assert dexter_sigma(same) == pytest.approx(4 * np.sqrt(3))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3))
def test_invariances(seed, scale):
    rng = np.random.default_rng(seed)
    F_r, F_f = rng.standard_normal((5, 4, 2)), rng.standard_normal((3, 4, 2))
    R = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    base = coherence(F_r, F_f)
    rot = coherence(np.einsum("ab,nbk->nak", R, F_r), np.einsum("ab,nbk->nak", R, F_f))
    perm = coherence(F_r[rng.permutation(5)], F_f[::-1])
    scaled = coherence(scale * F_r, scale * F_f)
    for other in (rot, perm, scaled):
        for key in ("sigma_r", "sigma_f", "sigma_rf", "sigma_joint"):
            assert getattr(other, key) == pytest.approx(getattr(base, key), rel=1e-9)


def test_gram_input_and_torch_input_agree():
    rng = np.random.default_rng(3)
    U = rng.standard_normal((9, 20))
    ref = coherence(U[:6], U[6:])
    via_gram = coherence_from_gram(U @ U.T, np.arange(6), np.arange(6, 9))
    via_torch = coherence(torch.from_numpy(U[:6]), torch.from_numpy(U[6:]))
    for key in ("sigma_r", "sigma_f", "sigma_rf", "sigma_joint"):
        assert getattr(via_gram, key) == pytest.approx(getattr(ref, key), rel=1e-12)
        assert getattr(via_torch, key) == pytest.approx(getattr(ref, key), rel=1e-12)


def test_pair_coherence_expansion_and_no_nan():
    rng = np.random.default_rng(4)
    F_r, F_f = rng.standard_normal((4, 5, 2)), rng.standard_normal((3, 5, 1))
    Hr, Hf = _dense(F_r), _dense(F_f)
    for a, b in [(0.9, 0.1), (0.9, -0.1), (0.5, -0.5)]:
        A = np.array([a * hr + b * hf for hr in Hr for hf in Hf])
        K = np.einsum("pab,qab->pq", A, A)
        pc = pair_coherence(F_r, F_f, a, b)
        assert pc.top_eig == pytest.approx(np.linalg.eigvalsh(np.sqrt(np.abs(K)))[-1], rel=1e-12)
        assert pc.lambda_star == pytest.approx(np.abs(np.linalg.eigvalsh(A)).max(), rel=1e-10)
        assert np.isfinite(pc.sigma) and pc.n_negative == int((K < 0).sum())
        signed = pair_coherence(F_r, F_f, a, b, signed=True)
        S = np.sign(K) * np.sqrt(np.abs(K))
        assert signed.top_eig == pytest.approx(np.linalg.eigvalsh(S)[-1], rel=1e-12)


def test_cosine_matrix():
    U = np.array([[1.0, 0, 0], [1, 1, 0], [0, 0, 0]])
    C = cosine_matrix(U)
    assert C[0, 1] == pytest.approx(2**-0.5) and C[2, 2] == 0 and C[0, 0] == pytest.approx(1)


def test_bad_input():
    with pytest.raises(InputError, match="zero"):
        dexter_sigma(np.zeros((3, 4)))
    bad = np.ones((3, 4))
    bad[1, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        coherence(bad)
    with pytest.raises(InputError, match="dimension"):
        coherence(np.ones((3, 4)), np.ones((2, 5)))
    with pytest.raises(InputError, match="shape"):
        coherence(np.ones(3))
    with pytest.raises(InputError, match="forget"):
        coherence(np.ones((3, 4)), np.zeros((2, 4)))
