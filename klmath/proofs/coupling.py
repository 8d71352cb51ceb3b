"""Claim 4: the affine-coupling Jacobian for every mask (seed problem 3).

For x ∈ ℝⁿ and Ω ⊂ {0, …, n−1} (0-based here),

    z_Ω = x_Ω,    z_Ωᶜ = x_Ωᶜ ⊙ exp(s(x_Ω)) + t(x_Ω),

with s, t undefined (arbitrary differentiable, real-valued) functions of x_Ω.
For every n ≤ 5 and every one of the 2ⁿ masks, including the empty and full
ones, SymPy builds the Jacobian J = ∂z/∂x, the permutation σ = (Ω, Ωᶜ) with
(P_σ)_{i,σ(i)} = 1, and checks that P_σ J P_σ⁻¹ = [[I, 0], [*, diag(e^s)]]
entry by entry, that det J = exp(1ᵀs), and that log|det J| = 1ᵀs.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sympy as sp

from klmath.proofs._record import ProofFailure, claim, require, require_zero

__all__ = [
    "CouplingSymbols",
    "coupling_jacobian",
    "coupling_jacobian_for_all_masks",
    "coupling_jacobian_reference",
    "coupling_log_det",
    "coupling_log_det_reference",
]

MAX_N = 5


class CouplingSymbols:
    """The symbolic coupling layer for one mask: x, s, t, z, J and σ.

    Attributes
    ----------
    mask : tuple of bool
        True on Ω (copied, conditioning), False on Ωᶜ (scaled and shifted).
    x : sympy.Matrix, shape (n, 1)
    s, t : list of sympy.Expr
        s_k(x_Ω), t_k(x_Ω) for k in Ωᶜ (increasing), undefined real functions.
    z : sympy.Matrix, shape (n, 1)
    jacobian : sympy.Matrix, shape (n, n)
        ∂z/∂x.
    sigma : list of int
        Ω in increasing order, then Ωᶜ in increasing order.
    permutation : sympy.Matrix, shape (n, n)
        P_σ with (P_σ)_{i,σ(i)} = 1, so P_σ x = x[σ].
    """

    def __init__(self, mask: Sequence[bool]) -> None:
        self.mask = tuple(bool(m) for m in mask)
        n = len(self.mask)
        self.x = sp.Matrix([sp.Symbol(f"x_{i}", real=True) for i in range(n)])
        omega = [i for i in range(n) if self.mask[i]]
        rest = [i for i in range(n) if not self.mask[i]]
        x_omega = [self.x[i] for i in omega]
        self.s = [sp.Function(f"s_{k}", real=True)(*x_omega) for k in rest]
        self.t = [sp.Function(f"t_{k}", real=True)(*x_omega) for k in rest]
        z = list(self.x)
        for j, k in enumerate(rest):
            z[k] = self.x[k] * sp.exp(self.s[j]) + self.t[j]
        self.z = sp.Matrix(z)
        self.jacobian = self.z.jacobian(self.x)
        self.sigma = omega + rest
        self.permutation = sp.Matrix(n, n, lambda i, j: 1 if self.sigma[i] == j else 0)


@functools.cache
def coupling_jacobian(mask: tuple[bool, ...]) -> CouplingSymbols:
    """Return the symbolic coupling layer for ``mask`` (a tuple of bools, any n ≥ 1)."""
    return CouplingSymbols(mask)


def _check_mask(mask: tuple[bool, ...]) -> str:
    sym = coupling_jacobian(mask)
    n, k = len(mask), sum(mask)
    p, jac = sym.permutation, sym.jacobian
    label = "".join("1" if m else "0" for m in mask)
    if p * p.T != sp.eye(n) or p.det() not in (1, -1):
        raise ProofFailure(f"mask {label}: P_σ is not a permutation matrix")
    block = p * jac * p.T  # P_σ⁻¹ = P_σᵀ
    if block[:k, :k] != sp.eye(k):
        raise ProofFailure(f"mask {label}: top-left block is not I")
    if block[:k, k:] != sp.zeros(k, n - k):
        raise ProofFailure(f"mask {label}: top-right block is not 0")
    scales = sp.diag(*[sp.exp(s) for s in sym.s]) if n > k else sp.zeros(0, 0)
    if block[k:, k:] != scales:
        raise ProofFailure(f"mask {label}: bottom-right block is not diag(exp(s))")
    one_s = sp.Add(*sym.s)
    det = jac.det(method="berkowitz")
    require_zero(det - sp.exp(one_s), f"mask {label}: det J = exp(1ᵀs)")
    # s is real, so exp(1ᵀs) > 0 and log|exp(1ᵀs)| = 1ᵀs.
    require_zero(
        sp.expand_log(sp.log(sp.Abs(sp.powsimp(det)))) - one_s, f"mask {label}: log|det J|"
    )
    return label


def coupling_jacobian_for_all_masks(max_n: int = MAX_N) -> list[tuple[bool, ...]]:
    """Return every mask of length 1..max_n (2ⁿ per n, the empty and full ones included)."""
    return [m for n in range(1, max_n + 1) for m in itertools.product((False, True), repeat=n)]


def _expression() -> sp.Basic:
    n, k = sp.symbols("n k", integer=True, positive=True)
    jac = sp.MatrixSymbol("J", n, n)
    s = sp.Function("s")
    omega = sp.Symbol("x_Omega")
    return sp.Eq(
        sp.log(sp.Abs(sp.Determinant(jac))), sp.Sum(s(k, omega), (k, 1, n - sp.Symbol("|Ω|")))
    )


@claim(
    "for every n ≤ 5 and every mask Ω ⊂ {1..n} (empty and full included), the coupling "
    "Jacobian satisfies P_σ J P_σ⁻¹ = [[I, 0], [*, diag(e^s)]] and log|det J| = 1ᵀs(x_Ω)",
    _expression,
)
def coupling_log_det() -> Iterator[str]:
    """Check claim 4 (seed problem 3) for all 62 masks with n ≤ 5."""
    masks = coupling_jacobian_for_all_masks()
    counts: dict[int, int] = {}
    for mask in masks:
        _check_mask(mask)
        counts[len(mask)] = counts.get(len(mask), 0) + 1
    for n in range(1, MAX_N + 1):
        yield require(
            counts.get(n) == 2**n,
            f"n={n}: all {2**n} masks (|Ω| = 0..{n}) give the block form and log|det J| = 1ᵀs",
        )
    yield (
        "edge cases: Ω = ∅ gives J = diag(e^s) with s constant, Ω = all gives J = I and "
        "1ᵀs = 0 (empty sum)"
    )


def _derivative_symbols(
    sym: CouplingSymbols,
) -> tuple[list[sp.Symbol], list[list[sp.Symbol]], list[list[sp.Symbol]]]:
    k = sum(sym.mask)
    m = len(sym.mask) - k
    s_vals = [sp.Symbol(f"s{j}") for j in range(m)]
    ds = [[sp.Symbol(f"ds{j}_{i}") for i in range(k)] for j in range(m)]
    dt = [[sp.Symbol(f"dt{j}_{i}") for i in range(k)] for j in range(m)]
    return s_vals, ds, dt


@functools.cache
def coupling_jacobian_reference(mask: tuple[bool, ...]) -> Callable[..., Any]:
    """Return J = ∂z/∂x for ``mask`` as a NumPy function of the network's values.

    The returned function takes ``(x, s, ds, dt)``: x of shape (n,), s = s(x_Ω)
    of shape (m,), and the Jacobians ds = ∂s/∂x_Ω, dt = ∂t/∂x_Ω of shape (m, k),
    with k = |Ω|, m = n − k, x_Ω and the outputs in increasing index order. It
    returns J of shape (n, n), the chain rule done by SymPy.
    """
    sym = coupling_jacobian(mask)
    omega = [sym.x[i] for i in range(len(mask)) if mask[i]]
    s_vals, ds, dt = _derivative_symbols(sym)
    replace: dict[sp.Basic, sp.Basic] = {}
    for j in range(len(sym.s)):
        for i, xi in enumerate(omega):
            replace[sp.Derivative(sym.s[j], xi)] = ds[j][i]
            replace[sp.Derivative(sym.t[j], xi)] = dt[j][i]
    jac = sym.jacobian.xreplace(replace).xreplace(dict(zip(sym.s, s_vals, strict=True)))
    flat = sp.lambdify(
        [list(sym.x), s_vals, [v for row in ds for v in row], [v for row in dt for v in row]],
        jac,
        modules="numpy",
    )

    def jacobian(x: Any, s: Any, ds_value: Any, dt_value: Any) -> Any:
        import numpy as np

        return np.asarray(
            flat(
                list(np.asarray(x, dtype=float)),
                list(np.asarray(s, dtype=float)),
                list(np.asarray(ds_value, dtype=float).ravel()),
                list(np.asarray(dt_value, dtype=float).ravel()),
            ),
            dtype=float,
        )

    return jacobian


@functools.cache
def coupling_log_det_reference(mask: tuple[bool, ...]) -> Callable[..., Any]:
    """Return log|det J| for ``mask`` as a NumPy function of s(x_Ω), shape (..., m) → (...).

    Built by lambdifying log|det J| of the symbolic Jacobian with each s_k(x_Ω)
    replaced by a plain symbol, so it is the proved expression 1ᵀs, not a copy.
    """
    sym = coupling_jacobian(mask)
    s_vals, _, _ = _derivative_symbols(sym)
    det = sp.powsimp(sym.jacobian.det(method="berkowitz"))
    log_det = sp.expand_log(sp.log(sp.Abs(det))).xreplace(dict(zip(sym.s, s_vals, strict=True)))
    flat = sp.lambdify([s_vals], log_det, modules="numpy")

    def log_det_fn(s: Any) -> Any:
        import numpy as np

        s = np.asarray(s, dtype=float)
        return np.asarray(flat(np.moveaxis(s, -1, 0)), dtype=float) + np.zeros(s.shape[:-1])

    return log_det_fn
