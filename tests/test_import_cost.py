"""Import discipline: ``import klmath`` loads neither torch nor SymPy until a function needs them.

The rule, for every module of the package (new ones are found by ``pkgutil``):

* torch may be imported at a module's top only by the modules in
  ``TORCH_AT_IMPORT`` below, which nothing imports eagerly (``klmath/__init__.py``
  loads them on first use of one of their names, ``klmath._LAZY``); every other
  module imports torch inside the function that computes with it (see
  ``klmath/_backend.py``);
* SymPy and mpmath only under ``klmath.proofs``;
* scipy.stats and matplotlib nowhere at import time.

Each check runs in a fresh interpreter, since this test process has long since
imported torch. How long the imports take is measured by ``bench/import_cost.py``,
not here.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import klmath

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "sympy", "mpmath", "scipy.stats", "matplotlib")

# Modules allowed to import torch at their top, and who loads them on first use.
TORCH_AT_IMPORT = {
    "klmath.coupling": "klmath.__getattr__ (AffineCoupling subclasses nn.Module)",
    "klmath.flow1d": "klmath.__getattr__",
    "klmath.mixture": "klmath.__getattr__",
    "klmath._gaussian_pairs": "klmath.registry._load_builtins, on the first kl() or register_kl",
}


def _all_modules() -> list[str]:
    found = (info.name for info in pkgutil.walk_packages(klmath.__path__, "klmath."))
    return ["klmath", *sorted(found)]


def _loaded_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; return which HEAVY modules it left loaded."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_klmath_and_its_numpy_api_load_no_heavy_module() -> None:
    eager = [name for name in klmath.__all__ if name not in klmath._LAZY]
    code = f"import klmath\nfor name in {eager!r}: getattr(klmath, name)"
    assert _loaded_after(code) == []
    assert _loaded_after("from klmath import gaussian_kl, kl, mc_kl") == []


def test_only_the_lazily_loaded_modules_import_torch_at_their_top() -> None:
    lazy = set(TORCH_AT_IMPORT)
    assert set(klmath._LAZY.values()) <= lazy
    light = [m for m in _all_modules() if m not in lazy and not m.startswith("klmath.proofs")]
    assert "klmath.gaussian" in light and "klmath.registry" in light
    code = "import importlib\nfor m in " + repr(light) + ": importlib.import_module(m)"
    assert _loaded_after(code) == [], f"one of these modules imports a heavy module: {light}"


def test_the_proofs_import_sympy_but_not_torch() -> None:
    proofs = [
        m for m in _all_modules() if m.startswith("klmath.proofs") and m != "klmath.proofs.__main__"
    ]
    code = "import importlib\nfor m in " + repr(proofs) + ": importlib.import_module(m)"
    assert set(_loaded_after(code)) <= {"sympy", "mpmath"}


def test_proofs_help_imports_no_torch() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "klmath.proofs", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "usage:" in out.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert "torch" not in imported


def test_every_public_name_resolves_and_lazy_names_are_public() -> None:
    assert set(klmath._LAZY) <= set(klmath.__all__)
    assert set(klmath.__all__) <= set(dir(klmath))
    for name in klmath.__all__:
        getattr(klmath, name)
    for name, module in klmath._LAZY.items():
        assert getattr(klmath, name) is getattr(sys.modules[module], name)


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        klmath.no_such_name  # noqa: B018
