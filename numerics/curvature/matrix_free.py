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

Samples are processed in chunks; the vectors are batched with ``vmap``, never looped over in
Python.  A mean product holds no per-sample ``P``-vector (the parameters are shared by the chunk,
so the weight gradients are contracted over the chunk inside each layer): its chunk is sized by
the floats one sample saves for the backward pass, ``a`` (:func:`saved_floats_per_sample`), so
that about ``4 x chunk x (m + 1) x a`` floats live at once.  Sizing it by ``P`` instead cut the
chunk ``P / a`` times (about 43 for the benchmark MLP) and made the ``P x m`` accumulation of each
chunk dominate: at ``P = 10^6``, ``n = 10^4``, ``m = 8`` that was 1,250 chunks of 8 samples.
The per-sample projections avoid per-sample ``P``-vectors where they can: :math:`J_iQ` comes from
one ``jvp`` of the chunk's outputs per column (``k`` tangents a sample), and
:math:`Q^\top\nabla^2\ell_iQ` from forward over forward mode on the chunk's losses
(``k(k+1)`` tangents a sample) when a chunk so sized holds at least :data:`MIN_NESTED_CHUNK`
samples, else from ``k`` per-sample Hessian-vector products contracted with ``Q`` (``k``
``P``-vectors a sample, the ``P``-sized chunk).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.func import grad, jvp, vjp, vmap

__all__ = ["KINDS", "SampleFunctions", "MatrixFreeCurvature", "chunk_size", "in_order",
           "project_chunk", "saved_floats_per_sample", "efficient_chunk", "PROJECTION_COLUMNS"]

#: Curvature kinds: the exact Hessian and the Gauss-Newton matrix.
KINDS: tuple[str, ...] = ("hessian", "gauss-newton")


def chunk_size(P: int, m: int, budget_bytes: float, itemsize: int = 8) -> int:
    r"""Samples per chunk so that about ``4 x chunk x m x P`` floats fit in ``budget_bytes``.

    Parameters
    ----------
    P, m:
        Floats per sample and vector (the parameter count for per-sample gradients, the saved
        activations for mean products), and vectors per product.
    budget_bytes, itemsize:
        Memory allowed for one chunk's intermediates; bytes per float.

    Returns
    -------
    int
        At least 1.
    """
    per = 4.0 * itemsize * max(P, 1) * max(m, 1)
    return max(1, int(budget_bytes // per))


def saved_floats_per_sample(fns: SampleFunctions, theta: torch.Tensor,
                            data: tuple[torch.Tensor, torch.Tensor]) -> int:
    r"""Floats one more sample adds to what the chunk's loss saves for its backward pass.

    :math:`a=S(2)-S(1)`, with :math:`S(b)` the number of floats of the tensors autograd saves
    (``saved_tensors_hooks``) in the summed loss of ``b`` samples: the difference removes what
    does not grow with the chunk (the parameters themselves).  With fewer than two samples, or
    when the model cannot be traced that way, :math:`a=P` (the conservative size).

    Parameters
    ----------
    fns, theta:
        :class:`SampleFunctions` and the flat parameters ``(P,)``.
    data:
        ``(inputs, targets)``; its first two samples are used.

    Returns
    -------
    int
        At least the number of outputs of one sample, at most ``P``.
    """
    x, t = data
    P = int(theta.numel())
    if x.shape[0] < 2:
        return P

    def saved(b: int) -> int:
        total = [0]

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            total[0] += int(tensor.numel())
            return tensor

        th = theta.detach().clone().requires_grad_(True)
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda u: u):
            vmap(fns.loss, in_dims=(None, 0, 0))(th, x[:b], t[:b]).sum()
        return total[0]

    try:
        per = saved(2) - saved(1)
        with torch.no_grad():
            outputs = int(fns.output(theta.detach(), x[0]).numel())
    except RuntimeError:  # a model autograd cannot trace this way: keep the P-sized chunk
        return P
    return int(min(max(per, outputs, 1), P))


#: Fewest samples a chunk of the nested forward-mode Hessian projection must hold to be used:
#: at :math:`P=10^6`, ``k = 16`` it fits one sample in an 8 GiB budget and took 306 s a column
#: for :math:`n=10^4`, against 146 s for the per-sample Hessian-vector products; at
#: :math:`P=10^5` (10 samples a chunk) it took half their time.
MIN_NESTED_CHUNK = 8
#: The ``kind`` :func:`project_chunk` receives for the nested forward-mode Hessian projection.
NESTED = "hessian-nested"
#: ``P``-vectors per column of ``Q`` that the per-sample Hessian projection of one sample holds
#: (:math:`\nabla^2\ell_iQ` and the tangents of the weight gradients; measured: 0.20 GiB above
#: the resident set for one sample at :math:`P=5\cdot10^4`, ``k = 64``).  A chunk holds at
#: least one sample, so this is the least the projection needs, whatever ``chunk_bytes``.
PROJECTION_COLUMNS = 9
#: Floats of one chunk's intermediates that still run from cache (about 32 MiB in float64).
CACHE_FLOATS = 2**22
#: A chunk's samples cost at least this many times its ``P x m`` parameter-sized outputs.
AMORTISE = 8


def efficient_chunk(P: int, per_sample: int, m: int) -> int:
    r"""Samples per chunk of a mean product that keeps BLAS and memory traffic efficient.

    Each chunk writes ``P x m`` floats (its contribution to the weight gradients of ``m``
    vectors) however few samples it holds, and each sample costs about ``per_sample x m``
    floats of intermediates: the chunk holds at least ``AMORTISE x P / per_sample`` samples so
    that the first is a small part of the cost, or, when more fit, as many as keep
    ``chunk x (m + 1) x per_sample`` within :data:`CACHE_FLOATS`.  Measured on the
    ``32 -> h -> 10`` tanh MLP, one thread, eight vectors: at :math:`P=10^6` chunks of 8, 64,
    256 and 1024 samples cost 3.1, 1.6, 1.4 and 2.9 s a vector per 1024 samples; at
    :math:`P=10^5`, chunks of 8, 32, 128, 1000 cost 0.29, 0.11, 0.10, 0.14 s per 1000 samples.

    Parameters
    ----------
    P, per_sample, m:
        Parameters, floats saved per sample (:func:`saved_floats_per_sample`), vectors.

    Returns
    -------
    int
        At least 1.
    """
    per = max(int(per_sample), 1)
    amortised = -(-AMORTISE * max(int(P), 1) // per)
    cached = CACHE_FLOATS // (per * (max(int(m), 1) + 1))
    return max(1, amortised, cached)


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
        #: Vectors multiplied by the mean curvature, and by every sample's curvature in
        #: :meth:`project`, so far: each is one pass over the set's data (cost accounting).
        self.mean_columns = 0
        self.projected_columns = 0
        self._saved: int | None = None

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.inputs.shape[0])

    @property
    def P(self) -> int:
        """Number of parameters."""
        return int(self.theta.numel())

    @property
    def saved_floats(self) -> int:
        """Floats one sample saves for the backward pass (:func:`saved_floats_per_sample`)."""
        if self._saved is None:
            self._saved = saved_floats_per_sample(self.fns, self.theta,
                                                  (self.inputs[:2], self.targets[:2]))
        return self._saved

    def _chunks(self, m: int, per_sample: int | None = None) -> Iterator[tuple[int, int]]:
        """Sample ranges within ``chunk_bytes``: ``per_sample`` floats a vector (default ``P``).

        With ``per_sample`` given (a product that holds no per-sample ``P``-vector) the chunk is
        also no larger than :func:`efficient_chunk` asks.
        """
        item = self.theta.element_size()
        if per_sample is None:
            size = chunk_size(self.P, m, self.chunk_bytes, item)
        else:
            size = min(chunk_size(per_sample, m + 1, self.chunk_bytes, item),
                       efficient_chunk(self.P, per_sample, m))
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
        for a, b in self._chunks(W.shape[1], self.saved_floats):
            out += fn(self.inputs[a:b], self.targets[a:b], W).detach()
        self.products += self.n * W.shape[1]
        self.mean_columns += int(W.shape[1])
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
        k, method = int(Q.shape[1]), self.kind
        if self.kind == "gauss-newton":
            bounds = list(self._chunks(k, self.saved_floats))
        else:  # nested forward mode where a chunk holds enough samples, else per-sample HVPs
            method = NESTED
            bounds = list(self._chunks(k * (k + 1), self.saved_floats))
            if bounds and bounds[0][1] - bounds[0][0] < min(MIN_NESTED_CHUNK, self.n):
                method, bounds = self.kind, list(self._chunks(k))
        items = [(self.inputs[a:b], self.targets[a:b]) for a, b in bounds]
        done = None if progress is None else (lambda i: progress(bounds[i][1] - bounds[i][0]))
        parts = self.map_chunks(project_chunk, (self.fns, self.theta, Q, method), items, done)
        self.products += self.n * Q.shape[1]
        self.projected_columns += int(Q.shape[1])
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
        ``(fns, theta, Q, kind)``; ``kind`` is ``hessian`` (per-sample Hessian-vector
        products), :data:`NESTED` (nested forward mode) or ``gauss-newton``.
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
    if kind in ("hessian", NESTED):
        method = _projected_hessians if kind == NESTED else _projected_hessians_per_sample
        h = method(fns, theta, (x, t), Q).detach()
        return 0.5 * (h + h.transpose(1, 2)), None
    jq = _projected_jacobians(fns, theta, x, Q).detach()
    with torch.no_grad():
        o = vmap(fns.output, in_dims=(None, 0))(theta, x)
    return jq, _output_curvature(fns, o, t)


def _projected_hessians(fns: SampleFunctions, theta: torch.Tensor,
                        data: tuple[torch.Tensor, torch.Tensor], Q: torch.Tensor) -> torch.Tensor:
    r""":math:`Q^\top\nabla^2\ell_iQ` ``(b, k, k)`` by forward over forward mode on the chunk.

    :math:`(Q^\top\nabla^2\ell_iQ)_{ab}=\partial_s\partial_u\,\ell_i(\theta+sq_a+uq_b)` at 0:
    the chunk's per-sample losses are one function of the shared :math:`\theta`, so one nested
    ``jvp`` (columns :math:`q_b` inside, :math:`q_a` outside, both batched) gives every sample's
    block; no per-sample ``P``-vector :math:`\nabla^2\ell_iq_b` is formed and contracted with
    ``Q`` (about twice as fast at :math:`P=10^5`, ``k = 16``; same blocks to 7e-15).
    """
    x, t = data

    def losses(th: torch.Tensor) -> torch.Tensor:
        return vmap(fns.loss, in_dims=(None, 0, 0))(th, x, t)  # (b,)

    def slopes(th: torch.Tensor) -> torch.Tensor:
        def one(q: torch.Tensor) -> torch.Tensor:
            return jvp(losses, (th,), (q,))[1]

        return vmap(one, in_dims=1, out_dims=1)(Q)  # (b, k): q_b . grad l_i

    def row(q: torch.Tensor) -> torch.Tensor:
        return jvp(slopes, (theta,), (q,))[1]  # (b, k)

    return vmap(row, in_dims=1, out_dims=1)(Q)  # (b, k_a, k_b)


def _projected_hessians_per_sample(fns: SampleFunctions, theta: torch.Tensor,
                                   data: tuple[torch.Tensor, torch.Tensor],
                                   Q: torch.Tensor) -> torch.Tensor:
    r""":math:`Q^\top(\nabla^2\ell_iQ)` ``(b, k, k)``: ``k`` per-sample Hessian-vector products.

    Holds ``k`` ``P``-vectors per sample, but its cost does not grow like ``k^2`` activations:
    the method for chunks too small for :func:`_projected_hessians`.
    """
    def sample(xi: torch.Tensor, ti: torch.Tensor) -> torch.Tensor:
        g = grad(lambda th: fns.loss(th, xi, ti))

        def col(q: torch.Tensor) -> torch.Tensor:
            return jvp(g, (theta,), (q,))[1]

        HQ = vmap(col, in_dims=1, out_dims=1)(Q)  # (P, k)
        return Q.T @ HQ

    return vmap(sample)(data[0], data[1])


def _projected_jacobians(fns: SampleFunctions, theta: torch.Tensor, x: torch.Tensor,
                         Q: torch.Tensor) -> torch.Tensor:
    r""":math:`J_iQ` ``(b, C, k)``: one ``jvp`` of the chunk's outputs per column of ``Q``.

    The outputs of the whole chunk are one function of the shared :math:`\theta`, so a column
    :math:`q` gives every :math:`J_iq` at once (the arithmetic of the mean Gauss--Newton
    product's ``jvp``), instead of one ``jvp`` per sample that reads all of ``Q`` again.
    """
    def outs(th: torch.Tensor) -> torch.Tensor:
        return vmap(fns.output, in_dims=(None, 0))(th, x)  # (b, C)

    def col(q: torch.Tensor) -> torch.Tensor:
        return jvp(outs, (theta,), (q,))[1]

    return vmap(col, in_dims=1, out_dims=2)(Q)  # (b, C, k)


def _output_curvature(fns: SampleFunctions, outputs: torch.Tensor,
                      targets: torch.Tensor) -> torch.Tensor:
    r""":math:`\Lambda_i=\nabla^2_o\ell(o_i,t_i)` ``(b, C, C)`` (small: ``C`` outputs)."""
    from torch.func import hessian

    return vmap(hessian(fns.loss_of_output))(outputs, targets).detach()
