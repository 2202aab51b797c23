r"""Golden values of the thresholds that have no closed form: the numeric half of theory regression.

The derived expressions (:mod:`numerics.verify.golden`) cover every closed form.  Some thresholds are
only defined as roots: the almost-sure threshold :math:`\eta^\star_{as}`, the zero of the top
Lyapunov exponent :math:`\gamma(\eta)=\sum_j p_j\log|1+\eta x_j|` of a diagonal family
(:mod:`theory.lyapunov`), and the mean-square threshold of a non-commuting instance,
:math:`\eta^\star_{ms}=1/\mu_{\max}(\mathcal Q,\mathcal L)` (:mod:`numerics.core.operator`).  A change
to either computation could move them silently, so each registered threshold is evaluated at a
few fixed points and the values are kept in ``tests/golden/thresholds/<name>.json``.

:func:`check` recomputes them and compares with relative tolerance
``tolerance(Kind.TIGHT_THRESHOLD)`` (:mod:`numerics.verify.claims.policy`): a threshold is a root found
to float resolution, so anything beyond that tolerance is a change that needs review.
:func:`update` re-blesses after review (``unlearnstab golden --update``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from numerics.verify.claims.policy import Kind, tolerance
from numerics.verify.golden import GoldenEntry, GoldenReport, rebless, selected
from theory.sampling import exchangeable_names, skipped_schemes

__all__ = ["DEFAULT_DIR", "Threshold", "THRESHOLDS", "threshold_rtol", "check", "update",
           "format_threshold"]

#: Where the golden values live.
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "tests" / "golden" / "thresholds"


def threshold_rtol() -> float:
    """Relative tolerance of a golden threshold (the policy's tight-threshold tolerance)."""
    return tolerance(Kind.TIGHT_THRESHOLD).value


@dataclass(frozen=True)
class Threshold:
    """A threshold computed numerically at fixed points.

    Attributes
    ----------
    name:
        Dotted name; also the golden file's name.
    compute:
        ``compute(**point) -> float``.
    points:
        The parameter points (JSON-serialisable values).
    notion:
        The notion of stability of the threshold (``mean-square`` or ``almost-sure``).
    description:
        One line saying what the threshold is.
    """

    name: str
    compute: Callable[..., float]
    points: tuple[Mapping[str, Any], ...]
    notion: str
    description: str

    def values(self) -> list[dict[str, Any]]:
        """``[{"point": ..., "value": ...}]`` at every point (values as floats)."""
        return [{"point": dict(p), "value": float(self.compute(**p))} for p in self.points]


def _sigma_eta_as(sampling: str) -> Callable[..., float]:
    def compute(sigma: int, n: int, B: int, c: float) -> float:
        from theory.lyapunov import sigma_family_eta_star_as

        return sigma_family_eta_star_as(sampling, sigma, n, B, c)

    return compute


def _identical_eta_as(sampling: str) -> Callable[..., float]:
    def compute(sigma: int, n: int, B: int, alpha: float, c: float) -> float:
        from theory.lyapunov import identical_lists_eta_star_as

        return identical_lists_eta_star_as(sampling, sigma, n, B, alpha, c)

    return compute


def _random_instance_eta_ms(seed: int, d: int, alpha_max: float) -> float:
    from numerics.core.instances import random_instance

    inst = random_instance(np.random.default_rng(seed), d=d, alpha_max=alpha_max)
    return inst.operator().eta_star_ms()


_SIGMA_POINTS = tuple({"sigma": s, "n": n, "B": b, "c": 2.0}
                      for s, n, b in ((1, 8, 2), (2, 8, 2), (4, 8, 4), (8, 8, 4), (3, 12, 3)))
_IDENTICAL_POINTS = tuple({"sigma": s, "n": n, "B": b, "alpha": a, "c": 2.0}
                          for s, n, b, a in ((2, 8, 2, 0.1), (4, 8, 4, 0.3), (3, 12, 3, 0.2)))


def _registry() -> dict[str, Threshold]:
    out: list[Threshold] = []
    for s in exchangeable_names():  # the count laws of theory.lyapunov need exchangeable schemes
        out.append(Threshold(
            f"lyapunov.sigma_family.eta_star_as.{s}", _sigma_eta_as(s), _SIGMA_POINTS,
            "almost-sure", f"eta*_as of plain SGD on the sigma-family (SPEC §4.2), {s} batches"))
        out.append(Threshold(
            f"lyapunov.identical_lists.eta_star_as.{s}", _identical_eta_as(s), _IDENTICAL_POINTS,
            "almost-sure", f"eta*_as of unlearning with identical lists (SPEC §4.3), {s} batches"))
    out.append(Threshold(
        "operator.eta_star_ms.random_instance", _random_instance_eta_ms,
        tuple({"seed": k, "d": 4, "alpha_max": 0.2} for k in range(4)),
        "mean-square", "eta*_ms of seeded random non-commuting instances (numerics.core.instances)"))
    return {t.name: t for t in out}


#: The registered thresholds, by name.
THRESHOLDS: dict[str, Threshold] = _registry()

#: Thresholds a sampling scheme cannot have, with the reason (reported as ``skipped``).
SKIPPED: dict[str, str] = {
    f"lyapunov.{family}.eta_star_as.{s}": reason
    for s, reason in skipped_schemes().items() for family in ("identical_lists", "sigma_family")
}


@dataclass
class ThresholdEntry(GoldenEntry):
    """The comparison of one threshold with its golden values (``old``/``new``: the records)."""

    worst: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary (for ``--json``)."""
        out: dict[str, Any] = {"name": self.name, "status": self.status, "detail": self.detail,
                               "max_relative_error": self.worst}
        for side in ("old", "new"):
            rec = getattr(self, side)
            if rec is not None:
                out[side] = rec["values"]
        return out


def _record(t: Threshold) -> dict[str, Any]:
    return {"name": t.name, "notion": t.notion, "description": t.description,
            "values": t.values()}


def _rel(old: float, new: float) -> float:
    if old == new:
        return 0.0
    if not (math.isfinite(old) and math.isfinite(new)):
        return math.inf
    return abs(new - old) / max(abs(old), abs(new), 1e-300)


def _compare(t: Threshold, directory: Path) -> ThresholdEntry:
    path = directory / f"{t.name}.json"
    try:
        new = _record(t)
    except Exception as exc:  # noqa: BLE001 -- a computation that raises is reported
        return ThresholdEntry(t.name, "error", f"computation raised {exc!r}")
    if not path.is_file():
        return ThresholdEntry(t.name, "new", "no golden file yet", None, new)
    old = json.loads(path.read_text(encoding="utf-8"))
    old_vals = {json.dumps(v["point"], sort_keys=True): v["value"] for v in old["values"]}
    new_vals = {json.dumps(v["point"], sort_keys=True): v["value"] for v in new["values"]}
    if old_vals.keys() != new_vals.keys():
        return ThresholdEntry(t.name, "changed", "the points differ", old, new, math.inf)
    worst = max(_rel(old_vals[k], new_vals[k]) for k in old_vals)
    rtol = threshold_rtol()
    if worst <= rtol:
        return ThresholdEntry(t.name, "same", f"max relative change {worst:.2g} <= {rtol:g}",
                              old, new, worst)
    return ThresholdEntry(t.name, "changed", f"max relative change {worst:.3g} > {rtol:g}",
                          old, new, worst)


def check(directory: Path | str | None = None, names: Iterable[str] | None = None,
          progress: bool = False) -> GoldenReport:
    """Recompute every registered threshold (or those under ``names``) and compare."""
    directory = Path(directory) if directory is not None else DEFAULT_DIR
    wanted = list(names) if names else None
    chosen = [t for k, t in THRESHOLDS.items() if selected(k, wanted)]
    report = GoldenReport(directory)
    items: Iterable[Threshold] = chosen
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(chosen, desc="golden thresholds", unit="threshold", disable=None,
                     leave=False)
    for t in items:
        report.entries.append(_compare(t, directory))
    for name, reason in SKIPPED.items():
        if selected(name, wanted):
            report.entries.append(ThresholdEntry(name, "skipped", reason))
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        if path.stem not in THRESHOLDS and path.stem not in SKIPPED and selected(path.stem, wanted):
            old = json.loads(path.read_text(encoding="utf-8"))
            report.entries.append(ThresholdEntry(path.stem, "removed",
                                                 "no such threshold any more", old))
    report.entries.sort(key=lambda e: e.name)
    return report


def update(directory: Path | str | None = None, names: Iterable[str] | None = None,
           progress: bool = False) -> GoldenReport:
    """Re-bless: write changed and new thresholds, delete removed ones."""
    return rebless(check(directory, names, progress))

def format_threshold(entry: GoldenEntry) -> str:
    """A readable diff: the old and new value at every point, with the relative change."""
    rec = entry.new or entry.old or {}
    lines = [f"{entry.status.upper():<11} {entry.name}  ({rec.get('notion', '?')})"]
    if entry.detail:
        lines.append(f"    {entry.detail}")
    old = {json.dumps(v["point"], sort_keys=True): v["value"]
           for v in (entry.old or {}).get("values", [])}
    new = {json.dumps(v["point"], sort_keys=True): v["value"]
           for v in (entry.new or {}).get("values", [])}
    for key in dict.fromkeys([*old, *new]):
        at = ", ".join(f"{k}={v}" for k, v in json.loads(key).items())
        o, n = old.get(key), new.get(key)
        change = f"   (relative change {_rel(o, n):.3g})" if o is not None and n is not None else ""
        lines.append(f"    at {at}: old = {o if o is not None else '-'}   "
                     f"new = {n if n is not None else '-'}{change}")
    return "\n".join(lines)

