"""The policy turns numbers into verdicts: fixed references, NaN and empty evidence fail.

Each expected measure is worked out by hand beside the test from the kind's rule in
:mod:`numerics.verify.claims.policy`; a check that returns NaN or examined nothing fails for every
kind, also through :meth:`Claim.run`.
"""

import math

import numpy as np
import pytest

from numerics.core.operator import SecondMomentOperator
from numerics.verify.claims import cnn as claims_cnn
from numerics.verify.claims.base import CheckOutcome, Claim, Comparison, registry
from numerics.verify.claims.policy import POLICY, Kind, Notion, judge, measure

#: A comparison that passes the default tolerance of each kind, with its measure by hand.
PASSING = {
    # |(2 + 2^-40) - 2| / 2 = 2^-41 (the worst of the two; the other is 0)
    Kind.IDENTITY: (Comparison("x", [2.0, 4.0], [2.0 + 2.0**-40, 4.0]), 2.0**-41),
    # |(1 + 2^-30) - 1| / 1 = 2^-30 ~ 9.3e-10
    Kind.TIGHT_THRESHOLD: (Comparison("x", [1.0, 3.0], [1.0 + 2.0**-30, 3.0]), 2.0**-30),
    # bounds 2 >= 1.5 and 4 >= 4: no violation
    Kind.UPPER_BOUND: (Comparison("x", [2.0, 4.0], [1.5, 4.0]), 0.0),
    # bounds 1 <= 1.5 and 4 <= 4: no violation
    Kind.LOWER_BOUND: (Comparison("x", [1.0, 4.0], [1.5, 4.0]), 0.0),
    # 0.5 <= 1 <= 1.2 and 1 <= 2 <= 2
    Kind.BRACKET: (Comparison("x", [[0.5, 1.0], [1.2, 2.0]], [1.0, 2.0]), 0.0),
    # rows 1 <= 2 <= 2 and 3 <= 5 <= 9: no step down
    Kind.MONOTONE: (Comparison("x", 1.0, [[1.0, 2.0, 2.0], [3.0, 5.0, 9.0]]), 0.0),
    # events (value > 0): (+,+), (-,-), (+,+): all three agree
    Kind.SIGN: (Comparison("x", [1.0, -1.0, 1.0], [0.3, -2.0, 5.0]), 1.0),
    # 19 of 20 labels agree: rate 0.95, exactly the default tolerance
    Kind.AGREEMENT: (Comparison("x", [1.0] * 20, [1.0] * 19 + [0.0]), 0.95),
    # |10.3 - 10| / 0.1 = 3 standard errors (the worst; 4 allowed)
    Kind.STATISTICAL: (Comparison("x", [10.0, 5.0], [10.3, 5.0], [0.1, 1.0]), 3.0),
    # directions (+1, -1) times correlations (0.9, -0.85): min(0.9, 0.85) = 0.85
    Kind.RANK_CORRELATION: (Comparison("x", [1.0, -1.0], [0.9, -0.85]), 0.85),
}


@pytest.mark.parametrize("kind", list(Kind))
def test_measure_of_a_passing_comparison(kind):
    comp, expected = PASSING[kind]
    assert measure(kind, comp) == pytest.approx(expected, rel=1e-6, abs=1e-15)
    assert judge(kind, [comp], POLICY[kind]).passed


#: A comparison that fails the default tolerance of each kind, with its measure by hand.
FAILING = {
    Kind.IDENTITY: (Comparison("x", [2.0], [2.2]), 0.1),  # |2.2 - 2| / 2
    Kind.TIGHT_THRESHOLD: (Comparison("x", [1.0], [1.0 + 1e-6]), 1e-6),
    Kind.UPPER_BOUND: (Comparison("x", [1.0], [1.25]), 0.2),  # 1 - 1 / 1.25
    Kind.LOWER_BOUND: (Comparison("x", [1.5], [1.25]), 0.2),  # 1.5 / 1.25 - 1
    Kind.BRACKET: (Comparison("x", [[0.5], [1.2]], [1.5]), 0.2),  # 1 - 1.2 / 1.5
    Kind.MONOTONE: (Comparison("x", -1.0, [4.0, 3.0, 3.3]), 0.1),  # (3.3 - 3) / 3 upward
    Kind.SIGN: (Comparison("x", [1.0, 1.0], [1.0, -1.0]), 0.5),
    Kind.AGREEMENT: (Comparison("x", [1.0] * 10, [1.0] * 9 + [0.0]), 0.9),
    Kind.STATISTICAL: (Comparison("x", [0.0], [0.5], [0.1]), 5.0),  # 0.5 / 0.1
    Kind.RANK_CORRELATION: (Comparison("x", [1.0], [-0.3]), -0.3),
}


@pytest.mark.parametrize("kind", list(Kind))
def test_measure_of_a_failing_comparison(kind):
    comp, expected = FAILING[kind]
    assert measure(kind, comp) == pytest.approx(expected, rel=1e-9)
    assert not judge(kind, [comp], POLICY[kind]).passed


def _with_nan(comp):
    obs = comp.observed.copy()
    obs.flat[-1] = np.nan
    return Comparison(comp.name, comp.predicted, obs, comp.scale)


@pytest.mark.parametrize("kind", list(Kind))
def test_a_nan_fails_every_kind(kind):
    comp, _ = PASSING[kind]
    extra = Comparison("other", comp.predicted, comp.observed, comp.scale)
    v = judge(kind, [_with_nan(comp), extra], POLICY[kind])
    assert math.isnan(v.error) and not v.passed


@pytest.mark.parametrize("kind", list(Kind))
def test_a_comparison_that_examined_nothing_fails(kind):
    comp, _ = PASSING[kind]
    empty = Comparison("nothing", np.empty((2, 0)) if kind is Kind.BRACKET else [],
                       [], None if comp.scale is None else [])
    v = judge(kind, [comp, empty], POLICY[kind])
    assert not v.passed and v.examined["nothing"] == 0
    assert "'nothing' examined nothing" in v.problems
    assert not judge(kind, [], POLICY[kind]).passed


def test_a_monotone_sequence_of_one_value_examined_nothing():
    v = judge(Kind.MONOTONE, [Comparison("one", 1.0, [3.0])], POLICY[Kind.MONOTONE])
    assert not v.passed and v.examined == {"one": 0}


def test_a_failed_condition_gives_the_worst_value_of_the_kind():
    comp, _ = PASSING[Kind.RANK_CORRELATION]
    v = judge(Kind.RANK_CORRELATION, [comp], POLICY[Kind.RANK_CORRELATION], {"side": False})
    assert v.error == -1.0 and not v.passed and v.problems == ("condition failed: side",)
    comp, _ = PASSING[Kind.IDENTITY]
    v = judge(Kind.IDENTITY, [comp], POLICY[Kind.IDENTITY], {"side": False})
    assert v.error == math.inf and not v.passed


def _claim(check, kind=Kind.IDENTITY):
    return Claim("C0", "test claim", "a statement", kind, Notion.ALGEBRAIC, "SPEC §0", check)


def test_claim_run_fails_a_nan_and_an_empty_check():
    nan = _claim(lambda scale: CheckOutcome([Comparison("x", [1.0, 2.0], [1.0, np.nan])]))
    res = nan.run("quick")
    assert not res.passed and math.isnan(res.error) and res.problems == ["the error is NaN"]
    empty = _claim(lambda scale: CheckOutcome([Comparison("x", [], [])]))
    res = empty.run("quick")
    assert not res.passed and res.problems == ["'x' examined nothing"]
    res = _claim(lambda scale: CheckOutcome([])).run("quick")
    assert not res.passed and res.examined == {}


def test_c3_fails_when_no_instance_can_be_ordered(monkeypatch):
    """eta* = 0 everywhere (the mean escapes): C3 has nothing to order and must fail, not pass."""
    monkeypatch.setattr(SecondMomentOperator, "eta_star_ms", lambda self, method="auto": 0.0)
    res = registry()["C3"].run("quick")
    assert not res.passed and res.evidence["instances_checked"] == 0
    assert "'eta* along B_r' examined nothing" in res.problems


def test_c9_fails_without_a_dimension_at_ten_n(monkeypatch):
    """Without d >= 10 n there is no Marchenko-Pastur edge to check: C9 fails loudly."""
    spec = claims_cnn.NOISE["quick"]
    monkeypatch.setitem(claims_cnn.NOISE, "quick",
                        claims_cnn.NoiseSpec(spec.n, (100, 200), spec.seeds[:3]))
    res = registry()["C9"].run("quick")
    assert not res.passed
    assert any("Marchenko-Pastur" in p and "examined nothing" in p for p in res.problems)
