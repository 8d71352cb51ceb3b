"""The docs' docstring rewriting (``docs/_ext/klmath_docstrings.py``) changes parsing only.

Each case is a docstring fragment and what the rewrite must make of it: ``|`` escaped
in prose but not in code, math or tables; prose after a Parameters section moved in
front of it; ``>>>`` blocks wrapped in a doctest group of their own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "_ext"))

from klmath_docstrings import (
    escape_substitution_bars,
    isolate_examples,
    move_trailing_prose,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("with k = |Ω|.", "with k = \\|Ω\\|.", id="prose"),
        pytest.param("``|x|`` and |x|", "``|x|`` and \\|x\\|", id="inline-literal-kept"),
        pytest.param(":math:`|x|` or |x|", ":math:`|x|` or \\|x\\|", id="math-role-kept"),
        pytest.param("| a | b |", "| a | b |", id="table-row-kept"),
        pytest.param("no bars", "no bars", id="unchanged"),
    ],
)
def test_bars_escaped_in_prose_only(line: str, expected: str) -> None:
    assert escape_substitution_bars([line]) == [expected]


def test_role_wrapped_over_two_lines_is_left_alone() -> None:
    lines = ["is :math:`e^{-s}", "` and :math:`\\log|\\det J|`, k = |Ω|"]
    assert escape_substitution_bars(lines) == [
        "is :math:`e^{-s}",
        "` and :math:`\\log|\\det J|`, k = \\|Ω\\|",
    ]


def test_bars_kept_in_math_literal_and_doctest_blocks() -> None:
    lines = [
        ".. math::",
        "",
        "    |x| \\le 1",
        "",
        "Code::",
        "",
        "    a | b",
        "",
        ">>> 1 | 2",
        "3",
        "",
        "after |y|",
    ]
    out = escape_substitution_bars(lines)
    assert out[:11] == lines[:11]
    assert out[11] == "after \\|y\\|"


def test_prose_after_parameters_moves_before_the_section() -> None:
    lines = [
        "Summary.",
        "",
        "Parameters",
        "----------",
        "a, b : array of shape (..., d)",
        "    Means.",
        "",
        "All four broadcast together.",
        "Second line.",
        "",
        "Returns",
        "-------",
        "float",
    ]
    out = move_trailing_prose(lines)
    assert out == [
        "Summary.",
        "",
        "All four broadcast together.",
        "Second line.",
        "",
        "Parameters",
        "----------",
        "a, b : array of shape (..., d)",
        "    Means.",
        "",
        "Returns",
        "-------",
        "float",
    ]


def test_field_lines_are_not_mistaken_for_prose() -> None:
    lines = ["Parameters", "----------", "x : int", "    One.", "", "y", "    Two.", ""]
    assert move_trailing_prose(lines) == lines


def test_examples_get_their_own_group_and_module_globals() -> None:
    lines = ["Text.", "", ">>> x = 1", ">>> x", "1", "", "More."]
    out = isolate_examples(lines, "klmath.f", "klmath.flow1d")
    assert out[0] == ".. testsetup:: klmath.f"
    assert any("import_module('klmath.flow1d')" in line for line in out)
    start = out.index(".. doctest:: klmath.f")
    assert out[start + 2 : start + 5] == ["   >>> x = 1", "   >>> x", "   1"]
    assert out[-1] == "More."


def test_docstrings_without_examples_are_untouched() -> None:
    lines = ["Text.", "", "Returns", "-------", "int"]
    assert isolate_examples(lines, "g", "m") == lines
