r"""Whether gradient-difference unlearning escapes for a given model and forget set.

The public API is :func:`diagnose` (from a model, a per-sample loss and the two sets),
:func:`diagnose_curvature` (from per-sample curvature given directly) and the
:class:`DiagnoseReport` they return; the command line is ``unlearnstab diagnose``.
"""

from numerics.apps.diagnose.api import DiagnoseReport, diagnose, diagnose_curvature, write_outputs
from numerics.apps.diagnose.data import Entry, load_entry

__all__ = ["DiagnoseReport", "diagnose", "diagnose_curvature", "write_outputs", "Entry",
           "load_entry"]
