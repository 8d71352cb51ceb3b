"""The proof run checks the library: klmath's own functions against the proved statements.

Each claim ends by evaluating the library's functions on every code path and
comparing them with its *statement* (the proved expression itself, evaluated by
:func:`mp_evaluate` at 50 digits from the exact floating-point inputs), so
``python -m klmath.proofs`` fails when a library formula is broken.

The Gaussian paths are listed in one table, :data:`GAUSSIAN_PATHS`: a new fast
path is covered by adding one :class:`LibraryPath` line with inputs that force it.
Every path runs in float64 and float32.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from klmath.proofs._record import ProofFailure, Step, require

__all__ = [
    "GAUSSIAN_PATHS",
    "PENALTY_POLICIES",
    "LibraryPath",
    "additivity_library_checks",
    "coupling_library_checks",
    "evaluate_gaussian_statement",
    "flow1d_library_checks",
    "gaussian_library_checks",
    "lemma_library_checks",
    "mp_evaluate",
    "nonnegativity_library_checks",
    "penalty_library_checks",
]

DIGITS = 50


# --- evaluating a statement at 50 digits ------------------------------------------------


def _mp_number(value: sp.Expr) -> Any:
    if isinstance(value, sp.Integer):
        return mpmath.mpf(int(value))
    if isinstance(value, sp.Rational):
        return mpmath.mpf(int(value.p)) / int(value.q)
    if value is sp.pi:
        return +mpmath.pi
    if value is sp.E:
        return mpmath.e
    return mpmath.mpf(sp.Float(value, DIGITS + 10))


def _prod(values: Sequence[Any]) -> Any:
    out = values[0]
    for v in values[1:]:
        out = out * v
    return out


def _is_diagonal(m: Any) -> bool:
    return all(m[i, j] == 0 for i in range(m.rows) for j in range(m.cols) if i != j)


def _inverse(m: Any) -> Any:
    if m.rows == m.cols and _is_diagonal(m):  # a diagonal matrix: the inverse is exact
        out = mpmath.zeros(m.rows, m.cols)
        for i in range(m.rows):
            out[i, i] = 1 / m[i, i]
        return out
    return mpmath.inverse(m)


def _determinant(m: Any) -> Any:
    if _is_diagonal(m):
        return mpmath.fprod(m[i, i] for i in range(m.rows))
    return mpmath.det(m)


@functools.lru_cache(maxsize=4096)
def _sum_term(function: sp.Expr, index: sp.Symbol, k: int) -> sp.Expr:
    """The summand ``function`` at ``index = k`` (the same terms recur for every ``env``)."""
    return function.xreplace({index: sp.Integer(k)})


def mp_evaluate(expr: sp.Basic, env: dict[sp.Basic, Any], memo: dict | None = None) -> Any:
    """See :func:`_mp_evaluate`; ``memo`` caches sub-expressions (e.g. an inverse used twice)."""
    memo = {} if memo is None else memo
    if expr not in memo:
        memo[expr] = _mp_evaluate(expr, env, memo)
    return memo[expr]


def _mp_evaluate(expr: sp.Basic, env: dict[sp.Basic, Any], memo: dict) -> Any:
    """Evaluate a SymPy expression (matrix expressions included) with mpmath.

    ``env`` maps symbols, matrix symbols (to ``mpmath.matrix``), indexed bases (to
    sequences, 1-based indices) and undefined functions (to callables) to values.
    Handles +, ·, powers, exp, log, erf, |·|, Kronecker deltas, sums with numeric
    limits, MatMul, MatAdd, inverse, transpose, trace, determinant and identity matrices. Runs at
    the current ``mpmath.mp.dps``.
    """
    if expr in env:
        return env[expr]
    if isinstance(expr, sp.Indexed):
        seq = env[expr.base]
        return seq[int(mp_evaluate(expr.indices[0], env, memo)) - 1]
    if expr.is_Number or expr in (sp.pi, sp.E):
        return _mp_number(expr)
    if isinstance(expr, sp.Identity):
        return mpmath.eye(int(mp_evaluate(expr.rows, env, memo)))
    if isinstance(expr, (sp.Add, sp.MatAdd)):
        parts = [mp_evaluate(a, env, memo) for a in expr.args]
        out = parts[0]
        for v in parts[1:]:
            out = out + v
        return out
    if isinstance(expr, (sp.Mul, sp.MatMul)):
        return _prod([mp_evaluate(a, env, memo) for a in expr.args])
    if isinstance(expr, sp.Inverse):
        return _inverse(mp_evaluate(expr.arg, env, memo))
    if isinstance(expr, (sp.Pow, sp.MatPow)):
        base, exp = mp_evaluate(expr.base, env, memo), mp_evaluate(expr.exp, env, memo)
        if isinstance(base, mpmath.matrix):
            if exp != -1:
                raise ValueError(f"matrix power {expr} not supported")
            return _inverse(base)
        return base**exp
    if isinstance(expr, sp.Transpose):
        return mp_evaluate(expr.arg, env, memo).T
    if isinstance(expr, sp.Trace):
        arg = expr.arg
        if isinstance(arg, sp.MatMul) and len(arg.args) == 2 and not arg.args[0].is_Number:
            # tr(AB) = Σᵢⱼ AᵢⱼBⱼᵢ: the same number without forming the product
            a_m, b_m = (mp_evaluate(f, env, memo) for f in arg.args)
            return mpmath.fsum(
                a_m[i, j] * b_m[j, i] for i in range(a_m.rows) for j in range(a_m.cols)
            )
        m = mp_evaluate(arg, env, memo)
        return mpmath.fsum(m[i, i] for i in range(m.rows))
    if isinstance(expr, sp.Determinant):
        return _determinant(mp_evaluate(expr.arg, env, memo))
    if isinstance(expr, sp.KroneckerDelta):
        a, b = (mp_evaluate(x, env, memo) for x in expr.args)
        return mpmath.mpf(1) if a == b else mpmath.mpf(0)
    if isinstance(expr, sp.Sum):
        (i, lo, hi), *rest = expr.limits
        if rest:
            raise ValueError(f"nested sum {expr} not supported")
        start, stop = int(mp_evaluate(lo, env, memo)), int(mp_evaluate(hi, env, memo))
        # Each term, with the index substituted, is a closed expression in ``env``: the memo
        # holds for it too (an inner sum free of i is evaluated once, not once per term).
        return mpmath.fsum(
            mp_evaluate(_sum_term(expr.function, i, k), env, memo) for k in range(start, stop + 1)
        )
    functions: dict[Any, Callable[..., Any]] = {
        sp.exp: mpmath.exp,
        sp.log: mpmath.log,
        sp.erf: mpmath.erf,
        sp.erfc: mpmath.erfc,
        sp.Abs: abs,
        sp.tanh: mpmath.tanh,
    }
    for kind, fn in functions.items():
        if isinstance(expr, kind):
            return fn(*[mp_evaluate(a, env, memo) for a in expr.args])
    if isinstance(expr, sp.core.function.AppliedUndef) and expr.func in env:
        return env[expr.func](*[mp_evaluate(a, env, memo) for a in expr.args])
    raise ValueError(f"cannot evaluate {type(expr).__name__} {expr}")


def _mp_matrix(a: np.ndarray) -> mpmath.matrix:
    return mpmath.matrix(np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1).tolist())


def _terms(rhs: sp.Expr) -> list[sp.Expr]:
    """The summands of a statement ½(t₁ + t₂ + …) (the scale its rounding is measured by)."""
    inner = [a for a in sp.Mul.make_args(rhs) if isinstance(a, sp.Add)]
    return list(sp.Add.make_args(inner[0])) if inner else [rhs]


def evaluate_gaussian_statement(
    rhs: sp.Expr, mean0: Any, cov0: Any, mean1: Any, cov1: Any, *, scale: bool = False
) -> Any:
    """The statement's right-hand side at the given float inputs, exactly converted, in mpmath.

    With ``scale=True`` also returns Σ|tᵢ| over the summands of ½(t₁ + …): the size
    of what the library's rounding errors are relative to.
    """
    from klmath.proofs.gaussian import statement_parts

    p = statement_parts()
    m0, m1 = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (mean0, mean1))

    def matrix(a: Any) -> mpmath.matrix:  # mpmath matrices pass through unrounded
        if isinstance(a, mpmath.matrix):
            return a
        return _mp_matrix(np.atleast_2d(np.asarray(a, dtype=np.float64)))

    env: dict[sp.Basic, Any] = {
        p["d"]: mpmath.mpf(len(m0)),
        p["mu_0"]: _mp_matrix(m0[:, None]),
        p["mu_1"]: _mp_matrix(m1[:, None]),
        p["Sigma_0"]: matrix(cov0),
        p["Sigma_1"]: matrix(cov1),
    }
    memo: dict = {}
    with mpmath.workdps(DIGITS):
        value = mp_evaluate(rhs, env, memo)
        if not scale:
            return value
        # Σ|tᵢ|, with log(det Σ1/det Σ0) counted as |log det Σ1| + |log det Σ0|.
        size = mpmath.mpf(0)
        for t in _terms(rhs):
            dets = list(t.atoms(sp.Determinant)) if isinstance(t, sp.log) else []
            if dets:
                size += mpmath.fsum(abs(mpmath.log(mp_evaluate(det, env, memo))) for det in dets)
            else:
                size += abs(mp_evaluate(t, env, memo))
        return value, size


# --- the Gaussian paths ------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryPath:
    """One code path of a Gaussian KL function and inputs that force it.

    Attributes
    ----------
    function : str
        ``"gaussian_kl"``, ``"gaussian_kl_tril"`` or ``"gaussian_kl_diag"``.
    path : str
        The path in words.
    dims : tuple of int
        The dimensions d it is checked at.
    grad : bool
        Inputs that require grad (the autograd path) instead of plain tensors.
    numpy : bool
        NumPy inputs instead of torch tensors.
    batch : tuple of int
        Batch shape of the inputs (the second pair broadcasts from an unbatched one
        when ``broadcast``).
    broadcast : bool
        The second Gaussian is unbatched and broadcasts against the first.
    near : float
        0 for independent pairs; else the second Gaussian is the first perturbed by
        this relative amount (near-identical pairs: the series branch).
    careful : bool
        Call the function's careful (reference) evaluation directly, the path every
        call falls back to when a fast path's check fails (``_full_kl_careful``,
        ``_tril_kl_careful``, ``_diag_kl_careful`` in :mod:`klmath.gaussian`).
    """

    function: str
    path: str
    dims: tuple[int, ...]
    grad: bool = False
    numpy: bool = False
    batch: tuple[int, ...] = ()
    broadcast: bool = False
    near: float = 0.0
    careful: bool = False


GAUSSIAN_PATHS: tuple[LibraryPath, ...] = (
    LibraryPath("gaussian_kl", "unrolled d ≤ 3, no grad", (1, 2, 3)),
    LibraryPath("gaussian_kl", "autograd Function, unrolled forward", (1, 2), grad=True),
    LibraryPath("gaussian_kl", "unrolled, batched and broadcast", (2,), batch=(3,), broadcast=True),
    LibraryPath("gaussian_kl", "LAPACK, in place, no grad", (4, 17)),
    LibraryPath("gaussian_kl", "LAPACK split solve d ≥ 64, own L0 buffer", (64,)),
    LibraryPath("gaussian_kl", "autograd Function, LAPACK forward", (16, 64), grad=True),
    LibraryPath("gaussian_kl", "careful, unrolled d ≤ 3", (1, 3), careful=True),
    LibraryPath("gaussian_kl", "careful, LAPACK", (5, 64), careful=True),
    LibraryPath(
        "gaussian_kl",
        "careful, batched and broadcast",
        (6,),
        batch=(2,),
        broadcast=True,
        careful=True,
    ),
    LibraryPath("gaussian_kl", "LAPACK, batched and broadcast", (4,), batch=(2,), broadcast=True),
    LibraryPath("gaussian_kl", "NumPy in, NumPy out", (2, 8), numpy=True),
    LibraryPath("gaussian_kl_tril", "in place, no grad", (1, 7, 64)),
    LibraryPath("gaussian_kl_tril", "unrolled, batched", (2,), batch=(3,)),
    LibraryPath("gaussian_kl_tril", "whole-batch, broadcast", (5,), batch=(3,), broadcast=True),
    LibraryPath("gaussian_kl_tril", "autograd (careful)", (3, 64), grad=True),
    LibraryPath("gaussian_kl_tril", "careful", (1, 7, 64), careful=True),
    LibraryPath("gaussian_kl_tril", "near-identical (series terms)", (5,), near=1e-6),
    LibraryPath("gaussian_kl_diag", "fast no-grad", (1, 5, 64)),
    LibraryPath("gaussian_kl_diag", "autograd Function, fused forward", (1, 5, 64), grad=True),
    LibraryPath("gaussian_kl_diag", "careful", (1, 5, 64), careful=True),
    LibraryPath("gaussian_kl_diag", "fast, near-identical (series)", (8,), near=1e-5),
    LibraryPath(
        "gaussian_kl_diag", "autograd, near-identical (series)", (8,), grad=True, near=1e-5
    ),
    LibraryPath(
        "gaussian_kl_diag", "careful, near-identical (series)", (8,), careful=True, near=1e-5
    ),
    LibraryPath("gaussian_kl_diag", "batched and broadcast", (4,), batch=(3,), broadcast=True),
)
"""Every path of the Gaussian KL functions the proof run evaluates (float64 and float32)."""


def _inputs(path: LibraryPath, d: int) -> tuple[np.ndarray, ...]:
    """Deterministic well-conditioned float64 inputs for ``path`` at dimension d."""
    rng = np.random.default_rng([d, len(path.batch), int(path.near * 1e9), int(path.broadcast)])
    batch = path.batch

    def mean(shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_normal((*shape, d))

    def cov(shape: tuple[int, ...]) -> np.ndarray:
        a = rng.standard_normal((*shape, d, d)) / math.sqrt(d)
        return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(d)

    def var(shape: tuple[int, ...]) -> np.ndarray:
        return np.exp(rng.uniform(-1.0, 1.0, (*shape, d)))

    second = () if path.broadcast else batch
    if path.function == "gaussian_kl_diag":
        m0, v0 = mean(batch), var(batch)
        if path.near:
            return m0, v0, m0 + path.near * rng.standard_normal(d), v0 * (1 + path.near)
        return m0, v0, mean(second), var(second)
    m0, s0 = mean(batch), cov(batch)
    if path.near:
        out = (m0, s0, m0 + path.near * rng.standard_normal(d), s0 * (1 + path.near))
    else:
        out = (m0, s0, mean(second), cov(second))
    if path.function == "gaussian_kl_tril":  # Cholesky factors: the reference uses LLᵀ exactly
        return out[0], np.linalg.cholesky(out[1]), out[2], np.linalg.cholesky(out[3])
    return out


def _call(path: LibraryPath, args: Sequence[np.ndarray], dtype: Any) -> np.ndarray:
    import torch

    import klmath

    fn = getattr(klmath, path.function)
    if path.careful:
        return _call_careful(path.function, args, dtype)
    if path.numpy:
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        return np.asarray(fn(*[np.asarray(a, dtype=np_dtype) for a in args]), dtype=np.float64)
    tensors = [torch.tensor(a, dtype=dtype, requires_grad=path.grad) for a in args]
    if path.grad:
        out = fn(*tensors)
        out.sum().backward()  # the backward pass must run too
        return out.detach().double().numpy()
    with torch.no_grad():
        return fn(*tensors).double().numpy()


def _call_careful(function: str, args: Sequence[np.ndarray], dtype: Any) -> np.ndarray:
    """The careful (reference) evaluation of ``function``: the fallback of every fast path."""
    import torch

    from klmath import gaussian

    m0, a0, m1, a1 = (torch.tensor(a, dtype=dtype) for a in args)
    with torch.no_grad():
        if function == "gaussian_kl":
            out = gaussian._full_kl_careful(m0, a0, m1, a1)
        elif function == "gaussian_kl_tril":
            out = gaussian._tril_kl_careful(m0, a0, m1, a1)
        else:
            shape = tuple(torch.broadcast_shapes(m0.shape, a0.shape, m1.shape, a1.shape))
            out = gaussian._diag_kl_careful(m0, a0, m1, a1, shape)
    return out.double().numpy()


def fast_paths_covered() -> Step:
    """Every fast path of :data:`klmath.gaussian.FAST_PATHS` is evaluated by a path here.

    A path covers a fast path when it calls the same function, with or without grad
    as the fast path requires, broadcast or not, at one of the dimensions the fast
    path is listed (and tested) at.
    """
    from klmath.gaussian import FAST_PATHS

    missing = [
        f"{fp.function} [{fp.path}]"
        for fp in FAST_PATHS
        if not any(
            p.function == fp.function
            and p.grad == fp.grad
            and not p.careful
            and p.broadcast == fp.broadcast
            and set(p.dims) & set(fp.dims)
            for p in GAUSSIAN_PATHS
        )
    ]
    return require(
        not missing,
        f"library: each of the {len(FAST_PATHS)} fast paths of klmath.gaussian.FAST_PATHS is "
        "among the paths evaluated" + (f" — not evaluated: {missing}" if missing else ""),
    )


def _pairs(args: Sequence[np.ndarray], function: str) -> Iterator[tuple[tuple[int, ...], list]]:
    """Each batch element's (mean0, cov0, mean1, cov1), covariances as matrices."""
    m0, s0, m1, s1 = (np.asarray(a, dtype=np.float64) for a in args)
    batch = np.broadcast_shapes(m0.shape[:-1], m1.shape[:-1])
    ev = 1 if function == "gaussian_kl_diag" else 2
    m0, m1 = (np.broadcast_to(m, (*batch, m.shape[-1])) for m in (m0, m1))
    s0, s1 = (np.broadcast_to(s, (*batch, *s.shape[s.ndim - ev :])) for s in (s0, s1))
    for index in np.ndindex(*batch):
        if function == "gaussian_kl_diag":
            pair = [m0[index], np.diag(s0[index]), m1[index], np.diag(s1[index])]
        else:
            pair = [m0[index], s0[index], m1[index], s1[index]]
        yield index, pair


_REFERENCES: dict[tuple, tuple[Any, Any]] = {}


def _exact_reference(rhs: sp.Expr, pair: list[np.ndarray], tril: bool) -> tuple[Any, Any]:
    key = (str(rhs), tril, *(np.asarray(a).tobytes() for a in pair))
    if key not in _REFERENCES:
        m0, a0, m1, a1 = pair
        if tril:  # the factors are exact: Σ = LLᵀ at 50 digits
            with mpmath.workdps(DIGITS):
                l0, l1 = _mp_matrix(a0), _mp_matrix(a1)
                a0, a1 = l0 * l0.T, l1 * l1.T
        _REFERENCES[key] = evaluate_gaussian_statement(rhs, m0, a0, m1, a1, scale=True)
    return _REFERENCES[key]


def _round_inputs(args: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The inputs rounded to float32 (and held in float64): exact in both dtypes, so one
    50-digit reference serves the float64 and the float32 run."""
    return [np.asarray(a, dtype=np.float32).astype(np.float64) for a in args]


def gaussian_library_checks(rhs: sp.Expr, paths: Sequence[LibraryPath] = ()) -> Iterator[Step]:
    """Evaluate every Gaussian path (float64, float32) against the statement ``rhs``."""
    import torch

    for path in paths or GAUSSIAN_PATHS:
        worst = {}
        for dtype in (torch.float64, torch.float32):
            eps = float(torch.finfo(dtype).eps)
            ratio = 0.0
            for d in path.dims:
                args = _round_inputs(_inputs(path, d))
                values = np.atleast_1d(_call(path, args, dtype))
                for index, pair in _pairs(args, path.function):
                    ref, size = _exact_reference(rhs, pair, path.function == "gaussian_kl_tril")
                    got = values[index] if values.ndim and index else values.reshape(-1)[0]
                    # Rounding: a few ulps per term, d terms, conditioning ≤ ~20 for these inputs;
                    # near-identical pairs: a few ulps relative to the (tiny) result itself.
                    scale = abs(ref) if path.near else size
                    tol = 64 * (d + 4) * eps * float(scale)
                    err = abs(mpmath.mpf(float(got)) - ref)
                    if not (err <= tol):
                        raise ProofFailure(
                            f"library: {path.function} [{path.path}], d={d}, {dtype}: "
                            f"{float(got)!r} vs statement {mpmath.nstr(ref, 17)} (error "
                            f"{float(err):.3g} > {tol:.3g})"
                        )
                    ratio = max(ratio, float(err) / tol)
            worst[str(dtype).removeprefix("torch.")] = ratio
        yield require(
            True,
            f"library: {path.function} [{path.path}], d ∈ {set(path.dims)}: equals the statement "
            "at 50 digits within rounding (float64 and float32; worst error/tolerance "
            + ", ".join(f"{k} {v:.2g}" for k, v in worst.items())
            + ")",
        )


def nonnegativity_library_checks() -> Iterator[Step]:
    """gaussian_kl* are ≥ 0, and exactly 0 for identical arguments, on every path."""
    import torch

    import klmath

    bad = []
    for path in GAUSSIAN_PATHS:
        for d in path.dims[:2]:
            args = _inputs(path, d)
            same = [args[0], args[1], args[0], args[1]]
            for inputs in (args, same):
                value = np.atleast_1d(_call(path, inputs, torch.float64))
                if inputs is same and not np.all(value == 0):
                    bad.append(f"{path.function} [{path.path}] d={d}: KL(p ‖ p) = {value}")
                if not np.all(value >= 0):
                    bad.append(f"{path.function} [{path.path}] d={d}: negative {value}")
    del klmath
    yield require(
        not bad,
        "library: on every Gaussian path KL ≥ 0, and KL(p ‖ p) = 0 exactly"
        + (f" — violated: {bad[:3]}" if bad else ""),
    )


def additivity_library_checks() -> Iterator[Step]:
    """gaussian_kl_diag over d coordinates equals the sum of its d one-coordinate calls."""
    import torch

    from klmath import gaussian_kl_diag

    rng = np.random.default_rng(3)
    worst = 0.0
    for d in (2, 7, 64):
        m0, m1 = rng.standard_normal((2, d))
        v0, v1 = np.exp(rng.uniform(-1, 1, (2, d)))
        for grad in (False, True):
            ts = [torch.tensor(a, requires_grad=grad) for a in (m0, v0, m1, v1)]
            whole = float(gaussian_kl_diag(*ts).detach())
            parts = [
                float(gaussian_kl_diag(*[t[i : i + 1] for t in ts]).detach()) for i in range(d)
            ]
            total = math.fsum(parts)
            worst = max(worst, abs(whole - total) / (4 * d * 2.2e-16 * max(total, 1e-300)))
    yield require(
        worst <= 1.0,
        f"library: gaussian_kl_diag of d ∈ {{2, 7, 64}} coordinates equals the sum of the d "
        f"one-coordinate KLs (no grad and autograd; worst error {worst:.2g} of 4dε relative)",
    )


# --- coupling ----------------------------------------------------------------------------


def coupling_library_checks(rhs: sp.Expr, s_function: Any) -> Iterator[Step]:
    """AffineCoupling's log_det (forward and inverse) against the statement Σₖ sₖ(x_Ω).

    ``rhs`` is the statement's right-hand side, a sum over k = 1..n − |Ω| of
    ``s_function(k)``; it is evaluated at 50 digits with the layer's own s values.
    """
    import torch

    from klmath import AffineCoupling

    n_sym = [a for a in rhs.free_symbols if a.name == "n"]
    k_sym = [a for a in rhs.free_symbols if a.name == "|Ω|"]
    worst = 0.0
    checked = 0
    for n, seed in ((2, 0), (5, 1), (5, 2), (64, 3), (784, 4)):
        gen = torch.Generator().manual_seed(seed)
        mask = torch.rand(n, generator=gen) < 0.5
        mask[0], mask[-1] = True, False  # 0 < |Ω| < n
        k = int(mask.sum())
        for dtype in (torch.float64, torch.float32):
            for clamp in (None, 2.0):
                torch.manual_seed(seed)
                scale = torch.nn.Sequential(
                    torch.nn.Linear(k, 8), torch.nn.Tanh(), torch.nn.Linear(8, n - k)
                )
                shift = torch.nn.Linear(k, n - k)
                layer = AffineCoupling(mask, scale, shift, clamp=clamp).to(dtype)
                x = torch.randn(3, n, generator=gen, dtype=torch.float64).to(dtype)
                with torch.no_grad():
                    z, log_det = layer(x)
                    back, inv_log_det = layer.inverse_and_log_det(z)
                    s = scale(x[:, mask])
                    if clamp is not None:
                        s = clamp * torch.tanh(s / clamp)
                eps = float(torch.finfo(dtype).eps)
                for row in range(x.shape[0]):
                    values = [mpmath.mpf(float(v)) for v in s[row].tolist()]
                    env: dict[sp.Basic, Any] = {
                        s_function: lambda kk, _x, _v=values: _v[int(kk) - 1]
                    }
                    env[sp.Symbol("x_Ω")] = mpmath.mpf(0)  # s's values are given directly
                    env.update({sym: mpmath.mpf(n) for sym in n_sym})
                    env.update({sym: mpmath.mpf(k) for sym in k_sym})
                    with mpmath.workdps(DIGITS):
                        ref = mp_evaluate(rhs, env)
                        size = mpmath.fsum(abs(v) for v in values) + 1
                    tol = 4 * (n - k) * eps * float(size)
                    for got, sign in ((log_det[row], 1), (inv_log_det[row], -1)):
                        err = abs(mpmath.mpf(float(got)) - sign * ref)
                        if not err <= tol:
                            raise ProofFailure(
                                f"library: AffineCoupling log_det n={n}, |Ω|={k}, {dtype}, "
                                f"clamp={clamp}: {float(got)!r} vs {sign}·statement "
                                f"{mpmath.nstr(ref, 17)}"
                            )
                        worst = max(worst, float(err) / tol)
                    checked += 1
                if not torch.allclose(back, x, rtol=1e3 * eps, atol=1e3 * eps):
                    raise ProofFailure(f"library: AffineCoupling inverse fails at n={n}, {dtype}")
                if not torch.equal(z[:, mask], x[:, mask]):
                    raise ProofFailure(f"library: AffineCoupling changes x_Ω at n={n}, {dtype}")
    # The log-determinant of the layer's autograd Jacobian, an independent computation.
    torch.manual_seed(5)
    mask = torch.tensor([False, True, True, False, True])
    layer = AffineCoupling(mask, torch.nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double())
    x = torch.randn(5, dtype=torch.float64)
    jac = torch.func.jacrev(lambda u: layer(u)[0])(x)
    slog = float(torch.linalg.slogdet(jac.detach())[1])
    yield require(
        abs(slog - float(layer(x)[1].detach())) <= 1e-12 * (1 + abs(slog)),
        f"library: AffineCoupling's log_det equals the statement Σₖ sₖ(x_Ω) at 50 digits for "
        f"{checked} samples (n ∈ {{2, 5, 64, 784}}, random masks, float64/float32, with and "
        f"without clamp, forward and inverse; worst error/tolerance {worst:.2g}), and log|det| of "
        "its autograd Jacobian at n = 5",
    )


# --- 1-D flow --------------------------------------------------------------------------


def flow1d_library_checks(parts: dict[str, Any]) -> Iterator[Step]:
    """klmath.flow1d's map, derivative, log-density, mass, limits and inverse vs the statement.

    ``parts`` holds the statement's pieces as SymPy expressions of (x, n, w, μ, τ): ``f``,
    ``df`` (its derivative, taken by SymPy), ``upper``/``lower`` (the stated limits) and
    ``mass``, with the symbols under ``x``, ``n``, ``w``, ``mu``, ``tau``.
    """
    import torch

    from klmath import flow1d

    x_sym, n_sym, w_b, mu_b, tau_b = (parts[k] for k in ("x", "n", "w", "mu", "tau"))
    checked = 0
    for n, seed in ((1, 0), (5, 1), (17, 2)):
        rng = np.random.default_rng(seed)
        w, mu, tau = rng.uniform(-2, 1.5, n), rng.uniform(-3, 3, n), rng.uniform(-1.5, 1, n)
        env: dict[sp.Basic, Any] = {n_sym: mpmath.mpf(n)}
        env[w_b] = [mpmath.mpf(float(v)) for v in w]
        env[mu_b] = [mpmath.mpf(float(v)) for v in mu]
        env[tau_b] = [mpmath.mpf(float(v)) for v in tau]
        params = [torch.tensor(a) for a in (w, mu, tau)]
        xs = np.concatenate([np.linspace(-6, 6, 7), mu[:2] + 0.3])
        xt = torch.tensor(xs)
        got_f = flow1d.flow1d_transform(xt, *params).tolist()
        got_df = flow1d.flow1d_derivative(xt, *params).tolist()
        got_lp = flow1d.flow1d_log_prob(xt, *params).tolist()
        with mpmath.workdps(DIGITS):
            s_half = mp_evaluate(parts["upper"], env)
            for xv, f, df, lp in zip(xs.tolist(), got_f, got_df, got_lp, strict=True):
                env[x_sym] = mpmath.mpf(xv)
                f_ref, df_ref = mp_evaluate(parts["f"], env), mp_evaluate(parts["df"], env)
                lp_ref = (
                    -(f_ref**2) / 2 - mpmath.log(mpmath.sqrt(2 * mpmath.pi)) + mpmath.log(df_ref)
                )
                u2 = max(((xv - m) * math.exp(-t)) ** 2 for m, t in zip(mu, tau, strict=True))
                tol = 64 * n * 2.2e-16 * (1 + u2)
                if not (
                    abs(f - f_ref) <= tol * float(s_half)
                    and abs(df - df_ref) <= tol * df_ref
                    and abs(lp - lp_ref) <= tol * (1 + abs(lp_ref))
                ):
                    raise ProofFailure(
                        f"library: flow1d at n={n}, x={xv}: f {f} vs {mpmath.nstr(f_ref, 17)}, "
                        f"f′ {df} vs {mpmath.nstr(df_ref, 17)}, "
                        f"log p {lp} vs {mpmath.nstr(lp_ref, 17)}"
                    )
                checked += 1
            mass_ref = mp_evaluate(parts["mass"], env)
            lower = mp_evaluate(parts["lower"], env)
        ends = flow1d.flow1d_transform(
            torch.tensor([math.inf, -math.inf], dtype=torch.float64), *params
        ).tolist()
        mass = float(flow1d.flow1d_mass(params[0]))
        missing = float(flow1d.flow1d_missing_mass(params[0]))
        with mpmath.workdps(DIGITS):
            missing_ref = 1 - mass_ref
        tol = 16 * n * 2.2e-16
        if not (
            abs(ends[0] - s_half) <= tol * s_half
            and abs(ends[1] - lower) <= tol * s_half
            and abs(mass - mass_ref) <= tol * (1 + float(s_half) ** 2) * mass_ref
            and abs(missing - missing_ref) <= tol * (1 + float(s_half) ** 2) * missing_ref
        ):
            raise ProofFailure(
                f"library: flow1d at n={n}: f(±∞) = {ends} vs ±{mpmath.nstr(s_half, 17)}, mass "
                f"{mass} vs {mpmath.nstr(mass_ref, 17)}, missing {missing} vs "
                f"{mpmath.nstr(missing_ref, 17)}"
            )
        # The inverse: x̂ brackets the exact preimage within 1e-10, also a few ulps from ±S/2.
        weights = [
            mpmath.mpf(c) for c in torch.exp(params[0]).tolist()
        ]  # the flow the code inverts
        for t in (0.3, -0.9, 1 - 2.0**-40, -1 + 2.0**-40):
            z = t * 0.5 * float(torch.exp(params[0]).sum())
            res = flow1d.flow1d_inverse(torch.tensor([z], dtype=torch.float64), *params)
            xh = float(res.x[0])
            with mpmath.workdps(DIGITS):
                half = mpmath.fsum(weights) / 2
                if not abs(mpmath.mpf(z)) < half:
                    continue
                f_exact = parts["f"].xreplace(
                    {sp.exp(w_b[parts["i"]]): sp.Indexed(sp.IndexedBase("c"), parts["i"])}
                )
                env_c = dict(env)
                env_c[sp.IndexedBase("c")] = weights

                def f_at(xv: float, _f: sp.Expr = f_exact, _env: dict = env_c) -> Any:
                    _env[x_sym] = mpmath.mpf(xv)
                    return mp_evaluate(_f, _env)

                below, above = f_at(xh - 1e-10), f_at(xh + 1e-10)
            if not (below < mpmath.mpf(z) < above) or bool(res.no_preimage[0]):
                raise ProofFailure(
                    f"library: flow1d_inverse at n={n}, z = {t}·S/2: x̂ = {xh} does not bracket "
                    "the exact preimage within 1e-10"
                )
    yield require(
        checked > 0,
        f"library: flow1d_transform, _derivative, _log_prob at {checked} points "
        "(n ∈ {1, 5, 17}), "
        "f(±∞) = ±S/2, flow1d_mass = 2Φ(S/2) − 1 and flow1d_missing_mass, all equal to the "
        "statement at 50 digits within rounding; flow1d_inverse brackets the exact preimage "
        "within 1e-10, also at z = (1 − 2⁻⁴⁰)·S/2",
    )


# --- KL penalties ------------------------------------------------------------------------

PENALTY_POLICIES: tuple[int, ...] = (2, 3, 7)
"""The numbers of categories K of the softmax policies :func:`penalty_library_checks` uses."""
PENALTY_TOLERANCE = 1e-12
"""Relative agreement required: |library − statement| ≤ this · Σ_y q_y |term_y|."""
_PENALTY_CELLS = ("value", "loss", "reward")


def _softmax_policy(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits θ and the reference's log-probabilities log p, float64, seeded by K."""
    rng = np.random.default_rng([15, k])
    theta, phi = rng.standard_normal((2, k))
    log_p = phi - np.log(np.exp(phi - phi.max()).sum()) - phi.max()
    return theta, log_p


def _penalty_terms(theta: np.ndarray, log_p: np.ndarray) -> tuple[np.ndarray, dict]:
    """q and, for every category y, what :func:`klmath.kl_penalty` gives there.

    Returns q_y and a dict mapping (cell, kind) to an array over y: for ``"value"`` the
    values in both modes (shape (2, K)), for ``"loss"`` the autograd gradient ∇_θ k(y) at
    the fixed draw y (shape (K, K), row y), for ``"reward"`` the REINFORCE gradient: the
    reward is detached (the library's API), so ∇_θ[reward · log q_y] = reward · ∇_θ log q_y.
    """
    import torch

    import klmath
    from klmath.penalty import PENALTY_KINDS

    k = len(theta)
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    log_q = torch.log_softmax(th, 0)
    lp = torch.tensor(log_p, dtype=torch.float64)
    out: dict[tuple[str, str], np.ndarray] = {}
    for kind in PENALTY_KINDS:
        values, loss_grads, reward_grads = np.zeros((2, k)), np.zeros((k, k)), np.zeros((k, k))
        for y in range(k):
            lq_y, lp_y = log_q[y].reshape(1, 1), lp[y].reshape(1, 1)
            loss = klmath.kl_penalty(lq_y, lp_y, kind=kind, mode="loss")
            reward = klmath.kl_penalty(lq_y, lp_y, kind=kind, mode="reward")
            if not loss.requires_grad:
                raise ProofFailure(
                    f"library: kl_penalty(kind={kind!r}, mode='loss') is not differentiable "
                    "through logq"
                )
            values[:, y] = float(loss.detach()), float(reward.detach())
            (grad,) = torch.autograd.grad(loss, th, retain_graph=True)
            loss_grads[y] = grad.numpy()
            (grad,) = torch.autograd.grad(reward * lq_y.sum(), th, retain_graph=True)
            reward_grads[y] = grad.numpy()
        out["value", kind], out["loss", kind], out["reward", kind] = (
            values,
            loss_grads,
            reward_grads,
        )
    return log_q.detach().exp().numpy(), out


def penalty_library_checks(
    table: Sequence[tuple[str, str, sp.Expr, str]],
    symbols: dict[str, sp.Basic],
) -> Iterator[Step]:
    """kl_penalty on every category of softmax policies against the proved table at 50 digits.

    For K ∈ :data:`PENALTY_POLICIES` (θ and log p seeded, float64) the library is called at
    each category y in both modes and for each kind; the exact expectations over y ~ q are
    the finite sums Σ_y q_y(…) in float64, compared with the statement.

    Parameters
    ----------
    table : sequence of (cell, kind, rhs, label)
        The stated equations: ``cell`` is ``"value"``, ``"loss"`` or ``"reward"``,
        ``kind`` ``"k1"``..``"k3"``, ``rhs`` the right-hand side with every quantity
        replaced by its definition in the symbolic-K model (sums over i = 1..K of
        u_i = e^{θ_i} and p_i, derivatives ∂/∂θ_j), ``label`` the equation in words.
    symbols : dict
        ``"K"``, ``"u"``, ``"p"``, ``"j"``: the model's K, IndexedBases u and p, and the
        index j of ∂/∂θ_j.
    """
    cells = {(cell, kind) for cell, kind, _, _ in table}
    missing = [
        f"{c} of {k}" for c in _PENALTY_CELLS for k in ("k1", "k2", "k3") if (c, k) not in cells
    ]
    if missing:
        raise ProofFailure(f"library: the statement gives no {', '.join(missing)} to compare")
    worst, compared, expected = 0.0, 0, 0
    for k in PENALTY_POLICIES:
        expected += sum(2 if cell == "value" else k for cell, _, _, _ in table)
        theta, log_p = _softmax_policy(k)
        q, library_terms = _penalty_terms(theta, log_p)
        with mpmath.workdps(DIGITS):
            u = [mpmath.exp(mpmath.mpf(float(t))) for t in theta]
            p = [mpmath.exp(mpmath.mpf(float(v))) for v in log_p]
            p = [v / mpmath.fsum(p) for v in p]  # Σ p = 1, the claim's hypothesis, at 50 digits
            envs = [
                {
                    symbols["K"]: mpmath.mpf(k),
                    symbols["u"]: u,
                    symbols["p"]: p,
                    symbols["j"]: mpmath.mpf(j + 1),
                }
                for j in range(k)
            ]
            memos: list[dict] = [{} for _ in envs]
            for cell, kind, rhs, label in table:
                terms = library_terms[cell, kind]
                if cell == "value":  # the value in both modes; the statement does not depend on j
                    modes = ("loss", "reward")
                    rows = [("value", mode, terms[m], 0) for m, mode in enumerate(modes)]
                else:
                    mode = "reward" if cell == "reward" else "loss"
                    rows = [(f"gradient j = {j + 1}", mode, terms[:, j], j) for j in range(k)]
                for what, mode, per_y, j in rows:
                    summands = q * per_y
                    got = math.fsum(summands.tolist())
                    ref = mp_evaluate(rhs, envs[j], memos[j])
                    scale = max(math.fsum(np.abs(summands).tolist()), abs(float(ref)))
                    err = abs(mpmath.mpf(got) - ref)
                    if not err <= PENALTY_TOLERANCE * scale:
                        raise ProofFailure(
                            f"library: kl_penalty(kind={kind!r}, mode={mode!r}) on a softmax "
                            f"policy with K={k}, {what}: Σ_y q_y(…) = {got!r}, but the "
                            f"statement {label} gives {mpmath.nstr(ref, 17)}"
                        )
                    worst = max(worst, float(err) / scale if scale else 0.0)
                    compared += 1
    sizes = ", ".join(map(str, PENALTY_POLICIES))
    yield require(
        compared == expected > 0 and worst <= PENALTY_TOLERANCE,
        f"library: kl_penalty (k1, k2, k3; float64) at every category y of softmax policies "
        f"with K ∈ {{{sizes}}} (θ, p seeded): the exact expectations Σ_y q_y(…) of "
        "its value (both modes), of its autograd gradient at fixed draws (mode 'loss') and of "
        "the REINFORCE gradient with its detached reward (mode 'reward'), every j, equal the "
        f"{len(table)} stated equations at 50 digits ({compared} comparisons; worst error "
        f"{worst:.1e} of Σ_y q_y|term| ≤ {PENALTY_TOLERANCE:g})",
    )


# --- argmax lemma ------------------------------------------------------------------------


def lemma_library_checks() -> Iterator[Step]:
    """check_argmax_lemma's hypotheses and argmax sets against their definitions, every table.

    All tables with |Θ|, |Φ| ≤ 2, f ∈ {0, 1, 2} and h ∈ {−1, 0, 1, 2}; g = f − h, and
    also g + h made non-constant in φ. The hypotheses (h ≥ 0; min_φ h = 0; g + h
    constant in φ) and the two sets are computed here from their definitions.
    """
    import itertools

    from klmath import check_argmax_lemma

    count = 0
    for n_theta, n_phi in ((1, 1), (1, 2), (2, 1), (2, 2)):
        for f in itertools.product((0, 1, 2), repeat=n_theta):
            fa = np.array(f, dtype=float)
            for flat in itertools.product((-1, 0, 1, 2), repeat=n_theta * n_phi):
                h = np.array(flat, dtype=float).reshape(n_theta, n_phi)
                for bump in (0.0, 0.5):
                    g = fa[:, None] - h
                    g[0, -1] += bump  # bump > 0 with |Φ| ≥ 2 breaks g + h = f
                    r = check_argmax_lemma(g, h)
                    total = g + h
                    nonneg = bool((h >= 0).all())
                    # As documented: min_φ h ≤ 0 (a negative h is the h ≥ 0 failure).
                    min_zero = bool((h.min(axis=1) <= 0).all())
                    decomposition = bool((total.max(axis=1) == total.min(axis=1)).all())
                    f_col = total[:, 0]
                    argmax_f = tuple(int(i) for i in np.flatnonzero(f_col == f_col.max()))
                    argmax_g = tuple((int(i), int(j)) for i, j in np.argwhere(g == g.max()))
                    expected = (nonneg, min_zero, decomposition, argmax_f, argmax_g)
                    found = (r.nonnegative, r.min_zero, r.decomposition, r.argmax_f, r.argmax_g)
                    n_fail = 3 - (nonneg + min_zero + decomposition)
                    if (
                        found != expected
                        or len(r.failures) != n_fail
                        or (r.argmax_g_theta != tuple(sorted({i for i, _ in argmax_g})))
                    ):
                        raise ProofFailure(
                            f"library: check_argmax_lemma(g={g.tolist()}, h={h.tolist()}) gives "
                            f"{found}, {r.failures}; the definitions give {expected}"
                        )
                    if nonneg and min_zero and decomposition and not r.conclusion_holds:
                        raise ProofFailure(
                            f"library: lemma fails on g={g.tolist()}, h={h.tolist()}"
                        )
                    count += 1
    yield require(
        count > 0,
        f"library: check_argmax_lemma agrees with the definitions (h ≥ 0, min_φ h = 0, g + h "
        f"constant in φ, argmax f, argmax g, one failure message per broken hypothesis) on all "
        f"{count} tables with |Θ|, |Φ| ≤ 2, f ∈ {{0,1,2}}, h ∈ {{−1,0,1,2}}, and the conclusion "
        "holds wherever the hypotheses do",
    )
