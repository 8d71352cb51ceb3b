"""The docs work offline: MathJax is in the build, nothing loads from the web, files link locally.

``docs/_ext/klmath_offline.py`` copies MathJax into the build and warns (an error
under ``-W``, as ``make docs`` runs) about every script, stylesheet, image or font
loaded from another host; ``docs/_ext/klmath_sources.py`` turns test and benchmark
file names into links to highlighted copies inside the build. Checked here on the
scanner itself and on a small site built with both extensions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
klmath_offline = pytest.importorskip("klmath_offline")


@pytest.mark.parametrize(
    "html",
    [
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>',
        '<script defer src="//cdn.example.org/x.js"></script>',
        '<link rel="stylesheet" href="http://example.org/a.css">',
        '<link href="HTTPS://fonts.example.org/f.woff2" rel="preload">',
        "<style>@import 'https://example.org/b.css';</style>",
        '<style>.x { background: url("https://example.org/i.png") }</style>',
        '<img src="https://example.org/i.png">',
    ],
)
def test_a_remote_script_stylesheet_or_image_is_found(html: str) -> None:
    assert len(klmath_offline.remote_assets(f"<html><head>{html}</head></html>")) == 1


def test_local_assets_and_plain_links_are_fine() -> None:
    page = (
        '<script src="_static/mathjax/tex-svg.js"></script>'
        '<link rel="stylesheet" href="../_static/furo.css">'
        '<a href="https://arxiv.org/abs/1812.01718">KMNIST</a>'
        "<p>https://example.org is text</p>"
    )
    assert klmath_offline.remote_assets(page) == []
    assert klmath_offline.remote_assets("a { b: url(//x.org/f.woff) }", css=True) == [
        "//x.org/f.woff"
    ]


CONF = """
import sys
sys.path.insert(0, {ext!r})
extensions = ["myst_parser", "klmath_offline", "klmath_sources"]
myst_enable_extensions = ["dollarmath"]
html_js_files = ["https://cdn.example.org/tracker.js"]
"""

INDEX = """# Offline

A formula, $\\mathrm{{KL}}(p \\,\\|\\, q) \\ge 0$, and the file that tests it:
`tests/test_docs_offline.py::test_local_assets_and_plain_links_are_fine`,
and a file that does not exist: `tests/test_nothing_here.py`.
"""


def test_a_small_site_ships_mathjax_links_files_and_flags_remote_scripts(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "html"
    src.mkdir()
    (src / "conf.py").write_text(CONF.format(ext=str(ROOT / "docs" / "_ext")))
    (src / "index.md").write_text(INDEX)
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    # The one remote script of this conf.py is reported, on every page, as a warning.
    assert "index.html loads from the network" in build.stderr, build.stderr
    problems = klmath_offline.check_offline(out)
    assert problems["index.html"] == ["https://cdn.example.org/tracker.js"]
    assert {url for urls in problems.values() for url in urls} == {
        "https://cdn.example.org/tracker.js"
    }
    index = (out / "index.html").read_text()
    # MathJax from the build itself, and its file is there.
    assert 'src="_static/mathjax/tex-svg.js"' in index
    assert (out / "_static" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
    # The test file name links to a page of the site holding its source.
    assert 'href="_repo/tests/test_docs_offline.html"' in index
    source_page = (out / "_repo" / "tests" / "test_docs_offline.html").read_text()
    assert "test_local_assets_and_plain_links_are_fine" in source_page
    assert "_repo/tests/test_nothing_here" not in index
