r"""Logistic loss of the margin, :math:`\ell(f,y)=\log(1+e^{-yf})` (SPEC §5.2).

With :math:`z=yf` and :math:`s` the sigmoid: :math:`\partial_f\ell=-y\,s(-z)`,
:math:`\partial^2_f\ell=s(z)s(-z)` (:math:`y^2=1`); :math:`\ell(0,y)=\log2`.  On separable data
:math:`L` has no minimiser (it decreases along every direction that raises all margins).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as tF

from numerics.apps.cnn.family import Loss


def _derivatives(f: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    margins = y * f
    return (tF.softplus(-margins), -torch.sigmoid(-margins) * y,
            torch.sigmoid(margins) * torch.sigmoid(-margins))


def _per_sample(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return tF.softplus(-target * output)


LOSS = Loss("logistic", _derivatives, _per_sample, uninformative=math.log(2.0),
            has_minimiser=False, formula="log(1 + exp(-y f))")
