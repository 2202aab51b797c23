"""The claim registry and one module per claim family.

Every module of this package other than the claim machinery (:data:`MACHINERY`) is a claim-family
module: it registers its claims on import and is found by :func:`load_all`, so a new family is
one new module and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

#: Modules of this package that hold the claim machinery, not claims.
MACHINERY: frozenset[str] = frozenset({"base", "policy", "cell"})


def family_modules() -> tuple[str, ...]:
    """Names of the claim-family modules of this package (found on disk, not imported).

    Returns
    -------
    tuple of str
        Module names in alphabetical order.
    """
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)
                        if m.name not in MACHINERY and not m.name.startswith("_")))


def load_all() -> None:
    """Import every claim-family module (idempotent)."""
    for name in family_modules():
        importlib.import_module(f"numerics.verify.claims.{name}")


def families() -> tuple[str, ...]:
    """The claim-family modules in the order of their first claim (C1's family first).

    Returns
    -------
    tuple of str
        Module names; a module whose checks are defined elsewhere comes last.
    """
    from numerics.verify.claims.base import claim_sort_key, registry

    first: dict[str, tuple[int, str]] = {}
    for cid, claim in registry().items():
        first.setdefault(claim.check.__module__.rsplit(".", 1)[-1], claim_sort_key(cid))
    return tuple(sorted(family_modules(), key=lambda m: (first.get(m, (10**6, "")), m)))
