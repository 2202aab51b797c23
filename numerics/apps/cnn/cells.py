r"""CNN experiments as sweep cells: one cell = one (SNR, seed, α, :math:`B_r`, ...) run.

A cell's configuration is the :class:`~numerics.apps.cnn.experiment.ExperimentConfig` as a dictionary
plus ``snr``; its record is :func:`~numerics.apps.cnn.experiment.analyse` of that configuration, so the
CNN grids (SNR × α × B × seeds) run through :func:`numerics.sweep.run_sweep` like every other
sweep: stored, resumed, and spread over processes or Dask workers.

The trained model depends only on the SNR, the seed and the training knobs, not on α, the batch
sizes or the step size.  Each process therefore keeps the last few trained models
(:func:`prepared`), so the cells of one (SNR, seed) that land on the same worker train once.
This is memoisation of a pure function: the records do not depend on which cells shared a model.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, fields, replace
from typing import Any

from numerics.apps.cnn.experiment import RECORD_KEYS, ExperimentConfig, Prepared, analyse, prepare
from numerics.apps.cnn.growth import GROWTH_KEYS
from numerics.apps.cnn.predictors import PREDICTOR_KEYS
from numerics.core.device import resolve_device, thread_limit

__all__ = ["CNN_CELL", "cnn_cell", "cnn_configs", "prepared", "restore_non_finite",
           "UNLEARNING_FIELDS"]

#: Dotted path of :func:`cnn_cell`.
CNN_CELL = "numerics.apps.cnn.cells:cnn_cell"
#: Configuration fields that do not change the trained model (only the unlearning run).
UNLEARNING_FIELDS: tuple[str, ...] = (
    "alpha", "batch_retain", "batch_forget", "sampling", "eta_rel", "steps", "horizon", "repeats",
    "growth", "with_eta_star", "with_linear_rule", "event", "eps",
    "with_predictors",
)
#: Record keys that may legitimately be ``None`` (not a non-finite float).
_MAY_BE_NONE = frozenset({"linear_escape_fraction", "linear_escapes"})
_NAMES = frozenset(f.name for f in fields(ExperimentConfig))
_CACHE: OrderedDict[tuple[float, ExperimentConfig], Prepared] = OrderedDict()
_CACHE_SIZE = 4


def experiment_config(config: dict[str, Any]) -> ExperimentConfig:
    """The :class:`ExperimentConfig` of a cell configuration (``snr`` and unknown keys aside)."""
    return ExperimentConfig(**{k: v for k, v in config.items() if k in _NAMES})


def prepared(snr: float, config: ExperimentConfig) -> Prepared:
    """The trained model at ``snr`` (memoised per process on the training knobs only)."""
    defaults = ExperimentConfig()
    key_cfg = replace(config, **{f: getattr(defaults, f) for f in UNLEARNING_FIELDS})
    key = (float(snr), key_cfg)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    # the batch sizes are validated against the split when the model is prepared
    prep = prepare(snr, replace(key_cfg, batch_retain=config.batch_retain,
                                batch_forget=config.batch_forget))
    _CACHE[key] = prep
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return prep


def cnn_cell(config: dict[str, Any]) -> dict[str, Any]:
    """One CNN run: train (or reuse) the model at ``config['snr']``, linearise and unlearn."""
    cfg = experiment_config(config).validated()
    threads = cfg.threads if resolve_device(cfg.device).type == "cpu" else None
    with thread_limit(threads):
        return analyse(prepared(float(config["snr"]), cfg), cfg)


def cnn_configs(snrs: list[float] | tuple[float, ...], seeds: list[int] | tuple[int, ...],
                config: ExperimentConfig, **axes: list[Any]) -> list[dict[str, Any]]:
    """Cell configurations of the grid seeds × SNR × ``axes`` (e.g. ``alpha=[...]``), in order.

    The seed varies slowest, then the SNR, then the axes in the order given.
    """
    unknown = set(axes) - _NAMES
    if unknown:
        raise ValueError(f"unknown configuration fields: {', '.join(sorted(unknown))}")
    base = asdict(config)
    out: list[dict[str, Any]] = [dict(base, seed=int(k), snr=float(s)) for k in seeds for s in snrs]
    for name, values in axes.items():
        out = [dict(c, **{name: v}) for c in out for v in values]
    return out


def restore_non_finite(record: dict[str, Any]) -> dict[str, Any]:
    """Undo the store's ``null`` for non-finite floats in a CNN record (``None`` -> ``nan``)."""
    keys = set(RECORD_KEYS) | set(GROWTH_KEYS) | set(PREDICTOR_KEYS)
    return {k: (math.nan if v is None and k in keys and k not in _MAY_BE_NONE else v)
            for k, v in record.items()}
