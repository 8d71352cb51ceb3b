"""Bad input to gaussian_kl and gaussian_kl_tril: the whole error message, on every path.

tests/test_gaussian_errors.py checks that each kind of bad input is refused; here
each message is matched in full (anchored at both ends), so an error that names
the wrong argument, or none, or the wrong batch index, fails. Every case is run
where the check happens on each path: d ≤ 3 (unrolled factorization), d ≥ 4
with equal batch shapes (the chunked LAPACK path, whose failed check sends the
call to the careful path that raises) and d ≥ 4 with broadcast batch shapes
(the whole-batch path, which raises itself).

The singular covariances are built exactly (Σ = L D Lᵀ with integer L and perfect
squares in D), so the order of the first leading minor that is not positive is
known exactly, by Sylvester's criterion, from an independent computation in
rational arithmetic: the error must name that order.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
import torch

from klmath import gaussian_kl, gaussian_kl_tril

FULL = ("mean0", "cov0", "mean1", "cov1")
TRIL = ("mean0", "tril0", "mean1", "tril1")


def _raises(fn, args, error: type[Exception], message: str) -> None:
    """``fn(*args)`` raises ``error`` whose message is exactly ``message``."""
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        fn(*args)


def _spd(d: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    """Well-conditioned SPD matrices, deterministic: I + AAᵀ/d for a fixed A."""
    a = np.random.default_rng(d).standard_normal((*batch, d, d))
    return np.eye(d) + a @ np.swapaxes(a, -1, -2) / d


def _means(d: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    return np.random.default_rng(d + 100).standard_normal((*batch, d))


def _args(kind: str, d: int, batches: tuple[tuple[int, ...], ...]) -> list[np.ndarray]:
    b0, a0, b1, a1 = batches
    mats = [_spd(d, a0), _spd(d, a1)]
    if kind == "tril":
        mats = [np.linalg.cholesky(m) for m in mats]
    return [_means(d, b0), mats[0], _means(d, b1), mats[1]]


FUNCTIONS = {"full": (gaussian_kl, FULL), "tril": (gaussian_kl_tril, TRIL)}

# --- shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["full", "tril"])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_an_event_size_that_differs_from_the_second_matrix_names_both(
    kind: str, position: int
) -> None:
    # d is the second matrix's size; the message names the argument and that matrix.
    fn, names = FUNCTIONS[kind]
    args = _args(kind, 2, ((), (), (), ()))
    args[position] = np.zeros((3,)) if position != 1 else np.eye(3)
    shape = "(3,)" if position != 1 else "(3, 3)"
    message = f"{names[position]} has event size 3 (shape {shape}) but {names[3]} has d = 2"
    _raises(fn, args, ValueError, message)


# Batch shapes (of mean0, matrix0, mean1, matrix1) that do not broadcast; in each, the
# odd one out sits in another position, and its shape shares a prefix or the rank of
# the others (so a check on a slice of the shape would let it through). d = 2.
NOT_BROADCASTING = [
    pytest.param(((4,), (3,), (4,), (4,)), id="matrix0-other-size"),
    pytest.param(((5, 2), (5,), (5, 2), (5, 2)), id="matrix0-shorter"),
    pytest.param(((2,), (2, 3), (2,), (2,)), id="matrix0-longer"),
    pytest.param(((5, 2), (5, 2), (5, 2), (5,)), id="matrix1-shorter"),
    pytest.param(((2,), (2,), (2,), (2, 3)), id="matrix1-longer"),
    pytest.param(((4,), (3,), (4,), (3,)), id="means-vs-matrices"),
    pytest.param(((2, 3), (2,), (2,), (2,)), id="mean0-longer"),
    pytest.param(((3,), (3,), (4,), (3,)), id="mean1-other-size"),
    pytest.param(((2,), (2,), (2, 3), (2,)), id="mean1-longer"),
]


@pytest.mark.parametrize("kind", ["full", "tril"])
@pytest.mark.parametrize("batches", NOT_BROADCASTING)
def test_batch_shapes_that_do_not_broadcast_are_named_with_their_shapes(
    kind: str, batches: tuple[tuple[int, ...], ...]
) -> None:
    fn, names = FUNCTIONS[kind]
    listed = ", ".join(f"{n} {b}" for n, b in zip(names, batches, strict=True))
    _raises(fn, _args(kind, 2, batches), ValueError, f"batch shapes do not broadcast: {listed}")


# --- mixed kinds and dtypes -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["full", "tril"])
@pytest.mark.parametrize("odd", [0, 1, 2, 3])
@pytest.mark.parametrize("odd_is", ["numpy", "torch"])
def test_one_argument_of_the_other_kind_is_refused_naming_it(
    kind: str, odd: int, odd_is: str
) -> None:
    fn, names = FUNCTIONS[kind]
    args: list[object] = list(_args(kind, 2, ((), (), (), ())))
    make_torch = [(i == odd) == (odd_is == "torch") for i in range(4)]
    args = [torch.from_numpy(a) if t else a for a, t in zip(args, make_torch, strict=True)]
    numpy_names = ", ".join(n for n, t in zip(names, make_torch, strict=True) if not t)
    torch_names = ", ".join(n for n, t in zip(names, make_torch, strict=True) if t)
    message = (
        f"cannot mix NumPy arrays ({numpy_names}) with torch tensors ({torch_names}); "
        "convert them to one kind first"
    )
    _raises(fn, args, TypeError, message)


# --- NaN and inf ------------------------------------------------------------------------

# Paths by (d, batch of the means, batch of the matrices): unrolled; equal batch shapes
# (chunked LAPACK); broadcast batch shapes (whole-batch in place); split solve (d = 64).
PATHS = [
    pytest.param(2, (5,), (5,), id="unrolled"),
    pytest.param(4, (5,), (5,), id="lapack-equal-batch"),
    pytest.param(4, (5,), (), id="lapack-broadcast"),
    pytest.param(64, (5,), (5,), id="split-equal-batch"),
]


@pytest.mark.parametrize("kind", ["full", "tril"])
@pytest.mark.parametrize("which", [0, 2])
@pytest.mark.parametrize(("d", "mean_batch", "matrix_batch"), PATHS)
def test_a_nan_mean_is_named_with_its_batch_index(
    kind: str, which: int, d: int, mean_batch: tuple[int, ...], matrix_batch: tuple[int, ...]
) -> None:
    fn, names = FUNCTIONS[kind]
    args = _args(kind, d, (mean_batch, matrix_batch, mean_batch, matrix_batch))
    args[which][3, d - 1] = np.nan
    _raises(fn, args, ValueError, f"{names[which]} contains NaN or inf at batch index (3,)")


@pytest.mark.parametrize("which", [1, 3])
@pytest.mark.parametrize(
    ("value", "entry"),
    [(np.inf, (1, 1)), (-np.inf, (0, 0)), (np.nan, (1, 0))],
    ids=["inf-diagonal", "minus-inf-first-pivot", "nan-off-diagonal"],
)
@pytest.mark.parametrize(("d", "mean_batch", "matrix_batch"), PATHS)
def test_a_covariance_with_nan_or_inf_is_named_with_its_batch_index(
    which: int,
    value: float,
    entry: tuple[int, int],
    d: int,
    mean_batch: tuple[int, ...],
    matrix_batch: tuple[int, ...],
) -> None:
    # A NaN or ±inf anywhere makes Σ − Σᵀ NaN at that entry (inf − inf), so no such
    # matrix passes as symmetric or as a factorization: the error says it is not finite.
    batches = [mean_batch, matrix_batch, mean_batch, matrix_batch]
    batches[which] = (5,)
    args = _args("full", d, tuple(batches))
    args[which][2][entry] = value
    args[which][2][entry[::-1]] = value
    _raises(gaussian_kl, args, ValueError, f"{FULL[which]} contains NaN or inf at batch index (2,)")


# --- symmetry, definiteness, triangularity ----------------------------------------------


@pytest.mark.parametrize("which", [1, 3])
@pytest.mark.parametrize(("d", "mean_batch", "matrix_batch"), PATHS)
def test_an_asymmetric_covariance_is_named_with_its_batch_index(
    which: int, d: int, mean_batch: tuple[int, ...], matrix_batch: tuple[int, ...]
) -> None:
    # The other covariance is unbatched on the broadcast path; the bad one has a batch.
    batches = [mean_batch, matrix_batch, mean_batch, matrix_batch]
    batches[which] = (5,)
    args = _args("full", d, tuple(batches))
    args[which][1] = np.eye(d)
    args[which][1, d - 1, 0] = 0.25  # |Σᵢⱼ − Σⱼᵢ| = 0.25 against √ε · Σₖₖ = 2⁻²⁶
    # The bound printed is the batch's: √ε times the largest diagonal entry of any element.
    bound = 2.0**-26 * np.diagonal(args[which], axis1=-2, axis2=-1).max()
    message = (
        f"{FULL[which]} is not symmetric at batch index (1,): max |Σᵢⱼ − Σⱼᵢ| = 0.25 "
        f"exceeds √ε · max Σₖₖ = {bound:.3g}"
    )
    _raises(gaussian_kl, args, ValueError, message)


def test_symmetry_is_judged_against_each_matrix_own_diagonal() -> None:
    # Batch element 0 is 10⁶·I, element 1 is I with an asymmetry of 10⁻⁶: within
    # √ε · 10⁶ but not within √ε · 1, and each matrix is held to its own scale.
    s = np.stack([1e6 * np.eye(2), np.eye(2)])
    s[1, 1, 0] = 1e-6
    z = np.zeros((2, 2))
    message = (
        "cov0 is not symmetric at batch index (1,): max |Σᵢⱼ − Σⱼᵢ| = 1e-06 "
        "exceeds √ε · max Σₖₖ = 0.0149"
    )
    # (the printed bound uses the largest diagonal entry of the batch)
    _raises(gaussian_kl, [z, s, z, np.eye(2)], ValueError, message)


def _leading_minor_order(sigma: np.ndarray) -> int:
    """The smallest k with det Σ[:k, :k] ≤ 0, in exact rational arithmetic (0 if none)."""
    d = sigma.shape[0]
    for k in range(1, d + 1):
        m = [[Fraction(float(sigma[i, j])) for j in range(k)] for i in range(k)]
        det = Fraction(1)
        for c in range(k):  # Gaussian elimination with exact fractions
            pivot_row = next((r for r in range(c, k) if m[r][c] != 0), None)
            if pivot_row is None:
                det = Fraction(0)
                break
            if pivot_row != c:
                m[c], m[pivot_row] = m[pivot_row], m[c]
                det = -det
            det *= m[c][c]
            for r in range(c + 1, k):
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c], strict=True)]
        if det <= 0:
            return k
    return 0


# Σ = L D Lᵀ, L unit lower triangular with small integers, D with perfect squares and
# one or more zeros: every pivot of the factorization is an exact integer.
SINGULAR = [
    pytest.param([0.0], id="d1-zero"),
    pytest.param([4.0, 0.0], id="d2-last-zero"),
    pytest.param([0.0, 1.0], id="d2-first-zero"),
    pytest.param([1.0, 0.0, 4.0], id="d3-middle-zero"),
    pytest.param([9.0, 4.0, 0.0], id="d3-last-zero"),
    pytest.param([1.0, 4.0, 0.0, 1.0], id="d4-third-zero"),
    pytest.param([4.0, 1.0, 1.0, 9.0, 0.0], id="d5-last-zero"),
]


@pytest.mark.parametrize("which", [1, 3])
@pytest.mark.parametrize("diagonal", SINGULAR)
def test_a_singular_covariance_names_its_first_zero_leading_minor(
    which: int, diagonal: list[float]
) -> None:
    d = len(diagonal)
    low = np.tril(np.random.default_rng(d).integers(-2, 3, (d, d)), -1) + np.eye(d)
    sigma = low @ np.diag(diagonal) @ low.T
    order = _leading_minor_order(sigma)
    assert order == diagonal.index(0.0) + 1  # Sylvester: det Σ[:k, :k] = d₁ ⋯ dₖ
    args = _args("full", d, ((5,), (5,), (5,), (5,)))
    args[which][4] = sigma
    message = (
        f"{FULL[which]} is not positive definite at batch index (4,) "
        f"(its leading minor of order {order} is not positive)"
    )
    _raises(gaussian_kl, args, ValueError, message)
    # Broadcast batch shapes (the whole-batch path for d ≥ 4): the same message.
    args[4 - which] = args[4 - which][0]
    _raises(gaussian_kl, args, ValueError, message)


@pytest.mark.parametrize("which", [1, 3])
@pytest.mark.parametrize(("d", "mean_batch", "matrix_batch"), PATHS)
def test_an_indefinite_covariance_is_named_with_its_batch_index(
    which: int, d: int, mean_batch: tuple[int, ...], matrix_batch: tuple[int, ...]
) -> None:
    batches = [mean_batch, matrix_batch, mean_batch, matrix_batch]
    batches[which] = (5,)
    args = _args("full", d, tuple(batches))
    args[which][2] = np.diag([1.0] * (d - 1) + [-1.0])  # leading minors 1, …, 1, −1
    message = (
        f"{FULL[which]} is not positive definite at batch index (2,) "
        f"(its leading minor of order {d} is not positive)"
    )
    _raises(gaussian_kl, args, ValueError, message)


# Any non-zero entry above the diagonal, however small (whose square underflows, down
# to the smallest subnormal), makes the matrix not lower triangular.
ABOVE_DIAGONAL = [
    pytest.param(torch.float64, 1e-3, id="f64-1e-3"),
    pytest.param(torch.float64, 1e-170, id="f64-1e-170"),
    pytest.param(torch.float64, 5e-324, id="f64-subnormal"),
    pytest.param(torch.float32, 1e-30, id="f32-1e-30"),
    pytest.param(torch.float32, 1e-45, id="f32-subnormal"),
]


@pytest.mark.parametrize(("dtype", "entry"), ABOVE_DIAGONAL)
@pytest.mark.parametrize("which", [1, 3])
@pytest.mark.parametrize(("d", "mean_batch", "matrix_batch"), PATHS)
def test_a_factor_with_entries_above_the_diagonal_is_named(
    which: int,
    d: int,
    mean_batch: tuple[int, ...],
    matrix_batch: tuple[int, ...],
    dtype: torch.dtype,
    entry: float,
) -> None:
    batches = [mean_batch, matrix_batch, mean_batch, matrix_batch]
    batches[which] = (5,)
    args = [torch.tensor(a, dtype=dtype) for a in _args("tril", d, tuple(batches))]
    args[which][1, 0, d - 1] = entry
    assert args[which][1, 0, d - 1] != 0  # representable in the dtype
    message = (
        f"{TRIL[which]} must be lower triangular (a Cholesky factor), "
        "but has non-zero entries above the diagonal at batch index (1,)"
    )
    _raises(gaussian_kl_tril, args, ValueError, message)


@pytest.mark.parametrize("which", [1, 3])
@pytest.mark.parametrize(("d", "mean_batch", "matrix_batch"), PATHS)
def test_a_factor_with_a_zero_on_its_diagonal_is_named(
    which: int, d: int, mean_batch: tuple[int, ...], matrix_batch: tuple[int, ...]
) -> None:
    batches = [mean_batch, matrix_batch, mean_batch, matrix_batch]
    batches[which] = (5,)
    args = _args("tril", d, tuple(batches))
    args[which][3, d - 1, d - 1] = 0.0
    message = (
        f"{TRIL[which]} must be invertible (no zero on its diagonal), "
        f"got 0.0 at index (3, {d - 1}) of its diagonal"
    )
    _raises(gaussian_kl_tril, args, ValueError, message)
