r"""Whether gradient-difference unlearning escapes for a given model and forget set.

The public API is :func:`diagnose` (from a model, a per-sample loss and the two sets),
:func:`diagnose_curvature` (from per-sample curvature given directly) and the
:class:`DiagnoseReport` they return, configured by :class:`DiagnoseOptions`
(:mod:`numerics.apps.diagnose.options`); the command line is ``unlearnstab diagnose``.
"""

from numerics.apps.diagnose.api import DiagnoseReport, diagnose, diagnose_curvature, write_outputs
from numerics.apps.diagnose.data import Entry, load_entry
from numerics.apps.diagnose.options import DiagnoseOptions

__all__ = ["DiagnoseReport", "DiagnoseOptions", "diagnose", "diagnose_curvature",
           "write_outputs", "Entry", "load_entry"]
