r"""Sampling schemes as a registry (SPEC §1.4): one module per scheme.

:mod:`theory.sampling.base` holds the protocol (:class:`~theory.sampling.base.SamplingScheme`),
the indicator moments (:class:`~theory.sampling.base.BatchMoments`) and the registry.  Every other
module of this package defines one scheme and registers it; importing the package imports them
all (found with :mod:`pkgutil`), so a new scheme is one new module here plus its tests.
"""

from __future__ import annotations

import importlib
import pkgutil

from theory.sampling.base import (
    B,
    BatchMoments,
    SamplingScheme,
    UnknownSamplingError,
    check_sampling,
    exchangeable_names,
    get_scheme,
    m,
    n,
    register_scheme,
    sampling_help,
    scheme_names,
    skipped_schemes,
)

__all__ = [
    "n",
    "B",
    "m",
    "BatchMoments",
    "SamplingScheme",
    "UnknownSamplingError",
    "register_scheme",
    "get_scheme",
    "check_sampling",
    "scheme_names",
    "exchangeable_names",
    "skipped_schemes",
    "sampling_help",
]

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    if _info.name != "base" and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
