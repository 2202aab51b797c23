"""Every registered claim passes at its quick scale; the list comes from the registry.

A new claim is picked up here without naming it.  Quick-scale seconds measured with this file
alone on one core (the first claim to use a symbolic law pays its derivation): C7 9.6 (the CNN
sweep, which C8 and tests/cnn/test_trends.py reuse), C2.a 9.1 (sympy derivations shared with
later claims), C4.a 2.6, C6.b 1.9, C1.a 1.5, C9 1.5, the others under 1.1; 44 s for all 17.
The CNN sweep carries the ``slow`` marker and still runs in the default suite.
"""

import sys
import textwrap

import pytest

from numerics.verify.claims import base as claims_base
from numerics.verify.claims.base import claim_sort_key, registry

#: Claims whose quick check trains models (the CNN sweep).
SLOW = frozenset({"C7"})

CLAIMS = list(registry())


@pytest.mark.parametrize(
    "cid", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in CLAIMS])
def test_registered_claim_passes_at_quick_scale(cid):
    res = registry()[cid].run("quick")
    assert res.passed, res.as_dict()


def test_claims_sort_by_number_not_by_text():
    # text order would put C10 before C2
    assert claim_sort_key("C2") < claim_sort_key("C10") < claim_sort_key("C10.a")
    assert claim_sort_key("C1.b") < claim_sort_key("C2")


def _docstring_example() -> str:
    """The example claim module of numerics.verify.claims.base's docstring."""
    doc = claims_base.__doc__
    block = doc[doc.index("::\n\n") + 4:doc.index("\nThe kind fixes")]
    return textwrap.dedent(block)


def test_a_new_claim_module_is_found_registered_and_run(tmp_path, monkeypatch):
    """The docstring's example, saved as a new module of the package, needs no other edit."""
    import numerics.verify.claims as pkg

    (tmp_path / "zz_example.py").write_text(_docstring_example(), encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(claims_base, "_REGISTRY", dict(registry()))  # restored on leaving
        m.setattr(pkg, "__path__", [*pkg.__path__, str(tmp_path)])
        m.delitem(sys.modules, "numerics.verify.claims.zz_example", raising=False)
        assert "zz_example" in pkg.family_modules()
        claims = registry()
        assert list(claims)[-1] == "C99" and pkg.families()[-1] == "zz_example"
        res = claims["C99"].run("quick")
        assert res.passed and res.examined == {"1 + ... + n": 1}
        assert res.predicted == 6.0 and res.observed == 6.0  # 1 + 2 + 3
    sys.modules.pop("numerics.verify.claims.zz_example", None)
    assert "C99" not in registry()


def test_claim_families_in_the_order_of_their_first_claim():
    from numerics.verify.claims import families

    assert families()[:3] == ("linear_exact", "linear_families", "cnn")
