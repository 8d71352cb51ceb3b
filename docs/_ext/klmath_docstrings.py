"""Make plain-text mathematical docstrings safe for reStructuredText.

klmath's docstrings are NumPy style and written to be read in a terminal, with
Unicode mathematics such as ``|Σᵢⱼ − Σⱼᵢ| ≤ √ε`` or ``k = |Ω|``. Two habits
that read well there break a Sphinx build:

* ``|x|`` is a substitution reference in reST ("Undefined substitution
  referenced"). After napoleon has turned the docstring into reST, every ``|``
  in running text is escaped; inline literals, roles, ``.. math::`` and other
  directive bodies, literal blocks, doctest blocks and tables are left alone.
* A paragraph written after the entries of a ``Parameters`` section (e.g. "All
  four broadcast together ...") is parsed by napoleon as one more parameter,
  which gives a malformed field list. Before napoleon runs, such a paragraph is
  moved in front of the section header, where it reads as part of the
  description.

Neither rewrites meaning; both only change how the text is parsed.

The ``>>>`` examples of each docstring are also given the semantics of
:func:`doctest.testmod`: each docstring is its own doctest group, run in a fresh
namespace holding the globals of the module that defines the object (plus
``doctest_global_setup``, which fixes the seeds). Without this every example of
a page would share one namespace, and an example could not use a name its
module imports (``math``, ``nn``) the way ``pytest --doctest-modules`` allows.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from typing import Any

from sphinx.application import Sphinx

# A NumPy-style field line: "name", "name : type", "a, b : type", "*args", "**kwargs".
_FIELD = re.compile(r"^\*{0,2}\w+(\s*,\s*\*{0,2}\w+)*(\s*:.*)?$")
_FIELD_SECTIONS = {"parameters", "other parameters", "keyword arguments", "attributes"}
# Inline constructs whose content must not be touched: ``literal``, :role:`text`,
# `interpreted` and `link`_ text.
_INLINE = re.compile(r"(``.+?``|:[\w:.+-]+:`[^`]*`|`[^`]*`_{0,2})", re.S)


def _is_header(lines: list[str], i: int) -> bool:
    """True if lines[i] is a NumPy section title underlined by lines[i + 1]."""
    return (
        i + 1 < len(lines)
        and bool(lines[i].strip())
        and not lines[i].startswith(" ")
        and re.fullmatch(r"-{3,}", lines[i + 1].strip()) is not None
        and len(lines[i + 1].strip()) >= len(lines[i].strip())
    )


def move_trailing_prose(lines: list[str]) -> list[str]:
    """Move unindented prose out of field sections, to just before their header."""
    out = list(lines)
    i = 0
    while i < len(out):
        if not (_is_header(out, i) and out[i].strip().lower() in _FIELD_SECTIONS):
            i += 1
            continue
        header = i
        j = i + 2
        while j < len(out) and not _is_header(out, j):
            line = out[j]
            starts_prose = (
                line.strip()
                and not line.startswith(" ")
                and j > 0
                and not out[j - 1].strip()
                and not _FIELD.match(line.strip())
            )
            if not starts_prose:
                j += 1
                continue
            end = j
            while end < len(out) and out[end].strip() and not _is_header(out, end):
                end += 1
            paragraph = out[j:end]
            del out[j:end]
            # drop the blank line that separated it from the fields, if doubled
            if j < len(out) and not out[j].strip() and not out[j - 1].strip():
                del out[j]
            out[header:header] = [*paragraph, ""]
            header += len(paragraph) + 1
            j += len(paragraph) + 1
        i = j
    return out


def _escape_bars(text: str) -> str:
    parts = _INLINE.split(text)
    # the odd-numbered parts are the inline constructs matched by the group
    return "".join(p if k % 2 else p.replace("|", "\\|") for k, p in enumerate(parts))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_substitution_bars(lines: list[str]) -> list[str]:
    """Escape ``|`` in running text of reST ``lines``; leave code and math alone.

    Prose is handled a paragraph at a time, so a role or literal that wraps onto
    the next line (``:math:`...`` over two lines) is still recognised.
    """
    out: list[str] = []
    paragraph: list[str] = []
    block_indent: int | None = None  # inside a directive/literal body deeper than this
    in_doctest = False

    def flush() -> None:
        if paragraph:
            out.extend(_escape_bars("\n".join(paragraph)).split("\n"))
            paragraph.clear()

    for line in lines:
        stripped = line.strip()
        if block_indent is not None:
            if not stripped or _indent(line) > block_indent:
                out.append(line)
                continue
            block_indent = None
        if in_doctest:
            if stripped:
                out.append(line)
                continue
            in_doctest = False
        if not stripped:
            flush()
            out.append(line)
            continue
        if stripped.startswith(">>>"):
            flush()
            in_doctest = True
            out.append(line)
            continue
        if stripped.startswith(("+-", "+=", "| ")) or stripped == "|":
            flush()  # a grid table or a line block
            out.append(line)
            continue
        if stripped.startswith(".. "):
            flush()  # a directive (math, code, note, ...): its body is left alone
            block_indent = _indent(line)
            out.append(line)
            continue
        paragraph.append(line)
        if stripped.endswith("::"):
            # "text::" ends a paragraph whose following indented block is literal
            flush()
            block_indent = _indent(line)
    flush()
    return out


def _defining_module(what: str, name: str, obj: Any) -> str | None:
    """The name of the module whose globals the object's examples run in."""
    if what == "module":
        return name
    for candidate in (obj, getattr(obj, "fget", None), getattr(obj, "__func__", None)):
        module = getattr(candidate, "__module__", None)
        if isinstance(module, str) and module in sys.modules:
            return module
    module = inspect.getmodule(obj)
    if module is not None:
        return module.__name__
    # fall back to the longest importable prefix of the documented name
    parts = name.split(".")
    for k in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:k])
        try:
            importlib.import_module(prefix)
        except ImportError:
            continue
        return prefix
    return None


def isolate_examples(lines: list[str], group: str, module: str | None) -> list[str]:
    """Wrap each ``>>>`` block in a ``doctest`` directive of its own ``group``.

    A hidden ``testsetup`` of the same group loads the module's globals first.
    """
    if not any(line.lstrip().startswith(">>>") for line in lines):
        return lines
    out: list[str] = []
    if module is not None:
        out += [
            f".. testsetup:: {group}",
            "",
            "   import importlib as _importlib",
            f"   _module = _importlib.import_module({module!r})",
            "   globals().update(",
            "       {_k: _v for _k, _v in vars(_module).items() if not _k.startswith('__')}",
            "   )",
            "",
        ]
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        end = i
        while end < len(lines) and lines[end].strip():
            end += 1
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}.. doctest:: {group}", ""]
        out += [f"{indent}   {block_line[len(indent) :]}" for block_line in lines[i:end]]
        out.append("")
        i = end
    return out


def _before_napoleon(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    lines[:] = move_trailing_prose(lines)


def _after_napoleon(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    lines[:] = escape_substitution_bars(lines)
    # a doctest group name may not contain spaces or commas
    group = re.sub(r"[^\w.]", "_", name)
    lines[:] = isolate_examples(lines, group, _defining_module(what, name, obj))


def setup(app: Sphinx) -> dict[str, Any]:
    """Hook both passes around napoleon (which listens at the default priority 500)."""
    app.connect("autodoc-process-docstring", _before_napoleon, priority=400)
    app.connect("autodoc-process-docstring", _after_napoleon, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
