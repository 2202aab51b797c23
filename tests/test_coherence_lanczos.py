"""lambda_max of large coherence matrices by Lanczos against the dense symmetric eigensolver.

From ``LANCZOS_MIN_N`` on, the coherence scalars take lambda_max(S) from ARPACK instead of a
tridiagonal reduction; the reference here is LAPACK's full ``eigvalsh`` of the symmetrised matrix,
computed independently.  Tolerance: the policy's identity kind (two exact computations agree to
round-off; ARPACK at tol = 0 converges to machine precision).
"""

import numpy as np
import pytest
import torch

from numerics.curvature import coherence as coh
from numerics.verify.claims.policy import Kind, tolerance


@pytest.mark.parametrize("kind", ["nonnegative", "signed", "asymmetric"])
def test_lanczos_lambda_max_equals_dense(kind):
    n = coh.LANCZOS_MIN_N + 452
    rng = np.random.default_rng(7)
    A = rng.standard_normal((n, 40))
    s = np.sqrt(np.abs(A @ A.T)) if kind == "nonnegative" else A @ A.T - 30.0 * np.eye(n)
    if kind == "asymmetric":  # the function symmetrises: tiny round-off asymmetry
        s = s + 1e-9 * rng.standard_normal((n, n))
    ref = float(np.linalg.eigvalsh(0.5 * (s + s.T))[-1])
    got = coh._lambda_max_sym(s.copy())
    assert np.isfinite(got)
    assert abs(got - ref) <= tolerance(Kind.IDENTITY).value * abs(ref)


def test_coherence_scalars_unchanged_across_the_switch(monkeypatch):
    """The same Hessians give the same sigma's whichever solver takes lambda_max."""
    g = torch.Generator().manual_seed(3)
    F = torch.randn(300, 6, 2, generator=g, dtype=torch.float64)
    H = F @ F.transpose(1, 2)
    dense = coh.coherence_dense(H[:260], H[260:])
    monkeypatch.setattr(coh, "LANCZOS_MIN_N", 65)
    lanczos = coh.coherence_dense(H[:260], H[260:])
    for a, b in ((dense.sigma_r, lanczos.sigma_r), (dense.sigma_joint, lanczos.sigma_joint)):
        assert abs(a - b) <= tolerance(Kind.IDENTITY).value * abs(a)
