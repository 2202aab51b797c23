r"""ReLU, :math:`\sigma(z)=\max(0,z)` [S:KOU]: piecewise linear, so the factor route is exact."""

from __future__ import annotations

import torch

from numerics.apps.cnn.family import Activation


def _value(z: torch.Tensor, q: float) -> torch.Tensor:  # noqa: ARG001 (protocol signature)
    return torch.relu(z)


def _grad(z: torch.Tensor, q: float) -> torch.Tensor:  # noqa: ARG001
    return (z > 0).to(z.dtype)


def _hess(z: torch.Tensor, q: float) -> torch.Tensor:  # noqa: ARG001
    return torch.zeros_like(z)


ACTIVATION = Activation("relu", _value, _grad, _hess, piecewise_linear=True, needs_power=False,
                        formula="max(0, z)")
