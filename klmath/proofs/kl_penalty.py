"""Claim 7: what the KL penalties k1, k2, k3 return in expectation, for every K ≥ 2.

Setting (RL fine-tuning, :func:`klmath.kl_penalty`): a softmax policy over K
categories, q_i = u_i / U with u_i = e^{θ_i} and U = Σ_m u_m, a fixed reference p
(p_i > 0, Σ p_i = 1), a draw y = i ~ q and ℓ_i = log q_i − log p_i. Per draw

    k1 = ℓ,   k2 = ½ℓ²,   k3 = p/q − 1 + ℓ.

Every expectation over y ~ q is a finite sum Σ_{i=1}^K q_i f_i, written with K
symbolic (SymPy ``Sum`` over ``IndexedBase`` u and p); ∂/∂θ_j = u_j ∂/∂u_j (chain
rule), j a symbolic index with 1 ≤ j ≤ K. The cells, for every kind:

* value: E_q[k];
* loss mode: the expected autograd gradient at fixed draws, E_q[∇_j k] = Σ_i q_i ∂_{θ_j} k_i;
* reward mode: REINFORCE with the value as a detached reward,
  E_q[k ∇_j log q] = Σ_i q_i k_i ∂_{θ_j} log q_i.

The stored statement (:func:`penalty_statement`) says what each cell equals, in terms
of KL(q‖p) = E_q[ℓ], KL(p‖q) = Σ_i p_i(log p_i − log q_i), E_q[½ℓ²] and their
gradients ∇_j. Each stated equation is derived from the definitions with K and j
symbolic and reduced to 0 by a fixed set of rules, each of them a checked lemma at
symbolic K (:func:`_reduce`): expansion and linearity of Σ (checked by induction on
K), Kronecker-delta summation Σ_i δ_ij g_i = g_j for 1 ≤ j ≤ K (SymPy), U = Σ_m u_m
(definition) and Σ_i p_i = 1 (hypothesis); the softmax derivative
∂q_i/∂θ_j = q_i(δ_ij − q_j) and Σ_i q_i(δ_ij − q_j) g_i = q_j(g_j − Σ_i q_i g_i) come
out of these rules and are recorded as lemmas. Each stated inequality (the value of
k2 is not KL, a loss gradient is not the other direction's) is shown for every K ≥ 2
by one family of counterexamples with K symbolic: p_1 = p_2 = π, q_1 = 3π/2,
q_2 = π/2, q_i = p_i for i ≥ 3; the difference is π·r(π) with r linear in π and of one
strict sign at π = 0 and π = ½, so it is nonzero for every 0 < π ≤ ½.

The variance orders near q = p (q_i ∝ p_i e^{εa_i}) are Taylor coefficients in ε of
the same symbolic-K sums. Cross-check (concrete sizes): the statement again at
K = 2, 3, 4 with explicit symbols u_1..u_K, p_1..p_{K−1} (p_K = 1 − Σ p_i), every
j, decided by ``expand``/``cancel``, and the inequalities at a rational point.

The library (last step, :func:`klmath.proofs.library.penalty_library_checks`):
:func:`klmath.kl_penalty` itself, at every category y of seeded softmax policies with
K = 2, 3, 7 in float64, for k1, k2, k3: its value in both modes, its autograd gradient
∇_θ k(y) at the fixed draw (``mode="loss"``) and the REINFORCE gradient of its detached
reward, ∇_θ[reward · log q_y] (``mode="reward"``). The exact expectations over y ~ q,
finite sums Σ_y q_y(…) in float64, must equal each stated equation's right-hand side
(its quantities as defined above, sums and ∂/∂θ_j evaluated at 50 digits with mpmath
from the same θ and p) to 1e-12 of Σ_y q_y|term_y|, for every j.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    "HALF_ELL2",
    "KL_PQ",
    "KL_QP",
    "LOSS",
    "NABLA",
    "PENALTIES",
    "REWARD",
    "VALUE",
    "kl_penalty_expectations",
    "penalty_statement",
]

VALUE = sp.Function("E_q")
"""VALUE(k): the expected value E_q[k] of penalty k."""
LOSS = sp.Function("E_q∇")
"""LOSS(k): the expected autograd gradient E_q[∇_j k] at fixed draws (``mode="loss"``)."""
REWARD = sp.Function("E_q[·∇log q]")
"""REWARD(k): the REINFORCE gradient E_q[k ∇_j log q] (``mode="reward"``)."""
NABLA = sp.Function("∇")
"""NABLA(X): ∂X/∂θ_j for one of the quantities below."""
KL_QP, KL_PQ, HALF_ELL2 = sp.symbols("KL(q‖p) KL(p‖q) E_q[½ℓ²]")
"""KL(q‖p) = E_q[ℓ], KL(p‖q) = Σ p (log p − log q), and E_q[½ℓ²]."""
PENALTIES = dict(zip(("k1", "k2", "k3"), sp.symbols("k1 k2 k3"), strict=True))
"""The penalties as they appear in the statement."""
_CELLS = (VALUE, LOSS, REWARD)
_SAY = {VALUE: "E_q[{}]", LOSS: "E_q[∇{}]", REWARD: "E_q[{}·∇log q]"}


def penalty_statement() -> sp.And:
    """The stored statement: the value and both expected gradients of k1, k2, k3."""
    k1, k2, k3 = PENALTIES.values()
    grad_qp, grad_pq = NABLA(KL_QP), NABLA(KL_PQ)
    return sp.And(
        sp.Eq(VALUE(k1), KL_QP),
        sp.Eq(VALUE(k3), KL_QP),
        sp.Eq(VALUE(k2), HALF_ELL2),
        sp.Ne(VALUE(k2), KL_QP),
        sp.Eq(LOSS(k1), 0),
        sp.Eq(LOSS(k2), grad_qp),
        sp.Eq(LOSS(k3), grad_pq),
        sp.Ne(LOSS(k3), grad_qp),
        sp.Ne(LOSS(k2), grad_pq),
        sp.Eq(REWARD(k1), grad_qp),
        sp.Eq(REWARD(k2), NABLA(HALF_ELL2) - grad_qp),
        sp.Eq(REWARD(k3), grad_qp - grad_pq),
        evaluate=False,
    )


def _parts(statement: sp.Basic) -> list[sp.Rel]:
    """The statement's relations; every cell (value, loss, reward of k1, k2, k3) is stated."""
    parts = list(statement.args) if isinstance(statement, sp.And) else [statement]
    if not all(isinstance(p, sp.Eq | sp.Ne) for p in parts):
        raise ProofFailure(f"the statement {statement} is not a conjunction of = and ≠")
    stated = {p.lhs for p in parts if isinstance(p, sp.Eq)}
    missing = [c(k) for c in _CELLS for k in PENALTIES.values() if c(k) not in stated]
    if missing:
        raise ProofFailure(f"the statement does not state {', '.join(map(_say, missing))}")

    def order(part: sp.Rel) -> tuple[int, str, bool]:
        cell = part.lhs.func if part.lhs.func in _CELLS else None
        where = _CELLS.index(cell) if cell is not None else len(_CELLS)
        return where, sp.sstr(part.lhs), isinstance(part, sp.Ne)

    return sorted(parts, key=order)


def _say(expr: sp.Basic) -> str:
    """The statement in the notation of the docs (E_q[∇k2] = ∇KL(q‖p))."""
    named = {
        cell(k): sp.Symbol(_SAY[cell].format(k)) for cell in _CELLS for k in PENALTIES.values()
    }
    named |= {NABLA(x): sp.Symbol(f"∇{x}") for x in (KL_QP, KL_PQ, HALF_ELL2)}
    expr = expr.xreplace(named)
    if isinstance(expr, sp.Eq | sp.Ne):
        sign = "=" if isinstance(expr, sp.Eq) else "≠"
        return f"{sp.sstr(expr.lhs)} {sign} {sp.sstr(expr.rhs)}"
    return sp.sstr(expr)


_ATOMS: tuple[sp.Basic, ...] = (
    KL_QP,
    KL_PQ,
    HALF_ELL2,
    *(NABLA(x) for x in (KL_QP, KL_PQ, HALF_ELL2)),
    *(cell(k) for cell in _CELLS for k in PENALTIES.values()),
)
_KIND = {k: name for name, k in PENALTIES.items()}


def _meaning_of(model: Any, atom: sp.Basic) -> sp.Expr:
    """What ``atom`` of the statement is for ``model`` (symbolic K or explicit K)."""
    if atom in (KL_QP, KL_PQ, HALF_ELL2):
        return {KL_QP: model.kl_qp, KL_PQ: model.kl_pq, HALF_ELL2: model.half_ell2}[atom]
    if atom.func == NABLA:
        return model.d(_meaning_of(model, atom.args[0]))
    kind = _KIND[atom.args[0]]
    return {VALUE: model.value, LOSS: model.loss, REWARD: model.reward}[atom.func](kind)


def _meaning(model: Any, part: sp.Basic) -> dict[sp.Basic, sp.Expr]:
    """What each atom of ``part`` is for ``model``, cached on the model."""
    cache: dict[sp.Basic, sp.Expr] = model.__dict__.setdefault("_meaning", {})
    for atom in _ATOMS:
        if part.has(atom) and atom not in cache:
            cache[atom] = _meaning_of(model, atom)
    return {atom: cache[atom] for atom in _ATOMS if part.has(atom)}


def _difference(part: sp.Rel, meaning: dict[sp.Basic, sp.Expr]) -> sp.Expr:
    """lhs − rhs of ``part`` with every atom replaced by its meaning."""
    diff = (part.lhs - part.rhs).xreplace(meaning)
    leftover = {f for f in diff.atoms(sp.Function) if f.func in (*_CELLS, NABLA)}
    leftover |= diff.free_symbols & {KL_QP, KL_PQ, HALF_ELL2, *PENALTIES.values()}
    if leftover:
        raise ProofFailure(f"{_say(part)}: {leftover} has no meaning in this setting")
    return diff


# --- symbolic K: sums over i = 1..K and the rules that reduce them -----------------------

K = sp.Symbol("K", integer=True, positive=True)
_I, _J = sp.symbols("i j", integer=True, positive=True)
_U, _P = sp.IndexedBase("u", positive=True), sp.IndexedBase("p", positive=True)
_A = sp.IndexedBase("a", real=True)
_TOTAL = sp.Symbol("U", positive=True)  # U = Σ_m u_m once no derivative is left to take
_SLACK = sp.Symbol("r", integer=True, nonnegative=True)  # K = j + r: j ≤ K


def _sum(f: sp.Expr) -> sp.Sum:
    """Σ_{i=1}^K f, with a fresh bound index (so sums nest without capture)."""
    x = sp.Dummy("m", integer=True, positive=True)
    return sp.Sum(f.xreplace({_I: x}), (x, 1, K))


def _is_total(s: sp.Basic, base: sp.IndexedBase) -> bool:
    """True for Σ_{x=1}^K base[x], whatever the bound index."""
    if not isinstance(s, sp.Sum) or len(s.limits) != 1:
        return False
    ((x, lo, hi),) = s.limits
    return bool(lo == 1 and hi == K and s.function == base[x])


def _index_in_range(piecewise: sp.Piecewise) -> sp.Expr:
    """Resolve SymPy's delta sum Piecewise((g_j, condition), (0, True)) for 1 ≤ j ≤ K."""
    if len(piecewise.args) != 2 or piecewise.args[1] != (0, sp.true):
        raise ProofFailure(f"unexpected delta sum {piecewise}")
    (value, condition), _ = piecewise.args
    if condition.xreplace({K: _J + _SLACK}) != sp.true:  # j ≥ 1 by j's assumptions
        raise ProofFailure(f"{condition} does not follow from 1 ≤ j ≤ K")
    return value


def _pull(s: sp.Sum) -> sp.Expr:
    """Σ_x c·f(x) = c·Σ_x f(x) for c free of x (linearity)."""
    ((x, lo, hi),) = s.limits
    c, f = s.function.as_independent(x, as_Add=False)
    return c * sp.Sum(f, (x, lo, hi)) if c != 1 else s


def _canonical(s: sp.Sum) -> sp.Expr:
    """Rename the bound index to i (only for a sum whose summand has no free i)."""
    ((x, lo, hi),) = s.limits
    if x == _I or _I in s.function.free_symbols:
        return s
    return sp.Sum(s.function.xreplace({x: _I}), (_I, lo, hi))


def _reduce(expr: sp.Expr) -> sp.Expr:
    """A normal form of a sum expression over i = 1..K, by the rules of the lemmas.

    Expand (a Σ of a sum is the sum of the Σs), evaluate every Σ with a Kronecker
    delta (SymPy's delta summation, then 1 ≤ j ≤ K), Σ_m u_m → U, Σ_m p_m → 1,
    Σ 0 → 0, pull factors free of the bound index out of each Σ; repeat until nothing
    changes. Then every Σ is a plain sum of a product of u_i, p_i, a_i and their logs,
    and its bound index is renamed to i so equal sums compare equal.
    """
    for _ in range(12):
        before = expr
        expr = sp.expand(expr)
        expr = expr.replace(
            lambda e: isinstance(e, sp.Sum) and e.function.has(sp.KroneckerDelta),
            lambda e: e.doit(),
        )
        expr = expr.replace(lambda e: isinstance(e, sp.Piecewise), _index_in_range)
        expr = expr.replace(lambda e: _is_total(e, _U), lambda e: _TOTAL)
        expr = expr.replace(lambda e: _is_total(e, _P), lambda e: sp.Integer(1))
        expr = expr.replace(
            lambda e: isinstance(e, sp.Sum) and e.function == 0, lambda e: sp.Integer(0)
        )
        expr = expr.replace(lambda e: isinstance(e, sp.Sum), _pull)
        if expr == before:
            break
    else:
        raise ProofFailure(f"the sums in {sp.sstr(expr)[:200]} did not settle")
    for s in expr.atoms(sp.Sum):
        if s.function.atoms(sp.Sum) or s.function.has(sp.KroneckerDelta):
            raise ProofFailure(f"{s} is not a plain sum")
    return expr.replace(lambda e: isinstance(e, sp.Sum), _canonical)


def _reduce_zero(expr: sp.Expr, step: str) -> Step:
    return require_zero(_reduce(expr), step)


def _cases_zero(expr: sp.Expr, step: str) -> list[Step]:
    """``expr`` with a free index i is 0 both for i = j and for i ≠ j (δ_ij = 1, 0)."""
    apart = {sp.KroneckerDelta(_I, _J): 0, sp.KroneckerDelta(_J, _I): 0}
    return [
        _reduce_zero(expr.xreplace({_I: _J}), f"{step}, case i = j"),
        _reduce_zero(expr.xreplace(apart), f"{step}, case i ≠ j"),
    ]


class _AnyK:
    """The softmax model with K symbolic: q_i, ℓ_i, the penalties and both KLs as Σs."""

    def __init__(self) -> None:
        m = sp.Dummy("m", integer=True, positive=True)
        self.total = sp.Sum(_U[m], (m, 1, K))  # U, differentiated as the sum it is
        self.q = _U[_I] / self.total
        self.log_q = sp.log(_U[_I]) - sp.log(self.total)
        self.ell = self.log_q - sp.log(_P[_I])
        self.terms = {
            "k1": self.ell,
            "k2": self.ell**2 / 2,
            "k3": _P[_I] / self.q - 1 + self.ell,
        }
        self.kl_qp = self.mean(self.ell)
        self.kl_pq = _sum(_P[_I] * (sp.log(_P[_I]) - self.log_q))
        self.half_ell2 = self.mean(self.ell**2) / 2

    def mean(self, f: sp.Expr) -> sp.Expr:
        return _sum(self.q * f)

    @staticmethod
    def d(expr: sp.Expr) -> sp.Expr:
        """∂/∂θ_j = u_j ∂/∂u_j."""
        return _U[_J] * sp.diff(expr, _U[_J])

    def value(self, kind: str) -> sp.Expr:
        return self.mean(self.terms[kind])

    def loss(self, kind: str) -> sp.Expr:
        return self.mean(self.d(self.terms[kind]))

    def reward(self, kind: str) -> sp.Expr:
        return self.mean(self.terms[kind] * self.d(self.log_q))


def _linearity() -> Step:
    """Σ_{i=1}^K (c a_i + b_i) = c Σ a_i + Σ b_i for every K ≥ 1, by induction on K."""
    from klmath.proofs.kl_properties import _peel

    c = sp.Symbol("c")
    b = sp.IndexedBase("b")

    def gap(n: sp.Expr) -> sp.Expr:
        return (
            sp.Sum(c * _A[_I] + b[_I], (_I, 1, n))
            - c * sp.Sum(_A[_I], (_I, 1, n))
            - sp.Sum(b[_I], (_I, 1, n))
        )

    base = require_zero(gap(1).doit(), "K=1: Σ_{i=1}^1 (c a_i + b_i) = c a_1 + b_1")
    step = require_zero(
        _peel(gap(K + 1), K) - gap(K),
        "K → K+1: each side gains c a_{K+1} + b_{K+1} (Σ_{i=1}^{K+1} = Σ_{i=1}^K + term K+1)",
    )
    return by_induction(
        base, step, "linearity: Σ_{i=1}^K (c a_i + b_i) = c Σ a_i + Σ b_i for every K ≥ 1"
    )


def _lemmas(model: _AnyK) -> Iterator[Step]:
    """The rules :func:`_reduce` applies, and the softmax lemmas they give, at symbolic K."""
    yield _linearity()
    g = sp.IndexedBase("g", real=True)
    delta_sum = sp.Sum(sp.KroneckerDelta(_I, _J) * g[_I], (_I, 1, K)).doit()
    yield require(
        isinstance(delta_sum, sp.Piecewise) and _index_in_range(delta_sum) == g[_J],
        f"delta summation: Σ_{{i=1}}^K δ_ij g_i = {delta_sum} = g_j for 1 ≤ j ≤ K (K symbolic)",
    )
    yield require(
        _reduce(model.d(sp.log(model.total))) == _U[_J] / _TOTAL,
        "∂U/∂θ_j = u_j Σ_m δ_jm = u_j: ∂ log U/∂θ_j = u_j/U = q_j",
    )
    q_j = _U[_J] / model.total
    yield from _cases_zero(
        model.d(model.q) - model.q * (sp.KroneckerDelta(_I, _J) - q_j),
        "softmax derivative: ∂q_i/∂θ_j = q_i(δ_ij − q_j), K symbolic",
    )
    yield from _cases_zero(
        model.d(model.log_q) - (sp.KroneckerDelta(_I, _J) - q_j),
        "score: ∂log q_i/∂θ_j = ∂ℓ_i/∂θ_j = δ_ij − q_j (p fixed)",
    )
    yield _reduce_zero(
        model.mean((sp.KroneckerDelta(_I, _J) - q_j) * g[_I]) - q_j * (g[_J] - model.mean(g[_I])),
        "Σ_i q_i(δ_ij − q_j) g_i = q_j(g_j − Σ_i q_i g_i) for any g, K symbolic",
    )
    yield _reduce_zero(model.mean(sp.Integer(1)) - 1, "Σ_i q_i = Σ_i u_i / U = 1")
    yield _reduce_zero(
        model.mean(_P[_I] / model.q) - 1, "E_q[p/q] = Σ_i p_i = 1 (a softmax q is > 0 everywhere)"
    )
    yield _reduce_zero(
        model.d(model.kl_qp) - q_j * (model.ell.xreplace({_I: _J}) - model.kl_qp),
        "∇_j KL(q‖p) = q_j(ℓ_j − KL(q‖p))",
    )
    yield _reduce_zero(model.d(model.kl_pq) - (q_j - _P[_J]), "∇_j KL(p‖q) = q_j − p_j")


# The counterexample family: p_1 = p_2 = π, u_1 = 3π/2, u_2 = π/2, u_i = p_i (i ≥ 3), U = 1.
_PI = sp.Symbol("pi_", positive=True)
_FAMILY = {_U[1]: 3 * _PI / 2, _U[2]: _PI / 2, _P[1]: _PI, _P[2]: _PI, _TOTAL: sp.Integer(1)}


def _split_sum(s: sp.Sum) -> sp.Expr:
    """Σ_{i=1}^K f_i = f_1 + f_2 + Σ_{i=3}^K f_i (K ≥ 2; u_i = p_i for i ≥ 3)."""
    ((x, lo, hi),) = s.limits
    if (lo, hi) != (1, K):
        raise ProofFailure(f"{s} is not a sum over i = 1..K")
    f = s.function
    return f.xreplace({x: 1}) + f.xreplace({x: 2}) + sp.Sum(f.xreplace({_U[x]: _P[x]}), (x, 3, K))


def _at_family(reduced: sp.Expr, j: int) -> sp.Expr:
    """A reduced expression at the family above and category j, divided by π."""
    at = reduced.replace(lambda e: isinstance(e, sp.Sum), _split_sum)
    at = sp.expand(sp.expand_log(at.xreplace({_J: j}).xreplace(_FAMILY)))
    return sp.expand(at / _PI)


def _nonzero_for_every_k(diff: sp.Expr, step: str) -> Step:
    """Require ``diff`` ≠ 0 at the family above for every K ≥ 2 and 0 < π ≤ ½.

    The difference, reduced, is evaluated there (a gradient at j = 1, and at j = 2 if that
    does not settle it): it must be π·r(π) with r linear in π alone and of one strict
    sign at both ends, π = 0 and π = ½.
    """
    reduced = _reduce(diff)
    gradient = reduced.has(_J)
    for j in (1, 2) if gradient else (1,):
        ratio = _at_family(reduced, j)
        linear = ratio.is_polynomial(_PI) and sp.degree(ratio, _PI) <= 1
        if not (ratio.free_symbols <= {_PI} and linear):
            raise ProofFailure(f"{step}: {ratio} is not linear in π alone")
        ends = [ratio.subs(_PI, 0), ratio.subs(_PI, sp.Rational(1, 2))]
        if all(e.is_positive for e in ends) or all(e.is_negative for e in ends):
            break
    at_ends = ", ".join(sp.sstr(sp.N(e, 4)) for e in ends)
    return require(
        all(e.is_positive for e in ends) or all(e.is_negative for e in ends),
        f"{step} for every K ≥ 2: at p_1 = p_2 = π, q = (3π/2, π/2, p_3, …, p_K)"
        + (f", j = {j}" if gradient else "")
        + f", the difference is π·r(π), r linear, r(0), r(½) = {at_ends}: nonzero for π ∈ (0, ½]",
    )


def _any_k_checks(statement: sp.Basic, model: _AnyK) -> Iterator[Step]:
    yield from _lemmas(model)
    for part in _parts(statement):
        diff = _difference(part, _meaning(model, part))
        if isinstance(part, sp.Eq):
            every_j = ", every j ≤ K" if part.has(LOSS, REWARD, NABLA) else ""
            yield _reduce_zero(diff, f"{_say(part)} for every K ≥ 2{every_j}")
        else:
            yield _nonzero_for_every_k(diff, _say(part))


# --- variance and bias near q = p, K symbolic ----------------------------------------------


def _variance_checks() -> Iterator[Step]:
    """q_i ∝ p_i e^{εa_i}: Var_q[k1] = ε² Var_p[a] + O(ε³); k2 and k3 terms are O(ε²).

    The normaliser Z(ε) = Σ_i p_i e^{εa_i} and the mean M(ε) = E_q[ℓ] are differentiated
    as functions of ε; their derivatives are then replaced by those of their sums (the
    chain rule, done by SymPy), which keeps the expressions small.
    """
    eps = sp.Symbol("epsilon")
    z_f, m_f = sp.Function("Z")(eps), sp.Function("M")(eps)
    q = _P[_I] * sp.exp(eps * _A[_I]) / z_f
    ell = eps * _A[_I] - sp.log(z_f)
    terms = {"k1": ell, "k2": ell**2 / 2, "k3": sp.exp(-ell) - 1 + ell}

    def mean(f: sp.Expr) -> sp.Expr:
        return _sum(q * f)

    definitions = {z_f: _sum(_P[_I] * sp.exp(eps * _A[_I])), m_f: mean(ell)}
    derivatives: dict[sp.Expr, sp.Expr] = {}
    for function, definition in definitions.items():
        for n in range(3):
            derivatives[sp.Derivative(function, (eps, n)) if n else function] = definition
            definition = sp.diff(definition, eps)

    def taylor(expr: sp.Expr, order: int) -> list[sp.Expr]:
        out = []
        for m in range(order):
            at = expr.xreplace(derivatives).xreplace(derivatives)  # M's sums contain Z
            out.append(at.xreplace({eps: 0}) / sp.factorial(m))
            expr = sp.diff(expr, eps)
        return out

    def zeros(coefficients: list[sp.Expr], step: str) -> Step:
        checked = [
            _reduce_zero(c, f"{step}: coefficient of ε^{m}") for m, c in enumerate(coefficients)
        ]
        return require(
            len(checked) == len(coefficients) > 0 and all(isinstance(c, Step) for c in checked),
            step,
        )

    mean_a = _sum(_P[_I] * _A[_I])
    var_a = _sum(_P[_I] * (_A[_I] - mean_a) ** 2)
    c1 = taylor(mean((terms["k1"] - m_f) ** 2), 3)
    yield zeros(
        [c1[0], c1[1], c1[2] - var_a],
        "q ∝ p·e^{εa}, K symbolic: Var_q[k1] = ε² Var_p[a] + O(ε³) (= 2·KL + O(ε³))",
    )
    ckl = taylor(mean(ell), 3)
    yield zeros([ckl[0], ckl[1], ckl[2] - var_a / 2], "KL(q‖p) = ε² Var_p[a]/2 + O(ε³)")
    for kind in ("k2", "k3"):
        # Each term is O(ε²), so k − E_q[k] = O(ε²) and Var_q[k] = E_q[(k − E_q k)²] = O(ε⁴).
        yield zeros(
            taylor(terms[kind], 2),
            f"every {kind} term is O(ε²) (ε⁰, ε¹ coefficients 0), so Var_q[{kind}] = O(ε⁴)",
        )
    yield zeros(taylor(mean(terms["k2"]) - mean(ell), 3), "E_q[k2] − KL(q‖p) = O(ε³) (k2's bias)")


# --- cross-check: explicit K = 2, 3, 4 ----------------------------------------------------


class _Softmax:
    """Explicit symbols and expressions for one K: q, p, ℓ, the penalties and both KLs."""

    def __init__(self, k: int, j: int) -> None:
        self.k, self.j = k, j
        self.u = sp.symbols(f"u1:{k + 1}", positive=True)
        ps = sp.symbols(f"p1:{k}", positive=True)
        self.p = [*ps, 1 - sum(ps)]
        total = sum(self.u)
        self.q = [ui / total for ui in self.u]
        self.log_q = [sp.log(ui) - sp.log(total) for ui in self.u]
        self.ell = [lq - sp.log(pi) for lq, pi in zip(self.log_q, self.p, strict=True)]
        self.terms = {
            "k1": list(self.ell),
            "k2": [li**2 / 2 for li in self.ell],
            "k3": [pi / qi - 1 + li for pi, qi, li in zip(self.p, self.q, self.ell, strict=True)],
        }
        self.kl_qp = self.mean(self.ell)
        self.kl_pq = -sum(pi * li for pi, li in zip(self.p, self.ell, strict=True))
        self.half_ell2 = self.mean([li**2 for li in self.ell]) / 2

    def mean(self, f: list[sp.Expr]) -> sp.Expr:
        return sum(qi * fi for qi, fi in zip(self.q, f, strict=True))

    def d(self, expr: sp.Expr) -> sp.Expr:
        """∂/∂θ_j through u_j = e^{θ_j}."""
        return self.u[self.j] * sp.diff(expr, self.u[self.j])

    def value(self, kind: str) -> sp.Expr:
        return self.mean(self.terms[kind])

    def loss(self, kind: str) -> sp.Expr:
        return self.mean([self.d(t) for t in self.terms[kind]])

    def reward(self, kind: str) -> sp.Expr:
        score = [self.d(lq) for lq in self.log_q]
        return self.mean([t * s for t, s in zip(self.terms[kind], score, strict=True)])

    def numbers(self) -> dict[sp.Symbol, sp.Rational]:
        """A rational point (u, p) for the inequalities."""
        values = {ui: sp.Integer(i + 1) for i, ui in enumerate(self.u)}
        for i, pi in enumerate(self.p[:-1]):
            values[pi] = sp.Rational(1, 2 ** (i + 2))
        return values


def _nonzero_at(expr: sp.Expr, at: dict[sp.Symbol, sp.Rational], step: str) -> Step:
    value = sp.N(expr.xreplace(at), 30)
    return require(
        bool(value.is_number and abs(value) > sp.Float("1e-10")),
        f"{step} (= {float(value):.4g} at u = 1..K, p = 1/4, 1/8, ...)",
    )


def _explicit_checks(statement: sp.Basic) -> Iterator[Step]:
    """Cross-check: every stated relation again with explicit symbols at K = 2, 3, 4."""
    parts = _parts(statement)
    for k in (2, 3, 4):
        models = [_Softmax(k, j) for j in range(k)]
        checked: list[Step] = []
        expected = 0
        for part in parts:
            gradient = part.has(LOSS, REWARD, NABLA)
            expected += k if isinstance(part, sp.Eq) and gradient else 1
            if isinstance(part, sp.Eq):
                for model in models if gradient else models[:1]:
                    diff = _difference(part, _meaning(model, part))
                    label = f", j={model.j + 1}" if gradient else ""
                    checked.append(require_zero(sp.expand(diff), f"K={k}{label}: {_say(part)}"))
            else:
                diff = _difference(part, _meaning(models[0], part))
                checked.append(_nonzero_at(diff, models[0].numbers(), f"K={k}: {_say(part)}"))
        yield concrete(
            require(
                len(checked) == expected and all(isinstance(c, Step) for c in checked),
                f"cross-check: the {len(parts)} stated relations with explicit u_1..u_{k}, "
                f"p_1..p_{k - 1} (= for every j by expand/cancel, ≠ at a rational point)",
            ),
            f"K = {k}",
        )


# --- the library: klmath.kl_penalty against the statement at 50 digits ---------------------

_CELL_NAMES = {VALUE: "value", LOSS: "loss", REWARD: "reward"}


def _library_checks(statement: sp.Basic, model: _AnyK) -> Iterator[Step]:
    """:func:`klmath.kl_penalty` against every stated equation, its sides as defined at K.

    The right-hand side of each equation E_q[…] = … keeps its meaning in the symbolic-K
    model (sums over i = 1..K, derivatives ∂/∂θ_j), which :func:`mp_evaluate` computes at
    50 digits once K, u, p and j are numbers; the left-hand side is the library's.
    """
    from klmath.proofs.library import penalty_library_checks

    table = []
    for part in _parts(statement):
        if isinstance(part, sp.Eq) and part.lhs.func in _CELLS:
            rhs = part.rhs.xreplace(_meaning(model, part.rhs))
            table.append((_CELL_NAMES[part.lhs.func], _KIND[part.lhs.args[0]], rhs, _say(part)))
    yield from penalty_library_checks(table, {"K": K, "u": _U, "p": _P, "j": _J})


@claim(
    "KL penalties on draws of a softmax policy q over K categories: E[k1] = E[k3] = KL(q‖p), "
    "E[k2] = E[½ℓ²] ≠ KL; as a loss ∇k1 → 0, ∇k2 → ∇KL(q‖p), ∇k3 → ∇KL(p‖q); as a REINFORCE "
    "reward k1 → ∇KL(q‖p), k2 → ∇½E[ℓ²] − ∇KL(q‖p), k3 → ∇KL(q‖p) − ∇KL(p‖q)",
    penalty_statement,
    generality="all K ≥ 2 softmax categories",
    uses=("∂/∂θ_j = u_j ∂/∂u_j for u_j = e^{θ_j} (chain rule)",),
)
def kl_penalty_expectations(statement: sp.Basic) -> Iterator[Step]:
    """Check the value and gradient table of :mod:`klmath.penalty` for every K ≥ 2."""
    model = _AnyK()
    yield from _any_k_checks(statement, model)
    yield from _variance_checks()
    yield from _explicit_checks(statement)
    yield from _library_checks(statement, model)
