"""check_argmax_lemma: the lemma holds on tables that satisfy its hypotheses, and
each broken hypothesis is reported (with the offending entry) and can break it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import lower_bound_tables

from klmath import ArgmaxLemmaResult, check_argmax_lemma
from klmath.proofs import exhaustive_argmax_check


@given(lower_bound_tables())
def test_hypotheses_imply_conclusion(table: tuple[np.ndarray, np.ndarray]) -> None:
    f, h = table
    result = check_argmax_lemma(f[:, None] - h, h)
    assert result.hypotheses_hold and result.failures == ()
    assert result.conclusion_holds
    assert result.f == tuple(f)
    assert result.argmax_f == tuple(np.flatnonzero(f == f.max()))
    # Proof step 3: every maximiser of g sits on a zero of h and attains max f.
    for theta, phi in result.argmax_g:
        assert h[theta, phi] == 0 and f[theta] - h[theta, phi] == f.max()


@given(lower_bound_tables(), st.data())
def test_positive_gap_row_is_reported(
    table: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    f, h = table
    theta = data.draw(st.integers(0, len(f) - 1))
    lifted = h.copy()
    lifted[theta] += data.draw(st.sampled_from([0.25, 1.0, 4.0]))  # min_φ h(θ, ·) > 0 now
    result = check_argmax_lemma(f[:, None] - lifted, lifted)
    assert not result.min_zero and result.nonnegative and result.decomposition
    assert result.failures == (
        f"min_φ h(θ, φ) = 0 fails at θ = {theta}: min h = {lifted[theta].min()}",
    )


@given(lower_bound_tables().filter(lambda t: len(t[0]) >= 2), st.data())
def test_positive_gap_at_the_unique_maximiser_breaks_the_conclusion(
    table: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    f, h = table
    f = f.copy()
    f[0] = f.max() + 1  # θ = 0 is the unique maximiser of f
    lifted = h.copy()
    # g(0, ·) ≤ min_{θ>0} f(θ) − δ < max_{θ>0} f(θ) = max over θ > 0 of g.
    lifted[0] += f[0] - f[1:].min() + data.draw(st.sampled_from([0.25, 1.0]))
    result = check_argmax_lemma(f[:, None] - lifted, lifted)
    assert result.argmax_f == (0,)
    assert 0 not in result.argmax_g_theta and not result.conclusion_holds


@given(lower_bound_tables(), st.data())
def test_negative_gap_is_reported(
    table: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    f, h = table
    theta = data.draw(st.integers(0, h.shape[0] - 1))
    phi = data.draw(st.integers(0, h.shape[1] - 1))
    bad = h.copy()
    bad[theta, phi] = -0.5
    result = check_argmax_lemma(f[:, None] - bad, bad)
    assert not result.nonnegative and result.decomposition
    assert not result.hypotheses_hold
    assert f"h ≥ 0 fails at (θ, φ) = ({theta}, {phi}): h = -0.5" in result.failures


@given(lower_bound_tables(max_phi=4).filter(lambda t: t[1].shape[1] >= 2), st.data())
def test_ill_defined_f_is_reported(
    table: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    f, h = table
    theta = data.draw(st.integers(0, h.shape[0] - 1))
    phi = data.draw(st.integers(0, h.shape[1] - 1))
    g = f[:, None] - h
    g[theta, phi] += 0.25  # g + h now depends on φ in row θ
    result = check_argmax_lemma(g, h)
    assert not result.decomposition and result.nonnegative and result.min_zero
    assert result.failures[0].startswith(f"g + h constant in φ fails at θ = {theta}:")


@given(lower_bound_tables(), st.integers(0, 2**32 - 1))
def test_atol_absorbs_rounding(table: tuple[np.ndarray, np.ndarray], seed: int) -> None:
    f, h = table
    rng = np.random.default_rng(seed)
    noise = 1e-3 * rng.standard_normal(h.shape)  # irrational-ish values: g + h rounds
    g = f[:, None] + noise - (h + noise)
    result = check_argmax_lemma(g, h, atol=16 * np.finfo(float).eps * (1 + np.abs(f).max()))
    assert result.hypotheses_hold and result.conclusion_holds


@pytest.mark.parametrize(("n_theta", "n_phi"), [(1, 3), (2, 2), (3, 1), (2, 3)])
def test_agrees_with_the_exhaustive_proof_enumeration(n_theta: int, n_phi: int) -> None:
    # Every table the proof enumerates, now run through the helper one by one.
    counts = dict.fromkeys(("tables", "hypotheses", "hypotheses_and_conclusion"), 0)
    counts |= {"violating": 0, "violating_and_conclusion_fails": 0}
    for f in itertools.product((0, 1, 2), repeat=n_theta):
        for flat in itertools.product((0, 1, 2), repeat=n_theta * n_phi):
            fa = np.array(f, dtype=float)
            h = np.array(flat, dtype=float).reshape(n_theta, n_phi)
            r = check_argmax_lemma(fa[:, None] - h, h)
            counts["tables"] += 1
            counts["hypotheses"] += r.hypotheses_hold
            counts["hypotheses_and_conclusion"] += r.hypotheses_hold and r.conclusion_holds
            counts["violating"] += not r.hypotheses_hold
            counts["violating_and_conclusion_fails"] += (
                not r.hypotheses_hold and not r.conclusion_holds
            )
    assert counts == exhaustive_argmax_check(n_theta, n_phi)


def test_counterexample_of_the_proof() -> None:
    # Θ = {0, 1}, Φ = {0}, f = (2, 1), h = (2, 0): min h(0, ·) = 2 > 0.
    result = check_argmax_lemma(np.array([[0.0], [1.0]]), np.array([[2.0], [0.0]]))
    assert isinstance(result, ArgmaxLemmaResult)
    assert result.argmax_f == (0,) and result.argmax_g == ((1, 0),)
    assert result.argmax_g_theta == (1,) and not result.conclusion_holds
    assert result.failures == ("min_φ h(θ, φ) = 0 fails at θ = 0: min h = 2.0",)


def test_result_is_frozen() -> None:
    result = check_argmax_lemma(np.zeros((1, 1)), np.zeros((1, 1)))
    with pytest.raises(AttributeError):
        result.min_zero = False  # type: ignore[misc]
    assert result == check_argmax_lemma(np.zeros((1, 1)), np.zeros((1, 1)))


G = np.zeros((2, 2))


@pytest.mark.parametrize(
    ("g", "h", "kwargs", "error", "match"),
    [
        pytest.param({"a": 1}, G, {}, TypeError, "g must be a NumPy array", id="g-dict"),
        pytest.param(G, 3.0, {}, TypeError, "h must be a NumPy array", id="h-scalar"),
        pytest.param(G.astype(bool), G, {}, TypeError, "g must hold real numbers", id="g-bool"),
        pytest.param(G, G + 0j, {}, TypeError, "h must hold real numbers", id="h-complex"),
        pytest.param(np.array([["a"]]), G, {}, TypeError, "g must hold real numbers", id="g-str"),
        pytest.param(
            np.zeros(2), G, {}, ValueError, r"g must be a non-empty table.*\(2,\)", id="g-1d"
        ),
        pytest.param(
            G, np.zeros((2, 0)), {}, ValueError, "h must be a non-empty table", id="h-empty"
        ),
        pytest.param(
            G, np.zeros((2, 3)), {}, ValueError, r"same shape.*\(2, 2\) and \(2, 3\)", id="shapes"
        ),
        pytest.param(
            np.array([[0.0, np.nan], [0, 0]]),
            G,
            {},
            ValueError,
            r"g must be finite, got nan at \(θ, φ\) = \(0, 1\)",
            id="g-nan",
        ),
        pytest.param(
            G,
            np.array([[0.0, 0], [np.inf, 0]]),
            {},
            ValueError,
            r"h must be finite, got inf at \(θ, φ\) = \(1, 0\)",
            id="h-inf",
        ),
        pytest.param(
            G, G, {"atol": -1.0}, ValueError, "atol must be finite and non-negative", id="atol-neg"
        ),
        pytest.param(G, G, {"atol": np.nan}, ValueError, "atol must be finite", id="atol-nan"),
        pytest.param(
            G, G, {"atol": "0"}, TypeError, "atol must be a real number, got str", id="atol-str"
        ),
    ],
)
def test_bad_input(
    g: object, h: object, kwargs: dict[str, object], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        check_argmax_lemma(g, h, **kwargs)  # type: ignore[arg-type]
