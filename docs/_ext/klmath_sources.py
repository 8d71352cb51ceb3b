"""Links from the pages to the repository's test and benchmark files, readable offline.

A page that names a file as inline code, ```tests/test_gaussian_reference.py``` (also
with a test name, ```tests/test_x.py::test_y```), or ```bench/coupling.py```, gets that
name turned into a link, when the file exists, to a page of the built site holding
the file's source, highlighted (``_repo/tests/test_gaussian_reference.html``), the
way ``sphinx.ext.viewcode`` shows the modules of ``klmath``. The link is relative,
so it works from disk, offline, and on any host; it shows the file as it was when
the docs were built. Names with wildcards (``tests/test_gaussian_*.py``) stay text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.transforms import SphinxTransform

ROOT = Path(__file__).resolve().parents[2]
PATTERN = re.compile(r"^((?:tests|bench)/[\w/.-]+\.py)(::[\w\[\]-]+)?$")
PAGE_DIR = "_repo"


def page_name(path: str) -> str:
    """The site page (without suffix) holding the source of repository file ``path``."""
    return f"{PAGE_DIR}/{path.removesuffix('.py')}"


def _sources(env: BuildEnvironment) -> dict[str, set[str]]:
    if not hasattr(env, "klmath_sources"):
        env.klmath_sources = {}  # type: ignore[attr-defined]
    return env.klmath_sources  # type: ignore[attr-defined, no-any-return]


class LinkRepositoryFiles(SphinxTransform):
    """Wrap inline-code names of existing test and benchmark files in a link to their page."""

    default_priority = 500

    def apply(self, **kwargs: Any) -> None:
        for literal in list(self.document.findall(nodes.literal)):
            match = PATTERN.match(literal.astext())
            if not match or isinstance(literal.parent, nodes.reference):
                continue
            path = match.group(1)
            if not (ROOT / path).is_file():
                continue
            ref = nodes.reference("", "", internal=True, klmath_source=path)
            literal.replace_self(ref)
            ref += literal
            _sources(self.env).setdefault(self.env.docname, set()).add(path)
            self.env.note_dependency(str(ROOT / path))


def _resolve(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for ref in doctree.findall(nodes.reference):
        if ref.get("klmath_source"):
            ref["refuri"] = app.builder.get_relative_uri(docname, page_name(ref["klmath_source"]))


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _sources(env).pop(docname, None)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: Any) -> None:
    _sources(env).update(_sources(other))


def _pages(app: Sphinx) -> Iterator[tuple[str, dict[str, Any], str]]:
    if app.builder.format != "html":
        return
    highlighter = app.builder.highlighter  # type: ignore[attr-defined]
    for path in sorted(set().union(*_sources(app.env).values())):
        code = (ROOT / path).read_text(encoding="utf-8")
        body = (
            f"<h1>{path}</h1>\n<p>The file <code>{path}</code> of the repository, "
            "as it was when these pages were built.</p>\n"
            + highlighter.highlight_block(code, "python", linenos=False)
        )
        yield page_name(path), {"title": path, "body": body, "parents": []}, "page.html"


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the transform, the link resolution and the source pages."""
    app.add_transform(LinkRepositoryFiles)
    app.connect("doctree-resolved", _resolve)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-collect-pages", _pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
