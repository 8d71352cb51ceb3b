"""``klfigure``: a figure produced by ``make demo`` that may not be committed yet.

The models write their PNGs to ``results/<model>/`` (git-ignored). The few key
figures are copied into ``docs/_static/figures/`` and committed. A page names
the figure by its file name there and, with ``:source:``, where ``make demo``
writes it::

    ```{klfigure} flow1d_density.png
    :source: results/flow1d/density.png
    :alt: learned and true density

    Caption text.
    ```

When the file exists this is an ordinary ``figure``. When it does not (a clean
clone before the figures are committed) the directive renders a short note
saying how to produce it, instead of the warning an ``image`` would raise, so
``sphinx-build -W`` stays green. The page is rebuilt as soon as the file
appears.

``python docs/copy_figures.py [OUT]`` copies every figure named this way from a
``make demo`` run (reading the ``:source:`` options), shrunk to ≤ 200 KB.
"""

from __future__ import annotations

from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.parsers.rst.directives.images import Figure
from sphinx.application import Sphinx

FIGURE_DIR = "_static/figures"


class KlFigure(Figure):
    """A ``figure`` whose image may be missing; then a note replaces it."""

    option_spec: ClassVar[dict[str, Any]] = {
        **Figure.option_spec,
        "source": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        name = self.arguments[0]
        source = self.options.pop("source", None)
        relative = f"{FIGURE_DIR}/{name}"
        # A dependency on the (possibly missing) file: Sphinx rereads the page
        # while it is missing and again when it changes.
        env.note_dependency(relative)
        if (env.srcdir / relative).is_file():
            self.arguments[0] = "/" + relative
            return super().run()
        para = nodes.paragraph()
        para += nodes.Text("Figure ")
        para += nodes.literal(text=f"docs/{relative}")
        para += nodes.Text(" is not in this checkout")
        if source:
            para += nodes.Text(" (")
            para += nodes.literal(text="make demo")
            para += nodes.Text(" writes it to ")
            para += nodes.literal(text=source)
            para += nodes.Text(")")
        para += nodes.Text("; copy it there to show it on this page.")
        note = nodes.note("", para)
        return [note]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``klfigure`` directive."""
    app.add_directive("klfigure", KlFigure)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
