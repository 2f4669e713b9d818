"""Sphinx configuration for skkl."""

import os
import sys
from datetime import date

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import skkl

project = "skkl"
author = "skkl developers"
copyright = f"{date.today().year}, {author}"
version = release = skkl.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
# scikit-learn generates set_*_request methods whose docstrings point into its
# own glossary; they are documented there.
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    "exclude-members": "set_fit_request, set_partial_fit_request, "
    "set_transform_request, set_predict_request, set_score_request, "
    "set_test_request",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = f"skkl {version}"

# No network on CI machines: intersphinx inventories cannot be fetched, so
# cross-references to numpy/sklearn stay plain text.
intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "reset_modules": ("matplotlib",),
    "remove_config_comments": True,
}

suppress_warnings = ["config.cache"]
