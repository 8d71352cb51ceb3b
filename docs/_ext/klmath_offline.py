"""Offline docs: MathJax ships with the build, and no page loads a script or style from the web.

* **MathJax.** ``sphinx.ext.mathjax`` loads MathJax from a CDN by default, so
  offline every formula shows as raw TeX. This extension points ``mathjax_path``
  at a copy inside the build (``_static/mathjax/tex-svg.js``) and copies it
  there. The files come from the PyPI package ``sphinx-mathjax-offline``
  (MathJax 3.2.2; installed with the ``docs`` extra, so ``make venv`` brings it
  from the package registry, nothing is vendored here). The SVG output is used:
  its glyphs are inside the script, so no web font has to load, which browsers
  may refuse for pages opened from disk (``file://``).
* **Check.** When an HTML build finishes, every page and stylesheet is scanned
  for a script, stylesheet, image or font loaded from another host
  (``https://``, ``http://`` or protocol-relative ``//``); each one is a
  warning, and the docs build runs with ``-W``, so it fails.
  ``tests/test_docs_offline.py`` tests the scan and a small build.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

MATHJAX_PACKAGE = "sphinx-mathjax-offline"
MATHJAX_COMPONENT = "tex-svg.js"
MATHJAX_DIR = "mathjax"  # under _static/
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", re.I)


def mathjax_source() -> Path:
    """The folder of the installed MathJax files; ExtensionError saying how to install them."""
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    folder = (
        Path(next(iter(spec.submodule_search_locations or []), "")) / "static" / "mathjax"
        if spec is not None
        else None
    )
    if folder is None or not (folder / MATHJAX_COMPONENT).is_file():
        raise ExtensionError(
            f"MathJax for offline docs is missing: pip install {MATHJAX_PACKAGE} "
            "(the 'docs' extra of pyproject.toml; make venv installs it)"
        )
    return folder


def _needed(relative: str) -> bool:
    """Whether the SVG component may load this file (not the other combined components
    at the top level, nor the CHTML output and its web fonts)."""
    if "/" not in relative and relative.endswith(".js"):
        return relative == MATHJAX_COMPONENT
    return not relative.startswith("output/chtml")


def _use_local_mathjax(app: Sphinx, config: Config) -> None:
    mathjax_source()  # fail early, before reading every page, if it is not installed
    config.mathjax_path = f"{MATHJAX_DIR}/{MATHJAX_COMPONENT}"


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_source()
    target = Path(app.outdir) / "_static" / MATHJAX_DIR
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source).as_posix()
        if path.is_file() and _needed(relative):
            dest = target / relative
            if not dest.is_file() or dest.stat().st_size != path.stat().st_size:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)


class _AssetParser(HTMLParser):
    """Collects what a page loads: script src, link href (stylesheets, icons, fonts), img src."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "source", "iframe") and a.get("src"):
            self.assets.append(str(a["src"]))
        elif tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower().split()
            if {"stylesheet", "preload", "modulepreload", "icon", "prefetch"} & set(rel):
                self.assets.append(str(a["href"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.assets += _CSS_URL.findall(data)


def remote_assets(text: str, *, css: bool = False) -> list[str]:
    """The scripts, stylesheets, images and fonts an HTML page (or a stylesheet) loads remotely."""
    if css:
        found = _CSS_URL.findall(text)
    else:
        parser = _AssetParser()
        parser.feed(text)
        found = parser.assets
    return [url for url in found if _REMOTE.match(url.strip())]


def check_offline(outdir: Path) -> dict[str, list[str]]:
    """Map each HTML or CSS file under ``outdir`` to the remote assets it loads (if any)."""
    problems: dict[str, list[str]] = {}
    for path in sorted(outdir.rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        if MATHJAX_DIR in path.relative_to(outdir).parts:
            continue
        found = remote_assets(
            path.read_text(encoding="utf-8", errors="replace"), css=path.suffix == ".css"
        )
        if found:
            problems[path.relative_to(outdir).as_posix()] = found
    return problems


def _check_build(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page, urls in check_offline(Path(app.outdir)).items():
        logger.warning("%s loads from the network, so it breaks offline: %s", page, ", ".join(urls))


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the MathJax copy and the offline check."""
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _check_build, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
