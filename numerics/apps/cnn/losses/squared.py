r"""Squared loss, :math:`\ell(f,y)=\tfrac12(f-y)^2` (the companion code trains with MSE).

:math:`\partial_f\ell=f-y`, :math:`\partial^2_f\ell=1`; :math:`\ell(0,y)=\tfrac12`.  An
over-parametrised network can interpolate, :math:`L=0`, where every per-sample gradient vanishes
and, with ReLU and the second layer fixed, :math:`\nabla^2_W\ell_i=g_ig_i^\top` exactly.
"""

from __future__ import annotations

import torch

from numerics.apps.cnn.family import Loss


def _derivatives(f: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    r = f - y
    return 0.5 * r * r, r, torch.ones_like(r)


def _per_sample(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * (output - target) ** 2


LOSS = Loss("squared", _derivatives, _per_sample, uninformative=0.5, has_minimiser=True,
            formula="(f - y)^2 / 2")
