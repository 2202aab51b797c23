"""A small deterministic cell for examples, tests and benchmarks of the sweep engine."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["TOY_CELL", "toy_cell", "toy_configs"]

#: Dotted path of :func:`toy_cell`.
TOY_CELL = "numerics.sweep.demo:toy_cell"


def toy_cell(config: dict[str, Any]) -> dict[str, Any]:
    r"""Spectral radius of :math:`I-\eta\,G^\top G/d` for a seeded Gaussian :math:`G`.

    Configuration keys: ``seed``, ``d`` (default 6), ``eta`` (default 0.5), and for tests
    ``sleep`` (seconds to wait first) and ``fail`` (raise instead of returning).  The record is the
    configuration plus ``rho`` and ``stable``; it depends on nothing but the configuration.
    """
    if config.get("sleep"):
        time.sleep(float(config["sleep"]))
    if config.get("fail"):
        raise ValueError(f"cell asked to fail (seed {config.get('seed')})")
    d, eta = int(config.get("d", 6)), float(config.get("eta", 0.5))
    rng = np.random.default_rng(int(config["seed"]))
    G = rng.standard_normal((d, d))
    rho = float(np.abs(np.linalg.eigvalsh(np.eye(d) - eta * (G.T @ G) / d)).max())
    return dict(config, rho=rho, stable=rho < 1.0, draws=rng.standard_normal(3))


def toy_configs(count: int, **extra: Any) -> list[dict[str, Any]]:
    """Configurations ``{"seed": s, "d": 5, **extra}`` for ``s = 0 .. count - 1``."""
    return [dict({"seed": s, "d": 5}, **extra) for s in range(count)]
