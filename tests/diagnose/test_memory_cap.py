"""``diagnose --memory-budget-gb`` caps the whole process: measured by the child's peak RSS."""

from pathlib import Path

import pytest

from numerics.apps.diagnose.memory import MARGIN_BYTES, resident_bytes, working_budget
from numerics.core.inputs import InputError

#: A dense-fitting linear model: 8 n P^2 = 0.24 GiB of exact Hessians (P = 400, n = 200); before
#: the cap, a 0.5 GiB budget peaked at 1.18 GiB resident (the factors were the only thing counted).
#: Under the cap the dense Hessians no longer fit and the Gauss-Newton factors are computed; that
#: route is named, since at P = 400 ``--route auto`` now takes the matrix-free route.
SIZES = (400, 150, 50)


def _diagnose(run, tmp_path: Path, budget_gb: float) -> tuple[int, str, int]:
    """Run the CLI in a grandchild: exit status, stderr and its own peak resident bytes."""
    return run(SIZES, ["--no-progress", "--quiet", "--no-deletion", "--no-prescribe",
                       "--threads", "1", "--memory-budget-gb", str(budget_gb),
                       "--out", str(tmp_path / "out")], 300)


def test_budget_is_a_process_cap(tmp_path, diagnose_peak):
    budget_gb = 0.5
    rc, err, peak = _diagnose(diagnose_peak, tmp_path, budget_gb)
    assert rc == 0, err
    assert 0 < peak < budget_gb * 2**30, f"peak {peak / 2**30:.3f} GiB over {budget_gb} GiB"


def test_impossible_budget_refused_with_one_line(tmp_path, diagnose_peak):
    rc, err, _ = _diagnose(diagnose_peak, tmp_path, 0.05)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "already holds" in lines[0] and "0.05 GiB" in lines[0]
    assert "Traceback" not in err


def test_working_budget_subtracts_resident_set():
    held = resident_bytes()
    assert held > 0
    left = working_budget(held / 2**30 + 1.0)
    # The resident set can only have grown between the two reads: at most 1 GiB - margin is left.
    assert 0 < left <= 2**30 - MARGIN_BYTES
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="memory budget"):
            working_budget(bad)
