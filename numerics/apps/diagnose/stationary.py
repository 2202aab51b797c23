r"""Is :math:`\theta^\star` a stationary point of the training loss?  The linearisation assumes it.

The measure is dimensionless:

.. math:: s=\frac{\|\frac1n\sum_i\nabla\ell_i(\theta^\star)\|}{\frac1n\sum_i\|\nabla\ell_i(\theta^\star)\|}
   \in[0,1],

the norm of the mean gradient over the training set (retain and forget) relative to the mean
per-sample gradient norm.  At a minimum the per-sample gradients cancel (:math:`s\approx0`); at
an untrained model they point alike (:math:`s` of order one).  Per-sample gradients come from
``torch.func.vmap`` in chunks (no Python loop over samples).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.func import grad, vmap

from numerics.apps.diagnose.data import DataSet, FlatModel, LossFn

__all__ = ["stationarity", "STATIONARY_TOL", "CHUNK"]

#: Above this relative mean-gradient norm the report notes that w* is not stationary.
STATIONARY_TOL = 0.05
#: Samples per vectorised per-sample-gradient call.
CHUNK = 256


def stationarity(flat: FlatModel, loss: LossFn, sets: tuple[DataSet, ...],
                 chunk: int = CHUNK) -> dict[str, Any]:
    r"""How far :math:`\theta^\star` is from a stationary point of the training loss.

    Parameters
    ----------
    flat, loss:
        The model at :math:`\theta^\star` and the per-sample loss.
    sets:
        The training sets (retain and forget).
    chunk:
        Samples per vectorised call (:data:`CHUNK`; fewer under a memory budget: each holds
        about ``GRADIENT_COPIES x chunk x P`` floats,
        :data:`~numerics.apps.diagnose.memory.GRADIENT_COPIES`).

    Returns
    -------
    dict
        ``mean_gradient_norm``, ``mean_sample_gradient_norm``, ``relative`` (:math:`s`) and
        ``stationary`` (:math:`s\le` :data:`STATIONARY_TOL`).
    """
    theta = flat.theta

    def one(th: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss(flat.single(th, x).unsqueeze(0), t.unsqueeze(0)).reshape(())

    per_sample = vmap(grad(one), in_dims=(None, 0, 0))
    total = torch.zeros_like(theta)
    norms = torch.zeros((), dtype=theta.dtype, device=theta.device)
    n = 0
    for data in sets:
        for start in range(0, data.n, chunk):
            g = per_sample(theta, data.inputs[start:start + chunk],
                           data.targets[start:start + chunk]).detach()
            total += g.sum(dim=0)
            norms += g.norm(dim=1).sum()
            n += g.shape[0]
    mean_norm = float(total.norm()) / n
    sample_norm = float(norms) / n
    rel = mean_norm / sample_norm if sample_norm > 0 else 0.0
    return {"mean_gradient_norm": mean_norm, "mean_sample_gradient_norm": sample_norm,
            "relative": rel, "stationary": bool(rel <= STATIONARY_TOL)}
