"""Claim 4: the affine-coupling Jacobian for every n and every mask Ω (seed problem 3).

For x ∈ ℝⁿ and Ω ⊂ {1, …, n},

    z_Ω = x_Ω,    z_Ωᶜ = x_Ωᶜ ⊙ exp(s(x_Ω)) + t(x_Ω),

with s, t arbitrary differentiable functions of x_Ω. Proved for symbolic n and
|Ω| = k (SymPy, blocks of symbolic size k and m = n − k):

* the permutation matrix P_σ of σ = (Ω, Ωᶜ), (P_σ)ᵢⱼ = δ(σ(i), j), has P_σP_σᵀ = I
  (index sums with KroneckerDelta), so det(P_σ)² = 1;
* in σ order the Jacobian J′ = P_σ J P_σᵀ has blocks ∂z_Ω/∂x_Ω = I_k, ∂z_Ω/∂x_Ωᶜ = 0,
  ∂z_Ωᶜ/∂x_Ωᶜ = diag(e^s) (indexed derivatives with symbolic indices);
* det [[I_k, 0], [C, D]] = det(I)·det(D) (SymPy's block determinant), det diag(e^s) =
  exp(Σⱼ sⱼ) by induction on m, det J = det(P_σ)² det J′, so log|det J| = Σⱼ sⱼ(x_Ω);
* the result is compared with the stored statement.

Cross-check (concrete sizes): for every n ≤ 5 and each of the 2ⁿ masks the explicit
Jacobian, its block form after P_σ and det J = exp(1ᵀs) are checked entry by entry.
Then the library: :class:`klmath.AffineCoupling`'s log-determinant against the statement.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sympy as sp

from klmath.proofs._record import (
    ProofFailure,
    Step,
    by_induction,
    claim,
    concrete,
    require,
    require_zero,
)

__all__ = [
    "CouplingSymbols",
    "coupling_jacobian",
    "coupling_jacobian_for_all_masks",
    "coupling_jacobian_reference",
    "coupling_log_det",
    "coupling_log_det_reference",
    "coupling_statement",
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


def _check_mask(mask: tuple[bool, ...]) -> Step:
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
    return require_zero(
        sp.expand_log(sp.log(sp.Abs(sp.powsimp(det)))) - one_s, f"mask {label}: log|det J| = 1ᵀs"
    )


def coupling_jacobian_for_all_masks(max_n: int = MAX_N) -> list[tuple[bool, ...]]:
    """Return every mask of length 1..max_n (2ⁿ per n, the empty and full ones included)."""
    return [m for n in range(1, max_n + 1) for m in itertools.product((False, True), repeat=n)]


S_FUNCTION = sp.Function("s", real=True)
"""s, as in the statement: s(j, x_Ω) is the j-th output of the scale net."""


def coupling_statement() -> sp.Eq:
    """The stored statement: log|det ∂z/∂x| = Σⱼ₌₁^{n−|Ω|} sⱼ(x_Ω), n and |Ω| symbolic."""
    n, k = (
        sp.Symbol("n", integer=True, positive=True),
        sp.Symbol("|Ω|", integer=True, nonnegative=True),
    )
    j = sp.Symbol("j", integer=True, positive=True)
    jac = sp.MatrixSymbol("J", n, n)
    return sp.Eq(
        sp.log(sp.Abs(sp.Determinant(jac))), sp.Sum(S_FUNCTION(j, sp.Symbol("x_Ω")), (j, 1, n - k))
    )


def _permutation() -> Step:
    n = sp.Symbol("n", integer=True, positive=True)
    a, b, c = sp.symbols("a b c", integer=True)  # σ(i), σ(j), the column index
    product = sp.Sum(sp.KroneckerDelta(a, c) * sp.KroneckerDelta(b, c), (c, 0, n - 1)).doit()
    inside = (a >= 0) & (a <= n - 1)
    return require(
        product == sp.Piecewise((sp.KroneckerDelta(a, b), inside), (0, True)),
        "(P_σP_σᵀ)ᵢⱼ = Σ_c δ(σ(i), c) δ(σ(j), c) = δ(σ(i), σ(j)) for σ(i) ∈ {0..n−1}, = δᵢⱼ since "
        "σ = (Ω, Ωᶜ) is a bijection: P_σ is orthogonal, det(P_σ)² = 1 (n symbolic)",
    )


def _blocks() -> Step:
    i, j = sp.symbols("i j", integer=True)
    a, b = sp.IndexedBase("x_Omega", real=True), sp.IndexedBase("x_Omegac", real=True)
    block = sp.Symbol("x_Ω")  # s and t depend on the Ω block only
    s, t = sp.Function("s", real=True), sp.Function("t", real=True)
    z_a = a[i]
    z_b = b[i] * sp.exp(s(i, block)) + t(i, block)
    return require(
        sp.diff(z_a, a[j]) == sp.KroneckerDelta(i, j)
        and sp.diff(z_a, b[j]) == 0
        and sp.expand(sp.diff(z_b, b[j]) - sp.KroneckerDelta(i, j) * sp.exp(s(i, block))) == 0,
        "in σ order, for symbolic indices i, j: ∂(z_Ω)ᵢ/∂(x_Ω)ⱼ = δᵢⱼ (I_k), ∂(z_Ω)ᵢ/∂(x_Ωᶜ)ⱼ = 0, "
        "∂(z_Ωᶜ)ᵢ/∂(x_Ωᶜ)ⱼ = δᵢⱼ e^{sᵢ(x_Ω)} (diag(e^s)): J′ = [[I, 0], [C, diag(e^s)]]",
    )


def _block_determinant() -> Step:
    k, m = sp.symbols("k m", integer=True, positive=True)
    c, dmat = sp.MatrixSymbol("C", m, k), sp.MatrixSymbol("D", m, m)
    jp = sp.BlockMatrix([[sp.Identity(k), sp.ZeroMatrix(k, m)], [c, dmat]])
    p = sp.MatrixSymbol("P", k + m, k + m)
    full = sp.Determinant(p.T * sp.MatrixSymbol("Jp", k + m, k + m) * p).doit()
    full = full.replace(lambda e: isinstance(e, sp.Determinant), lambda e: e.doit())
    return require(
        sp.Determinant(jp).doit() == sp.Determinant(dmat)
        and sp.expand(
            full - sp.Determinant(p) ** 2 * sp.Determinant(sp.MatrixSymbol("Jp", k + m, k + m))
        )
        == 0,
        "det [[I_k, 0], [C, D]] = det(D) (block determinant, k and m symbolic) and "
        "det J = det(P_σᵀJ′P_σ) = det(P_σ)² det J′ = det J′",
    )


def _diag_exp(m_sym: sp.Symbol) -> tuple[Step, sp.Expr]:
    j = sp.Symbol("j", integer=True, positive=True)
    sv = sp.IndexedBase("s", real=True)
    base = require(
        sp.Matrix([[sp.exp(sv[1])]]).det() == sp.exp(sp.Sum(sv[j], (j, 1, 1)).doit()),
        "m=1: det [e^{s₁}] = exp(s₁)",
    )
    m = sp.Symbol("m", integer=True, positive=True)
    dm = sp.MatrixSymbol("D_m", m, m)
    nxt = sp.BlockDiagMatrix(dm, sp.Identity(1) * sp.exp(sv[m + 1]))
    det_next = (
        sp.Determinant(nxt)
        .doit()
        .replace(
            lambda e: isinstance(e, sp.Determinant) and isinstance(e.arg, sp.Identity),
            lambda e: sp.Integer(1),
        )
    )
    hypothesis = {sp.Determinant(dm): sp.exp(sp.Sum(sv[j], (j, 1, m)))}
    step = require_zero(
        sp.powsimp(det_next.subs(hypothesis))
        - sp.powsimp(sp.exp(sp.Sum(sv[j], (j, 1, m)) + sv[m + 1])),
        "m → m+1: det diag(D_m, e^{s_{m+1}}) = det(D_m)·e^{s_{m+1}} = exp(Σ_{j≤m+1} sⱼ)",
    )
    result = sp.Sum(sv[j], (j, 1, m_sym))
    return by_induction(base, step, "det diag(e^{s₁}, …, e^{s_m}) = exp(Σⱼ sⱼ) for every m"), result


@claim(
    "for every n and every mask Ω ⊂ {1..n} (empty and full included), the coupling Jacobian "
    "satisfies P_σ J P_σ⁻¹ = [[I, 0], [*, diag(e^s)]] and log|det J| = 1ᵀs(x_Ω)",
    coupling_statement,
    generality="all n ≥ 1, all masks Ω",
)
def coupling_log_det(statement: sp.Eq) -> Iterator[Step]:
    """Check claim 4 (seed problem 3) for symbolic n and |Ω|; see the module docstring."""
    yield _permutation()
    yield _blocks()
    yield _block_determinant()
    m = sp.Symbol("m", integer=True, nonnegative=True)
    step, exponent = _diag_exp(m)
    yield step
    (n,) = [a for a in statement.free_symbols if a.name == "n"]
    (k,) = [a for a in statement.free_symbols if a.name == "|Ω|"]
    j = sp.Symbol("j", integer=True, positive=True)
    s_of = {sp.IndexedBase("s", real=True)[j]: S_FUNCTION(j, sp.Symbol("x_Ω"))}
    derived = sp.log(sp.Abs(sp.exp(exponent))).xreplace(s_of)
    yield require_zero(
        sp.expand_log(derived, force=False).subs(m, n - k) - statement.rhs,
        "log|det J| = log exp(Σⱼ sⱼ) = Σⱼ₌₁^{n−|Ω|} sⱼ(x_Ω) (s real) equals the stated right-hand "
        "side",
    )
    yield require_zero(
        statement.rhs.subs(k, n).doit(),
        "Ω = {1..n}: J = I and the stated sum is empty, 0",
    )
    # Cross-check at concrete sizes: every mask with n ≤ 5, entry by entry.
    for size in range(1, MAX_N + 1):
        checked = [_check_mask(mask) for mask in itertools.product((False, True), repeat=size)]
        yield concrete(
            require(
                all(isinstance(c, Step) for c in checked) and len(checked) == 2**size,
                f"cross-check n={size}: each of the {2**size} masks gives the block form and "
                "log|det J| = 1ᵀs entry by entry",
            ),
            f"n = {size}",
        )
    empty = coupling_jacobian((False, False, False))
    yield concrete(
        require(
            empty.jacobian == sp.diag(*[sp.exp(v) for v in empty.s])
            and all(v.args == () for v in empty.s),
            "edge case Ω = ∅ (n = 3): J = diag(e^s) with s constant (a function of no x)",
        ),
        "n = 3",
    )
    from klmath.proofs.library import coupling_library_checks

    yield from coupling_library_checks(statement.rhs, S_FUNCTION)


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
