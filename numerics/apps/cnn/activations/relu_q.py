r"""ReLU\ :sup:`q`, :math:`\sigma(z)=\max(0,z)^q`, :math:`q\ge2` [S:CAO].

:math:`\sigma'=q\max(0,z)^{q-1}`, :math:`\sigma''=q(q-1)\max(0,z)^{q-2}`: not piecewise linear,
so the factor route is the Gauss--Newton matrix and omits :math:`\partial_f\ell\,\nabla^2_Wf`.
"""

from __future__ import annotations

import torch

from numerics.apps.cnn.family import Activation


def _value(z: torch.Tensor, q: float) -> torch.Tensor:
    return torch.relu(z) ** q


def _grad(z: torch.Tensor, q: float) -> torch.Tensor:
    return q * torch.relu(z) ** (q - 1)


def _hess(z: torch.Tensor, q: float) -> torch.Tensor:
    return q * (q - 1) * torch.relu(z) ** (q - 2)


ACTIVATION = Activation("relu_q", _value, _grad, _hess, piecewise_linear=False, needs_power=True,
                        formula="max(0, z)^q, q >= 2")
