"""Sphinx configuration of the unlearnstab documentation.

Tables, the claims page, the theory pages and the API pages are generated from the registries at
build time (``docs/_ext/unlearnstab_docs.py``); the gallery scripts run and assert what their
figures show.  The configuration scale is ``quick`` unless ``-D unlearnstab_scale=default`` (or
the environment variable ``UNLEARNSTAB_DOCS_SCALE``) asks for more.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # this source tree wins over any installed copy
sys.path.insert(0, str(DOCS / "_ext"))

from numerics import __version__  # noqa: E402

project = "unlearnstab"
author = "the unlearnstab developers"
copyright = "the unlearnstab developers"  # noqa: A001
release = version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static: formulas render offline
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "unlearnstab_docs",
    "myst_parser",
]
myst_enable_extensions = ["dollarmath"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

root_doc = "index"
# generated/*.rst, generated/tables/*, generated/diagnose/* and results/* are only ever
# included into hand-written pages
exclude_patterns = ["_build", "generated/*.rst", "generated/tables/*", "generated/diagnose/*",
                    "results/*", "gallery/*",
                    "gallery_auto/*.py", "gallery_auto/*.ipynb", "gallery_auto/*.zip",
                    "gallery_auto/*.json", "gallery_auto/*.md5",
                    # timing pages (not written: they load scripts from CDNs); a copy left by
                    # an earlier build is not a page
                    "sg_execution_times.rst", "gallery_auto/sg_execution_times.rst"]
templates_path: list[str] = []
html_theme = "furo"  # wide content: tables and code blocks scroll inside their column
html_static_path = ["_static"]
html_css_files = ["unlearnstab.css"]
html_title = f"unlearnstab {release}"
html_theme_options = {"navigation_with_keys": True, "top_of_page_buttons": []}
numfig = True
# ``--claim`` must stay two hyphens (smart quotes turn ``--`` into an en dash in prose and in
# option lists, and a pasted command then fails)
smartquotes = False

# -------------------------------------------------------------------------------- copy button
# copy the command, not the ``$ `` prompt nor the output lines
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True

# ---------------------------------------------------------------------------- autodoc, napoleon
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_mock_imports: list[str] = []
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True
napoleon_use_rtype = False
nitpicky = False

# ------------------------------------------------------------------------------------- mathjax
# mathtools (psmallmatrix, ...) is loaded from the copy shipped with the build, like the rest
mathjax3_config = {
    "loader": {"load": ["[tex]/mathtools"]},
    "tex": {"macros": {"T": r"\mathcal T", "E": r"\mathbb E"},
            "packages": {"[+]": ["mathtools"]}},
}

# ------------------------------------------------------------------------------ sphinx-gallery
unlearnstab_scale = os.environ.get("UNLEARNSTAB_DOCS_SCALE", "quick")
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "gallery_auto",
    "filename_pattern": r"/plot_",
    # only plot_*.py scripts are gallery examples; other scripts here are run by hand
    "ignore_pattern": r"(^|/)(?!plot_)[^/]+\.py$",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    # matplotlib's defaults, then larger text (the figures are shown at about 2/3 of their size)
    "reset_modules": ("matplotlib", "unlearnstab_docs.readable_figures"),
    "remove_config_comments": True,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    # the computation-times pages load jQuery and DataTables from CDNs: not written
    "write_computation_times": False,
}
