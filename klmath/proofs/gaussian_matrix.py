r"""Claim: the matrix-product form of the Gaussian KL that :func:`klmath.gaussian_kl_matrix` uses.

With P = Σ₁⁻¹ and S = Σ₀ + μ₀μ₀ᵀ,

.. math::

    D_{KL}(\mathcal N(μ_0, Σ_0) \,\|\, \mathcal N(μ_1, Σ_1))
    = \tfrac12 \big[\langle P, S \rangle_F - 2 μ_0^T P μ_1 + μ_1^T P μ_1 - d
      + \log\det Σ_1 - \log\det Σ_0 \big],

and for symmetric P and S the Frobenius product is the packed sum the code
forms, ⟨P, S⟩_F = Σᵢ PᵢᵢSᵢᵢ + 2 Σ_{i>j} PᵢⱼSᵢⱼ. Each pair's KL is therefore the dot
product of a row A (from the first Gaussian) and a row B (from the second),

    A = [packed S | μ₀ | −log det Σ₀ | 1],  B = [packed P, off-diagonal × 2 | −2Pμ₁ | 1 |
    μ₁ᵀPμ₁ + log det Σ₁ − d],

so the KL between every pair of two sets is ½ A Bᵀ. The check builds A and B
with the library's own packing (the indices and weights of
``klmath.gaussian_matrix._packing``) from explicit symbolic entries, P by
Cramer's rule, and compares ½ A·B with the seed's closed form
½[tr(PΣ₀) + (μ₁ − μ₀)ᵀP(μ₁ − μ₀) − d + log det Σ₁ − log det Σ₀], for full
covariances at d = 1, 2, 3 and diagonal ones at d = 1, ..., 4: expand and cancel,
exactly 0. The claim is checked for those dimensions only (its stated generality);
``tests/test_gaussian_matrix.py`` compares the library's result with
:func:`klmath.gaussian_kl` numerically up to d = 16. The last step evaluates the
library's :func:`klmath.gaussian_kl_matrix` on fixed sets (a shared member, a
nearly equal pair, well separated pairs; every form) against the closed form at
50 digits.
"""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp

from klmath.proofs._record import Step, claim, require, require_zero

__all__ = ["gaussian_matrix_identity", "product_form"]

_HALF = sp.Rational(1, 2)


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


def _packing_identity(d: int) -> Step:
    p, s = _symmetric("P", d), _symmetric("S", d)
    frobenius = sum((p[i, j] * s[i, j] for i in range(d) for j in range(d)), sp.Integer(0))
    packed = sum(
        (x * y for x, y in zip(_packed(p, True), _packed(s, False), strict=True)), sp.Integer(0)
    )
    trace = (p * s).trace()
    return require_zero(
        (frobenius - packed) ** 2 + (trace - frobenius) ** 2,
        f"d={d}: tr(PS) = ⟨P, S⟩_F = Σᵢ PᵢᵢSᵢᵢ + 2Σ_(i>j) PᵢⱼSᵢⱼ for symmetric P, S "
        "(the library's packing)",
    )


def _expression() -> sp.Basic:
    d = sp.Symbol("d", integer=True, positive=True)
    m0, m1 = sp.MatrixSymbol("mu_0", d, 1), sp.MatrixSymbol("mu_1", d, 1)
    s0, s1 = sp.MatrixSymbol("Sigma_0", d, d), sp.MatrixSymbol("Sigma_1", d, d)
    p = s1.I
    kl = sp.Function("D_KL")(sp.Function("N")(m0, s0), sp.Function("N")(m1, s1))
    rhs = _HALF * (
        sp.Trace(p * (s0 + m0 * m0.T))
        - 2 * sp.Trace(m0.T * p * m1)
        + sp.Trace(m1.T * p * m1)
        - d
        + sp.log(sp.Determinant(s1))
        - sp.log(sp.Determinant(s0))
    )
    return sp.Eq(kl, rhs, evaluate=False)


def _library() -> Step:
    """gaussian_kl_matrix on fixed sets against the closed form at 50 digits, every form."""
    import mpmath
    import numpy as np

    from klmath import gaussian_kl_matrix

    rng = np.random.default_rng(19)
    d = 3
    a = rng.standard_normal((4, d, d))
    covs = a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d)
    means = rng.standard_normal((4, d))
    # Set 1: member 0 of set 0 exactly, a nearly equal copy of member 1, two others.
    covs1 = covs[[0, 1, 2, 3]].copy()
    means1 = means[[0, 1, 2, 3]].copy()
    covs1[1] = covs[1] * (1 + 1e-7)
    means1[1] = means[1] + 1e-7
    covs1[2:], means1[2:] = covs1[2:][::-1] * 2.0, -means1[2:]
    tril0, tril1 = np.linalg.cholesky(covs), np.linalg.cholesky(covs1)

    def exact(m0: np.ndarray, s0: np.ndarray, m1: np.ndarray, s1: np.ndarray) -> float:
        with mpmath.workdps(50):
            p0, p1 = mpmath.matrix(s0.tolist()), mpmath.matrix(s1.tolist())
            dm = mpmath.matrix((m1 - m0).tolist())
            inv1 = mpmath.inverse(p1)
            value = (
                sum((inv1 * p0)[i, i] for i in range(d))
                + (dm.T * inv1 * dm)[0, 0]
                - d
                + mpmath.log(mpmath.det(p1) / mpmath.det(p0))
            ) / 2
            return float(value)

    cases = {
        "cov": (means, covs, means1, covs1, covs, covs1),
        "tril": (
            means,
            tril0,
            means1,
            tril1,
            tril0 @ np.swapaxes(tril0, -1, -2),
            tril1 @ np.swapaxes(tril1, -1, -2),
        ),
        "diag": (
            means,
            np.diagonal(covs, 0, -2, -1).copy(),
            means1,
            np.diagonal(covs1, 0, -2, -1).copy(),
            None,
            None,
        ),
    }
    far, near, shared = 0.0, 0.0, True
    for form, (m0, c0, m1, c1, s0, s1) in cases.items():
        got = gaussian_kl_matrix(m0, c0, m1, c1, form=form)  # type: ignore[arg-type]
        shared = shared and bool(got[0, 0] == 0.0)
        for i in range(len(m0)):
            for j in range(len(m1)):
                if (i, j) == (0, 0):
                    continue
                e0 = np.diag(c0[i]) if s0 is None else s0[i]
                e1 = np.diag(c1[j]) if s1 is None else s1[j]
                ref = exact(m0[i], e0, m1[j], e1)
                err = abs(got[i, j] - ref) / ref
                if (i, j) == (1, 1):
                    near = max(near, err)
                else:
                    far = max(far, err)
    return require(
        bool(far <= 1e-12 and near <= 1e-6 and shared),
        "library: gaussian_kl_matrix (cov, tril, diag) on 4 × 4 sets against 50 digits: "
        f"relative error {far:.1e} ≤ 1e-12 on the separated pairs (the product form), "
        f"{near:.1e} ≤ 1e-6 on the nearly equal pair (KL ≈ 1e-14, recomputed by the "
        "Cholesky form, within its conditioning bound), exactly 0 for the shared member",
    )


@claim(
    "KL(N(μ0,Σ0) ‖ N(μ1,Σ1)) = ½[⟨Σ1⁻¹, Σ0 + μ0μ0ᵀ⟩_F − 2μ0ᵀΣ1⁻¹μ1 + μ1ᵀΣ1⁻¹μ1 − d"
    " + log det Σ1 − log det Σ0], one dot product per pair as gaussian_kl_matrix packs it",
    _expression,
    generality="full covariances d = 1, 2, 3; diagonal covariances d = 1, 2, 3, 4",
)
def gaussian_matrix_identity(statement: sp.Basic) -> Iterator[Step]:
    """Check the product form of :mod:`klmath.gaussian_matrix`; see the module docstring."""
    for d in (1, 2, 3, 4):
        yield _packing_identity(d)
    for d in (1, 2, 3):
        yield _full(d)
    for d in (1, 2, 3, 4):
        yield _diagonal(d)
    yield _library()
