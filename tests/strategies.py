"""Hypothesis strategies shared by the whole test suite.

Each strategy is named for what it draws and takes keyword-only bounds whose
defaults are stated in its docstring. Array strategies return float64 NumPy
arrays (the exact inputs a reference computation sees); a test converts them
to torch or to another dtype itself.

Random matrices are built from a drawn integer seed rather than element by
element: a 64 × 64 matrix drawn entry-wise is slow to generate and shrinks to
nothing useful, while the seed, the scale and the condition number (drawn
explicitly, with the extreme values as explicit examples) are what matter.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from hypothesis import strategies as st

__all__ = [
    "batch_shapes",
    "dimensions",
    "float_dtypes",
    "flow1d_parameters",
    "gaussian_mixtures",
    "lower_bound_tables",
    "lower_triangular_factors",
    "masks",
    "means",
    "near_identical_gaussians",
    "skewed_samples",
    "small_mlps",
    "spd_matrices",
    "variances",
]


# --- argument checks (run when a strategy is built) -------------------------


def _check_order(low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise ValueError(f"{low_name}={low!r} is larger than {high_name}={high!r}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {name}={value!r}")


def _shape(batch_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(n) for n in batch_shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"batch_shape must have non-negative sides, got {shape}")
    return shape


def _seeds() -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=2**32 - 1)


def _log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats spread evenly over orders of magnitude, the two ends included as examples."""
    lo, hi = math.log10(low), math.log10(high)
    if lo == hi:
        return st.just(float(low))
    return st.one_of(
        st.sampled_from([float(low), float(high)]),
        st.floats(min_value=lo, max_value=hi).map(lambda t: float(10.0**t)),
    )


# --- shapes and dtypes -------------------------------------------------------


def dimensions(*, min_d: int = 1, max_d: int = 64) -> st.SearchStrategy[int]:
    """Event dimensions d in [min_d, max_d] (defaults 1 and 64); d = 1 and max_d come up often."""
    _check_order("min_d", min_d, "max_d", max_d)
    _check_positive("min_d", min_d)
    return st.one_of(st.sampled_from(sorted({min_d, max_d})), st.integers(min_d, max_d))


def batch_shapes(
    *, min_dims: int = 0, max_dims: int = 2, min_side: int = 1, max_side: int = 3
) -> st.SearchStrategy[tuple[int, ...]]:
    """Batch shapes: min_dims..max_dims axes (defaults 0, 2), sides min_side..max_side (1, 3)."""
    _check_order("min_dims", min_dims, "max_dims", max_dims)
    _check_order("min_side", min_side, "max_side", max_side)
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(
        tuple
    )


def float_dtypes() -> st.SearchStrategy[torch.dtype]:
    """torch.float32 or torch.float64."""
    return st.sampled_from([torch.float64, torch.float32])


# --- Gaussian parameters ----------------------------------------------------


def means(
    d: int, *, batch_shape: Sequence[int] = (), min_scale: float = 1e-3, max_scale: float = 1e3
) -> st.SearchStrategy[np.ndarray]:
    """Mean vectors, float64 of shape (*batch_shape, d).

    Entries are standard normal times a scale drawn log-uniformly from
    [min_scale, max_scale] (defaults 1e-3, 1e3); the all-zero mean is drawn too.
    """
    shape = (*_shape(batch_shape), d)
    _check_positive("min_scale", min_scale)
    _check_order("min_scale", min_scale, "max_scale", max_scale)

    @st.composite
    def draw(data: st.DrawFn) -> np.ndarray:
        if data(st.integers(0, 9)) == 0:
            return np.zeros(shape)
        rng = np.random.default_rng(data(_seeds()))
        return data(_log_uniform(min_scale, max_scale)) * rng.standard_normal(shape)

    return draw()


def variances(
    d: int, *, batch_shape: Sequence[int] = (), min_value: float = 1e-5, max_value: float = 1e5
) -> st.SearchStrategy[np.ndarray]:
    """Positive variances, float64 of shape (*batch_shape, d).

    Log-uniform in [min_value, max_value] (defaults 1e-5 and 1e5); the two ends
    are drawn as explicit examples.
    """
    shape = (*_shape(batch_shape), d)
    _check_positive("min_value", min_value)
    _check_order("min_value", min_value, "max_value", max_value)
    lo, hi = math.log(min_value), math.log(max_value)

    @st.composite
    def draw(data: st.DrawFn) -> np.ndarray:
        rng = np.random.default_rng(data(_seeds()))
        kind = data(st.sampled_from(["spread", "low", "high", "constant"]))
        if kind == "low":
            return np.full(shape, float(min_value))
        if kind == "high":
            return np.full(shape, float(max_value))
        if kind == "constant":
            return np.full(shape, data(_log_uniform(min_value, max_value)))
        return np.exp(rng.uniform(lo, hi, size=shape))

    return draw()


def _random_orthogonal(rng: np.random.Generator, shape: tuple[int, ...], d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((*shape, d, d)))
    # Fix the signs so Q is Haar-distributed rather than biased by the QR convention.
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    signs[signs == 0] = 1.0
    return q * signs[..., None, :]


def spd_matrices(
    d: int,
    *,
    batch_shape: Sequence[int] = (),
    max_condition: float = 1e10,
    min_scale: float = 1e-3,
    max_scale: float = 1e3,
) -> st.SearchStrategy[np.ndarray]:
    """Symmetric positive definite matrices, float64 of shape (*batch_shape, d, d).

    Σ = Q diag(λ) Qᵀ with Q Haar-orthogonal, λ_max = a scale drawn log-uniformly
    from [min_scale, max_scale] (defaults 1e-3, 1e3) and λ_max / λ_min = κ drawn
    log-uniformly from [1, max_condition] (default 1e10; κ = 1 and κ = max_condition
    are explicit examples, and for d ≥ 2 the extreme eigenvalues are exactly
    λ_max and λ_max / κ). The returned matrix is exactly symmetric; its
    condition number equals κ up to rounding of the float64 product, which is
    far below λ_min for κ ≤ 1e10.
    """
    batch = _shape(batch_shape)
    _check_order("1", 1.0, "max_condition", max_condition)
    _check_positive("min_scale", min_scale)
    _check_order("min_scale", min_scale, "max_scale", max_scale)

    @st.composite
    def draw(data: st.DrawFn) -> np.ndarray:
        rng = np.random.default_rng(data(_seeds()))
        scale = data(_log_uniform(min_scale, max_scale))
        condition = data(_log_uniform(1.0, max_condition)) if d > 1 else 1.0
        t = rng.uniform(0.0, 1.0, size=(*batch, d))
        t[..., 0], t[..., -1] = 0.0, 1.0
        eigenvalues = scale * condition ** (-t)
        q = _random_orthogonal(rng, batch, d)
        sigma = (q * eigenvalues[..., None, :]) @ np.swapaxes(q, -1, -2)
        return 0.5 * (sigma + np.swapaxes(sigma, -1, -2))

    return draw()


def lower_triangular_factors(
    d: int,
    *,
    batch_shape: Sequence[int] = (),
    max_condition: float = 1e5,
    min_scale: float = 1e-3,
    max_scale: float = 1e3,
) -> st.SearchStrategy[np.ndarray]:
    """Lower-triangular factors L with a positive diagonal, float64 of shape (*batch_shape, d, d).

    L is the Cholesky factor of a draw of :func:`spd_matrices` with the same
    bounds, so κ(L) = √κ(Σ) ≤ √max_condition (default max_condition 1e5) and
    L Lᵀ has scale in [min_scale, max_scale] (defaults 1e-3, 1e3).
    """
    return spd_matrices(
        d,
        batch_shape=batch_shape,
        max_condition=max_condition,
        min_scale=min_scale,
        max_scale=max_scale,
    ).map(np.linalg.cholesky)


def near_identical_gaussians(
    d: int,
    *,
    batch_shape: Sequence[int] = (),
    min_distance: float = 1e-7,
    max_distance: float = 1e-5,
    max_condition: float = 1e2,
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Pairs of nearly equal Gaussians as (mean0, tril0, mean1, tril1), all float64.

    tril0 is drawn by :func:`lower_triangular_factors` (κ(Σ0) ≤ max_condition,
    default 1e2), then tril1 = tril0 (I + ε T) and mean1 = mean0 + ε tril0 z with
    T lower triangular, z a vector, both of unit-variance normal entries, and ε
    log-uniform in [min_distance, max_distance] (defaults 1e-7, 1e-5). The KL
    divergence between the two is then of order ε² d, about 1e-14 to 1e-8
    with the defaults. The diagonal of tril1 stays positive since ε ≪ 1.
    Covariances, where needed, are tril @ tril.T (computed by the test).
    """
    batch = _shape(batch_shape)
    _check_positive("min_distance", min_distance)
    _check_order("min_distance", min_distance, "max_distance", max_distance)
    _check_order("max_distance", max_distance, "0.1", 0.1)

    @st.composite
    def draw(data: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        tril0 = data(lower_triangular_factors(d, batch_shape=batch, max_condition=max_condition))
        mean0 = data(means(d, batch_shape=batch))
        eps = data(_log_uniform(min_distance, max_distance))
        rng = np.random.default_rng(data(_seeds()))
        t = np.tril(rng.standard_normal((*batch, d, d)))
        z = rng.standard_normal((*batch, d, 1))
        tril1 = tril0 + eps * (tril0 @ t)
        mean1 = mean0 + eps * (tril0 @ z)[..., 0]
        return mean0, tril0, mean1, tril1

    return draw()


# --- coupling masks and small networks (issue 6) ----------------------------


def masks(*, min_n: int = 2, max_n: int = 12) -> st.SearchStrategy[torch.Tensor]:
    """Coupling masks: bool tensors of shape (n,) with 0 < mask.sum() < n.

    n is drawn from [min_n, max_n] (defaults 2 and 12), |Ω| = mask.sum() from [1, n - 1]
    with the extreme splits |Ω| = 1 and |Ω| = n - 1 as explicit examples, and the True
    positions are a random subset (neither contiguous nor alternating in general).
    """
    _check_order("min_n", min_n, "max_n", max_n)
    if min_n < 2:
        raise ValueError(f"min_n must be at least 2 (a coupling needs 0 < |Ω| < n), got {min_n}")

    @st.composite
    def draw(data: st.DrawFn) -> torch.Tensor:
        n = data(st.integers(min_n, max_n))
        k = data(st.one_of(st.sampled_from([1, n - 1]), st.integers(1, n - 1)))
        chosen = data(st.permutations(range(n)))[:k]
        mask = torch.zeros(n, dtype=torch.bool)
        mask[list(chosen)] = True
        return mask

    return draw()


def small_mlps(
    in_features: int,
    out_features: int,
    *,
    max_layers: int = 2,
    min_hidden: int = 1,
    max_hidden: int = 8,
    weight_scale: float = 1.0,
    dtype: torch.dtype = torch.float64,
) -> st.SearchStrategy[torch.nn.Sequential]:
    """Small tanh MLPs mapping (..., in_features) to (..., out_features).

    0 to max_layers (default 2) hidden layers, each of width in [min_hidden, max_hidden]
    (defaults 1 and 8); no hidden layer makes the MLP affine. Weights and biases are
    N(0, weight_scale² / fan_in) (default weight_scale 1.0) from a drawn seed, in dtype
    (default float64). The output is not squashed.
    """
    for name, value, least in [
        ("in_features", in_features, 1),
        ("out_features", out_features, 1),
        ("max_layers", max_layers, 0),
        ("min_hidden", min_hidden, 1),
    ]:
        if value < least:
            raise ValueError(f"{name} must be at least {least}, got {name}={value}")
    _check_order("min_hidden", min_hidden, "max_hidden", max_hidden)
    _check_positive("weight_scale", weight_scale)

    @st.composite
    def draw(data: st.DrawFn) -> torch.nn.Sequential:
        hidden = data(st.lists(st.integers(min_hidden, max_hidden), max_size=max_layers))
        widths = [in_features, *hidden, out_features]
        gen = torch.Generator().manual_seed(data(_seeds()))
        layers: list[torch.nn.Module] = []
        for fan_in, fan_out in itertools.pairwise(widths):
            linear = torch.nn.Linear(fan_in, fan_out, dtype=dtype)
            std = weight_scale / math.sqrt(fan_in)
            with torch.no_grad():
                linear.weight.copy_(std * torch.randn(fan_out, fan_in, generator=gen, dtype=dtype))
                linear.bias.copy_(std * torch.randn(fan_out, generator=gen, dtype=dtype))
            layers += [linear, torch.nn.Tanh()]
        return torch.nn.Sequential(*layers[:-1])

    return draw()


# --- Gaussian mixtures (issue 4) ---------------------------------------------


def gaussian_mixtures(
    d: int,
    *,
    batch_shape: Sequence[int] = (),
    min_components: int = 1,
    max_components: int = 4,
    max_condition: float = 1e3,
    min_scale: float = 1e-1,
    max_scale: float = 1e1,
    max_mean_scale: float = 3.0,
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Gaussian mixture parameters (logits, means, trils), float64.

    Shapes (*batch_shape, K), (*batch_shape, K, d), (*batch_shape, K, d, d), with K
    drawn from [min_components, max_components] (defaults 1 and 4). Logits are
    standard normal (weights from about 0.05 to 0.95 for K = 2); component means are
    standard normal times max_mean_scale (default 3, so components overlap or
    separate); the Cholesky factors come from :func:`lower_triangular_factors` with
    κ(Σ) ≤ max_condition (default 1e3) and scale in [min_scale, max_scale]
    (defaults 0.1 and 10).
    """
    batch = _shape(batch_shape)
    _check_positive("min_components", min_components)
    _check_order("min_components", min_components, "max_components", max_components)
    _check_positive("max_mean_scale", max_mean_scale)

    @st.composite
    def draw(data: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = data(st.integers(min_components, max_components))
        rng = np.random.default_rng(data(_seeds()))
        logits = rng.standard_normal((*batch, k))
        mean = max_mean_scale * rng.standard_normal((*batch, k, d))
        tril = data(
            lower_triangular_factors(
                d,
                batch_shape=(*batch, k),
                max_condition=max_condition,
                min_scale=min_scale,
                max_scale=max_scale,
            )
        )
        return logits, mean, tril

    return draw()


# --- lower-bound tables for the argmax lemma (issue 5) ------------------------


def lower_bound_tables(
    *, max_theta: int = 4, max_phi: int = 4, max_value: int = 8
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """Tables (f, h) satisfying the argmax lemma's hypotheses: f (n_theta,), h (n_theta, n_phi).

    n_theta in [1, max_theta], n_phi in [1, max_phi] (defaults 4 and 4). Entries are
    quarters k/4 with k in [0, max_value] (default 8), so f − h + h == f exactly in
    float64 and ties (several maximisers) are common. h ≥ 0 and every row of h has
    at least one exact 0, at a drawn position.
    """
    for name, value in (("max_theta", max_theta), ("max_phi", max_phi), ("max_value", max_value)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {name}={value}")

    @st.composite
    def draw(data: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
        n_theta = data(st.integers(1, max_theta))
        n_phi = data(st.integers(1, max_phi))
        quarters = st.integers(0, max_value).map(lambda k: k / 4)
        f = np.array(data(st.lists(quarters, min_size=n_theta, max_size=n_theta)))
        h = np.array(
            data(st.lists(quarters, min_size=n_theta * n_phi, max_size=n_theta * n_phi))
        ).reshape(n_theta, n_phi)
        zeros = data(st.lists(st.integers(0, n_phi - 1), min_size=n_theta, max_size=n_theta))
        h[np.arange(n_theta), zeros] = 0.0
        return f, h

    return draw()


# --- 1-D flow parameters (issue 7) -------------------------------------------


def flow1d_parameters(
    *,
    min_n: int = 1,
    max_n: int = 6,
    max_abs_w: float = 3.0,
    max_abs_mu: float = 3.0,
    min_tau: float = -3.0,
    max_tau: float = 1.5,
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Parameters (w, mu, tau) of the seed 1-D flow, float64 arrays of shape (n,).

    n in [min_n, max_n] (defaults 1 and 6); w uniform in [-max_abs_w, max_abs_w]
    (default 3, so S = Σ e^w spans about 0.05 to 120), mu uniform in
    [-max_abs_mu, max_abs_mu] (default 3), tau uniform in [min_tau, max_tau]
    (defaults -3 and 1.5, scales e^tau from 0.05 to 4.5). Explicit nasty cases:
    n = 1; all components identical; the extreme scales, mixed so that a narrow
    component sits next to a wide one.
    """
    _check_positive("min_n", min_n)
    _check_order("min_n", min_n, "max_n", max_n)
    _check_order("min_tau", min_tau, "max_tau", max_tau)
    _check_positive("max_abs_w", max_abs_w)

    @st.composite
    def draw(data: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = data(st.one_of(st.just(min_n), st.integers(min_n, max_n)))
        rng = np.random.default_rng(data(_seeds()))
        w = rng.uniform(-max_abs_w, max_abs_w, n)
        mu = rng.uniform(-max_abs_mu, max_abs_mu, n)
        tau = rng.uniform(min_tau, max_tau, n)
        kind = data(st.sampled_from(["spread", "identical", "extreme_scales"]))
        if kind == "identical":
            w, mu, tau = np.full(n, w[0]), np.full(n, mu[0]), np.full(n, tau[0])
        elif kind == "extreme_scales":
            tau = np.where(np.arange(n) % 2 == 0, min_tau, max_tau).astype(np.float64)
        return w, mu, tau

    return draw()


def labelled_scores(
    *, min_n: int = 2, max_n: int = 40, max_abs_score: int = 3
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """(labels, scores) for ranking metrics: int64 0/1 labels and float64 scores, shape (n,).

    n in [min_n, max_n] (defaults 2 and 40); both classes always present (the
    first two labels are 0 and 1); scores are integers in [-max_abs_score,
    max_abs_score] (default 3), so ties, across and within classes, are common.
    """
    _check_order("min_n", min_n, "max_n", max_n)
    if min_n < 2:
        raise ValueError(f"min_n={min_n} must be at least 2 (both classes)")
    _check_positive("max_abs_score", max_abs_score)

    @st.composite
    def draw(data: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
        n = data(st.integers(min_n, max_n))
        labels = np.array(data(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
        labels[0], labels[1] = 0, 1
        ints = st.integers(-max_abs_score, max_abs_score)
        scores = np.array(data(st.lists(ints, min_size=n, max_size=n)), dtype=np.float64)
        return labels, scores

    return draw()


# --- Monte Carlo terms (issue 15) ------------------------------------------


def skewed_samples(
    *, min_n: int = 2, max_n: int = 400, max_batch: int = 3
) -> st.SearchStrategy[tuple[np.ndarray, list[int]]]:
    """(terms, cuts): float64 terms of shape (n, b) and sorted chunk boundaries in (0, n).

    n in [min_n, max_n] (defaults 2 and 400), b in [1, max_batch] (default 3). Each
    column is loc + scale·(E^power − 1) with E exponential, power in {0.5, 1, 2, 3}
    (skewness from mild to about 20), loc log-uniform in ±[1e-3, 1e6] and scale in
    [1e-6, 1e3]: offsets far larger than the spread, where naive power sums cancel.
    A column may be constant (scale 0) or symmetric (power 1 of a centred Laplace).
    """
    _check_order("min_n", min_n, "max_n", max_n)
    if min_n < 2:
        raise ValueError(f"min_n={min_n} must be at least 2 (a variance needs two)")

    @st.composite
    def draw(data: st.DrawFn) -> tuple[np.ndarray, list[int]]:
        n = data(st.integers(min_n, max_n))
        b = data(st.integers(1, max_batch))
        rng = np.random.default_rng(data(_seeds()))
        columns = []
        for _ in range(b):
            kind = data(st.sampled_from(["skewed", "symmetric", "constant"]))
            loc = data(st.sampled_from([-1.0, 1.0])) * data(_log_uniform(1e-3, 1e6))
            scale = data(_log_uniform(1e-6, 1e3))
            if kind == "constant":
                columns.append(np.full(n, loc))
            elif kind == "symmetric":
                columns.append(loc + scale * rng.laplace(size=n))
            else:
                power = data(st.sampled_from([0.5, 1.0, 2.0, 3.0]))
                columns.append(loc + scale * np.expm1(power * np.log(rng.exponential(size=n))))
        cuts = sorted(set(data(st.lists(st.integers(1, n - 1), max_size=6)) if n > 1 else []))
        return np.stack(columns, axis=1), cuts

    return draw()
