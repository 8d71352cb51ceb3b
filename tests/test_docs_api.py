"""The API reference covers the public API, and the public docstrings are complete.

* Every name in ``klmath.__all__`` has an ``auto*`` entry in ``docs/api/*.rst`` (the
  reference is written by hand, per module, so a new public name must be added
  there; this test says which file).
* Every public name has a docstring. A function, or a class with constructor
  arguments, documents them in a NumPy ``Parameters`` section and its errors in a
  ``Raises`` section (every public entry point checks its input, see the style
  guide), or says "... as in :func:`other`" for a public function that does; a
  result record (dataclass or named tuple) documents its fields under
  ``Attributes``; a module-level constant has an attribute docstring (``#:`` comment
  or a string literal after it), which is what autodoc shows.

The docs build itself (``sphinx-build -W``, HTML and doctest) is run by ``make docs``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from sphinx.pycode import ModuleAnalyzer

import klmath

API_DIR = Path(__file__).resolve().parent.parent / "docs" / "api"
# ".. autofunction:: gaussian_kl", ".. autoclass:: klmath.AffineCoupling",
# ".. autodata:: klmath.montecarlo.ESTIMATORS": the last dotted component is the name.
DEFERS_TO = re.compile(r"\bas in\s+:func:`~?([\w.]+)`")
AUTO_DIRECTIVE = re.compile(r"^\s*\.\. auto(?:function|class|data|exception)::\s+([\w.]+)", re.M)


def _documented_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for path in sorted(API_DIR.glob("*.rst")):
        for target in AUTO_DIRECTIVE.findall(path.read_text(encoding="utf-8")):
            names[target.rsplit(".", 1)[-1]] = path.name
    return names


def _section(doc: str, title: str) -> bool:
    """True if the NumPy docstring ``doc`` has a section called ``title``."""
    return re.search(rf"^{title}\n-{{{len(title)}}}", doc, re.M) is not None


def _has_parameters(obj: Any) -> bool:
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return any(p.name not in ("self", "cls") for p in params)


def _is_record(obj: Any) -> bool:
    return inspect.isclass(obj) and (
        dataclasses.is_dataclass(obj) or (issubclass(obj, tuple) and hasattr(obj, "_fields"))
    )


PUBLIC = sorted(klmath.__all__)


def test_all_is_not_empty() -> None:
    assert len(PUBLIC) >= 10, f"klmath.__all__ looks unpopulated: {PUBLIC}"


def test_all_names_are_unique_and_importable() -> None:
    assert len(set(klmath.__all__)) == len(klmath.__all__), "duplicate names in klmath.__all__"
    missing = [name for name in klmath.__all__ if not hasattr(klmath, name)]
    assert not missing, f"in klmath.__all__ but not importable from klmath: {missing}"


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_is_in_the_api_reference(name: str) -> None:
    documented = _documented_names()
    page = _owner_module(name).rsplit(".", 1)[-1]
    assert name in documented, (
        f"klmath.{name} has no autodoc entry in docs/api/*.rst; add "
        f"'.. autofunction:: {name}' (or autoclass/autodata) to docs/api/{page}.rst"
    )


def _owner_module(name: str) -> str:
    """The klmath submodule whose __all__ lists ``name``."""
    for module in vars(klmath).values():
        if (
            inspect.ismodule(module)
            and module.__name__.startswith("klmath.")
            and name in getattr(module, "__all__", ())
        ):
            return module.__name__
    raise LookupError(f"{name} is in klmath.__all__ but in no submodule's __all__")


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_has_a_complete_docstring(name: str) -> None:
    obj = getattr(klmath, name)
    if not (inspect.isclass(obj) or inspect.isroutine(obj)):
        attr_docs = ModuleAnalyzer.for_module(_owner_module(name)).find_attr_docs()
        doc = "\n".join(attr_docs.get(("", name), [])).strip()
        assert doc, (
            f"klmath.{name} (a {type(obj).__name__}) has no attribute docstring: put a "
            f"'#: ...' comment above it or a string literal right after it in "
            f"{_owner_module(name)}"
        )
        return
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"klmath.{name} has no docstring"
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return  # an exception or warning class: its docstring says when it is raised
    if _is_record(obj):
        assert _section(doc, "Attributes"), f"result record klmath.{name}: no Attributes section"
        return
    if getattr(obj, "_is_protocol", False) or not _has_parameters(obj):
        return  # a Protocol, or nothing to call with: the docstring is the documentation
    if inspect.isclass(obj):
        doc += "\n" + (inspect.getdoc(obj.__init__) or "")
    missing = [s for s in ("Parameters", "Raises") if not _section(doc, s)]
    # "Shapes, dtypes and errors as in :func:`flow1d_transform`." defers to a public
    # function that has the sections; that counts as documenting them.
    for target in DEFERS_TO.findall(doc):
        other = getattr(klmath, target.rsplit(".", 1)[-1], None)
        other_doc = (inspect.getdoc(other) or "") if other is not None else ""
        missing = [s for s in missing if not _section(other_doc, s)]
    assert not missing, (
        f"klmath.{name}: docstring has no {' or '.join(missing)} section "
        "(nor says 'as in :func:`other`' for a public function that has it)"
    )
