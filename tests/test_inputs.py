"""Bad input gets a clear error naming the problem, never a silent wrong answer."""

import numpy as np
import pytest

from numerics.core.inputs import InputError, UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator


def _psd(n=3, d=3, seed=0):
    F = np.random.default_rng(seed).standard_normal((n, d, 2))
    return np.einsum("nik,njk->nij", F, F)


def test_nan_is_rejected():
    H = _psd()
    H[1, 0, 0] = np.nan
    with pytest.raises(InputError, match=r"NaN or inf \(first at index \(1, 0, 0\)\)"):
        as_pool(H, "retain")


def test_non_symmetric_is_rejected_with_sample_index():
    H = _psd()
    H[2, 0, 1] += 1.0
    with pytest.raises(InputError, match="sample 2 is not symmetric"):
        as_pool(H, "retain")


def test_non_psd_names_sample_and_smallest_eigenvalue():
    H = _psd()
    H[1] = np.diag([1.0, -0.5, 2.0])
    with pytest.raises(InputError, match=r"sample 1 is not PSD: smallest eigenvalue -0.5"):
        as_pool(H, "forget")


@pytest.mark.parametrize("shape", [(3,), (2, 3, 3, 3)])
def test_wrong_rank_of_array(shape):
    with pytest.raises(InputError, match="must have shape"):
        as_pool(np.zeros(shape))


def test_empty_retain_set():
    with pytest.raises(InputError, match="empty"):
        as_pool(np.zeros((0, 3, 3)), "retain")


def test_dimension_mismatch():
    with pytest.raises(InputError, match="differ in dimension"):
        SecondMomentOperator(_psd(d=3), _psd(d=4))


@pytest.mark.parametrize(("cfg", "msg"), [
    (UnlearningConfig(alpha=1.5), "alpha must lie in"),
    (UnlearningConfig(alpha=float("nan")), "alpha must lie in"),
    (UnlearningConfig(batch_retain=0), "batch size must be >= 1"),
    (UnlearningConfig(batch_retain=4), "larger than its set of 3"),
    (UnlearningConfig(batch_forget=9), "forget batch size 9 is larger"),
    (UnlearningConfig(sampling="poisson"), "unknown sampling model"),
])
def test_bad_config(cfg, msg):
    with pytest.raises(InputError, match=msg):
        SecondMomentOperator(_psd(), _psd(seed=1), cfg)


def test_bad_eta():
    op = SecondMomentOperator(_psd(), None)
    for eta in (0.0, -1.0, float("inf")):
        with pytest.raises(InputError, match="eta must be finite and > 0"):
            op.rho(eta)


def test_unknown_method():
    with pytest.raises(InputError, match="unknown method"):
        SecondMomentOperator(_psd(), None).rho(0.1, method="magic")


def test_all_zero_hessians():
    with pytest.raises(InputError, match="active subspace is empty"):
        SecondMomentOperator(np.zeros((3, 2, 2)), None)


def test_dense_round_trip():
    H = _psd(4, 3)
    pool = as_pool(H)
    np.testing.assert_allclose(pool.dense(), H, atol=1e-12)
    np.testing.assert_allclose(pool.mean(), H.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(pool.lambda_max(), np.linalg.eigvalsh(H)[:, -1], rtol=1e-10)


@pytest.mark.parametrize("signed", [False, True])
def test_project_and_rotate_match_dense_congruence(signed):
    r"""Pool.project(Q) holds :math:`Q^\top H_iQ` and rotate(R) holds :math:`RH_iR^\top`.

    Reference: the congruence applied to the dense Hessians in float64 (an identity).
    """
    from numerics.core.instances import random_orthogonal
    from numerics.core.pools import make_pool
    from numerics.verify.claims.policy import Kind, tolerance

    rng = np.random.default_rng(3)
    n, d, k = 5, 6, 3
    signs = rng.choice([-1.0, 1.0], size=(n, k)) if signed else None
    pool = make_pool(rng.standard_normal((n, d, k)), signs, "retain")
    H = pool.dense()
    Q = np.linalg.qr(rng.standard_normal((d, 4)))[0]
    R = random_orthogonal(rng, d)
    tol = tolerance(Kind.IDENTITY).value
    for got, want in [(pool.project(Q), Q.T @ H @ Q), (pool.rotate(R), R @ H @ R.T)]:
        assert type(got) is type(pool)
        np.testing.assert_allclose(got.dense(), want, rtol=tol, atol=tol * np.abs(H).max())


def test_one_dimensional_arrays_are_not_guessed():
    r"""``(n, 1, 1)`` reads as :math:`h_i` or as :math:`f_i` (:math:`h_i=f_i^2`): no guess.

    Guessing "dense" once turned the σ-family at σ = n (factors :math:`\sqrt2`) into Hessians
    :math:`\sqrt2` and moved :math:`\eta^\star_{ms}` from 1 to :math:`\sqrt2`.
    """
    from numerics.core.families import sigma_family

    f = sigma_family(6, 6)  # d = 1: every sample sqrt(2) e_0
    with pytest.raises(InputError, match=r"shape \(6, 1, 1\).*factors=True"):
        as_pool(f, "retain")
    with pytest.raises(InputError, match="cannot be told apart"):
        SecondMomentOperator(f)
    from numerics.verify.claims.policy import Kind, tolerance

    tol = tolerance(Kind.IDENTITY).value
    np.testing.assert_allclose(as_pool(f, factors=True).dense(), f**2, rtol=tol)
    np.testing.assert_allclose(as_pool(f, factors=False).dense(), f, rtol=tol)
