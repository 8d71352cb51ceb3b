"""Bad input to the Gaussian KL: one row per case, each with the documented error and message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_tril

I2 = np.eye(2)
Z2 = np.zeros(2)


def _batch_with_bad(index: int, bad: np.ndarray, n: int = 5) -> np.ndarray:
    out = np.broadcast_to(I2, (n, 2, 2)).copy()
    out[index] = bad
    return out


def _with(value: float, at: tuple[int, ...], base: np.ndarray) -> np.ndarray:
    out = base.copy()
    out[at] = value
    return out


FULL_CASES = [
    pytest.param((Z2, I2, np.zeros(3), I2), ValueError, "mean1 has event size 3", id="mean-size"),
    pytest.param((Z2, np.eye(3), Z2, I2), ValueError, "cov0 has event size 3", id="cov-size"),
    pytest.param((Z2, np.ones((2, 3)), Z2, I2), ValueError, "cov0 must be square", id="not-square"),
    pytest.param(
        (Z2, I2, Z2, np.ones(2)), ValueError, r"cov1 must have shape \(\.\.\., d, d\)", id="cov-1d"
    ),
    pytest.param(
        (0.0, I2, Z2, I2), ValueError, r"mean0 must have shape \(\.\.\., d\)", id="mean-scalar"
    ),
    pytest.param((Z2, np.ones((0, 0)), Z2, np.ones((0, 0))), ValueError, "d >= 1", id="empty"),
    pytest.param(
        (np.zeros((3, 2)), I2, Z2, np.broadcast_to(I2, (4, 2, 2))),
        ValueError,
        r"batch shapes do not broadcast: mean0 \(3,\)",
        id="batch-broadcast",
    ),
    pytest.param(
        (Z2, np.array([[1.0, 0.5], [0.0, 1.0]]), Z2, I2),
        ValueError,
        "cov0 is not symmetric",
        id="not-symmetric",
    ),
    pytest.param(
        (Z2, I2, Z2, _batch_with_bad(3, np.array([[1.0, 2.0], [2.0, 1.0]]))),
        ValueError,
        r"cov1 is not positive definite at batch index \(3,\)",
        id="not-pd-batch",
    ),
    pytest.param(
        (Z2, -I2, Z2, I2),
        ValueError,
        r"cov0 is not positive definite \(its leading minor of order 1",
        id="negative-definite",
    ),
    pytest.param(
        (Z2, np.zeros((2, 2)), Z2, I2),
        ValueError,
        "cov0 is not positive definite",
        id="singular",
    ),
    pytest.param(
        (Z2, _with(np.nan, (0, 1), I2), Z2, I2),
        ValueError,
        "cov0 contains NaN or inf",
        id="nan-cov-upper",
    ),
    pytest.param(
        (Z2, I2, Z2, _batch_with_bad(2, np.diag([1.0, np.inf]))),
        ValueError,
        r"cov1 contains NaN or inf at batch index \(2,\)",
        id="inf-cov-batch",
    ),
    pytest.param(
        (np.array([0.0, np.nan]), I2, Z2, I2), ValueError, "mean0 contains NaN", id="nan-mean"
    ),
    pytest.param(
        (Z2, I2, np.array([np.inf, 0.0]), I2),
        ValueError,
        "mean1 contains NaN or inf",
        id="inf-mean",
    ),
    pytest.param(
        (Z2, torch.eye(2), Z2, I2),
        TypeError,
        r"cannot mix NumPy arrays \(mean0, mean1, cov1\) with torch tensors \(cov0\)",
        id="mixed-kinds",
    ),
    pytest.param(
        (Z2, [[1.0, 0.0], [0.0, 1.0]], Z2, I2), TypeError, "cov0 must be a NumPy array", id="list"
    ),
    pytest.param(
        (Z2, I2.astype(np.complex128), Z2, I2),
        TypeError,
        "cov0 must be a real floating",
        id="complex",
    ),
    pytest.param(
        (Z2, I2.astype(np.float16), Z2, I2), TypeError, "cov0 must be float32 or float64", id="half"
    ),
]


@pytest.mark.parametrize(("args", "error", "match"), FULL_CASES)
def test_gaussian_kl_rejects(args: tuple, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        gaussian_kl(*args)


L2 = np.array([[1.0, 0.0], [0.5, 2.0]])

TRIL_CASES = [
    pytest.param((Z2, L2.T, Z2, L2), ValueError, "tril0 must be lower triangular", id="upper"),
    pytest.param(
        (Z2, L2, Z2, np.array([[1.0, 0.0], [0.5, 0.0]])),
        ValueError,
        r"tril1 must be invertible \(no zero on its diagonal\), got 0.0 at index \(1,\)",
        id="zero-diagonal",
    ),
    pytest.param(
        (Z2, _with(np.nan, (1, 0), L2), Z2, L2), ValueError, "tril0 contains NaN", id="nan"
    ),
    pytest.param((Z2, L2, Z2, np.eye(3)), ValueError, "tril0 has event size 2", id="size"),
    pytest.param((Z2, L2, Z2, torch.tensor(L2)), TypeError, "cannot mix", id="mixed-kinds"),
]


@pytest.mark.parametrize(("args", "error", "match"), TRIL_CASES)
def test_gaussian_kl_tril_rejects(args: tuple, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        gaussian_kl_tril(*args)


DIAG_CASES = [
    pytest.param(
        (Z2, np.array([1.0, 0.0]), Z2, 1.0),
        ValueError,
        r"var0 must be positive, got 0.0 at index \(1,\)",
        id="zero-var",
    ),
    pytest.param(
        (Z2, 1.0, Z2, np.array([[1.0, 1.0], [1.0, -2.0]])),
        ValueError,
        r"var1 must be positive, got -2.0 at index \(1, 1\)",
        id="negative-var",
    ),
    pytest.param(
        (Z2, np.array([1.0, np.nan]), Z2, 1.0), ValueError, "var0 contains NaN", id="nan-var"
    ),
    pytest.param(
        (Z2, np.array([1.0, np.inf]), Z2, 1.0), ValueError, "var0 contains NaN or inf", id="inf-var"
    ),
    pytest.param(
        (np.array([np.nan, 0.0]), 1.0, Z2, 1.0), ValueError, "mean0 contains NaN", id="nan-mean"
    ),
    pytest.param(
        (np.zeros(3), 1.0, Z2, 1.0), ValueError, "batch shapes do not broadcast", id="shape"
    ),
    pytest.param((torch.zeros(2), 1.0, Z2, 1.0), TypeError, "cannot mix", id="mixed-kinds"),
    pytest.param((Z2, "1.0", Z2, 1.0), TypeError, "var0 must be a NumPy array", id="string"),
]


@pytest.mark.parametrize(("args", "error", "match"), DIAG_CASES)
def test_gaussian_kl_diag_rejects(args: tuple, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        gaussian_kl_diag(*args)


def test_devices_must_agree() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a second device")
    with pytest.raises(ValueError, match="cov0 is on cpu but mean0 is on cuda"):
        gaussian_kl(torch.zeros(2, device="cuda"), torch.eye(2), torch.zeros(2), torch.eye(2))


def test_overflow_gives_inf_not_nan() -> None:
    # Finite inputs whose KL exceeds the float range: +inf, documented, not an error.
    big = np.array([1e300])
    assert gaussian_kl_diag(np.zeros(1), big, np.zeros(1), 1 / big) == np.inf
