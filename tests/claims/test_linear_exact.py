"""Claims C1, C3, C5 fail when the theory is deliberately wrong (tests/claims/test_registry.py
runs every claim at the quick scale)."""

from numerics.core.operator import SecondMomentOperator
from numerics.verify.claims.base import registry


def test_negative_control_wrong_threshold_fails(monkeypatch):
    """A threshold 1% too large must make the tight-threshold claim C1.b fail."""
    true = SecondMomentOperator.eta_star_ms
    monkeypatch.setattr(SecondMomentOperator, "eta_star_ms",
                        lambda self, method="auto": 1.01 * true(self, method))
    res = registry()["C1.b"].run("quick")
    assert not res.passed and res.error > 1e-3


def test_negative_control_wrong_noise_fails(monkeypatch):
    """Dropping the batch-noise term from T must make the Monte-Carlo claim C1.a fail."""
    monkeypatch.setattr(SecondMomentOperator, "noise", lambda self, M: 0.0 * M)
    res = registry()["C1.a"].run("quick")
    assert not res.passed, res.as_dict()


def test_crashing_check_is_a_failure_not_an_exception(monkeypatch):
    def boom(self, *a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(SecondMomentOperator, "eta_star_ms", boom)
    res = registry()["C3"].run("quick")
    assert not res.passed and "boom" in res.evidence["exception"]
