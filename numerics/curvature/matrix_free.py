r"""Matrix-free curvature of one set: products with the mean and with per-sample curvature.

For a per-sample loss :math:`\ell_i(\theta)=\ell(f(\theta,x_i),t_i)` with output Jacobian
:math:`J_i=\partial_\theta f(\theta,x_i)` (``C x P``) and output curvature
:math:`\Lambda_i=\nabla^2_f\ell_i` (``C x C``), this module computes, without forming any
:math:`P\times P` matrix or any per-sample :math:`C\times P` Jacobian,

.. math::
   \bar HV=\frac1n\sum_i\nabla^2_\theta\ell_i\,V,\qquad
   \bar GV=\frac1n\sum_iJ_i^\top\Lambda_iJ_iV

(``kind="hessian"``: forward-over-reverse ``jvp(grad)``; ``kind="gauss-newton"``: ``jvp`` of the
outputs, :math:`\Lambda_i`, then ``vjp``), and the per-sample curvature restricted to a subspace
with orthonormal basis :math:`Q` (``P x k``):

.. math::
   Q^\top\nabla^2_\theta\ell_i\,Q\ \ (\text{hessian}),\qquad
   J_iQ\ \ (\text{gauss-newton; } Q^\top G_iQ=(J_iQ)^\top\Lambda_i(J_iQ)).

Samples are processed in chunks so that at most ``chunk x m x P`` floats (``m`` the number of
vectors) live at once; the vectors are batched with ``vmap``, never looped over in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.func import grad, jvp, vjp, vmap

__all__ = ["KINDS", "SampleFunctions", "MatrixFreeCurvature", "chunk_size", "in_order",
           "project_chunk"]

#: Curvature kinds: the exact Hessian and the Gauss-Newton matrix.
KINDS: tuple[str, ...] = ("hessian", "gauss-newton")


def chunk_size(P: int, m: int, budget_bytes: float, itemsize: int = 8) -> int:
    r"""Samples per chunk so that about ``4 x chunk x m x P`` floats fit in ``budget_bytes``.

    Parameters
    ----------
    P, m:
        Parameters and vectors per product.
    budget_bytes, itemsize:
        Memory allowed for one chunk's intermediates; bytes per float.

    Returns
    -------
    int
        At least 1.
    """
    per = 4.0 * itemsize * max(P, 1) * max(m, 1)
    return max(1, int(budget_bytes // per))


@dataclass(frozen=True)
class SampleFunctions:
    r"""The model and the loss as functions of the flat parameters, one sample at a time.

    Attributes
    ----------
    output:
        ``output(theta, x) -> (C,)`` flat model output :math:`f(\theta,x)`.
    loss_of_output:
        ``loss_of_output(o, t) -> ()`` scalar loss :math:`\ell(o,t)` of a flat output.
    """

    output: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    loss_of_output: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def loss(self, theta: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\ell_i(\theta)=\ell(f(\theta,x_i),t_i)`."""
        return self.loss_of_output(self.output(theta, x), t)


class MatrixFreeCurvature:
    r"""Products with the mean and per-sample curvature of one set at :math:`\theta` (module doc).

    Parameters
    ----------
    fns:
        :class:`SampleFunctions`.
    theta:
        Flat parameters ``(P,)``.
    data:
        ``(inputs, targets)`` of the set (leading dimension ``n``).
    kind:
        ``hessian`` or ``gauss-newton`` (:data:`KINDS`).
    chunk_bytes:
        Memory for one chunk's intermediates (:func:`chunk_size`).
    map_chunks:
        How the chunks of :meth:`project` are evaluated: ``map_chunks(fn, shared, items, done)``
        returning ``[fn(shared, item) ...]`` (default :func:`in_order`; ``diagnose`` passes its
        mapper, which may spread them over workers).
    """

    def __init__(self, fns: SampleFunctions, theta: torch.Tensor,
                 data: tuple[torch.Tensor, torch.Tensor], kind: str = "hessian",
                 chunk_bytes: float = 2.0**28, map_chunks: Callable[..., list] | None = None
                 ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.fns = fns
        self.theta = theta.detach()
        self.inputs, self.targets = data
        self.kind = kind
        self.chunk_bytes = float(chunk_bytes)
        self.map_chunks = in_order if map_chunks is None else map_chunks
        #: Number of per-sample vector products evaluated so far (cost accounting).
        self.products = 0

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.inputs.shape[0])

    @property
    def P(self) -> int:
        """Number of parameters."""
        return int(self.theta.numel())

    def _chunks(self, m: int) -> Iterator[tuple[int, int]]:
        size = chunk_size(self.P, m, self.chunk_bytes, self.theta.element_size())
        for a in range(0, self.n, size):
            yield a, min(a + size, self.n)

    # ------------------------------------------------------------------ mean products
    def _hvp_sum(self, x: torch.Tensor, t: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        def total(theta: torch.Tensor) -> torch.Tensor:
            return vmap(self.fns.loss, in_dims=(None, 0, 0))(theta, x, t).sum()

        g = grad(total)

        def one(v: torch.Tensor) -> torch.Tensor:
            return jvp(g, (self.theta,), (v,))[1]

        return vmap(one, in_dims=1, out_dims=1)(V)

    def _ggn_sum(self, x: torch.Tensor, t: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        def outs(theta: torch.Tensor) -> torch.Tensor:
            return vmap(self.fns.output, in_dims=(None, 0))(theta, x)

        o, back = vjp(outs, self.theta)
        lam = _output_curvature(self.fns, o.detach(), t)  # (b, C, C)

        def one(v: torch.Tensor) -> torch.Tensor:
            jv = jvp(outs, (self.theta,), (v,))[1]  # (b, C)
            return back(torch.einsum("bcd,bd->bc", lam, jv))[0]

        return vmap(one, in_dims=1, out_dims=1)(V)

    def mean_matvec(self, V: torch.Tensor) -> torch.Tensor:
        r""":math:`\bar HV` or :math:`\bar GV` for ``V`` ``(P, m)`` (or ``(P,)``), chunked over samples."""
        one = V.ndim == 1
        W = V.reshape(self.P, -1).to(self.theta)
        out = torch.zeros_like(W)
        fn = self._hvp_sum if self.kind == "hessian" else self._ggn_sum
        for a, b in self._chunks(W.shape[1]):
            out += fn(self.inputs[a:b], self.targets[a:b], W).detach()
        self.products += self.n * W.shape[1]
        out /= max(self.n, 1)
        return out[:, 0] if one else out

    # ------------------------------------------------------------------ per-sample projections
    def project(self, Q: torch.Tensor, progress: Callable[[int], None] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        r"""Per-sample curvature restricted to the orthonormal basis ``Q`` (``P x k``).

        The chunks go through ``map_chunks`` (:func:`in_order` unless another was given).

        Returns
        -------
        tuple
            ``hessian``: ``(Q^T H_i Q (n, k, k), None)``;
            ``gauss-newton``: ``(J_i Q (n, C, k), Lambda_i (n, C, C))``.
        """
        Q = Q.to(self.theta)
        bounds = list(self._chunks(Q.shape[1]))
        items = [(self.inputs[a:b], self.targets[a:b]) for a, b in bounds]
        done = None if progress is None else (lambda i: progress(bounds[i][1] - bounds[i][0]))
        parts = self.map_chunks(project_chunk, (self.fns, self.theta, Q, self.kind), items, done)
        self.products += self.n * Q.shape[1]
        lams = [lam for _, lam in parts if lam is not None]
        return torch.cat([b for b, _ in parts]), (torch.cat(lams) if lams else None)


def in_order(fn: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any],
             done: Callable[[int], None] | None = None) -> list[Any]:
    """``[fn(shared, item) for item in items]``, calling ``done(i)`` after each (the default map).

    Parameters
    ----------
    fn, shared, items:
        The function of one chunk, what every chunk reads, the chunks.
    done:
        Called with each chunk's index once it is computed.

    Returns
    -------
    list
        One value per chunk, in order.
    """
    out = []
    for i, item in enumerate(items):
        out.append(fn(shared, item))
        if done is not None:
            done(i)
    return out


def project_chunk(shared: tuple[SampleFunctions, torch.Tensor, torch.Tensor, str],
                  chunk: tuple[torch.Tensor, torch.Tensor]
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""One chunk's curvature restricted to ``Q``: :math:`Q^\top\nabla^2\ell_iQ`, or :math:`(J_iQ,\Lambda_i)`.

    Parameters
    ----------
    shared:
        ``(fns, theta, Q, kind)``.
    chunk:
        ``(inputs, targets)`` of the chunk's samples.

    Returns
    -------
    tuple
        ``hessian``: ``(b, k, k)`` symmetrised blocks and ``None``; ``gauss-newton``:
        ``(b, C, k)`` and ``(b, C, C)``.
    """
    fns, theta, Q, kind = shared
    x, t = chunk
    if kind == "hessian":
        h = _projected_hessians(fns, theta, (x, t), Q).detach()
        return 0.5 * (h + h.transpose(1, 2)), None
    jq = _projected_jacobians(fns, theta, x, Q).detach()
    with torch.no_grad():
        o = vmap(fns.output, in_dims=(None, 0))(theta, x)
    return jq, _output_curvature(fns, o, t)


def _projected_hessians(fns: SampleFunctions, theta: torch.Tensor,
                        data: tuple[torch.Tensor, torch.Tensor], Q: torch.Tensor) -> torch.Tensor:
    def sample(xi: torch.Tensor, ti: torch.Tensor) -> torch.Tensor:
        g = grad(lambda th: fns.loss(th, xi, ti))

        def col(q: torch.Tensor) -> torch.Tensor:
            return jvp(g, (theta,), (q,))[1]

        HQ = vmap(col, in_dims=1, out_dims=1)(Q)  # (P, k)
        return Q.T @ HQ

    return vmap(sample)(data[0], data[1])


def _projected_jacobians(fns: SampleFunctions, theta: torch.Tensor, x: torch.Tensor,
                         Q: torch.Tensor) -> torch.Tensor:
    def sample(xi: torch.Tensor) -> torch.Tensor:
        def col(q: torch.Tensor) -> torch.Tensor:
            return jvp(lambda th: fns.output(th, xi), (theta,), (q,))[1]

        return vmap(col, in_dims=1, out_dims=1)(Q)  # (C, k)

    return vmap(sample)(x)


def _output_curvature(fns: SampleFunctions, outputs: torch.Tensor,
                      targets: torch.Tensor) -> torch.Tensor:
    r""":math:`\Lambda_i=\nabla^2_o\ell(o_i,t_i)` ``(b, C, C)`` (small: ``C`` outputs)."""
    from torch.func import hessian

    return vmap(hessian(fns.loss_of_output))(outputs, targets).detach()
