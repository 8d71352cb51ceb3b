"""Each bound of klmath.mixture equals its published formula, term by term, in mpmath.

tests/test_mixture_bounds_exact.py checks that the bounds bracket the true KL; a
bracket check cannot see a broken Durrieu upper bound while Hershey & Olsen's is
the smaller one (``upper`` is their minimum), nor a lower bound broken downwards.
Here every ingredient is computed independently in mpmath at 30 digits (the
overlaps ∫ fₐ g_b by quadrature, the component KLs and entropies from their 1-D
closed forms) and assembled by the formulas of Durrieu, Thiran & Kelly (2012) and
Hershey & Olsen (2007) as the module docstring states them; the cases are chosen
so that the bound under test is the one ``upper`` returns.
"""

from __future__ import annotations

import functools
import itertools

import mpmath as mp
import pytest
import torch
from torch.distributions import (
    Categorical,
    Independent,
    Laplace,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

from klmath.mixture import gaussian_mixture_kl_bounds

F64 = torch.float64
DIGITS = 30  # the comparisons are at 1e-12; 30 digits keep the quadratures fast
Mix1D = tuple[list[float], list[float], list[float]]  # weights, means, standard deviations


def _torch_mixture(mix: Mix1D, **kw: bool) -> MixtureSameFamily:
    # logits = log w, so a weight of 0 is exactly 0 (probs= would clamp it to ~1e-16).
    w, m, s = (torch.tensor(x, dtype=F64) for x in mix)
    return MixtureSameFamily(Categorical(logits=w.log(), **kw), Normal(m, s, **kw), **kw)


def _pdf(x: mp.mpf, m: float, s: float) -> mp.mpf:
    return mp.npdf(x, mp.mpf(m), mp.mpf(s))


@functools.cache
def _overlap(m0: float, s0: float, m1: float, s1: float) -> mp.mpf:
    """∫ N(x; m0, s0²) N(x; m1, s1²) dx by quadrature (not the closed form the code uses)."""
    points = sorted({mp.mpf(m0), mp.mpf(m1)})
    return mp.quad(lambda x: _pdf(x, m0, s0) * _pdf(x, m1, s1), [-mp.inf, *points, mp.inf])


def _kl(m0: float, s0: float, m1: float, s1: float) -> mp.mpf:
    m0, s0, m1, s1 = (mp.mpf(v) for v in (m0, s0, m1, s1))
    return mp.log(s1 / s0) + (s0**2 + (m0 - m1) ** 2) / (2 * s1**2) - mp.mpf(1) / 2


def _references(p: Mix1D, q: Mix1D) -> dict[str, mp.mpf]:
    """Durrieu's lower and upper bounds, D_var, and Hershey & Olsen's product-coupling bound."""
    with mp.workdps(DIGITS):
        w, mp_, sp = p
        pi, mq, sq = q
        k, l_ = range(len(w)), range(len(pi))
        lower = durrieu = variational = product = mp.mpf(0)
        for a in k:
            if w[a] == 0:
                continue
            entropy = mp.log(2 * mp.pi * mp.e * mp.mpf(sp[a]) ** 2) / 2
            lse_pp = mp.log(mp.fsum(w[i] * mp.exp(-_kl(mp_[a], sp[a], mp_[i], sp[i])) for i in k))
            lse_pq = mp.log(mp.fsum(pi[b] * mp.exp(-_kl(mp_[a], sp[a], mq[b], sq[b])) for b in l_))
            up_ff = mp.log(mp.fsum(w[i] * _overlap(mp_[a], sp[a], mp_[i], sp[i]) for i in k))
            up_fg = mp.log(mp.fsum(pi[b] * _overlap(mp_[a], sp[a], mq[b], sq[b]) for b in l_))
            lower += w[a] * (lse_pp - entropy - up_fg)
            durrieu += w[a] * (up_ff - lse_pq + entropy)
            variational += w[a] * (lse_pp - lse_pq)
            product += mp.fsum(w[a] * pi[b] * _kl(mp_[a], sp[a], mq[b], sq[b]) for b in l_)
        return {
            "lower": max(lower, mp.mpf(0)),
            "durrieu": durrieu,
            "variational": variational,
            "product": product,
        }


def _close(value: torch.Tensor, ref: mp.mpf, rel: float = 1e-12) -> bool:
    return abs(float(value) - float(ref)) <= rel * max(1.0, abs(float(ref)))


# Two well-separated components of p against one broad q: Durrieu's upper bound is the
# smaller one (by Σ ωₐ(log ωₐ + ½ log(e/2)) < 0), and the lower bound is positive.
SEPARATED: tuple[Mix1D, Mix1D] = (([0.35, 0.65], [-5.0, 4.0], [1.0, 0.6]), ([1.0], [0.5], [5.5]))
# Heavily overlapping components: Hershey & Olsen's bound from the product coupling
# (iterations = 0) is the smaller one, Durrieu's carrying its ½ log(e/2) offset.
OVERLAPPING: tuple[Mix1D, Mix1D] = (
    ([0.3, 0.7], [0.0, 0.1], [1.0, 1.05]),
    ([0.6, 0.4], [0.05, 0.2], [1.0, 1.1]),
)


def test_durrieu_bounds_and_the_variational_approximation_match_their_formulas() -> None:
    p, q = SEPARATED
    ref = _references(p, q)
    assert ref["lower"] > 0.5 and ref["durrieu"] < ref["product"] - 0.3  # the case discriminates
    b = gaussian_mixture_kl_bounds(_torch_mixture(p), _torch_mixture(q))
    assert _close(b.lower, ref["lower"]), (b, ref)
    assert _close(b.upper, ref["durrieu"]), (b, ref)
    assert _close(b.variational, ref["variational"]), (b, ref)


def test_product_coupling_bound_is_the_upper_bound_at_zero_iterations() -> None:
    # Hershey & Olsen with φ = ψ = ω ⊗ π: Σₐ_b ωₐ π_b D_ab (convexity of KL).
    p, q = OVERLAPPING
    ref = _references(p, q)
    assert ref["product"] < ref["durrieu"] - 0.1
    b = gaussian_mixture_kl_bounds(_torch_mixture(p), _torch_mixture(q), iterations=0)
    assert _close(b.upper, ref["product"]), (b, ref)
    assert _close(b.lower, ref["lower"]) and _close(b.variational, ref["variational"])


def test_a_batch_of_mixtures_gets_each_mixtures_own_bounds() -> None:
    # Unequal weights and a batch axis: a reduction over the wrong axis mixes mixtures.
    pairs = [
        SEPARATED,
        (([0.2, 0.8], [-3.0, 2.5], [0.7, 1.2]), ([1.0], [0.0], [4.0])),
        (([0.6, 0.4], [-6.0, 1.0], [1.3, 0.5]), ([1.0], [-1.0], [6.0])),
    ]
    stacked = [
        [torch.tensor([pair[j][i] for pair in pairs], dtype=F64) for i in range(3)]
        for j in range(2)
    ]
    p, q = (MixtureSameFamily(Categorical(probs=w), Normal(m, s)) for w, m, s in stacked)
    b = gaussian_mixture_kl_bounds(p, q)
    assert b.lower.shape == b.upper.shape == b.variational.shape == (3,)
    for i, (pi_, qi) in enumerate(pairs):
        ref = _references(pi_, qi)
        assert ref["durrieu"] < ref["product"]
        assert _close(b.lower[i], ref["lower"]), (i, b, ref)
        assert _close(b.upper[i], ref["durrieu"]), (i, b, ref)
        assert _close(b.variational[i], ref["variational"]), (i, b, ref)


def test_multivariate_components_of_dimension_one_are_the_normal_case() -> None:
    # d = 1 MultivariateNormal components in a batch are the Normal case: the overlap
    # and KL terms broadcast over (batch, K, L) in both component layouts.
    p, q = SEPARATED
    (w, m, s), (pi, mq, sq) = p, q
    ref = _references(p, q)
    mvn = lambda m_, s_: MultivariateNormal(  # noqa: E731
        torch.tensor(m_, dtype=F64).reshape(1, -1, 1).expand(2, -1, 1),
        scale_tril=torch.tensor(s_, dtype=F64).reshape(1, -1, 1, 1).expand(2, -1, 1, 1),
    )
    cat = lambda w_: Categorical(probs=torch.tensor(w_, dtype=F64).expand(2, -1))  # noqa: E731
    b = gaussian_mixture_kl_bounds(
        MixtureSameFamily(cat(w), mvn(m, s)), MixtureSameFamily(cat(pi), mvn(mq, sq))
    )
    for i in range(2):
        assert _close(b.lower[i], ref["lower"]) and _close(b.upper[i], ref["durrieu"])


def test_a_zero_weight_component_changes_no_bound() -> None:
    # A component of weight 0 is not part of the mixture: all three numbers are those of
    # the mixture without it (for p and for q), at every iteration count.
    (w, m, s), (pi, mq, sq) = OVERLAPPING
    p0 = ([*w, 0.0], [*m, 3.0], [*s, 0.5])
    q0 = ([*pi, 0.0], [*mq, -2.0], [*sq, 2.0])
    for iterations in (0, 20):
        want = gaussian_mixture_kl_bounds(
            _torch_mixture(OVERLAPPING[0]), _torch_mixture(OVERLAPPING[1]), iterations=iterations
        )
        got = gaussian_mixture_kl_bounds(
            _torch_mixture(p0), _torch_mixture(q0), iterations=iterations
        )
        for name in ("lower", "upper", "variational"):
            assert torch.isfinite(getattr(got, name))
            assert torch.allclose(getattr(got, name), getattr(want, name), rtol=1e-12, atol=0)


def test_overlaps_of_diagonal_components_factor_over_coordinates() -> None:
    # log ∫ fₐ g_b over R^d for diagonal covariances is the sum over coordinates of the
    # 1-D log overlaps (d = 3, no batch axis: K = 2 components of f, L = 3 of g).
    from klmath.mixture import _pairwise_log_overlap

    m0 = [[-1.0, 0.5, 2.0], [0.3, -0.2, 1.0]]
    s0 = [[1.0, 0.7, 1.3], [0.5, 1.1, 0.9]]
    m1 = [[0.0, 0.0, 0.0], [1.0, -1.0, 0.5], [2.0, 0.4, -0.6]]
    s1 = [[1.2, 0.8, 1.0], [0.6, 0.9, 2.0], [1.5, 0.4, 0.7]]
    t = lambda x: torch.tensor(x, dtype=F64)  # noqa: E731
    got = _pairwise_log_overlap(t(m0), torch.diag_embed(t(s0)), t(m1), torch.diag_embed(t(s1)))
    assert got.shape == (2, 3)
    with mp.workdps(DIGITS):
        for a, b in itertools.product(range(2), range(3)):
            ref = mp.fsum(
                mp.log(_overlap(m0[a][j], s0[a][j], m1[b][j], s1[b][j])) for j in range(3)
            )
            assert _close(got[a, b], ref), (a, b, float(got[a, b]), ref)


def test_q_in_float32_is_read_in_p_s_dtype() -> None:
    # The result is in p's dtype, computed from q's values converted exactly (float32
    # values are float64 values), so it equals the all-float64 call.
    p, q = SEPARATED
    q32 = MixtureSameFamily(
        Categorical(probs=torch.tensor(q[0])), Normal(torch.tensor(q[1]), torch.tensor(q[2]))
    )
    q64 = MixtureSameFamily(
        Categorical(probs=torch.tensor(q[0]).double()),
        Normal(torch.tensor(q[1]).double(), torch.tensor(q[2]).double()),
    )
    got = gaussian_mixture_kl_bounds(_torch_mixture(p), q32)
    want = gaussian_mixture_kl_bounds(_torch_mixture(p), q64)
    assert got.upper.dtype == F64
    assert torch.equal(got.lower, want.lower) and torch.equal(got.upper, want.upper)


GOOD = _torch_mixture(([0.3, 0.7], [0.0, 1.0], [1.0, 1.0]))
_W = Categorical(probs=torch.tensor([0.3, 0.7], dtype=F64), validate_args=False)
_TRIL = torch.eye(2, dtype=F64).expand(2, 2, 2).clone()
_TRIL[1, 1, 0] = float("inf")


def _unchecked(comp: object) -> MixtureSameFamily:
    return MixtureSameFamily(_W, comp, validate_args=False)


def _vec(*v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=F64)


BAD = [
    pytest.param(
        "q",
        _unchecked(Normal(_vec(0.0, float("inf")), 1.0, validate_args=False)),
        r"^q's component loc contains NaN or inf at batch index \(1,\)",
        id="normal-loc-inf",
    ),
    pytest.param(
        "p",
        _unchecked(
            Independent(
                Normal(
                    _vec(float("inf"), 0.0).reshape(2, 1).expand(2, 3), 1.0, validate_args=False
                ),
                1,
                validate_args=False,
            )
        ),
        r"^p's component loc contains NaN or inf at batch index \(0, 0\)",
        id="independent-loc-inf",
    ),
    pytest.param(
        "q",
        _unchecked(Normal(_vec(0.0, 0.0), _vec(1.0, float("inf")), validate_args=False)),
        r"^q's component scale contains NaN or inf at batch index \(1,\)",
        id="normal-scale-inf",
    ),
    pytest.param(
        "q",
        _unchecked(
            MultivariateNormal(torch.zeros(2, 2, dtype=F64), scale_tril=_TRIL, validate_args=False)
        ),
        r"^q's component scale_tril contains NaN or inf at batch index \(1, 1, 0\)",
        id="mvn-scale-tril-inf",
    ),
    pytest.param(
        "q",
        MixtureSameFamily(
            Categorical(logits=_vec(0.3, float("nan")), validate_args=False),
            Normal(_vec(0.0, 1.0), 1.0),
            validate_args=False,
        ),
        r"^q \(torch MixtureSameFamily\)\._mixture_distribution .* NaN in its parameter logits",
        id="nan-weights",
    ),
    pytest.param(
        "q",
        MixtureSameFamily(
            Categorical(torch.ones(2)), Independent(Laplace(torch.zeros(2, 3), 1.0), 1)
        ),
        r"^q's components must be Normal, .* got Independent\(Laplace\)$",
        id="independent-non-normal",
    ),
]


@pytest.mark.parametrize(("which", "bad", "match"), BAD)
def test_invalid_component_parameters_are_named(which: str, bad: object, match: str) -> None:
    # validate_args=False lets these through torch; the bounds would be NaN or inf.
    error = TypeError if "components must be" in match else ValueError
    p, q = (bad, GOOD) if which == "p" else (GOOD, bad)
    with pytest.raises(error, match=match):
        gaussian_mixture_kl_bounds(p, q)


@pytest.mark.parametrize("iterations", [2.0, 2.5, "3", None])
def test_iterations_must_be_an_int(iterations: object) -> None:
    with pytest.raises(
        TypeError, match=rf"^iterations must be an int >= 0, got {type(iterations).__name__}$"
    ):
        gaussian_mixture_kl_bounds(GOOD, GOOD, iterations=iterations)  # type: ignore[arg-type]
