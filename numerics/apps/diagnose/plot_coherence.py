r"""The coherence panel of the ``diagnose`` figure: the matrix when small, group means when large.

The joint coherence matrix :math:`S_{ij}=\sqrt{\operatorname{tr}(H_iH_j)}` (retain block first)
has one row per sample; drawn pixel by pixel at n in the hundreds it is an unreadable moiré.
Up to :data:`FULL_MATRIX_MAX` samples the panel shows it as it is; above, each set's samples are
sorted by their mean coherence with all samples and cut into at most :data:`MAX_GROUPS` groups
of consecutive ranks (the split between retain and forget groups follows the set sizes), and the
panel shows the mean of :math:`S_{ij}` over each pair of groups (:func:`group_means`, pairs
:math:`i\ne j`), annotated with its value.  Both use a log colour scale (viridis, readable in
grey and by colour-blind readers) with the retain | forget boundary drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numerics.apps.diagnose import api

__all__ = ["FULL_MATRIX_MAX", "MAX_GROUPS", "GroupMeans", "group_means", "coherence_panel"]

#: Largest number of samples drawn as the full matrix.
FULL_MATRIX_MAX = 60
#: Most groups (retain and forget together) of the summary.
MAX_GROUPS = 12


@dataclass(frozen=True)
class GroupMeans:
    r"""Mean coherence over pairs of sample groups.

    Attributes
    ----------
    means:
        ``(k, k)`` mean of :math:`S_{ij}` over :math:`i` in group ``a``, :math:`j` in group ``b``,
        :math:`i\ne j` (NaN for a one-sample group with itself).
    sizes:
        Samples per group.
    n_retain_groups:
        The first ``n_retain_groups`` groups are retain samples, the rest forget samples.
    order:
        The sample order (indices into ``S``) the groups cut into consecutive pieces.
    """

    means: np.ndarray
    sizes: np.ndarray
    n_retain_groups: int
    order: np.ndarray


def _split(n_r: int, n_f: int, k: int) -> tuple[int, int]:
    """Groups for the retain and the forget set: proportional to the sizes, at least one each."""
    if n_f == 0:
        return min(k, n_r), 0
    g_f = int(np.clip(round(k * n_f / (n_r + n_f)), 1, min(n_f, k - 1)))
    return min(k - g_f, n_r), g_f


def group_means(S: np.ndarray, n_retain: int, max_groups: int = MAX_GROUPS) -> GroupMeans:
    r"""Sort each set by mean coherence, cut into groups, average :math:`S` over group pairs.

    .. math:: \bar S_{ab}=\frac{\sum_{i\in a,\,j\in b,\,i\ne j}S_{ij}}{|a|\,|b|-[a=b]\,|a|}

    Parameters
    ----------
    S:
        The joint coherence matrix, ``(n, n)``, retain samples first.
    n_retain:
        Number of retain samples (rows ``0 .. n_retain - 1``).
    max_groups:
        Most groups in all (at least 2 when there are forget samples).

    Returns
    -------
    GroupMeans
        The group means, sizes, how many groups are retain groups and the sample order.
    """
    S = np.asarray(S, dtype=np.float64)
    n = S.shape[0]
    n_f = n - n_retain
    g_r, g_f = _split(n_retain, n_f, max_groups)
    row_mean = S.mean(axis=1)
    blocks = [np.arange(n_retain), np.arange(n_retain, n)]
    order_parts, labels, start = [], [], 0
    for idx, g in zip(blocks, (g_r, g_f), strict=True):
        if g == 0:
            continue
        idx = idx[np.argsort(-row_mean[idx], kind="stable")]
        for piece in np.array_split(idx, g):
            order_parts.append(piece)
            labels.append(np.full(piece.size, start))
            start += 1
    order = np.concatenate(order_parts)
    group = np.empty(n, dtype=np.intp)
    group[order] = np.concatenate(labels)
    one_hot = np.zeros((n, start))
    one_hot[np.arange(n), group] = 1.0
    sizes = one_hot.sum(axis=0)
    total = one_hot.T @ S @ one_hot - np.diag(one_hot.T @ np.diag(S))
    pairs = np.outer(sizes, sizes) - np.diag(sizes)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(pairs > 0, total / np.where(pairs > 0, pairs, 1.0), np.nan)
    return GroupMeans(means, sizes.astype(int), g_r, order)


def _log_norm(values: np.ndarray) -> Any:
    from matplotlib.colors import LogNorm

    pos = values[np.isfinite(values) & (values > 0)]
    if not pos.size:
        return LogNorm(vmin=1e-12, vmax=1.0)
    return LogNorm(vmin=float(max(pos.min(), pos.max() * 1e-8)), vmax=float(pos.max()))


def _colorbar(fig: Any, image: Any, ax: Any, label: str) -> None:
    """A colour bar with plain, readable tick labels.

    1, 2 and 5 times powers of ten over at most two decades, otherwise powers of ten alone
    (at most eight labels).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    bar = fig.colorbar(image, ax=ax, shrink=0.85, label=label)
    decades = np.log10(image.norm.vmax / image.norm.vmin)
    subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
    bar.ax.yaxis.set_major_locator(LogLocator(subs=subs, numticks=8))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    bar.ax.yaxis.set_minor_formatter(NullFormatter())


def _boundary(ax: Any, at: float) -> None:
    for line in (ax.axhline, ax.axvline):
        line(at, color="white", lw=2)
        line(at, color="black", lw=0.8, ls="--")


def _full(fig: Any, ax: Any, S: np.ndarray, n_retain: int) -> None:
    norm = _log_norm(S)
    shown = np.where(S > 0, S, norm.vmin)
    im = ax.imshow(shown, norm=norm, cmap="viridis", interpolation="nearest")
    _boundary(ax, n_retain - 0.5)
    _colorbar(fig, im, ax, r"$S_{ij}=\sqrt{\mathrm{tr}(H_iH_j)}$ (Hessian units)")
    ax.set_xlabel(f"sample j (retain 0–{n_retain - 1} | forget {n_retain}–{S.shape[0] - 1})")
    ax.set_ylabel("sample i")


def _grouped(fig: Any, ax: Any, S: np.ndarray, n_retain: int) -> None:
    gm = group_means(S, n_retain)
    norm = _log_norm(gm.means)
    im = ax.imshow(np.ma.masked_invalid(gm.means), norm=norm, cmap="viridis",
                   interpolation="nearest")
    k = gm.means.shape[0]
    if gm.n_retain_groups < k:
        _boundary(ax, gm.n_retain_groups - 0.5)
    names = [f"r{a + 1}" if a < gm.n_retain_groups else f"f{a - gm.n_retain_groups + 1}"
             for a in range(k)]
    ax.set_xticks(range(k), names, fontsize=9)
    ax.set_yticks(range(k), [f"{nm} ({s})" for nm, s in zip(names, gm.sizes, strict=True)],
                  fontsize=9)
    if k <= MAX_GROUPS:
        mid = np.sqrt(norm.vmin * norm.vmax)
        for a in range(k):
            for b in range(k):
                v = gm.means[a, b]
                if np.isfinite(v):
                    ax.text(b, a, f"{v:.2g}", ha="center", va="center", fontsize=7,
                            color="white" if v < mid else "black")
    _colorbar(fig, im, ax, r"mean $S_{ij}$ per group pair (Hessian units)")
    ax.set_xlabel("sample group (r: retain, f: forget; by mean coherence)")
    ax.set_ylabel("group (samples)")


def coherence_panel(fig: Any, ax: Any, report: api.DiagnoseReport) -> None:
    """Draw the coherence panel of ``report`` into ``ax`` (full matrix or group means)."""
    S = report.coherence_matrix
    if S is None or not np.size(S):
        ax.text(0.5, 0.5, "no coherence matrix", ha="center", va="center")
        ax.set_axis_off()
        return
    S = np.asarray(S, dtype=np.float64)
    n_retain = int(report.n_retain_block)
    if S.shape[0] <= FULL_MATRIX_MAX:
        _full(fig, ax, S, n_retain)
        what = f"coherence matrix, n = {S.shape[0]}"
    else:
        _grouped(fig, ax, S, n_retain)
        what = f"mean coherence of sample groups, n = {S.shape[0]}"
    sig = (f"σ_r = {report.sigma_r:.3g}, σ_f = {_g(report.sigma_f)}, "
           f"σ_rf = {_g(report.sigma_rf)}, σ_joint = {report.sigma_joint:.3g}")
    ax.set_title(f"{what}\n{sig}", fontsize=10)


def _g(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"
