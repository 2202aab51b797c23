r"""The forced (affine) recursion: unlearning from :math:`w^\star` when the gradients do not vanish.

Gradient-difference unlearning started at :math:`w_0=w^\star` is, to first order,

.. math::
   \delta_{t+1}=(I-\eta\hat A_t)\delta_t-\eta\hat g_t,\qquad \delta_0=0,\qquad
   \hat g_t=(1-\alpha)\hat g_{r,t}-\alpha\hat g_{f,t},

with :math:`\hat g_{\cdot,t}` the batch means of the per-sample gradients at :math:`w^\star`, drawn
with the *same* batches as :math:`\hat A_t` (SPEC §1.3, remark).  With the augmented state
:math:`z=(\delta,1)` it is the linear recursion :math:`z_{t+1}=(I-\eta\hat C_t)z_t` with per-sample
:math:`C_i=\begin{pmatrix}H_i&g_i\\0&0\end{pmatrix}`, so :math:`N_t=\mathbb Ezz^\top` obeys
exactly (SPEC §2.1 with :math:`H_i\to C_i`)

.. math::
   N_{t+1}=(I-\eta\bar C)N_t(I-\eta\bar C)^\top+\eta^2\big[(1-\alpha)^2\mathcal C_r(N_t)
   +\alpha^2\mathcal C_f(N_t)\big],\quad
   \mathcal C(N)=a\sum_iC_iNC_i^\top+b\,\bar C_\cdot N\bar C_\cdot^\top,

with the batch-covariance coefficients :math:`(a,b)` of the operator.  Its blocks are the mean
:math:`m_t=\mathbb E\delta_t` (which obeys :math:`m_{t+1}=(I-\eta A)m_t-\eta\bar g`) and the
second moment :math:`\mathbb E\delta_t\delta_t^\top`.  The recursion is run on the active
subspace :math:`V`; a gradient component outside :math:`V` meets no curvature, so there
:math:`\delta^\perp_t=-\eta\sum_{s<t}\hat g^\perp_s`, with
:math:`\mathbb E\|\delta^\perp_t\|^2=\eta^2\big(t^2\|\bar g^\perp\|^2+t\operatorname{tr}
\operatorname{Cov}\hat g^\perp\big)`.

Notion: mean-square displacement of the forced linear recursion (exact second moments).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from numerics.core.inputs import InputError, check_eta
from numerics.core.operator import SecondMomentOperator
from numerics.core.progress import advance

__all__ = ["Forcing", "ForcedMoments", "forced_moments", "forced_steps", "steps_to_displacement"]


@dataclass(frozen=True)
class Forcing:
    r"""Per-sample gradients at :math:`w^\star` (ambient coordinates).

    Attributes
    ----------
    retain:
        ``(n_r, d)`` retain gradients :math:`\nabla\ell_i(w^\star)`.
    forget:
        ``(n_f, d)`` forget gradients, or ``None`` when the operator has no forget set.
    """

    retain: np.ndarray
    forget: np.ndarray | None = None

    def checked(self, op: SecondMomentOperator) -> Forcing:
        """Validated float64 copy (shapes match the operator's pools, values finite)."""
        def one(g, n: int, name: str) -> np.ndarray:
            a = np.asarray(g, dtype=float)
            if a.shape != (n, op.ambient_dim):
                raise InputError(f"{name} gradients must have shape ({n}, {op.ambient_dim}), "
                                 f"got {a.shape}")
            if not np.all(np.isfinite(a)):
                raise InputError(f"{name} gradients contain non-finite values")
            return a

        r = one(self.retain, op.retain.n, "retain")
        if op.forget is None:
            if self.forget is not None:
                raise InputError("forget gradients given but the operator has no forget set")
            return Forcing(r, None)
        if self.forget is None:
            raise InputError("the operator has a forget set: forget gradients are required")
        return Forcing(r, one(self.forget, op.forget.n, "forget"))


@dataclass(frozen=True)
class ForcedMoments:
    r"""Exact moments of the forced recursion from :math:`\delta_0=0`, for :math:`t=0..T`.

    Attributes
    ----------
    mean:
        :math:`\mathbb E\delta_t` in ambient coordinates, shape ``(T+1, d)``.
    second:
        :math:`\mathbb E\|\delta_t\|^2` (mean-square displacement), shape ``(T+1,)``.
    notion:
        ``"mean-square, forced from delta_0 = 0"``.
    """

    mean: np.ndarray
    second: np.ndarray
    notion: str = "mean-square, forced from delta_0 = 0"


def _pool_terms(op: SecondMomentOperator, forcing: Forcing):
    """``(weight, factors (n,r,k), gradients on V (n,r), coef, perp gradients (n,d))`` per set."""
    out = []
    sets = [(op.weight_retain, op.retain, forcing.retain, op.coef_retain)]
    if op.forget is not None:
        sets.append((-op.weight_forget, op.forget, forcing.forget, op.coef_forget))
    for w, pool, g, coef in sets:
        gv = g @ op.basis
        out.append((w, pool.factors, gv, coef, g - gv @ op.basis.T))
    return out


def _cross_terms(F: np.ndarray, g: np.ndarray, coef: tuple[float, float], mean: np.ndarray,
                 q: np.ndarray, s: float) -> np.ndarray:
    r"""The :math:`q`- and :math:`s`-terms of one set's :math:`\mathcal C(N)` top-left block.

    With :math:`N=[[P,q],[q^\top,s]]`, :math:`C_iNC_i^\top` has top-left block
    :math:`H_iPH_i+H_iqg_i^\top+g_iq^\top H_i+s\,g_ig_i^\top`; the :math:`P` part is the
    operator's own noise term (:meth:`SecondMomentOperator.apply`), the rest is returned here:
    :math:`a(X+X^\top+sG)+b(\bar Hq\bar g^\top+\bar g q^\top\bar H+s\bar g\bar g^\top)` with
    :math:`X=\sum_iH_iqg_i^\top`, :math:`G=\sum_ig_ig_i^\top`; :math:`O(nrk)`.
    """
    a, b = coef
    Hq = np.einsum("nrk,nk->nr", F, np.einsum("nrk,r->nk", F, q))  # H_i q, (n, r)
    X = Hq.T @ g
    out = a * (X + X.T + s * (g.T @ g))
    if b != 0.0:
        gbar = g.mean(axis=0)
        c2 = np.outer(mean @ q, gbar)
        out = out + b * (c2 + c2.T + s * np.outer(gbar, gbar))
    return out


def forced_moments(op: SecondMomentOperator, forcing: Forcing, eta: float,
                   steps: int) -> ForcedMoments:
    r"""Mean and mean-square displacement of the forced recursion from :math:`\delta_0=0`.

    Parameters
    ----------
    op:
        The operator (pools, :math:`\alpha`, batch sizes, sampling).
    forcing:
        Per-sample gradients at :math:`w^\star`.
    eta:
        Step size.
    steps:
        Last step :math:`T\ge1`.

    Returns
    -------
    ForcedMoments
        :math:`\mathbb E\delta_t` and :math:`\mathbb E\|\delta_t\|^2` for :math:`t=0..T`
        (exact; one step costs one application of :math:`\mathcal T` (:meth:`apply`) plus
        :math:`O(nrk)`).
    """
    from numerics.core.horizon import check_horizon

    T = check_horizon(steps, "steps")
    steps_iter = forced_steps(op, forcing, eta, T)
    mean = np.zeros((T + 1, op.ambient_dim))
    second = np.zeros(T + 1)
    for t, m, sec in steps_iter:
        mean[t], second[t] = m, sec
    return ForcedMoments(mean, second)


def forced_steps(op: SecondMomentOperator, forcing: Forcing, eta: float,
                 steps: int) -> Iterator[tuple[int, np.ndarray, float]]:
    r"""The moments of :func:`forced_moments` one step at a time, for :math:`t=1..T`.

    A caller that stops at an event (the first :math:`t` with a displacement) stops the work there.

    Parameters
    ----------
    op, forcing, eta, steps:
        As in :func:`forced_moments` (checked here, before the first step).

    Yields
    ------
    tuple
        ``(t, m_t, E|delta_t|^2)`` with :math:`m_t=\mathbb E\delta_t` in ambient coordinates.
    """
    return _steps(op, forcing.checked(op), check_eta(eta), int(steps))


def _steps(op: SecondMomentOperator, forcing: Forcing, eta: float,
           T: int) -> Iterator[tuple[int, np.ndarray, float]]:
    """The generator behind :func:`forced_steps` (inputs already checked)."""
    terms = _pool_terms(op, forcing)
    r = op.dim
    gbar = sum(w * g.mean(axis=0) for w, _, g, _, _ in terms)
    P, q, s = np.zeros((r, r)), np.zeros(r), 1.0  # N_0 = e e^T: delta_0 = 0
    Pm = np.eye(r) - eta * op.A
    # outside V: mean -eta t gbar_perp, second moment eta^2 (t^2 |gbar_perp|^2 + t tr Cov)
    gperp = sum(w * gp.mean(axis=0) for w, _, _, _, gp in terms)
    tr_cov = 0.0
    for w, _, _, (a, b), gp in terms:
        gm = gp.mean(axis=0)
        tr_cov += w**2 * (a * float(np.sum(gp * gp)) + b * float(gm @ gm))
    means = [op.mean_retain, op.mean_forget]
    for t in range(1, T + 1):
        advance()  # one step, counted by the running phase's progress bar
        # P' = T(P) - eta (Pm q gbar^T + gbar q^T Pm) + eta^2 s gbar gbar^T + eta^2 (cross terms)
        cross = sum(w**2 * _cross_terms(F, g, coef, means[i], q, s)
                    for i, (w, F, g, coef, _) in enumerate(terms))
        Pq = Pm @ q
        P = op.apply(P, eta) - eta * (np.outer(Pq, gbar) + np.outer(gbar, Pq)) \
            + eta**2 * s * np.outer(gbar, gbar) + eta**2 * cross
        P = 0.5 * (P + P.T)
        q = Pq - eta * gbar * s  # the mean: q' = (I - eta A) q - eta gbar; s stays 1
        yield (t, op.basis @ q - eta * t * gperp,
               float(np.trace(P)) + eta**2 * (t * t * float(gperp @ gperp) + t * tr_cov))


def steps_to_displacement(op: SecondMomentOperator, forcing: Forcing, eta: float, radius: float,
                          max_steps: int = 10_000) -> int | None:
    r"""Smallest :math:`t\le` ``max_steps`` with :math:`\mathbb E\|\delta_t\|^2\ge` ``radius``:math:`^2`.

    Notion: root-mean-square displacement of the forced recursion from :math:`\delta_0=0`;
    ``None`` when it stays below ``radius`` for ``max_steps`` steps.
    """
    rad = float(radius)
    if not np.isfinite(rad) or rad <= 0.0:
        raise InputError(f"displacement radius must be finite and > 0, got {radius}")
    sec = forced_moments(op, forcing, eta, max_steps).second
    hit = np.flatnonzero(sec >= rad * rad)
    return int(hit[0]) if hit.size else None
