"""Sphinx extension: generate the claims, theory, table, expression and API pages at build time.

Runs :func:`docsite.generate` into ``docs/generated`` when the builder starts, at the
scale given by the ``unlearnstab_scale`` configuration value (``quick`` by default; pass
``-D unlearnstab_scale=default`` for the larger configurations).  The scale is also exported as
``UNLEARNSTAB_DOCS_SCALE`` so that the gallery scripts use it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _export_scale(app: Sphinx, config: Config) -> None:
    if config.unlearnstab_scale not in ("quick", "default", "large"):
        raise ValueError(f"unlearnstab_scale must be quick, default or large, "
                         f"got {config.unlearnstab_scale!r}")
    os.environ["UNLEARNSTAB_DOCS_SCALE"] = config.unlearnstab_scale
    # sphinx-gallery re-runs a script only when its checksum changes: forget the checksums when
    # the scale differs from the previous build's, so that the figures follow the scale.
    out = Path(app.confdir) / "gallery_auto"
    stamp = out / ".unlearnstab_scale"
    if stamp.is_file() and stamp.read_text().strip() != config.unlearnstab_scale:
        for md5 in out.glob("*.md5"):
            md5.unlink()
    out.mkdir(exist_ok=True)
    stamp.write_text(config.unlearnstab_scale + "\n")


def _generate(app: Sphinx) -> None:
    from docsite import generate

    src = Path(app.srcdir)
    start = time.perf_counter()
    site = generate(src / "generated", app.config.unlearnstab_scale,
                    run_claims=app.config.unlearnstab_run_claims, gallery=src / "gallery",
                    gallery_out="gallery_auto", source_relative="generated")
    for tid, reason in site.unavailable.items():
        logger.info("unlearnstab: %s (%s)", reason, tid)
    logger.info("unlearnstab: generated %d pages, %d tables at scale %s in %.1f s",
                len(site.pages), len(site.tables), app.config.unlearnstab_scale,
                time.perf_counter() - start)


def _record_figures(app: Sphinx, exception: Exception | None) -> None:
    """Write a manifest next to the gallery's figures (script, scale, versions, checksums)."""
    if exception is not None:
        return
    from numerics.core.manifest import record_outputs

    images = Path(app.srcdir) / "gallery_auto" / "images"
    for png in sorted(images.glob("sphx_glr_plot_*.png")):
        script = png.name.removeprefix("sphx_glr_").rsplit("_", 1)[0] + ".py"
        record_outputs(images, [png], command=["sphinx-build", "gallery/" + script],
                       configuration={"script": f"docs/gallery/{script}",
                                      "scale": app.config.unlearnstab_scale},
                       seeds=[0])


#: Matplotlib sizes for the gallery: its figures are about 11 inches wide and shown at the
#: column's width (about two thirds), so text is drawn larger to be read at the size shown.
READABLE_RC: dict[str, float] = {
    "font.size": 14.0, "axes.titlesize": 14.0, "axes.labelsize": 14.0,
    "xtick.labelsize": 12.5, "ytick.labelsize": 12.5, "legend.fontsize": 12.0,
    "figure.titlesize": 15.0, "lines.linewidth": 2.0,
}


def readable_figures(_gallery_conf: dict, _fname: str) -> None:
    """sphinx-gallery ``reset_modules`` hook: matplotlib defaults, then :data:`READABLE_RC`."""
    import matplotlib

    matplotlib.rcdefaults()
    matplotlib.rcParams.update(READABLE_RC)


#: Pages an earlier build may have left in the output that this configuration no longer writes
#: (sphinx-gallery's timing pages load scripts from CDNs; see ``conf.py``).
STALE_PAGES: tuple[str, ...] = ("sg_execution_times.html", "gallery_auto/sg_execution_times.html")


def _remove_stale_pages(app: Sphinx, exception: Exception | None) -> None:
    """Delete outputs of pages this build no longer writes, so the site is what it says."""
    if exception is None and app.builder.format == "html":
        for rel in STALE_PAGES:
            (Path(app.outdir) / rel).unlink(missing_ok=True)


def setup(app: Sphinx) -> dict[str, object]:
    """Register the configuration values and the generation hook."""
    app.add_config_value("unlearnstab_scale", "quick", "env", [str])
    app.add_config_value("unlearnstab_run_claims", True, "env", [bool])
    app.connect("config-inited", _export_scale)
    app.connect("builder-inited", _generate, priority=400)
    app.connect("build-finished", _record_figures)
    app.connect("build-finished", _remove_stale_pages)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
