"""The shape of models/: families import only kit, data and klmath; small files; one set-up
each for matplotlib and tqdm; and the wheel installs klmath only."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
FAMILIES = ("anomaly", "vae", "flows")
# what each package of models/ may import from models/ (besides itself)
ALLOWED = {
    "kit": set(),
    "data": {"kit"},
    **{family: {"kit", "data"} for family in FAMILIES},
}


def _models_imports(path: Path) -> set[str]:
    """The second component of every ``models.X`` imported by ``path`` (absolute or relative)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports would hide the graph: not used in models/
                found.add("<relative import>")
            names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "models" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_they_may(package: str) -> None:
    files = sorted((MODELS / package).rglob("*.py"))
    assert files, package
    bad = {}
    for path in files:
        extra = _models_imports(path) - {package} - ALLOWED[package]
        if extra:
            bad[str(path.relative_to(ROOT))] = sorted(extra)
    assert not bad, f"imports outside what {package} may use: {bad}"


def test_import_graph_check_catches_a_sideways_import(tmp_path: Path) -> None:
    bad = MODELS / "vae" / "_probe_sideways.py"
    bad.write_text("from models.anomaly import AutoencoderDetector\n")
    try:
        assert _models_imports(bad) == {"anomaly"}
    finally:
        bad.unlink()


def test_no_file_over_350_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in MODELS.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 350
    }
    assert not long, long


@pytest.mark.parametrize(
    ("library", "home"),
    [("matplotlib", "models/kit/plotting.py"), ("tqdm", "models/kit/progress.py")],
)
def test_matplotlib_and_tqdm_are_set_up_in_one_place(library: str, home: str) -> None:
    users = set()
    for path in MODELS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(n.split(".")[0] == library for n in names):
                users.add(str(path.relative_to(ROOT)))
    assert users == {home}


def test_wheel_contains_klmath_only(tmp_path: Path) -> None:
    # Build from a copy (models/ included, so its exclusion is what is tested), so no
    # build/ folder of the checkout, stale or not, enters the wheel.
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for item in ("pyproject.toml", "README.md", "LICENSE", "klmath", "models"):
        if (ROOT / item).is_dir():
            shutil.copytree(ROOT / item, src / item, ignore=ignore)
        elif (ROOT / item).is_file():
            shutil.copy(ROOT / item, src / item)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path / "dist")],
        check=True, capture_output=True, cwd=src,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("klmath-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"klmath", next(t for t in tops if t.endswith(".dist-info"))}, tops
    assert any(n.startswith("klmath/proofs/") for n in names)
    assert not any(n.startswith("models/") for n in names)
