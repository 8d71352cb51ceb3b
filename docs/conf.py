"""Sphinx configuration for the klmath documentation.

Build (what ``make docs`` and CI run; both must be warning-free)::

    .venv/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
    .venv/bin/sphinx-build -W --keep-going -q -b doctest docs docs/_build/doctest

The doctest builder runs the ``{doctest}``/``{testcode}`` blocks of every page
*and* the ``>>>`` examples of every docstring that autodoc pulls into the API
reference, so neither the pages nor the docstrings can drift from the code.
No intersphinx: the build must work without network access, and the pages must
work without it too (``_ext/klmath_offline.py``: MathJax is copied into the build,
and any script or stylesheet loaded from the web fails the build).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The repository root first, so the checkout's klmath is documented even when
# another copy is installed; _ext holds the local figure directive.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

project = "klmath"
author = "the klmath authors"
copyright = "2026, the klmath authors"
release = "0.1.0"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "klmath_figures",
    "klmath_docstrings",
    "klmath_offline",  # MathJax inside the build; fails on any script/style from the web
    "klmath_sources",  # test and benchmark file names link to their highlighted source
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/README.md"]
templates_path: list[str] = []

# Warnings as errors (-W) is the contract; silence only what is expected:
# - ref.python: "more than one target found" for words of free-form NumPy type
#   descriptions ("Tensor of shape (n,)" makes ``n`` a cross-reference, and
#   MCResult.n and KLResult.n both exist); these were never meant as links.
suppress_warnings = ["ref.python"]

# -- MyST (Markdown pages) ----------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# -- autodoc + napoleon (NumPy-style docstrings) --------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "both"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_include_init_with_doc = False
napoleon_use_rtype = True
napoleon_use_param = True
napoleon_preprocess_types = False
napoleon_attr_annotations = True

# -- doctest --------------------------------------------------------------------
# One fixed seed for every group, so sampled values printed in examples are
# reproducible; each group gets a fresh setup. Docstring examples are written
# as if run inside their module (``check_argmax_lemma(...)``, not
# ``klmath.check_argmax_lemma(...)``), so the public names are in scope too.
doctest_global_setup = """
import numpy as np
import torch
from torch import nn
import klmath
from klmath import *

torch.manual_seed(0)
rng = np.random.default_rng(0)
"""
doctest_test_doctest_blocks = "default"

# -- HTML -------------------------------------------------------------------------
html_theme = "furo"
html_title = "klmath"
html_static_path = ["_static"]
html_show_sourcelink = False


# -- the proof pages ----------------------------------------------------------------
# proof-checks.md lists docs/proofs/* (one page per claim of klmath.proofs) with a
# glob. On a checkout without those pages the glob would warn, and Sphinx gives
# that warning no type, so suppress_warnings cannot silence it: drop the glob entry
# instead while the folder is empty.
PROOF_GLOB = "proofs/*"


def _drop_empty_proof_glob(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname == "proof-checks" and not any((DOCS / "proofs").glob("*.md")):
        source[0] = source[0].replace(f"\n{PROOF_GLOB}\n", "\n")


# -- incremental builds ----------------------------------------------------------
# Sphinx purges each changed page just before reading it. When an object moves from
# a page that is read later to one read earlier (a name moving between modules), an
# incremental build reports a "duplicate object description" that a clean build
# does not, and keeps reporting it. Purge every page to be read first.
def _purge_pages_to_read(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    for docname in docnames:
        app.events.emit("env-purge-doc", env, docname)
        env.clear_doc(docname)


# The local extensions rewrite docstrings; when their code changes, every page must
# be read again, which Sphinx does when an "env" config value changes.
klmath_ext_digest = hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted((DOCS / "_ext").glob("*.py")))
).hexdigest()


def setup(app: Sphinx) -> None:
    """Register this configuration's own event handlers."""
    app.add_config_value("klmath_ext_digest", "", "env")
    app.connect("source-read", _drop_empty_proof_glob)
    app.connect("env-before-read-docs", _purge_pages_to_read)
