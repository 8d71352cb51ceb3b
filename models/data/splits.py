"""The split of MNIST train into training and validation rows that every model shares."""

from __future__ import annotations

import numpy as np

__all__ = ["split_indices"]


def split_indices(
    n: int, n_validation: int, seed: int, n_train: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (training rows, validation rows) of ``n`` rows: disjoint, sorted, seeded.

    A permutation of range(n) from ``numpy.random.default_rng(seed)``: the first
    ``n_validation`` rows are validation, the next ``n_train`` (default: the rest)
    training. The autoencoder and the VAE use the same split, so both detectors
    calibrate on the same validation images, which neither was trained on.
    """
    if not 0 < n_validation < n:
        raise ValueError(f"n_validation must be in (0, {n}), got {n_validation}")
    rest = n - n_validation
    n_train = rest if n_train is None else n_train
    if not 0 < n_train <= rest:
        raise ValueError(f"n_train must be in (0, {rest}], got {n_train}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_validation : n_validation + n_train]), np.sort(perm[:n_validation])
