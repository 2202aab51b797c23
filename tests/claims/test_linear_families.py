"""A wrong closed form makes claims C2 and C4 fail (tests/claims/test_registry.py runs every
claim at the quick scale)."""

from numerics.verify.claims.base import registry
from theory import families as fam


def test_negative_control_wrong_closed_form(monkeypatch):
    """A sigma-family threshold off by 2% must fail the identity claim C2.a."""
    true = fam.sigma_family_eta_star
    monkeypatch.setattr(fam, "sigma_family_eta_star",
                        lambda *a, **k: 1.02 * true(*a, **k))
    res = registry()["C2.a"].run("quick")
    assert not res.passed and res.error > 0.01


def test_negative_control_wrong_alpha_c(monkeypatch):
    """Predicting escape of the aligned forget set for every alpha must fail the sign claim."""
    import numerics.verify.claims.linear_families as lf

    true = fam.separate_sets_eta_star
    monkeypatch.setattr(lf.fam, "separate_sets_eta_star", lambda *a, **k: 0.0)
    res = registry()["C4.a"].run("quick")
    monkeypatch.setattr(lf.fam, "separate_sets_eta_star", true)
    assert not res.passed


def test_every_claim_is_documented():
    claims = registry()
    assert {"C1.a", "C2.a", "C3", "C4.a", "C5", "C6.a", "C10.a"} <= set(claims)
    for c in claims.values():
        assert c.statement and "SPEC §" in c.source and c.title
