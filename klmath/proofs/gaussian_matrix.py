r"""Claim 8: the matrix-product form of the Gaussian KL that :func:`klmath.gaussian_kl_matrix` uses.

With P = Σ₁⁻¹ and S = Σ₀ + μ₀μ₀ᵀ, for every dimension d ≥ 1,

.. math::

    D_{KL}(\mathcal N(μ_0, Σ_0) \,\|\, \mathcal N(μ_1, Σ_1))
    = \tfrac12 \big[\langle P, S \rangle_F - 2 μ_0^T P μ_1 + μ_1^T P μ_1 - d
      + \log\det Σ_1 - \log\det Σ_0 \big],

and for symmetric P and S the Frobenius product ⟨P, S⟩_F = tr(PᵀS) is the packed sum
the code forms, Σᵢ PᵢᵢSᵢᵢ + 2 Σ_{i>j} PᵢⱼSᵢⱼ (the stored statement is these two
equations). Each pair's KL is therefore the dot product of a row A (from the first
Gaussian) and a row B (from the second),

    A = [packed S | μ₀ | −log det Σ₀ | 1],  B = [packed P, off-diagonal × 2 | −2Pμ₁ | 1 |
    μ₁ᵀPμ₁ + log det Σ₁ − d],

so the KL between every pair of two sets is ½ A Bᵀ (for diagonal covariances the packed
blocks are the diagonals). Proved for symbolic d (SymPy matrix expressions and index
sums of symbolic size):

(a) With Σ₁ = L₁L₁ᵀ, P = L₁⁻ᵀL₁⁻¹ is symmetric; (μ₁ − μ₀)ᵀP(μ₁ − μ₀) = μ₀ᵀPμ₀ − 2μ₀ᵀPμ₁
    + μ₁ᵀPμ₁ (a 1 × 1 matrix is its transpose, Pᵀ = P) and tr(PΣ₀) + μ₀ᵀPμ₀ =
    tr(Pᵀ(Σ₀ + μ₀μ₀ᵀ)) = ⟨P, S⟩_F; so the first equation is claim 1's closed form
    (proved for every d), compared as such.
(b) ⟨X, Y⟩_F = tr(XᵀY) = Σᵢ Σⱼ XᵢⱼYᵢⱼ (SymPy's index form of the trace) equals the
    stated packed sum for symmetric X, Y, by induction on d: d = 1 by evaluation; going
    from d to d + 1 adds row and column d + 1 to the double sum and row d + 1, weighted
    1 on the diagonal and 2 off it, to the packed one, and the two additions agree since
    XᵢⱼYᵢⱼ = XⱼᵢYⱼᵢ (X = G + Gᵀ, Y = H + Hᵀ with G, H arbitrary: every symmetric matrix is
    one, G = X/2). For diagonal X the packed sum is Σᵢ XᵢᵢYᵢᵢ (the ``form="diag"`` layout).
(c) With aᵀb = ⟨P, S⟩_F for the packed blocks a, b, the rows A, B above give
    ½ A·B = the first equation's right-hand side (block matrices of symbolic size).
(d) The library at concrete sizes d = 1, ..., 64: the indices and weights of
    ``klmath.gaussian_matrix._packing`` put on each entry (i, j) exactly the weight the
    stated packed sum puts on it (the statement evaluated at d with one-hot matrices),
    and ``_terms`` builds A and B in the layout of (c), for every form.
(e) Cross-checks at concrete sizes (the general claim does not rest on them): A and B
    from explicit symbolic entries, P by Cramer's rule, against the closed form for full
    covariances at d = 1, 2, 3 and diagonal ones at d = 1, ..., 4: expand and cancel.
(f) :func:`klmath.gaussian_kl_matrix` on fixed sets (a shared member, a nearly equal
    pair, well separated pairs; every form; d = 1, 3 and 22, where the product's inner
    dimension is summed in pieces) against the closed form at 50 digits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import sympy as sp
from sympy import BlockMatrix, Identity, MatrixSymbol, block_collapse
from sympy.matrices.expressions.matexpr import MatrixElement

from klmath.proofs._matrix import canonical, trace_lemmas
from klmath.proofs._record import (
    ProofFailure,
    Step,
    by_induction,
    claim,
    concrete,
    require,
    require_zero,
)

__all__ = ["MAX_D", "gaussian_matrix_identity", "matrix_statement", "product_form"]

_HALF = sp.Rational(1, 2)

MAX_D = 64
"""The library's packing and row layout are checked for d = 1, ..., MAX_D."""


@functools.cache
def _parts() -> dict[str, Any]:
    """The statement's symbols: claim 1's d, μ₀, Σ₀, μ₁, Σ₁, and P, S, i, j of the packing."""
    from klmath.proofs.gaussian import statement_parts

    parts = dict(statement_parts())
    d = parts["d"]
    parts["P"], parts["S"] = MatrixSymbol("P", d, d), MatrixSymbol("S", d, d)
    parts["i"], parts["j"] = sp.symbols("i j", integer=True)
    return parts


def matrix_statement() -> sp.And:
    """The stored statement: the product form of the KL, and ⟨P, S⟩_F as the packed sum."""
    p = _parts()
    d, m0, s0, m1, s1 = (p[k] for k in ("d", "mu_0", "Sigma_0", "mu_1", "Sigma_1"))
    prec = s1.I
    normal = sp.Function("N")
    kl = sp.Function("D_KL")(normal(m0, s0), normal(m1, s1))
    rhs = _HALF * (
        sp.Trace(prec.T * (s0 + m0 * m0.T))  # ⟨P, S⟩_F = tr(PᵀS)
        - 2 * sp.Trace(m0.T * prec * m1)
        + sp.Trace(m1.T * prec * m1)
        - d
        + sp.log(sp.Determinant(s1))
        - sp.log(sp.Determinant(s0))
    )
    x, y, i, j = p["P"], p["S"], p["i"], p["j"]
    packed = sp.Sum(x[i, i] * y[i, i], (i, 0, d - 1)) + 2 * sp.Sum(
        x[i, j] * y[i, j], (j, 0, i - 1), (i, 0, d - 1)
    )
    return sp.And(
        sp.Eq(kl, rhs, evaluate=False),
        sp.Eq(sp.Trace(x.T * y), packed, evaluate=False),
        evaluate=False,
    )


def _split(statement: sp.Basic) -> tuple[sp.Eq, sp.Eq]:
    """The statement's two equations: (the KL, the packed sum), told apart by their sides."""
    args = statement.args if isinstance(statement, sp.And) else (statement,)
    packed = [a for a in args if isinstance(a, sp.Eq) and isinstance(a.lhs, sp.Trace)]
    kl = [a for a in args if isinstance(a, sp.Eq) and not isinstance(a.lhs, sp.Trace)]
    if len(args) != 2 or len(packed) != 1 or len(kl) != 1:
        raise ProofFailure(f"the statement is not the two equations of the claim: {statement}")
    return kl[0], packed[0]


# --- (a) the first equation is claim 1's closed form --------------------------------------


def _product_form_is_closed_form(kl_eq: sp.Eq) -> Iterator[Step]:
    from klmath.proofs.gaussian import gaussian_statement

    p = _parts()
    d, m0, s0, m1, s1 = (p[k] for k in ("d", "mu_0", "Sigma_0", "mu_1", "Sigma_1"))
    l1 = MatrixSymbol("L_1", d, d)
    prec = (l1 * l1.T).I
    yield require(
        prec.T.doit() == prec.doit(),
        "(a) Σ1 = L1L1ᵀ: P = Σ1⁻¹ = L1⁻ᵀL1⁻¹ and Pᵀ = P (d symbolic)",
    )
    cyclic, transpose = trace_lemmas()
    yield require(cyclic and transpose, "(a) tr(XY) = tr(YX) and tr(Xᵀ) = tr(X) at symbolic sizes")
    delta = m1 - m0
    expanded = (
        sp.Trace(m0.T * prec * m0) - 2 * sp.Trace(m0.T * prec * m1) + sp.Trace(m1.T * prec * m1)
    )
    yield require_zero(
        canonical(sp.Trace(delta.T * prec * delta)) - canonical(expanded),
        "(a) (μ1 − μ0)ᵀP(μ1 − μ0) = μ0ᵀPμ0 − 2μ0ᵀPμ1 + μ1ᵀPμ1: μ1ᵀPμ0 is 1 × 1, so it equals "
        "its transpose μ0ᵀPᵀμ1 = μ0ᵀPμ1 (d symbolic)",
    )
    yield require_zero(
        canonical(sp.Trace(prec * s0) + sp.Trace(m0.T * prec * m0))
        - canonical(sp.Trace(prec.T * (s0 + m0 * m0.T))),
        "(a) tr(PΣ0) + μ0ᵀPμ0 = tr(Pᵀ(Σ0 + μ0μ0ᵀ)) = ⟨P, S⟩_F (d symbolic)",
    )
    closed = gaussian_statement()
    yield require(
        kl_eq.lhs == closed.lhs,
        "(a) the stated left-hand side is claim 1's KL(N(μ0,Σ0) ‖ N(μ1,Σ1))",
    )
    yield require_zero(
        canonical(kl_eq.rhs.subs(s1, l1 * l1.T)) - canonical(closed.rhs.subs(s1, l1 * l1.T)),
        "(a) the stated ½[⟨P, S⟩_F − 2μ0ᵀPμ1 + μ1ᵀPμ1 − d + log det Σ1 − log det Σ0] equals "
        "claim 1's ½[tr(Σ1⁻¹Σ0) + (μ1 − μ0)ᵀΣ1⁻¹(μ1 − μ0) − d + log(det Σ1/det Σ0)] "
        "(Σ1 = L1L1ᵀ, d symbolic), so it holds for every d by claim 1",
    )


# --- (b) the packed sum is the Frobenius product, for every d ------------------------------


def _peel(expr: sp.Expr, top: sp.Expr) -> sp.Expr:
    """Split the term k = ``top`` off every sum over an index k running up to ``top``.

    Σ_{k=a}^{top} f(k) = Σ_{k=a}^{top−1} f(k) + f(top) (with SymPy's convention for
    sums, for every a), applied to one index of a multiple sum at a time; the limits of
    the indices inside it take k = top.
    """

    def split(s: sp.Sum) -> sp.Expr:
        for pos, (var, lo, hi) in enumerate(s.limits):
            if hi != top:
                continue
            rest = (*s.limits[:pos], (var, lo, top - 1), *s.limits[pos + 1 :])
            inner = [(v, a.subs(var, top), b.subs(var, top)) for v, a, b in s.limits[:pos]]
            limits = [*inner, *s.limits[pos + 1 :]]
            term = s.function.subs(var, top)
            last = sp.Sum(term, *limits) if limits else term
            return _peel(sp.Sum(s.function, *rest), top) + _peel(last, top)
        return s

    return expr.replace(lambda e: isinstance(e, sp.Sum), split)


def _unroll(expr: sp.Expr) -> sp.Expr:
    """Write out every sum whose limits are concrete integers, outermost index first."""

    def unroll(s: sp.Sum) -> sp.Expr:
        *inner, (var, lo, hi) = s.limits
        if not (lo.is_Integer and hi.is_Integer) or hi < lo - 1:
            raise ProofFailure(f"cannot write out {s}: limits {lo}, {hi}")
        terms = []
        for value in range(int(lo), int(hi) + 1):
            limits = [(v, a.subs(var, value), b.subs(var, value)) for v, a, b in inner]
            term = s.function.subs(var, value)
            terms.append(unroll(sp.Sum(term, *limits)) if limits else term)
        return sp.Add(*terms)

    return expr.replace(lambda e: isinstance(e, sp.Sum), unroll)


def _normal_sums(expr: sp.Expr) -> sp.Expr:
    """Each sum written as a sum of sums of single terms, indices renamed by position.

    Linearity and the renaming of the summation index are exact rules of finite sums;
    after them equal sums are equal expressions and cancel.
    """

    if any(v.name.startswith("k_") for v in expr.free_symbols if isinstance(v, sp.Symbol)):
        raise ProofFailure(f"a free symbol of {expr} could be captured by the renaming")

    def normal(s: sp.Sum) -> sp.Expr:
        if s.function.has(sp.Sum):
            raise ProofFailure(f"nested sum {s}: rename the inner indices first")
        names = {v: sp.Symbol(f"k_{pos}", integer=True) for pos, (v, _, _) in enumerate(s.limits)}
        limits = [(names[v], a.xreplace(names), b.xreplace(names)) for v, a, b in s.limits]
        terms = sp.Add.make_args(sp.expand(s.function.xreplace(names)))
        return sp.Add(*[c * sp.Sum(t, *limits) for c, t in (u.as_coeff_Mul() for u in terms)])

    return sp.expand(expr.replace(lambda e: isinstance(e, sp.Sum), normal))


def _symmetric_entries(expr: sp.Expr, x: MatrixSymbol, y: MatrixSymbol) -> sp.Expr:
    """Xᵢⱼ = g(i, j) + g(j, i), Yᵢⱼ = h(i, j) + h(j, i): any symmetric X, Y (g = X/2, h = Y/2)."""
    g, h = sp.Function("g", real=True), sp.Function("h", real=True)

    def entry(e: MatrixElement) -> sp.Expr:
        f = g if e.parent == x else h
        return f(e.i, e.j) + f(e.j, e.i)

    return expr.replace(lambda e: isinstance(e, MatrixElement) and e.parent in (x, y), entry)


def _packed_is_frobenius(packed_eq: sp.Eq) -> Iterator[Step]:
    p = _parts()
    d, x, y = p["d"], p["P"], p["S"]
    if packed_eq.lhs != sp.Trace(x.T * y):
        raise ProofFailure(f"the packed equation's left-hand side {packed_eq.lhs} is not tr(PᵀS)")
    full = _symmetric_entries(packed_eq.lhs.rewrite(sp.Sum), x, y)
    packed = _symmetric_entries(packed_eq.rhs, x, y)
    base = require_zero(
        _unroll(full.subs(d, 1) - packed.subs(d, 1)),
        "d=1: tr(XᵀY) = X₁₁Y₁₁ is the packed sum",
    )
    n = sp.Symbol("n", integer=True, positive=True)
    growth = (_peel(full.subs(d, n + 1), n) - full.subs(d, n)) - (
        _peel(packed.subs(d, n + 1), n) - packed.subs(d, n)
    )
    step = require_zero(
        _normal_sums(growth),
        "d → d+1 (n = d symbolic): row and column n + 1 added to Σᵢⱼ XᵢⱼYᵢⱼ equal row n + 1 "
        "added to the packed sum, weight 1 on the diagonal and 2 off it, for X = G + Gᵀ, "
        "Y = H + Hᵀ",
    )
    yield by_induction(
        base,
        step,
        "(b) for every d ≥ 1 and symmetric X, Y: ⟨X, Y⟩_F = tr(XᵀY) = Σᵢⱼ XᵢⱼYᵢⱼ = "
        "Σᵢ XᵢᵢYᵢᵢ + 2Σ_(i>j) XᵢⱼYᵢⱼ, the stated packed sum",
    )
    xd = sp.Function("x", real=True)
    i = sp.Symbol("k_0", integer=True)
    diagonal = packed_eq.rhs.replace(
        lambda e: isinstance(e, MatrixElement) and e.parent == x,
        lambda e: sp.KroneckerDelta(e.i, e.j) * xd(e.i),
    )
    yield require_zero(
        _normal_sums(diagonal.doit() - sp.Sum(xd(i) * y[i, i], (i, 0, d - 1))),
        "(b) for diagonal X (Xᵢⱼ = δᵢⱼxᵢ) the stated packed sum is Σᵢ xᵢYᵢᵢ (d symbolic): "
        "the form='diag' layout",
    )


# --- (c) the rows A and B -------------------------------------------------------------------


def _rows(kl_eq: sp.Eq) -> Step:
    p = _parts()
    d, m0, s0, m1, s1 = (p[k] for k in ("d", "mu_0", "Sigma_0", "mu_1", "Sigma_1"))
    k = sp.Symbol("K", integer=True, positive=True)
    a, b = MatrixSymbol("a", k, 1), MatrixSymbol("b", k, 1)
    prec, one = s1.I, Identity(1)
    logdet0, logdet1 = sp.log(sp.Determinant(s0)), sp.log(sp.Determinant(s1))
    row_a = BlockMatrix([[a.T, m0.T, -logdet0 * one, one]])
    row_b = BlockMatrix([[b.T, (-2 * prec * m1).T, one, m1.T * prec * m1 + (logdet1 - d) * one]])
    dot = sp.Trace(block_collapse(row_a * row_b.T))
    frobenius = sp.Trace(prec.T * (s0 + m0 * m0.T))
    value = canonical(_HALF * dot).subs(canonical(sp.Trace(a.T * b)), frobenius)
    if value.has(a) or value.has(b):
        raise ProofFailure(f"(c) aᵀb did not appear as one term of A·B: {value}")
    return require_zero(
        canonical(value) - canonical(kl_eq.rhs),
        "(c) A = [a | μ0ᵀ | −log det Σ0 | 1], B = [b | −2(Pμ1)ᵀ | 1 | μ1ᵀPμ1 + log det Σ1 − d] "
        "with aᵀb = ⟨P, S⟩_F (the packed blocks, by (b); K = d(d+1)/2 entries, or d for "
        "diagonal covariances): ½ A·B is the stated right-hand side (block matrices, d and K "
        "symbolic)",
    )


# --- (d) the library's packing and rows, d = 1..MAX_D ----------------------------------------


class _OneHot:
    """``t[i, j]`` is the d × d integer matrix with a single 1 at (i, j).

    A sum of such entries, weighted, is the matrix of the weights it puts on each (i, j).
    """

    def __init__(self, d: int) -> None:
        self.d = d

    def __getitem__(self, index: tuple[int, int]) -> Any:
        import numpy as np

        out = np.zeros((self.d, self.d), dtype=np.int64)
        out[index] = 1
        return out


def _stated_weights(packed_eq: sp.Eq) -> Callable[[int], Any]:
    """d ↦ the d × d matrix of the weights the stated packed sum puts on PᵢⱼSᵢⱼ."""
    import numpy as np

    p = _parts()
    d, x, y = p["d"], p["P"], p["S"]
    t = sp.IndexedBase("t")
    expr = packed_eq.rhs.replace(
        lambda e: isinstance(e, MatrixElement) and e.parent == y, lambda e: sp.Integer(1)
    ).replace(lambda e: isinstance(e, MatrixElement) and e.parent == x, lambda e: t[e.i, e.j])
    evaluate = sp.lambdify((d, t), expr, modules=[])
    return lambda size: np.asarray(evaluate(size, _OneHot(size)))


def _library_packing(packed_eq: sp.Eq) -> Step:
    import numpy as np
    import torch

    from klmath.gaussian_matrix import _packing

    stated = _stated_weights(packed_eq)
    wrong = []
    for size in range(1, MAX_D + 1):
        index, weights = _packing(size, torch.device("cpu"), torch.float64)
        on_entries = np.zeros(size * size)
        np.add.at(on_entries, index.numpy(), weights.numpy())
        ok = (
            len(index) == size * (size + 1) // 2
            and bool(torch.all(index[1:] > index[:-1]))  # row-major order, each entry once
            and np.array_equal(on_entries.reshape(size, size), stated(size))
        )
        if not ok:
            wrong.append(size)
    return concrete(
        require(
            not wrong,
            "(d) library: klmath.gaussian_matrix._packing(d) lists the lower triangle in "
            "row-major order, each entry once, with exactly the stated packed sum's weight on "
            f"each entry (1 for i = j, 2 for i > j, 0 above), d = 1..{MAX_D}"
            + (f"; wrong at d = {wrong[:5]}" if wrong else ""),
        ),
        f"d ≤ {MAX_D}",
    )


def _row_errors(size: int, gen: Any) -> list[float]:
    """Largest relative difference of ``_terms``'s A and B from the layout of (c), per form."""
    import torch

    from klmath import gaussian_matrix as gm

    f64, cpu = torch.float64, torch.device("cpu")
    m0 = torch.randn(2, size, generator=gen, dtype=f64)
    m1 = torch.randn(3, size, generator=gen, dtype=f64)
    base = [torch.randn(n, size, size, generator=gen, dtype=f64) for n in (2, 3)]
    covs = [a @ a.mT / size + 0.5 * torch.eye(size, dtype=f64) for a in base]
    inputs = {
        "cov": covs,
        "tril": [torch.linalg.cholesky(c) for c in covs],
        "diag": [torch.rand(n, size, generator=gen, dtype=f64) + 0.5 for n in (2, 3)],
    }
    errors = []
    for form, (c0, c1) in inputs.items():
        f0 = gm._factor(c0, form, "cov0", False)
        f1 = gm._factor(c1, form, "cov1", True)
        got_a, got_b, _, _ = gm._terms(m0, f0, m1, f1, form)
        inv = f1["inv"]
        if form == "diag":
            s_block, p_block, p_mean = f0["var"] + m0 * m0, inv, inv * m1
        else:
            second = f0["cov"] + m0[:, :, None] * m0[:, None, :]
            index, weights = gm._packing(size, cpu, f64)
            s_block = second.reshape(2, -1)[:, index]
            p_block = inv.reshape(3, -1)[:, index] * weights
            p_mean = (inv @ m1[:, :, None])[:, :, 0]
        quad = (p_mean * m1).sum(-1, keepdim=True)
        ones = torch.ones(1, 1, dtype=f64)
        want_a = torch.cat([s_block, m0, -f0["logdet"][:, None], ones.expand(2, 1)], 1)
        want_b = torch.cat(
            [p_block, -2 * p_mean, ones.expand(3, 1), quad + f1["logdet"][:, None] - size], 1
        )
        for got, want in ((got_a, want_a), (got_b, want_b)):
            if got.shape != want.shape:
                errors.append(float("inf"))
            else:
                errors.append(((got - want).abs().max() / (1 + want.abs().max())).item())
    return errors


def _library_rows() -> Step:
    """``_terms`` builds A and B in the layout of step (c), every form, d = 1..MAX_D."""
    import torch

    gen = torch.Generator().manual_seed(8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny operations: threads only add their start-up cost
    try:
        worst = max(max(_row_errors(size, gen)) for size in range(1, MAX_D + 1))
    finally:
        torch.set_num_threads(threads)
    return concrete(
        require(
            worst <= 1e-12,
            "(d) library: klmath.gaussian_matrix._terms builds A = [packed S | μ0 | −log det Σ0 "
            "| 1] and B = [packed P × weights | −2Pμ1 | 1 | μ1ᵀPμ1 + log det Σ1 − d] of (c) from "
            f"its factors (forms cov, tril, diag; d = 1..{MAX_D}): largest difference {worst:.1e} "
            "≤ 1e-12 relative (rounding; a misplaced or wrong term is O(1))",
        ),
        f"d ≤ {MAX_D}",
    )


# --- (e) cross-checks at concrete sizes: explicit entries, Cramer's rule ----------------------


def _symbols(name: str, d: int, *, positive: bool = False) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{name}_{i}", real=True, positive=positive) for i in range(d)])


def _symmetric(name: str, d: int) -> sp.Matrix:
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{min(i, j)}{max(i, j)}", real=True))


def _packed(sym: sp.Matrix, weighted: bool) -> list[sp.Expr]:
    """The library's packing of a symmetric matrix (its indices and weights, exactly)."""
    from klmath.gaussian_matrix import _packing

    d = sym.shape[0]
    index, weights = _packing(d, _cpu(), _float64())
    flat = [sym[int(k) // d, int(k) % d] for k in index.tolist()]
    if not weighted:
        return flat
    return [sp.nsimplify(w) * x for w, x in zip(weights.tolist(), flat, strict=True)]


def _cpu() -> object:
    import torch

    return torch.device("cpu")


def _float64() -> object:
    import torch

    return torch.float64


def product_form(
    mean0: sp.Matrix,
    cov0: sp.Matrix,
    mean1: sp.Matrix,
    cov1: sp.Matrix,
    logdet0: sp.Expr,
    logdet1: sp.Expr,
    *,
    diagonal: bool = False,
) -> sp.Expr:
    """½ A·B as :func:`klmath.gaussian_kl_matrix` lays out A and B (module docstring).

    P = adj Σ₁ / det Σ₁ (Cramer); ``diagonal``: the covariances are diagonal and
    A, B hold their diagonals (the ``form="diag"`` layout).
    """
    d = mean0.shape[0]
    inv1 = cov1.adjugate() / cov1.det(method="berkowitz")
    second0 = cov0 + mean0 * mean0.T
    p1_mean = inv1 * mean1
    quad1 = (mean1.T * p1_mean)[0, 0]
    if diagonal:
        packed0 = [second0[i, i] for i in range(d)]
        packed1 = [inv1[i, i] for i in range(d)]
    else:
        packed0, packed1 = _packed(second0, False), _packed(inv1, True)
    a = [*packed0, *mean0, -logdet0, sp.Integer(1)]
    b = [*packed1, *(-2 * p1_mean), sp.Integer(1), quad1 + logdet1 - d]
    return _HALF * sum((x * y for x, y in zip(a, b, strict=True)), sp.Integer(0))


def _closed(mean0: sp.Matrix, cov0: sp.Matrix, mean1: sp.Matrix, cov1: sp.Matrix) -> sp.Expr:
    """½[tr(Σ1⁻¹Σ0) + (μ1 − μ0)ᵀΣ1⁻¹(μ1 − μ0) − d + log(det Σ1/det Σ0)], Σ1⁻¹ by Cramer's rule."""
    d = cov0.shape[0]
    det1 = cov1.det(method="berkowitz")
    adj1 = cov1.adjugate()
    delta = mean1 - mean0
    return _HALF * (
        (adj1 * cov0).trace() / det1
        + (delta.T * adj1 * delta)[0, 0] / det1
        - d
        + sp.log(det1 / cov0.det(method="berkowitz"))
    )


def _full(d: int) -> Step:
    mean0, mean1 = _symbols("mu0", d), _symbols("mu1", d)
    cov0, cov1 = _symmetric("S0", d), _symmetric("S1", d)
    det0, det1 = cov0.det(method="berkowitz"), cov1.det(method="berkowitz")
    ours = product_form(mean0, cov0, mean1, cov1, sp.log(det0), sp.log(det1))
    # Positive definite: both determinants are positive, so log(det1/det0) splits.
    residual = sp.expand_log(_closed(mean0, cov0, mean1, cov1) - ours, force=True)
    return require_zero(
        residual,
        f"d={d}: ½[⟨P, Σ0 + μ0μ0ᵀ⟩ − 2μ0ᵀPμ1 + μ1ᵀPμ1 − d + log det Σ1 − log det Σ0], "
        "packed as the library packs it, equals the closed form (P = adj Σ1 / det Σ1)",
    )


def _diagonal(d: int) -> Step:
    mean0, mean1 = _symbols("mu0", d), _symbols("mu1", d)
    cov0 = sp.diag(*_symbols("v0", d, positive=True))
    cov1 = sp.diag(*_symbols("v1", d, positive=True))
    logdet0 = sum((sp.log(cov0[i, i]) for i in range(d)), sp.Integer(0))
    logdet1 = sum((sp.log(cov1[i, i]) for i in range(d)), sp.Integer(0))
    ours = product_form(mean0, cov0, mean1, cov1, logdet0, logdet1, diagonal=True)
    residual = sp.expand_log(_closed(mean0, cov0, mean1, cov1) - ours, force=True)
    return require_zero(
        residual,
        f"d={d}, diagonal covariances: the form='diag' layout of A and B gives the closed form",
    )


# --- (f) the library's gaussian_kl_matrix at 50 digits -----------------------------------------


def _sets(d: int, seed: int) -> tuple[Any, Any, Any, Any]:
    """Two sets of 4 Gaussians in ℝᵈ: member 0 shared exactly, member 1 nearly equal, 2 far."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((4, d, d))
    covs = a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d)
    means = rng.standard_normal((4, d))
    covs1, means1 = covs.copy(), means.copy()
    covs1[1] = covs[1] * (1 + 1e-7)
    means1[1] = means[1] + 1e-7
    covs1[2:], means1[2:] = covs1[2:][::-1] * 2.0, -means1[2:]
    return means, covs, means1, covs1


def _cholesky(cov: list[list[float]]) -> list[list[Any]]:
    """The lower Cholesky factor of ``cov`` at the current mpmath precision (lists of mpf)."""
    import mpmath

    d = len(cov)
    low: list[list[Any]] = [[mpmath.mpf(0)] * d for _ in range(d)]
    for j in range(d):
        low[j][j] = mpmath.sqrt(cov[j][j] - mpmath.fsum(low[j][k] ** 2 for k in range(j)))
        for i in range(j + 1, d):
            inner = mpmath.fsum(low[i][k] * low[j][k] for k in range(j))
            low[i][j] = (cov[i][j] - inner) / low[j][j]
    return low


def _inverse_from_cholesky(low: list[list[Any]]) -> list[list[Any]]:
    """Σ⁻¹ = L⁻ᵀL⁻¹ for Σ = LLᵀ, L⁻¹ by forward substitution (lists of mpf)."""
    import mpmath

    d = len(low)
    inv: list[list[Any]] = [[mpmath.mpf(0)] * d for _ in range(d)]
    for j in range(d):
        inv[j][j] = 1 / low[j][j]
        for i in range(j + 1, d):
            inv[i][j] = -mpmath.fsum(low[i][k] * inv[k][j] for k in range(j, i)) / low[i][i]
    return [
        [mpmath.fsum(inv[k][i] * inv[k][j] for k in range(max(i, j), d)) for j in range(d)]
        for i in range(d)
    ]


def _exact_matrix(
    means0: Any, covs0: Any, means1: Any, covs1: Any, *, diagonal: bool
) -> list[list[float]]:
    """The closed form for every pair at 50 digits, from the floats given.

    ``diagonal``: the covariances are given by their diagonals. Otherwise each Σ₁⁻¹ and
    log det Σ = 2 Σ log Lᵢᵢ come from the Cholesky factor at 50 digits.
    """
    import mpmath

    d = means0.shape[-1]
    with mpmath.workdps(50):
        if diagonal:
            mats0 = [
                [[x if i == j else 0 for j in range(d)] for i, x in enumerate(v.tolist())]
                for v in covs0
            ]
            invs1 = [
                [
                    [1 / mpmath.mpf(x) if i == j else 0 for j in range(d)]
                    for i, x in enumerate(v.tolist())
                ]
                for v in covs1
            ]
            logdet0 = [mpmath.fsum(mpmath.log(x) for x in v.tolist()) for v in covs0]
            logdet1 = [mpmath.fsum(mpmath.log(x) for x in v.tolist()) for v in covs1]
        else:
            mats0 = [[[mpmath.mpf(x) for x in row] for row in c.tolist()] for c in covs0]
            factors0 = [_cholesky(c.tolist()) for c in covs0]
            factors1 = [_cholesky(c.tolist()) for c in covs1]
            logdet0 = [2 * mpmath.fsum(mpmath.log(f[i][i]) for i in range(d)) for f in factors0]
            logdet1 = [2 * mpmath.fsum(mpmath.log(f[i][i]) for i in range(d)) for f in factors1]
            invs1 = [_inverse_from_cholesky(f) for f in factors1]
        out = []
        for m0, s0, ld0 in zip(means0, mats0, logdet0, strict=True):
            row = []
            for m1, inv1, ld1 in zip(means1, invs1, logdet1, strict=True):
                dm = [mpmath.mpf(v) for v in (m1 - m0).tolist()]
                pairs = [(i, j) for i in range(d) for j in range(d)]
                trace = mpmath.fsum(inv1[i][j] * s0[j][i] for i, j in pairs)
                quad = mpmath.fsum(dm[i] * inv1[i][j] * dm[j] for i, j in pairs)
                row.append(float((trace + quad - d + ld1 - ld0) / 2))
            out.append(row)
    return out


def _library() -> Iterator[Step]:
    """gaussian_kl_matrix on fixed sets against the closed form at 50 digits, every form."""
    import numpy as np

    from klmath import gaussian_kl_matrix

    # d = 22: K = d(d+1)/2 + d + 1 = 276 > 256, so the product sums its inner dimension in pieces.
    for d, seed in ((1, 7), (3, 19), (22, 22)):
        means, covs, means1, covs1 = _sets(d, seed)
        tril0, tril1 = np.linalg.cholesky(covs), np.linalg.cholesky(covs1)
        var0, var1 = np.diagonal(covs, 0, -2, -1).copy(), np.diagonal(covs1, 0, -2, -1).copy()
        cases = {
            "cov": (covs, covs1, covs, covs1),
            "tril": (
                tril0,
                tril1,
                tril0 @ np.swapaxes(tril0, -1, -2),
                tril1 @ np.swapaxes(tril1, -1, -2),
            ),
            "diag": (var0, var1, var0, var1),
        }
        far, near, shared = 0.0, 0.0, True
        for form, (c0, c1, s0, s1) in cases.items():
            got = gaussian_kl_matrix(means, c0, means1, c1, form=form)  # type: ignore[arg-type]
            shared = shared and bool(got[0, 0] == 0.0)
            exact = _exact_matrix(means, s0, means1, s1, diagonal=form == "diag")
            for i in range(len(means)):
                for j in range(len(means1)):
                    if (i, j) == (0, 0):
                        continue
                    err = abs(got[i, j] - exact[i][j]) / exact[i][j]
                    if (i, j) == (1, 1):
                        near = max(near, err)
                    else:
                        far = max(far, err)
        yield require(
            bool(far <= 1e-12 and near <= 1e-6 and shared),
            f"library: gaussian_kl_matrix (cov, tril, diag) on 4 × 4 sets, d = {d}, against 50 "
            f"digits: relative error {far:.1e} ≤ 1e-12 on the separated pairs (the product "
            f"form), {near:.1e} ≤ 1e-6 on the nearly equal pair (KL ≈ 1e-14, recomputed by the "
            "Cholesky form, within its conditioning bound), exactly 0 for the shared member",
        )


@claim(
    "KL(N(μ0,Σ0) ‖ N(μ1,Σ1)) = ½[⟨Σ1⁻¹, Σ0 + μ0μ0ᵀ⟩_F − 2μ0ᵀΣ1⁻¹μ1 + μ1ᵀΣ1⁻¹μ1 − d"
    " + log det Σ1 − log det Σ0], with ⟨P, S⟩_F = Σᵢ PᵢᵢSᵢᵢ + 2Σ_(i>j) PᵢⱼSᵢⱼ for symmetric"
    " P, S: one dot product per pair as gaussian_kl_matrix packs it",
    matrix_statement,
    generality=f"all d ≥ 1 (library packing and layout checked d ≤ {MAX_D})",
    uses=(
        "claim 1, the closed form, proved for every d (gaussian_kl_closed_form)",
        "Cholesky factorisation of a positive-definite matrix (Σ1 = L1L1ᵀ)",
        "finite sums: splitting off the last term, linearity, renaming the summation index",
    ),
)
def gaussian_matrix_identity(statement: sp.Basic) -> Iterator[Step]:
    """Check the product form of :mod:`klmath.gaussian_matrix`; see the module docstring."""
    kl_eq, packed_eq = _split(statement)
    yield from _product_form_is_closed_form(kl_eq)
    yield from _packed_is_frobenius(packed_eq)
    yield _rows(kl_eq)
    yield _library_packing(packed_eq)
    yield _library_rows()
    for d in (1, 2, 3):
        yield concrete(_full(d), f"d = {d}")
    for d in (1, 2, 3, 4):
        yield concrete(_diagonal(d), f"d = {d}, diagonal")
    yield from _library()
