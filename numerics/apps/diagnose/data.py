r"""Inputs of ``diagnose``: the entry point, the data sets, the model and its per-sample loss.

Everything a user hands over is checked here, once, with an :class:`~numerics.core.inputs.InputError`
whose message says what is wrong *and what to do*:

* the entry point ``module:function`` (or ``path/to/file.py:function``) returns a dict with
  ``model``, ``loss``, ``retain``, ``forget`` and optionally ``test``, ``train``, ``seed``,
  ``options``, ``output_map``;
* a set is an ``(inputs, targets)`` pair of tensors or a ``torch.utils.data.Dataset``; sets must
  be non-empty, finite, and retain and forget must not share a sample;
* the model must have parameters with ``requires_grad``; frozen parameters and buffers are held
  fixed (:class:`FlatModel`);
* the loss must be *per sample* (shape ``(n,)`` for ``n`` samples, like a torch loss with
  ``reduction='none'``), must not couple the samples of a batch, and must be finite at the
  trained weights.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from numerics.core.inputs import InputError, check_seed

__all__ = ["Entry", "DataSet", "FlatModel", "load_entry", "entry_from_dict", "as_dataset",
           "check_disjoint", "check_loss", "subsample", "ENTRY_KEYS"]

#: Keys the entry dict may carry (the first four are required).
ENTRY_KEYS: tuple[str, ...] = ("model", "loss", "retain", "forget", "test", "train", "seed",
                               "options", "output_map")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class DataSet:
    """A set as two tensors with a common first (sample) axis."""

    inputs: torch.Tensor
    targets: torch.Tensor
    name: str

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.inputs.shape[0])

    def to(self, device: torch.device, dtype: torch.dtype) -> DataSet:
        """Copy on ``device``; floating tensors are cast to ``dtype`` (integer targets kept)."""
        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device)

        return DataSet(cast(self.inputs), cast(self.targets), self.name)

    def take(self, index: np.ndarray) -> DataSet:
        """The samples at ``index``."""
        idx = torch.as_tensor(np.asarray(index, dtype=np.int64), device=self.inputs.device)
        return DataSet(self.inputs[idx], self.targets[idx], self.name)


def as_dataset(data: Any, name: str) -> DataSet:
    """Turn an ``(inputs, targets)`` pair or a torch ``Dataset`` into a :class:`DataSet`."""
    if data is None:
        raise InputError(f"the {name} set is missing: give an (inputs, targets) pair of tensors "
                         "or a torch Dataset")
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, (tuple, list)):
        try:
            size = len(data)  # type: ignore[arg-type]
        except TypeError:
            raise InputError(f"the {name} Dataset has no length: give a map-style Dataset or an "
                             "(inputs, targets) pair") from None
        if size == 0:
            raise InputError(f"the {name} set is empty: it needs at least one sample")
        try:
            batch = next(iter(torch.utils.data.DataLoader(data, batch_size=size,
                                                          shuffle=False)))
        except Exception as exc:  # noqa: BLE001 -- the user's Dataset may raise anything
            raise InputError(f"reading the {name} Dataset failed: {type(exc).__name__}: "
                             f"{exc}".splitlines()[0]) from None
        data = batch
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise InputError(f"the {name} set must be an (inputs, targets) pair of tensors or a torch "
                         f"Dataset yielding (input, target), got {type(data).__name__}")
    x, t = (torch.as_tensor(v) if not isinstance(v, torch.Tensor) else v for v in data)
    if x.ndim == 0 or t.ndim == 0:
        raise InputError(f"the {name} inputs and targets need a leading sample axis")
    if x.shape[0] != t.shape[0]:
        raise InputError(f"the {name} set has {x.shape[0]} inputs but {t.shape[0]} targets")
    if x.shape[0] == 0:
        raise InputError(f"the {name} set is empty: it needs at least one sample")
    for tensor, what in ((x, "inputs"), (t, "targets")):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            i = int(torch.nonzero(~torch.isfinite(tensor.reshape(tensor.shape[0], -1)))[0, 0])
            raise InputError(f"the {name} {what} contain NaN or inf (first at sample {i})")
    return DataSet(x.detach(), t.detach(), name)


def check_disjoint(retain: DataSet, forget: DataSet) -> None:
    """Raise when a sample (same input *and* target) is in both sets."""
    if retain.inputs.shape[1:] != forget.inputs.shape[1:]:
        raise InputError(f"retain and forget inputs differ in shape: "
                         f"{tuple(retain.inputs.shape[1:])} vs {tuple(forget.inputs.shape[1:])}")
    def rows(d: DataSet) -> torch.Tensor:
        x = d.inputs.reshape(d.n, -1).to(torch.float64)
        t = d.targets.reshape(d.n, -1).to(torch.float64)
        return torch.cat([x, t], dim=1).cpu()

    both = torch.cat([rows(retain), rows(forget)], dim=0)
    _, inverse = torch.unique(both, dim=0, return_inverse=True)
    inv_r, inv_f = inverse[: retain.n].numpy(), inverse[retain.n:].numpy()
    shared = np.intersect1d(inv_r, inv_f)
    if shared.size:
        i = int(np.flatnonzero(inv_r == shared[0])[0])
        k = int(np.flatnonzero(inv_f == shared[0])[0])
        raise InputError(f"retain and forget share {shared.size} sample(s) (e.g. retain #{i} = "
                         f"forget #{k}): a sample cannot be both kept and forgotten; remove the "
                         "overlap from one of the sets")


def subsample(data: DataSet, max_samples: int | None, rng: np.random.Generator) -> tuple[
        DataSet, np.ndarray]:
    """At most ``max_samples`` samples drawn without replacement (sorted), and their indices."""
    if max_samples is None or data.n <= max_samples:
        return data, np.arange(data.n)
    idx = np.sort(rng.choice(data.n, size=int(max_samples), replace=False))
    return data.take(idx), idx


class FlatModel:
    r"""A module as a function of the flat vector :math:`\theta\in\mathbb R^P` of its *trainable* parameters.

    Frozen parameters (``requires_grad=False``) and buffers keep their values.  The module is put
    in ``eval()`` mode for the analysis (dropout off, batch-norm on running statistics) and put
    back in its previous mode by :meth:`restore`.

    Attributes
    ----------
    module, names, shapes, sizes:
        The module and its trainable parameters.
    theta:
        :math:`\theta^\star`, the trained weights (detached, on the module's device).
    """

    def __init__(self, module: torch.nn.Module) -> None:
        if not isinstance(module, torch.nn.Module):
            raise InputError(f"model must be a torch.nn.Module, got {type(module).__name__}")
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise InputError("the model has no parameters with requires_grad=True: nothing can "
                             "be unlearned; unfreeze the layers to analyse "
                             "(p.requires_grad_(True))")
        self.module = module
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.theta = torch.cat([p.detach().reshape(-1) for _, p in named])
        if not bool(torch.isfinite(self.theta).all()):
            i = int(torch.nonzero(~torch.isfinite(self.theta))[0, 0])
            raise InputError(f"the model's trainable parameters contain NaN or inf (first at flat "
                             f"index {i}, in {self.name_of(i)})")
        self._was_training = module.training
        module.eval()

    @property
    def P(self) -> int:
        """Number of trainable parameters."""
        return int(self.theta.numel())

    def name_of(self, flat_index: int) -> str:
        """Name of the parameter tensor holding flat index ``flat_index``."""
        ends = np.cumsum(self.sizes)
        return self.names[int(np.searchsorted(ends, flat_index, side="right"))]

    def state(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parameter dict for ``functional_call``."""
        pieces = torch.split(theta, self.sizes)
        return {n: t.reshape(s) for n, t, s in zip(self.names, pieces, self.shapes, strict=True)}

    def forward(self, theta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Outputs on a batch of inputs."""
        return functional_call(self.module, self.state(theta), (inputs,))

    def single(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Output on one sample (a batch axis of one is added and removed)."""
        return functional_call(self.module, self.state(theta), (x.unsqueeze(0),)).squeeze(0)

    def load(self, theta: torch.Tensor) -> None:
        """Write ``theta`` into the module's trainable parameters (in place)."""
        with torch.no_grad():
            params = dict(self.module.named_parameters())
            for name, value in self.state(theta).items():
                params[name].copy_(value)

    def restore(self) -> None:
        """Put the module back in the train/eval mode it had."""
        self.module.train(self._was_training)

    def layer_shares(self, vector: np.ndarray) -> dict[str, float]:
        r"""Fraction of :math:`\|v\|^2` in each trainable parameter tensor."""
        v2 = np.asarray(vector, dtype=np.float64) ** 2
        total = float(v2.sum()) or 1.0
        ends = np.cumsum([0, *self.sizes])
        return {n: float(v2[a:b].sum() / total)
                for n, a, b in zip(self.names, ends[:-1], ends[1:], strict=True)}


def check_loss(flat: FlatModel, loss: LossFn, data: DataSet, probe: int = 3) -> None:
    """Check that ``loss`` is per sample, does not couple samples, and is finite on ``data``.

    The first ``probe`` samples are evaluated as one batch and one at a time; then the whole set
    as one batch (finiteness).  Raises :class:`InputError` saying what to change.
    """
    if not callable(loss):
        raise InputError(f"loss must be callable as loss(output, target), got "
                         f"{type(loss).__name__}")
    m = min(probe, data.n)
    with torch.no_grad():
        out = flat.forward(flat.theta, data.inputs[:m])
        try:
            val = loss(out, data.targets[:m])
        except Exception as exc:  # noqa: BLE001 -- the user's loss may raise anything
            raise InputError(f"calling loss(model(inputs), targets) on {m} {data.name} samples "
                             f"failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(val, torch.Tensor):
            raise InputError(f"loss must return a tensor, got {type(val).__name__}")
        if val.ndim == 0:
            raise InputError(f"loss returned a scalar for a batch of {m} samples: give a "
                             "per-sample loss, e.g. torch.nn.CrossEntropyLoss(reduction='none')")
        if tuple(val.shape) != (m,):
            raise InputError(
                f"loss returned shape {tuple(val.shape)} for {m} samples, expected ({m},): "
                "reduce over the non-sample axes inside the loss, e.g. "
                "lambda out, t: torch.nn.functional.mse_loss(out, t, reduction='none').sum(-1)")
        if m > 1:
            single = torch.cat([loss(flat.forward(flat.theta, data.inputs[i:i + 1]),
                                     data.targets[i:i + 1]).reshape(-1) for i in range(m)])
            scale = float(val.abs().max()) + float(single.abs().max()) + 1e-300
            if float((single - val).abs().max()) > 1e-8 * scale:
                raise InputError(
                    "the per-sample losses change with the other samples in the batch: the loss "
                    "or the model couples samples (a batch mean inside the loss, batch "
                    "statistics); make loss(model(x), t)[i] depend on sample i only")
        full = loss(flat.forward(flat.theta, data.inputs), data.targets)
    if tuple(full.shape) != (data.n,):
        raise InputError(f"loss returned shape {tuple(full.shape)} for the {data.n} {data.name} "
                         f"samples, expected ({data.n},)")
    bad = ~torch.isfinite(full)
    if bool(bad.any()):
        idx = torch.nonzero(bad)[:, 0].tolist()
        raise InputError(
            f"the loss is NaN or inf at the trained weights for {len(idx)} {data.name} sample(s) "
            f"(first #{idx[0]}): check those targets and inputs (e.g. log of 0, labels out of "
            "range) or the weights")


def _import_entry(spec: str) -> Callable[[], Any]:
    if ":" not in spec:
        raise InputError(f"--entry must be module:function or path/to/file.py:function, "
                         f"got {spec!r}")
    target, func = spec.rsplit(":", 1)
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise InputError(f"entry file {path} does not exist")
        mod_spec = importlib.util.spec_from_file_location(path.stem, path)
        if mod_spec is None or mod_spec.loader is None:
            raise InputError(f"cannot import {path} as a Python module")
        module = importlib.util.module_from_spec(mod_spec)
        try:
            mod_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 -- the user's module may raise anything
            raise InputError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    else:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # like `python -m`: the working directory
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise InputError(f"cannot import module {target!r}: {exc}") from None
    fn = getattr(module, func, None)
    if fn is None or not callable(fn):
        raise InputError(f"{target} has no function {func!r}")
    return fn


@dataclass
class Entry:
    """A validated entry point: model, loss, sets and the optional extras."""

    model: torch.nn.Module
    loss: LossFn
    retain: Any
    forget: Any
    test: Any = None
    train: Callable[..., torch.nn.Module] | None = None
    seed: int = 0
    options: Mapping[str, Any] | None = None
    output_map: Callable[[torch.Tensor], torch.Tensor] | None = None


def entry_from_dict(obj: Any, where: str = "the entry point") -> Entry:
    """Validate the dict an entry point returned."""
    if not isinstance(obj, Mapping):
        raise InputError(f"{where} must return a dict with keys model, loss, retain, forget; "
                         f"got {type(obj).__name__}")
    missing = [k for k in ("model", "loss", "retain", "forget") if k not in obj]
    if missing:
        raise InputError(f"{where} returned a dict without {', '.join(missing)}")
    unknown = sorted(set(obj) - set(ENTRY_KEYS))
    if unknown:
        raise InputError(f"{where} returned unknown keys {unknown}; known: {', '.join(ENTRY_KEYS)}")
    train = obj.get("train")
    if train is not None and not callable(train):
        raise InputError("entry 'train' must be callable as train(inputs, targets, seed) -> model")
    options = obj.get("options")
    if options is not None and not isinstance(options, Mapping):
        raise InputError("entry 'options' must be a dict of diagnose keyword arguments")
    output_map = obj.get("output_map")
    if output_map is not None and not callable(output_map):
        raise InputError("entry 'output_map' must be callable on a batch of model outputs")
    seed = obj.get("seed")
    seed = 0 if seed is None else check_seed(seed, "entry 'seed'")
    return Entry(obj["model"], obj["loss"], obj["retain"], obj["forget"], obj.get("test"), train,
                 seed, options, output_map)


def load_entry(spec: str) -> Entry:
    """Import ``module:function``, call it with no arguments and validate the dict it returns."""
    fn = _import_entry(spec)
    try:
        obj = fn()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 -- the user's entry may raise anything
        raise InputError(f"calling {spec}() failed: {type(exc).__name__}: {exc}") from None
    return entry_from_dict(obj, f"{spec}()")
