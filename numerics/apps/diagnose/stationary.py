r"""Is :math:`\theta^\star` a stationary point of the training loss?  The linearisation assumes it.

The measure is dimensionless:

.. math:: s=\frac{\|\frac1n\sum_i\nabla\ell_i(\theta^\star)\|}{\frac1n\sum_i\|\nabla\ell_i(\theta^\star)\|}
   \in[0,1],

the norm of the mean gradient over the training set (retain and forget) relative to the mean
per-sample gradient norm.  At a minimum the per-sample gradients cancel (:math:`s\approx0`); at
an untrained model they point alike (:math:`s` of order one).  Per-sample gradients come from
``torch.func.vmap`` in chunks (no Python loop over samples).

Above :data:`NORM_SAMPLES` samples the denominator is a Monte Carlo estimate: the mean of
:math:`\|\nabla\ell_i\|` over a seeded uniform subsample of :math:`m` =
:data:`NORM_SAMPLES` samples drawn without replacement, reported with its standard error
:math:`\hat s_{\|\nabla\ell\|}/\sqrt m\cdot\sqrt{1-m/n}` (finite population correction),
while the numerator, the mean gradient, is exact (the gradient of the chunks' summed losses,
no per-sample vector).  Per-sample gradients write :math:`nP` floats: at :math:`P=10^6`,
:math:`n=10^4` that is 80 GB of traffic, against one pass for the mean gradient.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.func import grad, vmap

from numerics.apps.diagnose.data import DataSet, FlatModel, LossFn

__all__ = ["stationarity", "STATIONARY_TOL", "CHUNK", "NORM_SAMPLES"]

#: Above this relative mean-gradient norm the report notes that w* is not stationary.
STATIONARY_TOL = 0.05
#: Samples per vectorised per-sample-gradient call.
CHUNK = 256
#: Above this many samples (both sets) the mean per-sample gradient norm is estimated on a
#: seeded subsample of this size (module docstring).
NORM_SAMPLES = 1024


def stationarity(flat: FlatModel, loss: LossFn, sets: tuple[DataSet, ...],
                 chunk: int = CHUNK, seed: int = 0) -> dict[str, Any]:
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
    seed:
        Seed of the subsample of the per-sample norms (above :data:`NORM_SAMPLES` samples).

    Returns
    -------
    dict
        ``mean_gradient_norm``, ``mean_sample_gradient_norm``, ``relative`` (:math:`s`),
        ``stationary`` (:math:`s\le` :data:`STATIONARY_TOL`), ``norm_samples`` (the samples
        whose norms were averaged) and ``mean_sample_gradient_norm_stderr`` (0 when every
        sample was used).
    """
    theta = flat.theta

    def one(th: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss(flat.single(th, x).unsqueeze(0), t.unsqueeze(0)).reshape(())

    per_sample = vmap(grad(one), in_dims=(None, 0, 0))
    n_all = sum(d.n for d in sets)
    if n_all <= NORM_SAMPLES:
        total = torch.zeros_like(theta)
        norms = torch.zeros((), dtype=theta.dtype, device=theta.device)
        for data in sets:
            for start in range(0, data.n, chunk):
                g = per_sample(theta, data.inputs[start:start + chunk],
                               data.targets[start:start + chunk]).detach()
                total += g.sum(dim=0)
                norms += g.norm(dim=1).sum()
        return _result(float(total.norm()) / n_all, float(norms) / n_all, n_all, 0.0)
    summed = grad(lambda th, x, t: vmap(one, in_dims=(None, 0, 0))(th, x, t).sum())
    total = torch.zeros_like(theta)
    for data in sets:
        for start in range(0, data.n, chunk):
            total += summed(theta, data.inputs[start:start + chunk],
                            data.targets[start:start + chunk]).detach()
    pick = np.sort(np.random.default_rng(seed).choice(n_all, NORM_SAMPLES, replace=False))
    parts, offset = [], 0
    for data in sets:
        local = pick[(pick >= offset) & (pick < offset + data.n)] - offset
        offset += data.n
        idx = torch.as_tensor(local, device=data.inputs.device)
        for start in range(0, len(idx), chunk):
            sel = idx[start:start + chunk]
            g = per_sample(theta, data.inputs[sel], data.targets[sel]).detach()
            parts.append(g.norm(dim=1))
    norms = torch.cat(parts).to(torch.float64).cpu().numpy()
    m = norms.size
    stderr = float(norms.std(ddof=1)) / math.sqrt(m) * math.sqrt(1.0 - m / n_all)
    return _result(float(total.norm()) / n_all, float(norms.mean()), m, stderr)


def _result(mean_norm: float, sample_norm: float, m: int, stderr: float) -> dict[str, Any]:
    rel = mean_norm / sample_norm if sample_norm > 0 else 0.0
    return {"mean_gradient_norm": mean_norm, "mean_sample_gradient_norm": sample_norm,
            "relative": rel, "stationary": bool(rel <= STATIONARY_TOL), "norm_samples": int(m),
            "mean_sample_gradient_norm_stderr": stderr}
