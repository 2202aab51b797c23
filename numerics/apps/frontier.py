r"""Frontier maps: a stability quantity on a 2-D grid, as a tidy table and a heatmap.

A *cell* is a pure function of a configuration dictionary (it includes its seed) returning a flat
record; a map is the list of records of a grid of cells, run by the sweep engine
(:func:`numerics.sweep.run_sweep`: in process, a process pool or Dask, with a resumable store).
The σ-family cell (SPEC §4.2–4.3) evaluates, at one :math:`(\sigma, B)`:

* ``ms``: :math:`\rho(\mathcal T(\eta))` and :math:`\eta^\star_{ms}` from the exact operator
  (mean-square notion);
* ``as``: :math:`\eta^\star_{as}` from the exact Lyapunov exponent of the commuting family
  (almost-sure notion);
* ``trajectory``: the companion rule's verdict (finite-horizon trajectory notion).

:func:`plot_frontier` draws the observed cells and overlays the predicted boundary, with each
layer labelled by its notion.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.core.inputs import InputError, UnlearningConfig, as_pool
from numerics.core.operator import SecondMomentOperator
from theory.horizon import DEFAULT_FLOOR, DEFAULT_SPACING

__all__ = ["grid", "evaluate", "sigma_family_cell", "sigma_family_grid", "plot_frontier",
           "plot_sigma_frontier", "NOTIONS", "SIGMA_CELL", "EscapeSpec", "sigma_family_axis_laws",
           "sigma_family_escape_grid", "sigma_family_escape_problem"]

#: Notions a frontier cell can observe.
NOTIONS = {
    "ms": "mean-square (rho of T)",
    "as": "almost-sure (Lyapunov exponent)",
    "trajectory": "finite-horizon trajectory rule",
}


def grid(base: dict[str, Any], **axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Cartesian product of ``axes`` over the ``base`` configuration (row-major, in order)."""
    names = list(axes)
    return [dict(base, **dict(zip(names, vals, strict=True)))
            for vals in itertools.product(*(axes[k] for k in names))]


def evaluate(cells: Iterable[dict[str, Any]], cell: str | Callable[[dict[str, Any]], dict[str, Any]],
             progress: bool = False, desc: str = "cells", **sweep: Any) -> list[dict[str, Any]]:
    """Records of ``cell`` on every configuration, through the sweep engine.

    By default in process with an in-memory store; ``sweep`` passes ``store``, ``executor``,
    ``workers``... to :func:`numerics.sweep.run_sweep`.  Records are JSON data (a ``seed`` is
    added when missing, duplicate configurations are evaluated once).

    Raises
    ------
    numerics.sweep.CellFailed
        After the sweep, when a cell raised (every other cell is still evaluated and stored).
    """
    from numerics.sweep import CellFailed, run_sweep

    result = run_sweep(cell, cells, progress=progress, desc=desc, **sweep)
    if result.failed:
        raise CellFailed(result.failures)
    return result.records


#: Dotted path of the σ-family cell (what the sweep engine ships to workers).
SIGMA_CELL = "numerics.apps.frontier:sigma_family_cell"


def sigma_family_grid(n: int, sigmas: Sequence[int], batches: Sequence[int], eta: float,
                      alpha: float = 0.0, notion: str = "ms", sampling: str = "wor",
                      seed: int = 0, **extra: Any) -> list[dict[str, Any]]:
    """Validated configurations of the σ-family map over ``sigmas`` × ``batches`` (row-major).

    ``extra`` adds keys to every cell (``c``, ``horizon``, ``repetitions``).
    """
    from numerics.core.inputs import (
        check_alpha,
        check_count,
        check_eta,
        check_positive,
        check_sampling,
        check_seed,
    )

    n = int(n)
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    for name, values in (("sigma", sigmas), ("batch", batches)):
        bad = [v for v in values if not 1 <= int(v) <= n]
        if bad:
            raise InputError(f"{name} values must lie in 1..n={n}, got {bad[0]}")
    if notion not in NOTIONS:
        raise InputError(f"unknown notion {notion!r}; expected one of {', '.join(NOTIONS)}")
    extra = dict(extra)
    if "c" in extra:
        extra["c"] = check_positive(extra["c"], "c (curvature scale)")
    for key in ("horizon", "repetitions"):
        if key in extra:
            extra[key] = check_count(extra[key], key)
    base = dict(n=n, eta=check_eta(eta), alpha=check_alpha(alpha),
                sampling=check_sampling(sampling), notion=notion, seed=check_seed(seed), **extra)
    return grid(base, sigma=[int(v) for v in sigmas], batch=[int(v) for v in batches])


def sigma_family_operator(config: dict[str, Any]) -> SecondMomentOperator:
    r"""Operator of the σ-family cell: plain SGD (:math:`\alpha=0`) or identical lists (§4.3)."""
    from numerics.core.families import sigma_family

    n, sigma, batch = int(config["n"]), int(config["sigma"]), int(config["batch"])
    if not 1 <= sigma <= n:
        raise InputError(f"sigma must lie in 1..n={n}, got {sigma}")
    # factors=True: at sigma = n the (n, 1, 1) factor array would otherwise read as dense
    pool = as_pool(sigma_family(n, sigma, c=float(config.get("c", 2.0))), "sigma-family",
                   factors=True)
    alpha = float(config.get("alpha", 0.0))
    sampling = config.get("sampling", "wor")
    if alpha == 0.0:
        return SecondMomentOperator(pool, None, UnlearningConfig(0.0, batch, 1, sampling))
    return SecondMomentOperator(pool, pool, UnlearningConfig(alpha, batch, batch, sampling))


@dataclass(frozen=True)
class EscapeSpec:
    r"""The rule's escape question of a σ-family map: growth :math:`G`, horizon :math:`T`, starts.

    Attributes
    ----------
    growth, horizon:
        :math:`G>1` and :math:`T\ge1` of :math:`\|w_t\|^2\ge G\|w_0\|^2` within :math:`T` steps.
    samples:
        Sampled starts per cell (the seed is each cell's ``seed``).
    grid:
        ``(spacing, floor)`` of the first-passage programme.
    accuracy:
        Bound on each cell's error against the full programme from the programme's shortcuts
        (``accuracy`` of :func:`numerics.core.horizon.escape_probabilities`); ``None``: the
        default tolerance per axis (:data:`theory.horizon.DEFAULT_TOL`).
    """

    growth: float = 1000.0
    horizon: int = 1000
    samples: int = 2000
    grid: tuple[float, float] = (DEFAULT_SPACING, DEFAULT_FLOOR)
    accuracy: float | None = None


def sigma_family_axis_laws(config: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""Multiplier laws of the σ-family cell in closed form: ``[shared, private]`` (SPEC §4.2–4.3).

    The shared axis :math:`e_0` carries the first σ samples, each private axis one sample, all of
    curvature :math:`\lambda=cn/\sigma`; with :math:`\alpha>0` the forget list is the retain list
    (drawn independently).  Laws from :func:`theory.lyapunov.axis_multiplier_law`, without
    building the operator; the private law is omitted when :math:`\sigma=n`.
    """
    from theory.families import AxisLaw
    from theory.lyapunov import axis_multiplier_law

    n, sigma, batch = int(config["n"]), int(config["sigma"]), int(config["batch"])
    alpha, sampling = float(config.get("alpha", 0.0)), config.get("sampling", "wor")
    lam = float(config.get("c", 2.0)) * n / sigma
    marked = [sigma] + ([1] if sigma < n else [])
    if alpha == 0.0:
        return [axis_multiplier_law(AxisLaw(sampling, 0.0, lam, m, n, batch)) for m in marked]
    return [axis_multiplier_law(AxisLaw(sampling, alpha, lam, m, n, batch, lam, m, n, batch))
            for m in marked]


def sigma_family_escape_problem(config: dict[str, Any], spec: EscapeSpec):
    r"""The rule's escape question of one σ-family cell, ready for the first-passage programme.

    Parameters
    ----------
    config:
        Cell configuration (as in :func:`sigma_family_escape_grid`).
    spec:
        Growth, horizon, sampled starts.

    Returns
    -------
    numerics.core.horizon.EscapeProblem
        Closed-form laws (shared axis, private axes) and the seeded draw of the starts.
    """
    from numerics.core.horizon import EscapeProblem, StartSample
    from theory.horizon import log_increment_law

    eta = float(config["eta"])
    n, sigma, seed = int(config["n"]), int(config["sigma"]), int(config.get("seed", 0))
    d = n - sigma + 1

    def draw() -> StartSample:
        # the rule's start w0 ~ U(0,1)^d in the family's coordinates: e_0 shared, e_1.. private
        w0 = np.random.default_rng(seed).random((spec.samples, d))
        return StartSample(w0, np.einsum("ij,ij->i", w0, w0))

    laws = tuple(log_increment_law(x, p, eta) for x, p in sigma_family_axis_laws(config))
    return EscapeProblem(laws, np.minimum(np.arange(d), 1), spec.growth, spec.samples, draw)


def sigma_family_escape_grid(configs: Sequence[dict[str, Any]], spec: EscapeSpec = EscapeSpec(),
                             *, chunk: int = 1024):
    r"""Predicted escape probability of one run of the rule on every σ-family cell, batched.

    Notion: in probability at horizon :math:`T` (first passage), the quantity of
    :func:`numerics.core.horizon.escape_probability` (exact multiplier law), with the same sampled
    starts (``rng(seed).random((samples, d))``) and the same answer to round-off: the laws come in
    closed form (:func:`sigma_family_axis_laws`, no operator is built) and the laws of ``chunk``
    cells at a time share one first-passage programme
    (:func:`numerics.core.horizon.escape_probabilities`).

    Parameters
    ----------
    configs:
        Cell configurations (``n, sigma, batch, eta`` and optionally ``alpha, sampling, c,
        seed``), e.g. from :func:`sigma_family_grid`.
    spec:
        Growth, horizon, sampled starts and grid.
    chunk:
        Cells per programme (bounds the memory of its survival table, about 32 kB a cell; the
        sampled starts are bounded by :data:`numerics.core.horizon.KEEP_STARTS`).

    Returns
    -------
    list[numerics.core.horizon.HorizonEstimate]
        One estimate per configuration, in order.
    """
    from numerics.core.horizon import check_growth, check_horizon, escape_probabilities

    check_growth(spec.growth)
    check_horizon(spec.horizon)
    check_horizon(spec.samples, "samples")
    check_horizon(chunk, "chunk")
    out = []
    for lo in range(0, len(configs), chunk):
        problems = [sigma_family_escape_problem(c, spec) for c in configs[lo:lo + chunk]]
        out += escape_probabilities(problems, spec.horizon, grid=spec.grid,
                                    accuracy=spec.accuracy)
    return out


def sigma_family_cell(config: dict[str, Any]) -> dict[str, Any]:
    r"""One (σ, B) cell of the σ-family at step size ``eta``.

    Predictions come from the closed forms of :mod:`theory.families` (mean-square) and
    :mod:`theory.lyapunov` (almost-sure, exact for this commuting family); with
    ``exact_operator=True`` the cell also evaluates :math:`\rho(\mathcal T(\eta))` of the operator.
    Record keys: the configuration, ``eta_star_ms``, ``ms_stable``, ``eta_star_as``, ``as_stable``,
    optionally ``rho``, and for ``notion='trajectory'`` the observed ``traj_escape_fraction`` (the
    fraction of runs that escaped, finite-horizon trajectory notion) and ``traj_escapes`` (their
    majority) of the companion rule, beside the predicted ``predicted_escape_probability`` (one
    run escapes, in probability at horizon T, the exact multiplier law of
    :func:`numerics.core.horizon.escape_probability` by :func:`sigma_family_escape_grid`),
    ``predicted_majority_escape_probability`` (the majority escapes) and
    ``predicted_escape_notion``.
    """
    from numerics.core.simulate import trajectory_rule
    from theory import families as fam
    from theory import lyapunov as lya

    eta = float(config["eta"])
    n, sigma, batch = int(config["n"]), int(config["sigma"]), int(config["batch"])
    alpha, sampling = float(config.get("alpha", 0.0)), config.get("sampling", "wor")
    c = float(config.get("c", 2.0))
    if alpha == 0.0:
        eta_ms = fam.sigma_family_eta_star(sampling, sigma, n, batch, c)
        eta_as = lya.sigma_family_eta_star_as(sampling, sigma, n, batch, c)
    else:
        eta_ms = fam.identical_lists_eta_star(sampling, sigma, n, batch, alpha, c)
        eta_as = lya.identical_lists_eta_star_as(sampling, sigma, n, batch, alpha, c)
    rec = dict(config)
    rec.update(eta_star_ms=eta_ms, ms_stable=bool(eta < eta_ms), eta_star_as=eta_as,
               as_stable=bool(eta < eta_as))
    notion = config.get("notion", "ms")
    if config.get("exact_operator", False) or notion == "trajectory":
        op = sigma_family_operator(config)
    if config.get("exact_operator", False):
        rec["rho"] = op.rho(eta)
    if notion == "trajectory":
        from numerics.core.horizon import majority_probability

        horizon, reps = int(config.get("horizon", 1000)), int(config.get("repetitions", 10))
        out = trajectory_rule(op, eta, horizon=horizon, repetitions=reps,
                              seed=int(config.get("seed", 0)))
        pred = sigma_family_escape_grid([config], EscapeSpec(out.growth, horizon))[0]
        rec.update(traj_escape_fraction=out.fraction, traj_escapes=out.escapes,
                   predicted_escape_probability=pred.value,
                   predicted_majority_escape_probability=float(
                       majority_probability(pred.value, reps)),
                   predicted_escape_notion=f"{pred.notion}, one run ({pred.method})")
    return rec


def to_matrix(records: Sequence[dict[str, Any]], x: str, y: str, value: str
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pivot tidy records to ``(xs, ys, Z)`` with ``Z[j, i]`` the value at ``(xs[i], ys[j])``."""
    xs = np.array(sorted({r[x] for r in records}))
    ys = np.array(sorted({r[y] for r in records}))
    Z = np.full((ys.size, xs.size), np.nan)
    ix = {v: i for i, v in enumerate(xs)}
    iy = {v: j for j, v in enumerate(ys)}
    for r in records:
        v = r[value]
        Z[iy[r[y]], ix[r[x]]] = np.nan if v is None else float(v)
    return xs, ys, Z


def plot_frontier(records: Sequence[dict[str, Any]], x: str, y: str, observed: str,
                  predicted: Sequence[tuple[str, str]] = (), title: str = "",
                  observed_label: str = "", path: str | None = None):
    """Heatmap of ``observed`` (1 = escapes / unstable) with predicted boundaries overlaid.

    ``predicted`` lists ``(key, label)`` pairs of boolean *stable* columns; each is drawn as the
    contour between its stable and unstable cells, labelled with its notion.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys, Z = to_matrix(records, x, y, observed)
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    mesh = ax.pcolormesh(np.arange(xs.size + 1) - 0.5, np.arange(ys.size + 1) - 0.5, Z,
                         cmap="RdBu_r", vmin=0, vmax=1, shading="flat")
    fig.colorbar(mesh, ax=ax, label=observed_label or observed)
    styles = ["-", "--", ":"]
    for (key, label), style in zip(predicted, itertools.cycle(styles)):
        _, _, S = to_matrix(records, x, y, key)
        ax.contour(np.arange(xs.size), np.arange(ys.size), S, levels=[0.5], colors="k",
                   linestyles=style, linewidths=1.6)
        ax.plot([], [], "k" + style, label=f"predicted boundary: {label}")
    ax.set_xticks(np.arange(xs.size), [f"{v:g}" for v in xs], rotation=45)
    ax.set_yticks(np.arange(ys.size), [f"{v:g}" for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if predicted:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8, frameon=False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


#: Observed column of a σ-family map for each notion (1 = escapes / unstable).
_OBSERVED = {"ms": ("ms_stable", True), "as": ("as_stable", True),
             "trajectory": ("traj_escapes", False)}


def plot_sigma_frontier(records: Sequence[dict[str, Any]], notion: str, path: str | None = None,
                        title: str = ""):
    """Heatmap of a σ-family map: the observed notion per (σ, B), both predicted boundaries."""
    key, negate = _OBSERVED[notion]
    rows = []
    for r in records:
        v = r.get(key)
        obs = None if v is None else float((not v) if negate else v)
        rows.append(dict(r, observed_escape=obs))
    predicted = [(k, label) for k, label in (("ms_stable", "mean-square"),
                                             ("as_stable", "almost-sure"))
                 if any(r.get(k) is not None for r in records)]
    return plot_frontier(rows, "sigma", "batch", "observed_escape", predicted, title=title,
                         observed_label=f"escapes ({NOTIONS[notion]})", path=path)

