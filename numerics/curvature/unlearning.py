r"""The one loop of real (nonlinear) gradient-difference unlearning (SPEC §1.2).

.. math:: \theta_{t+1}=\theta_t-\eta\,g_t(\theta_t),\qquad
   g_t(\theta)=\sum_i\omega_{t,i}\nabla\ell_i(\theta)
   =(1-\alpha)\nabla\hat L_{r,t}(\theta)-\alpha\nabla\hat L_{f,t}(\theta),

with per-step sample weights :math:`\omega_{t,i}=(1-\alpha)\omega^r_{t,i}` on the retain set and
:math:`-\alpha\,\omega^f_{t,i}` on the forget set, the batch weights of the sampling model
(:func:`numerics.core.simulate.sample_weights`) drawn independently at every step, retain first,
from one seeded generator (:func:`step_weights`).  The gradient itself is the application's (the
CNN's analytic one, autograd for any ``nn.Module``): :func:`gradient_difference_loop` takes it
as a function of the step and the parameters, so both applications share the weights, the update,
the divergence test and the observation hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from numerics.core.inputs import InputError, UnlearningConfig, check_eta
from numerics.core.simulate import sample_weights

__all__ = ["GradientDifferenceOptions", "LoopOutcome", "step_weights", "weight_chunks",
           "gradient_difference_loop"]


@dataclass(frozen=True)
class GradientDifferenceOptions:
    r"""One gradient-difference run.

    Attributes
    ----------
    eta:
        Step size :math:`\eta>0`.
    config:
        :math:`\alpha`, batch sizes :math:`B_r,B_f` and the sampling model.
    steps:
        :math:`K\ge1`, the number of steps.
    seed:
        Seed of the batch draws.
    stop_when_nonfinite:
        Stop (and report ``diverged``) at the first step whose parameters are not finite; the
        check costs one device synchronisation per step.
    """

    eta: float
    config: UnlearningConfig
    steps: int = 200
    seed: int = 0
    stop_when_nonfinite: bool = False

    def validated(self, n_retain: int, n_forget: int) -> GradientDifferenceOptions:
        """Checked copy for sets of the given sizes (:class:`~numerics.core.inputs.InputError`)."""
        if isinstance(self.steps, bool) or int(self.steps) != self.steps or self.steps < 1:
            raise InputError(f"number of unlearning steps must be >= 1, got {self.steps}")
        return GradientDifferenceOptions(check_eta(self.eta),
                                         self.config.validated(n_retain, n_forget),
                                         int(self.steps), int(self.seed),
                                         bool(self.stop_when_nonfinite))


def weight_chunks(rng: np.random.Generator, config: UnlearningConfig, sizes: tuple[int, int],
                  steps: int, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    r"""Per-step weights :math:`(1-\alpha)\omega^r_t` and :math:`-\alpha\omega^f_t`, ``chunk`` steps at a time.

    For each chunk the retain batches are drawn, then the forget batches; a run of at most
    ``chunk`` steps is one piece (the stream does not depend on ``chunk`` then).

    Parameters
    ----------
    rng:
        The run's generator.
    config:
        Validated :math:`\alpha`, batch sizes and sampling.
    sizes:
        :math:`(n_r, n_f)`.
    steps:
        :math:`K`.
    chunk:
        Steps per piece (``>= 1``).

    Returns
    -------
    Iterator[tuple[numpy.ndarray, numpy.ndarray]]
        ``(c, n_r)`` and ``(c, n_f)`` weights per piece; the step is
        :math:`-\eta\sum_i\omega_{t,i}\nabla\ell_i`.
    """
    n_retain, n_forget = sizes
    for start in range(0, steps, chunk):
        c = min(chunk, steps - start)
        wr = sample_weights(rng, config.sampling, n_retain, config.batch_retain, c)
        wf = sample_weights(rng, config.sampling, n_forget, config.batch_forget, c)
        yield (1.0 - config.alpha) * wr, -config.alpha * wf


def step_weights(options: GradientDifferenceOptions, n_retain: int,
                 n_forget: int) -> tuple[np.ndarray, np.ndarray]:
    r"""All :math:`K` steps' weights at once, from ``numpy.random.default_rng(options.seed)``.

    One piece of :func:`weight_chunks`: :math:`(1-\alpha)\omega^r_t` ``(K, n_r)`` and
    :math:`-\alpha\omega^f_t` ``(K, n_f)``.

    Parameters
    ----------
    options:
        Validated :class:`GradientDifferenceOptions`.
    n_retain, n_forget:
        Set sizes.

    Returns
    -------
    tuple of numpy.ndarray
    """
    rng = np.random.default_rng(options.seed)
    return next(weight_chunks(rng, options.config, (n_retain, n_forget), options.steps,
                              options.steps))


@dataclass(frozen=True)
class LoopOutcome:
    """Final parameters (the last finite iterate when the run diverged), steps taken, divergence."""

    theta: torch.Tensor
    steps_taken: int
    diverged: bool


def gradient_difference_loop(theta: torch.Tensor,
                             gradient: Callable[[int, torch.Tensor], torch.Tensor],
                             options: GradientDifferenceOptions,
                             observe: Callable[[int, torch.Tensor], None] | None = None
                             ) -> LoopOutcome:
    r""":math:`K` steps :math:`\theta_{t+1}=\theta_t-\eta\,g_t(\theta_t)` from ``theta``.

    Parameters
    ----------
    theta:
        Start :math:`\theta_0` (not modified).
    gradient:
        ``gradient(t, theta)`` returns :math:`g_t(\theta)=\sum_i\omega_{t,i}\nabla\ell_i(\theta)`
        (weights from :func:`step_weights` or :func:`weight_chunks`), detached; called once per
        step, in order, so it may consume a stream of weights.
    options:
        Validated :class:`GradientDifferenceOptions` (``eta``, ``steps``,
        ``stop_when_nonfinite``).
    observe:
        Called as ``observe(t, theta_t)`` after every step ``t = 1..K`` taken.

    Returns
    -------
    LoopOutcome
    """
    diverged = False
    taken = 0
    for t in range(options.steps):
        new = theta - options.eta * gradient(t, theta)
        if options.stop_when_nonfinite and not bool(torch.isfinite(new).all()):
            diverged = True
            break
        theta = new
        taken = t + 1
        if observe is not None:
            observe(taken, theta)
    return LoopOutcome(theta, taken, diverged)
