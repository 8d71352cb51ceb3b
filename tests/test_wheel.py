"""The built wheel, installed into a fresh virtual environment, runs the README's examples.

What a user gets from ``pip install klmath``, checked offline:

1. build the wheel from a copy of the checkout's files (those git would commit)
   with ``pip wheel --no-build-isolation --no-index``: no network, setuptools
   from this environment;
2. create a fresh virtual environment and install the wheel there (``--no-index
   --no-deps``); its dependencies (numpy, torch, ...) are taken from this
   environment's site-packages through a ``.pth`` path entry, so nothing is
   downloaded, and this environment's own (editable) klmath is not on the path;
3. in a folder outside the checkout, check that ``klmath`` is the installed copy,
   that it is typed for mypy (``py.typed``) and licensed, and run every ``pycon``
   block of README.md as a doctest.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "_build", "results", "data", "build", "dist", "mutants", "*.egg-info",
    "__pycache__", ".*_cache", ".hypothesis",
)  # fmt: skip


def _copy_checkout(dest: Path) -> None:
    """Copy the files git would commit (tracked, or new and not ignored), else all but IGNORE."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, timeout=60,
        )  # fmt: skip
    except OSError:  # no git
        listed = None
    if listed is None or listed.returncode != 0:
        shutil.copytree(ROOT, dest, ignore=IGNORE)
        return
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)


RUN_README = r"""
import doctest, json, re, sys
from pathlib import Path

text = Path(sys.argv[1]).read_text(encoding="utf-8")
blocks = re.findall(r"^```pycon\n(.*?)^```", text, flags=re.S | re.M)
test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, "README.md", sys.argv[1], 0)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
runner.run(test)
import klmath
print(json.dumps({"blocks": len(blocks), "examples": len(test.examples),
                  "failed": runner.failures, "klmath": klmath.__file__}))
"""


def _run(*args: str | Path, cwd: Path, timeout: float = 300) -> str:
    out = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, f"{' '.join(map(str, args))}\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the checkout (the checkout itself is left untouched)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    _copy_checkout(src)
    _run(
        sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "--no-index", "-w", tmp / "dist", src, cwd=tmp,
    )  # fmt: skip
    (path,) = (tmp / "dist").glob("klmath-*.whl")
    return path


@pytest.fixture(scope="module")
def fresh_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its interpreter."""
    env = tmp_path_factory.mktemp("venv") / "env"
    _run(sys.executable, "-m", "venv", "--without-pip", env, cwd=env.parent)
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=env
        ).strip()
    )
    # The dependencies: this environment's site-packages, after the fresh one on sys.path.
    deps = [p for p in {*site.getsitepackages(), sysconfig.get_path("purelib")} if Path(p).is_dir()]
    (purelib / "_klmath_test_deps.pth").write_text("\n".join(deps) + "\n")
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index",
        "--no-deps", wheel, cwd=env,
    )  # fmt: skip
    return python


def test_the_wheel_holds_the_typed_package_and_its_licence(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "klmath/py.typed" in names
    assert "klmath/__init__.py" in names and "klmath/proofs/__main__.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "bench/"))]


def test_the_readme_examples_run_against_the_installed_wheel(
    fresh_python: Path, tmp_path: Path
) -> None:
    (tmp_path / "run_readme.py").write_text(RUN_README)
    out = _run(fresh_python, "run_readme.py", ROOT / "README.md", cwd=tmp_path)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["failed"] == 0, out
    assert report["blocks"] >= 3 and report["examples"] >= 10, report
    installed = Path(report["klmath"]).resolve()
    assert fresh_python.parent.parent.resolve() in installed.parents, installed


def test_mypy_sees_the_installed_package_as_typed(fresh_python: Path, tmp_path: Path) -> None:
    """Without py.typed, mypy reports klmath as 'missing library stubs or py.typed marker'."""
    script = tmp_path / "user.py"
    script.write_text("import klmath\n\nkl_fn = klmath.gaussian_kl\n")
    out = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--python-executable", str(fresh_python),
            "--follow-imports", "skip", "--no-incremental", "--no-error-summary", str(script),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
