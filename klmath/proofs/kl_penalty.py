"""Claim: what the KL penalties k1, k2, k3 return in expectation, as values and gradients.

Setting (RL fine-tuning, :func:`klmath.kl_penalty`): a softmax policy over K
categories, q_i = e^{θ_i} / Σ_j e^{θ_j}, a fixed reference p (p_i > 0, Σ p_i = 1),
a draw y = i ~ q and ℓ_i = log q_i − log p_i. Per draw

    k1 = ℓ,   k2 = ½ℓ²,   k3 = p/q − 1 + ℓ.

All expectations over y ~ q are finite sums Σ_i q_i f_i, so every statement below is
an identity between explicit expressions in the symbols e^{θ_i} = u_i and p_i,
decided by ``expand``/``cancel`` (log q_i = log u_i − log Σu and log p_i are kept as
independent atoms). ∂/∂θ_j = u_j ∂/∂u_j (chain rule). The checks run for K = 2, 3, 4
with symbolic u and p (p_K = 1 − Σ_{i<K} p_i); the identities do not use K except
through these sums, but a check at K = 2, 3, 4 is what is claimed.

* loss mode: the expected autograd gradient at fixed draws, G_j = Σ_i q_i ∂_{θ_j} k(ℓ_i);
* reward mode: the REINFORCE gradient with the value as a detached reward,
  R_j = Σ_i q_i k(ℓ_i) ∂_{θ_j} log q_i.

Negative checks (the gradient is *not* the other direction's) substitute rational
numbers and require a nonzero result, evaluated to 30 digits.
"""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp

from klmath.proofs._record import ProofFailure, Step, claim, require, require_zero

__all__ = ["kl_penalty_expectations"]


def _expression() -> sp.Basic:
    theta = sp.Symbol("theta")
    ell = sp.Symbol("ell")
    q, p = sp.Function("q"), sp.Function("p")
    k3 = p(ell) / q(ell) - 1 + ell
    return sp.Eq(
        sp.Symbol("E_q") * sp.Derivative(k3, theta),
        sp.Derivative(sp.Symbol("KL(p||q)"), theta),
    )


class _Softmax:
    """Symbols and expressions for one K: q, p, ℓ, the estimators and both KLs."""

    def __init__(self, k: int) -> None:
        self.k = k
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

    def mean(self, f: list[sp.Expr]) -> sp.Expr:
        return sum(qi * fi for qi, fi in zip(self.q, f, strict=True))

    def d(self, expr: sp.Expr, j: int) -> sp.Expr:
        """∂/∂θ_j through u_j = e^{θ_j}."""
        return self.u[j] * sp.diff(expr, self.u[j])

    def loss_grad(self, kind: str, j: int) -> sp.Expr:
        return self.mean([self.d(t, j) for t in self.terms[kind]])

    def reward_grad(self, kind: str, j: int) -> sp.Expr:
        score = [self.d(lq, j) for lq in self.log_q]
        return self.mean([t * s for t, s in zip(self.terms[kind], score, strict=True)])

    def numbers(self) -> dict[sp.Symbol, sp.Rational]:
        """A rational point (u, p) for the negative checks."""
        values = {ui: sp.Integer(i + 1) for i, ui in enumerate(self.u)}
        free = [pi for pi in self.p[:-1]]
        for i, pi in enumerate(free):
            values[pi] = sp.Rational(1, 2 ** (i + 2))
        return values


def _zero(expr: sp.Expr, step: str) -> Step:
    return require_zero(sp.expand(expr), step)


def _nonzero(expr: sp.Expr, at: dict[sp.Symbol, sp.Rational], step: str) -> Step:
    value = sp.N(expr.subs(at), 30)
    if not (value.is_number and abs(value) > sp.Float("1e-10")):
        raise ProofFailure(f"{step}: value {value} at {at} is not clearly nonzero")
    return require(
        bool(abs(value) > sp.Float("1e-10")),
        f"{step} (= {float(value):.4g} at u = 1..K, p = 1/4, 1/8, ...)",
    )


@claim(
    "KL penalties on draws of a softmax policy q (K = 2, 3, 4): E[k1] = E[k3] = KL(q‖p), "
    "E[k2] ≠ KL; as a loss ∇k1 → 0, ∇k2 → ∇KL(q‖p), ∇k3 → ∇KL(p‖q); as a REINFORCE reward "
    "k1 → ∇KL(q‖p), k2 → ∇½E[ℓ²] − ∇KL(q‖p), k3 → ∇KL(q‖p) − ∇KL(p‖q)",
    _expression,
    generality="K = 2, 3, 4 softmax categories",
)
def kl_penalty_expectations(statement: sp.Basic) -> Iterator[Step]:
    """Check the value and gradient table of :mod:`klmath.penalty`."""
    for k in (2, 3, 4):
        s = _Softmax(k)
        at = s.numbers()
        yield _zero(s.mean(s.terms["k1"]) - s.kl_qp, f"K={k} value k1: E_q[ℓ] = KL(q‖p)")
        yield _zero(
            s.mean(s.terms["k3"]) - s.kl_qp,
            f"K={k} value k3: E_q[p/q − 1 + ℓ] = Σp − 1 + KL(q‖p) = KL(q‖p)",
        )
        yield _nonzero(
            s.mean(s.terms["k2"]) - s.kl_qp, at, f"K={k} value k2: E_q[½ℓ²] − KL(q‖p) ≠ 0"
        )
        for j in range(k):
            grad_qp = s.d(s.kl_qp, j)
            grad_pq = s.d(s.kl_pq, j)
            yield _zero(s.loss_grad("k1", j), f"K={k} loss k1, ∂θ{j + 1}: E_q[∇ℓ] = 0")
            yield _zero(
                s.loss_grad("k2", j) - grad_qp, f"K={k} loss k2, ∂θ{j + 1}: E_q[ℓ∇ℓ] = ∇KL(q‖p)"
            )
            yield _zero(
                s.loss_grad("k3", j) - grad_pq,
                f"K={k} loss k3, ∂θ{j + 1}: E_q[(1 − p/q)∇ℓ] = ∇KL(p‖q)",
            )
            yield _zero(
                s.reward_grad("k1", j) - grad_qp,
                f"K={k} reward k1, ∂θ{j + 1}: E_q[ℓ ∇log q] = ∇KL(q‖p)",
            )
            yield _zero(
                s.reward_grad("k2", j) - (s.d(s.mean(s.terms["k2"]), j) - grad_qp),
                f"K={k} reward k2, ∂θ{j + 1}: E_q[½ℓ² ∇log q] = ∇E_q[½ℓ²] − ∇KL(q‖p)",
            )
            yield _zero(
                s.reward_grad("k3", j) - (grad_qp - grad_pq),
                f"K={k} reward k3, ∂θ{j + 1}: E_q[k3 ∇log q] = ∇KL(q‖p) − ∇KL(p‖q)",
            )
        yield _nonzero(
            s.loss_grad("k3", 0) - s.d(s.kl_qp, 0),
            at,
            f"K={k} loss k3 is not the reverse-KL gradient: ∇KL(p‖q) − ∇KL(q‖p) ≠ 0",
        )
        yield _nonzero(
            s.loss_grad("k2", 0) - s.d(s.kl_pq, 0),
            at,
            f"K={k} loss k2 is not the forward-KL gradient: ∇KL(q‖p) − ∇KL(p‖q) ≠ 0",
        )
    # Variance near q = p: q_i ∝ p_i e^{ε a_i}. k1's variance is second order in ε (as
    # large as 2·KL), k2's and k3's fourth order, so their relative error stays bounded.
    eps = sp.Symbol("epsilon")
    a = sp.symbols("a1:4", real=True)
    ps = sp.symbols("p1:3", positive=True)
    p = [*ps, 1 - sum(ps)]
    z = sum(pi * sp.exp(eps * ai) for pi, ai in zip(p, a, strict=True))
    q = [pi * sp.exp(eps * ai) / z for pi, ai in zip(p, a, strict=True)]
    ell = [eps * ai - sp.log(z) for ai in a]
    terms = {
        "k1": ell,
        "k2": [li**2 / 2 for li in ell],
        "k3": [sp.exp(-li) - 1 + li for li in ell],
    }

    def var(f: list[sp.Expr]) -> sp.Expr:
        m = sum(qi * fi for qi, fi in zip(q, f, strict=True))
        return sum(qi * (fi - m) ** 2 for qi, fi in zip(q, f, strict=True))

    def taylor(expr: sp.Expr, order: int) -> list[sp.Expr]:
        return [sp.diff(expr, eps, m).subs(eps, 0) / sp.factorial(m) for m in range(order)]

    def zeros(coefficients: list[sp.Expr], step: str) -> Step:
        checked = [
            require_zero(sp.expand(c), f"{step}: coefficient of ε^{m}")
            for m, c in enumerate(coefficients)
        ]
        return require(len(checked) == len(coefficients) > 0, step)

    mean_a = sum(pi * ai for pi, ai in zip(p, a, strict=True))
    var_a = sum(pi * (ai - mean_a) ** 2 for pi, ai in zip(p, a, strict=True))
    c1 = taylor(var(terms["k1"]), 3)
    yield zeros(
        [c1[0], c1[1], c1[2] - var_a],
        "K=3, q ∝ p·e^{εa}: Var_q[k1] = ε² Var_p[a] + O(ε³) (= 2·KL + O(ε³))",
    )
    kl = sum(qi * li for qi, li in zip(q, ell, strict=True))
    ckl = taylor(kl, 3)
    yield zeros([ckl[0], ckl[1], ckl[2] - var_a / 2], "K=3: KL(q‖p) = ε² Var_p[a]/2 + O(ε³)")
    for kind in ("k2", "k3"):
        # Each term is O(ε²), so k − E_q[k] = O(ε²) and Var_q[k] = E_q[(k − E_q k)²] = O(ε⁴).
        yield zeros(
            [c for t in terms[kind] for c in taylor(t, 2)],
            f"K=3: every {kind} term is O(ε²) (ε⁰, ε¹ coefficients 0), so Var_q[{kind}] = O(ε⁴)",
        )
    ck2 = taylor(sum(qi * ti for qi, ti in zip(q, terms["k2"], strict=True)) - kl, 3)
    yield zeros(ck2, "K=3: E_q[k2] − KL(q‖p) = O(ε³) (k2's bias is third order)")
