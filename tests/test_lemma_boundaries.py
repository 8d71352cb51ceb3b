"""check_argmax_lemma at the edges of its tolerance, and the forms of input it accepts.

Each comparison of the checker has its boundary value tested on both sides: h = −atol
is non-negative within the tolerance, −2·atol is not; a row minimum of exactly atol
counts as an attained zero, 2·atol does not; g + h spread by exactly atol is constant
in φ, 2·atol is not; an f within atol of the maximum is a maximiser. Lists and integer
tables are accepted and give the same result as float arrays.
"""

from __future__ import annotations

import numpy as np
import pytest

from klmath import check_argmax_lemma

ATOL = 0.25  # a power of 2: the boundary values below are exact


def _tables(h: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return f[:, None] - h, h


@pytest.mark.parametrize(("value", "holds"), [(-ATOL, True), (-2 * ATOL, False), (0.0, True)])
def test_nonnegative_gap_boundary(value: float, holds: bool) -> None:
    h = np.array([[0.0, value], [0.0, 1.0]])
    r = check_argmax_lemma(*_tables(h, np.array([1.0, 0.0])), atol=ATOL)
    assert r.nonnegative is holds
    assert any(m.startswith("h ≥ 0 fails") for m in r.failures) is not holds


@pytest.mark.parametrize(("row_min", "holds"), [(ATOL, True), (2 * ATOL, False)])
def test_attained_zero_boundary(row_min: float, holds: bool) -> None:
    h = np.array([[row_min, 1.0], [0.0, 1.0]])
    r = check_argmax_lemma(*_tables(h, np.array([1.0, 0.0])), atol=ATOL)
    assert r.min_zero is holds
    assert any(m.startswith("min_φ h(θ, φ) = 0 fails at θ = 0") for m in r.failures) is not holds
    exact = check_argmax_lemma(*_tables(h, np.array([1.0, 0.0])))  # atol = 0: any h > 0 fails
    assert not exact.min_zero


@pytest.mark.parametrize(("spread", "holds"), [(ATOL, True), (2 * ATOL, False)])
def test_decomposition_boundary(spread: float, holds: bool) -> None:
    h = np.array([[0.0, 1.0], [0.0, 1.0]])
    g, _ = _tables(h, np.array([1.0, 0.0]))
    g[1, 1] += spread
    r = check_argmax_lemma(g, h, atol=ATOL)
    assert r.decomposition is holds
    assert any(m.startswith("g + h constant in φ fails at θ = 1") for m in r.failures) is not holds


@pytest.mark.parametrize(("gap", "maximiser"), [(ATOL, (0, 1)), (2 * ATOL, (0,))])
def test_argmax_tolerance_boundary(gap: float, maximiser: tuple[int, ...]) -> None:
    h = np.zeros((2, 1))
    r = check_argmax_lemma(*_tables(h, np.array([1.0, 1.0 - gap])), atol=ATOL)
    assert r.argmax_f == maximiser and r.argmax_g_theta == maximiser
    assert r.argmax_g == tuple((i, 0) for i in maximiser)


def test_lists_and_integer_tables_are_accepted() -> None:
    g, h = [[1, 0], [3, 2]], [[0, 1], [0, 1]]
    reference = check_argmax_lemma(np.array(g, dtype=float), np.array(h, dtype=float))
    assert check_argmax_lemma(g, h) == reference  # type: ignore[arg-type]
    assert check_argmax_lemma(np.array(g), np.array(h)) == reference  # int64 tables
    assert reference.argmax_f == (1,) and reference.hypotheses_hold


@pytest.mark.parametrize(
    ("g", "h", "match"),
    [
        (
            {"a": 1},
            np.zeros((1, 1)),
            r"^g must be a NumPy array of shape \(n_theta, n_phi\), got dict$",
        ),
        (
            np.zeros((2, 2)),
            np.zeros((2, 3)),
            r"^g and h must have the same shape \(n_theta, n_phi\), got",
        ),
    ],
)
def test_messages_name_the_argument(g: object, h: object, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        check_argmax_lemma(g, h)  # type: ignore[arg-type]
