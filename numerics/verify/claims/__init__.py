"""The claim registry and one module per claim family."""

from __future__ import annotations

import importlib

#: Claim-family modules; each registers its claims on import.
FAMILIES: tuple[str, ...] = ("linear_exact", "linear_families", "horizon", "cnn")


def load_all() -> None:
    """Import every claim-family module (idempotent)."""
    for name in FAMILIES:
        importlib.import_module(f"numerics.verify.claims.{name}")
