"""The options of :func:`~numerics.apps.diagnose.diagnose`, in six small groups.

Each field is written once here: its default, its check, and its ``unlearnstab diagnose`` flag
with the flag's help (:mod:`numerics.core.options`).  An entry's ``options`` dict and the
library's keyword names are the flat field names (``alpha``, ``route``, ``seed``, ...).

Examples
--------
>>> opts = DiagnoseOptions.from_flat({"alpha": 0.2, "eta_rel": 0.5, "unlearn_steps": 0})
>>> opts.unlearning.alpha, opts.unlearning.eta_rel, opts.run.unlearn_steps
(0.2, 0.5, 0)
>>> opts.curvature.route, opts.prescription.grid_size
('auto', 8)
"""

from __future__ import annotations

from dataclasses import dataclass

from numerics.apps.diagnose.route import DEFAULT_BUDGET_GB, ROUTES
from numerics.apps.diagnose.trust import TRUST_FRACTION
from numerics.core.device import DEVICES, DTYPES
from numerics.core.inputs import InputError, check_alpha, check_eta, check_sampling
from numerics.core.options import Options, at_least, group, option, positive
from numerics.sweep.options import ExecutionOptions
from theory.sampling import sampling_help

__all__ = ["UnlearningOptions", "CurvatureOptions", "RunOptions", "DeletionOptions",
           "PrescriptionOptions", "DiagnoseOptions", "DEFAULT_BATCH"]

#: Default batch size (capped by the set size).
DEFAULT_BATCH = 32


#: Largest alpha grid: each point is one eta*_ms solve (1e6 points hung for hours).
MAX_GRID = 1000


def _grid(value: int, name: str) -> int:
    g = at_least(1)(value, name)
    if g > MAX_GRID:
        raise InputError(f"{name} must be at most {MAX_GRID} (one eta*_ms solve per point), "
                         f"got {value}")
    return g


def _eta(value: float, _name: str) -> float:
    return check_eta(value)


def _alpha(value: float, _name: str) -> float:
    return check_alpha(value)


def _sampling(value: str, _name: str) -> str:
    return check_sampling(value)


@dataclass(frozen=True)
class UnlearningOptions(Options):
    r"""The unlearning configuration (SPEC §1.2, §1.4): step size, :math:`\alpha`, batches.

    ``eta_rel`` gives the step size in units of :math:`2/\lambda_{\max}(\bar H_r)`; at most one
    of ``eta`` and ``eta_rel`` may be set (neither: the verdict gives the step-size range).
    Batch sizes default to ``min(32, n)`` of the set (or its analysed subsample).
    """

    kind = "unlearning option"

    eta: float | None = option(None, type=float, check=_eta,
                               help="step size of the unlearning: the learning rate you unlearn "
                                    "with (plain SGD steps)")
    eta_rel: float | None = option(None, type=float, check=positive,
                                   help="step size relative to the curvature: eta = R * "
                                        "2/lambda_max(mean retain Hessian); R = 1 is the edge "
                                        "of stability of descent on the retain loss alone")
    alpha: float = option(0.1, check=_alpha, help="weight of the forget ascent in [0, 1]")
    batch_retain: int | None = option(None, type=int, metavar="BR", help="retain batch size",
                                      default_text=f"min({DEFAULT_BATCH}, n_r)")
    batch_forget: int | None = option(None, type=int, metavar="BF", help="forget batch size",
                                      default_text=f"min({DEFAULT_BATCH}, n_f)")
    sampling: str = option("wor", check=_sampling,
                           help=f"batch sampling: {sampling_help()}")

    def validate(self) -> None:
        """At most one of ``eta`` and ``eta_rel``."""
        if self.eta is not None and self.eta_rel is not None:
            raise InputError("give either eta or eta_rel, not both")


@dataclass(frozen=True)
class CurvatureOptions(Options):
    """How per-sample curvature is computed: route, memory, subsample, device and dtype."""

    kind = "curvature option"

    route: str = option("auto", choices=ROUTES,
                        help="curvature route (auto: by size and loss, see the notes below)")
    memory_budget_gb: float | None = option(
        None, type=float, help="memory cap of the whole process, GiB: refused up front when the "
        "resident set plus the curvature's working copies would pass it, and before the "
        "operator or the unlearning run when they would (default: no cap; the per-sample "
        f"factors alone get {DEFAULT_BUDGET_GB:g} GiB)")
    max_samples: int | None = option(None, type=int, metavar="N", check=at_least(1),
                                     help="analyse a seeded subsample of at most N samples of "
                                          "each set")
    device: str = option("cpu", help=f"where curvature is computed: one of {', '.join(DEVICES)}")
    dtype: str = option("float64", help=f"dtype of the curvature: one of {', '.join(DTYPES)}")


@dataclass(frozen=True)
class RunOptions(Options):
    """The actual unlearning run, seeds, threads, progress and output files."""

    kind = "run option"

    unlearn_steps: int = option(200, metavar="K", check=at_least(0),
                                help="steps of the actual unlearning run (0 skips it)")
    init_noise: float = option(0.0, check=at_least(0.0),
                               help="relative perturbation of the unlearning start")
    trust_fraction: float = option(TRUST_FRACTION, type=float, check=positive,
                                   help="curvature departure ||A(theta)-A(w*)||/||A(w*)|| at "
                                        "which the run leaves the linearisation's trust region")
    seed: int = option(0, check=at_least(0), help="seed of subsamples and batches")
    threads: int | None = option(1, check=at_least(1),
                                 help="CPU threads")
    progress: bool = option(True, help="no progress bars")
    out: str | None = option(None, type=str, metavar="DIR",
                             help="write DIR/report.json, DIR/diagnose.png, DIR/witness.npy and "
                                  "DIR/report.html (one self-contained page to send)")


@dataclass(frozen=True)
class DeletionOptions(Options):
    """The deletion check against a model retrained without the forget set."""

    kind = "deletion option"

    deletion: bool = option(True, help="skip the deletion check")
    train_seed: int = option(0, cli=False,
                             help="seed the original was trained with (the entry's 'seed')")


@dataclass(frozen=True)
class PrescriptionOptions(Options):
    """The prescriptions and the alpha grid of the figure."""

    kind = "prescription option"

    prescribe: bool = option(True, help="skip the prescriptions")
    grid_size: int = option(8, flag="--grid", check=_grid,
                            help="alpha grid size for the figure and the alpha prescriptions")
    within: int | None = option(None, type=int, metavar="K", check=at_least(1),
                                help="horizon of the finite-horizon prescriptions: what makes it "
                                     "escape within K steps, what keeps it resisting for K steps "
                                     "(predicted steps to escape; needs the unlearning run's "
                                     "event)", default_text="the run's unlearn_steps")
    steps_grid: int = option(6, check=at_least(0),
                             help="points per axis of the (alpha, eta) map of predicted steps "
                                  "to escape in the figure: to the run's event (refined on "
                                  "nested 3, 5, 9, 17-point grids up to this size), or "
                                  "mean-square 1000-fold growth without a run (0 skips it)")
    map_budget: float = option(60.0, type=float, metavar="SECONDS", check=positive,
                               help="seconds the map of predicted steps to the run's event may "
                                    "take (its first level's worst case may take twice this)")


@dataclass(frozen=True)
class DiagnoseOptions(Options):
    """Every option of :func:`~numerics.apps.diagnose.diagnose`, by group."""

    kind = "diagnose option"

    unlearning: UnlearningOptions = group(UnlearningOptions)
    curvature: CurvatureOptions = group(CurvatureOptions)
    run: RunOptions = group(RunOptions)
    deletion: DeletionOptions = group(DeletionOptions)
    prescription: PrescriptionOptions = group(PrescriptionOptions)
    #: Where the per-sample curvature chunks and the prescriptions' grid run (the sweep
    #: engine's executors: ``--executor processes|dask``, ``--scheduler ADDR``, ...).
    execution: ExecutionOptions = group(ExecutionOptions)
