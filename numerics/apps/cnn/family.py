r"""The model-family protocol of the CNN experiment: activation, loss and architecture.

A *model family* is what the experiment needs from a network trained on
:math:`L(W)=\frac1n\sum_i\ell(f(W,x_i),y_i)`:

* **initialise** :math:`W^{(0)}` from a seed; **forward** :math:`f(W,x_i)`;
* the **loss and its derivatives** in the output, :math:`(\ell,\partial_f\ell,\partial_f^2\ell)`,
  and the loss of the uninformative predictor :math:`f\equiv0`;
* the **per-sample curvature factors** :math:`u_i=\sqrt{\partial_f^2\ell_i}\,g_i`,
  :math:`g_i=\nabla_Wf(W,x_i)`, so that :math:`u_iu_i^\top` is the Gauss--Newton part of

  .. math:: \nabla^2_W\ell_i=\partial_f^2\ell_i\,g_ig_i^\top+\partial_f\ell_i\,\nabla^2_Wf_i ;

* **what the factor route omits**, :math:`\partial_f\ell_i\,\nabla^2_Wf_i` (zero when the
  activation is piecewise linear and the second layer is fixed).

Activations and losses are registries filled from one module each
(:mod:`numerics.apps.cnn.activations`, :mod:`numerics.apps.cnn.losses`): a new activation or loss
is one module defining ``ACTIVATION`` or ``LOSS``.  A new architecture is one module with a class
satisfying :class:`ModelFamily` (the two-layer CNN is :class:`numerics.apps.cnn.model.TwoLayerCNN`).
An unknown name is an :class:`~numerics.core.inputs.InputError`, never a fall-through.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

import torch

from numerics.core.inputs import InputError

__all__ = ["Activation", "Loss", "ModelFamily", "activation", "loss", "activation_names",
           "loss_names"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class Activation:
    r"""An elementwise activation :math:`\sigma` with its first two derivatives.

    Attributes
    ----------
    name:
        Registry name.
    value, grad, hess:
        :math:`\sigma(z)`, :math:`\sigma'(z)`, :math:`\sigma''(z)`, each ``fn(z, q)`` (``q`` the
        power of a parametrised activation, ignored otherwise).
    piecewise_linear:
        :math:`\sigma''=0` almost everywhere, so with the second layer fixed
        :math:`\nabla^2_Wf=0` a.e. and the factor route is the exact Hessian.
    needs_power:
        Whether ``q`` is used (it must then be finite and :math:`\ge2`).
    formula:
        :math:`\sigma` in words, for help texts.
    """

    name: str
    value: Callable[[Tensor, float], Tensor]
    grad: Callable[[Tensor, float], Tensor]
    hess: Callable[[Tensor, float], Tensor]
    piecewise_linear: bool
    needs_power: bool
    formula: str


@dataclass(frozen=True)
class Loss:
    r"""A per-sample loss :math:`\ell(f,y)` of the output :math:`f` and label :math:`y\in\{\pm1\}`.

    Attributes
    ----------
    name:
        Registry name.
    derivatives:
        ``fn(f, y) -> (ell, d1, d2)`` with :math:`d_1=\partial_f\ell`, :math:`d_2=\partial_f^2\ell`
        (elementwise, overflow-safe).
    per_sample:
        ``fn(output, target) -> ell`` for the generic curvature API
        (:mod:`numerics.curvature.hessians`).
    uninformative:
        :math:`\ell(0,y)`, the loss of the predictor :math:`f\equiv0` (the level of the
        forget-loss escape criterion).
    has_minimiser:
        Whether :math:`L` has a finite stationary point on separable data (logistic: no).
    formula:
        :math:`\ell` in words, for help texts.
    """

    name: str
    derivatives: Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
    per_sample: Callable[[Tensor, Tensor], Tensor]
    uninformative: float
    has_minimiser: bool
    formula: str


class ModelFamily(Protocol):
    r"""What the CNN experiment needs from a network (see the module docstring).

    ``W`` is the parameter tensor, ``X`` the inputs ``(n, ...)``, ``y`` the labels ``(n,)``;
    the flat parameter vector is ``W.reshape(-1)`` of length :math:`P`.
    """

    loss: Loss
    factors_exact: bool  #: whether u_i u_i^T is the exact per-sample Hessian

    def init(self, d: int, sigma0: float, seed: int, *, device: torch.device | str = "cpu",
             dtype: torch.dtype = torch.float64) -> Tensor:
        """Initial weights from ``seed``."""

    def forward(self, W: Tensor, X: Tensor) -> Tensor:
        """Outputs ``(n,)``."""

    def per_sample_gradients(self, W: Tensor, X: Tensor) -> Tensor:
        r""":math:`g_i=\nabla_Wf(W,x_i)`, ``(n, P)``."""

    def weighted_loss_grad(self, W: Tensor, X: Tensor, y: Tensor,
                           weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        r"""Per-sample losses, :math:`\sum_i\omega_i\nabla_W\ell_i` (shaped like ``W``), outputs."""

    def weighted_loss_grad_batched(self, W: Tensor, X: Tensor, y: Tensor,
                                   weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The same for ``R`` parameter tensors ``W[k]`` and weight rows ``weights[k]`` at once."""

    def curvature_factors(self, W: Tensor, X: Tensor, y: Tensor) -> Tensor:
        r""":math:`u_i=\sqrt{\partial_f^2\ell_i}\,g_i`, ``(n, P)``."""

    def omitted_term(self, W: Tensor, X: Tensor, y: Tensor) -> Tensor:
        r"""Dense :math:`\partial_f\ell_i\nabla^2_Wf_i`, ``(n, P, P)`` (for tests)."""


def _collect(package: ModuleType, attribute: str) -> dict:
    out = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        obj = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), attribute)
        if obj.name in out:
            raise ValueError(f"{attribute.lower()} {obj.name!r} is defined twice")
        out[obj.name] = obj
    return out


_REGISTRIES: dict[str, dict] = {}
#: Registry kind -> (package holding one module per entry, attribute each module defines).
_PACKAGES = {"activation": ("numerics.apps.cnn.activations", "ACTIVATION"),
             "loss": ("numerics.apps.cnn.losses", "LOSS")}


def _registry(kind: str) -> dict:
    if kind not in _REGISTRIES:
        package, attribute = _PACKAGES[kind]
        _REGISTRIES[kind] = _collect(importlib.import_module(package), attribute)
    return _REGISTRIES[kind]


def activation_names() -> tuple[str, ...]:
    """Registered activation names (sorted)."""
    return tuple(sorted(_registry("activation")))


def loss_names() -> tuple[str, ...]:
    """Registered loss names (sorted)."""
    return tuple(sorted(_registry("loss")))


def activation(name: str) -> Activation:
    """The registered activation ``name``; :class:`InputError` when there is none."""
    reg = _registry("activation")
    if name not in reg:
        raise InputError(f"unknown activation {name!r}; expected one of {', '.join(sorted(reg))}")
    return reg[name]


def loss(name: str) -> Loss:
    """The registered loss ``name``; :class:`InputError` when there is none."""
    reg = _registry("loss")
    if name not in reg:
        raise InputError(f"unknown loss {name!r}; expected one of {', '.join(sorted(reg))}")
    return reg[name]
